package contacts_test

import (
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/davtest"
	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/mcpbackend/contacts"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

func TestNextcloudAddressBooks(t *testing.T) {
	r := nextcloudfake.NewDAVReplay(t, "core/15", "core/16", "contacts/01")
	tools, err := contacts.ToolsWithConfig(davtest.Config(r.URL))
	if err != nil {
		t.Fatal(err)
	}
	s := davtest.Serve(t, nextcloud.Basic{Username: "admin", Password: "app-password"}, tools)
	var res struct {
		AddressBooks []contacts.AddressBook `json:"addressbooks"`
	}
	s.OK("nc_contacts_list_addressbooks", nil, &res)
	var got []string
	for _, b := range res.AddressBooks {
		got = append(got, b.Name+"="+b.DisplayName)
	}
	want := "contacts=Contacts z-server-generated--system=Accounts z-app-generated--contactsinteraction--recent=Recently contacted"
	if g := join(got); g != want {
		t.Fatalf("address books = %s, want %s", g, want)
	}
	if res.AddressBooks[1].Description != "System address book which holds all accounts" {
		t.Errorf("description = %q", res.AddressBooks[1].Description)
	}
	// An unknown book is reported with the ones that exist.
	s.Fail("nc_contacts_list_contacts", map[string]any{"addressbook": "fixture-team"}, `no address book "fixture-team"`, "contacts, z-server-generated--system")
}

func join(s []string) string { return strings.Join(s, " ") }
