package contacts_test

import (
	"io"
	"net/http"
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

// A search lets Nextcloud filter (addressbook-query with a text-match on
// every property the search looks at, any of them sufficing) instead of
// downloading every book, the system address book of all accounts
// included; a query that may match a phone number by its digits, which
// no text-match expresses, reads the books whole.
func TestNextcloudSearchFiltersOnServer(t *testing.T) {
	match := nextcloudfake.MustFixture(t, "contacts/11")
	r := nextcloudfake.NewDAVReplay(t, "core/15", "core/16", "contacts/01")
	books := []string{"contacts", "z-server-generated--system", "z-app-generated--contactsinteraction--recent"}
	for _, b := range books {
		r.Handle("REPORT", "/remote.php/dav/addressbooks/users/admin/"+b+"/", func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Content-Type", "application/xml; charset=utf-8")
			w.WriteHeader(http.StatusMultiStatus)
			if b == "contacts" {
				io.WriteString(w, match.Response.Body)
				return
			}
			io.WriteString(w, `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"/>`)
		})
	}
	tools, err := contacts.ToolsWithConfig(davtest.Config(r.URL))
	if err != nil {
		t.Fatal(err)
	}
	s := davtest.Serve(t, nextcloud.Basic{Username: "admin", Password: "app-password"}, tools)
	var found struct {
		Contacts []contacts.Contact `json:"contacts"`
		Count    int                `json:"count"`
	}
	s.OK("nc_contacts_search_contacts", map[string]any{"query": "Lovelace"}, &found)
	if found.Count != 1 || found.Contacts[0].FullName != "Ada Lovelace" {
		t.Fatalf("search = %+v", found)
	}
	reports := r.Sent("REPORT")
	if len(reports) != len(books) {
		t.Fatalf("%d REPORTs, want one per book (%d)", len(reports), len(books))
	}
	for _, req := range reports {
		body, _ := io.ReadAll(req.Body)
		for _, want := range []string{`test="anyof"`, `name="FN"`, `name="EMAIL"`, `name="ORG"`, `name="ADR"`, `name="TEL"`, `match-type="contains"`, `>Lovelace<`} {
			if !strings.Contains(string(body), want) {
				t.Errorf("REPORT %s lacks %s:\n%s", req.URL.Path, want, body)
			}
		}
	}

	before := len(r.Sent("REPORT"))
	s.OK("nc_contacts_search_contacts", map[string]any{"query": "+44 20", "addressbook": "contacts"}, &found)
	for _, req := range r.Sent("REPORT")[before:] {
		if body, _ := io.ReadAll(req.Body); strings.Contains(string(body), "prop-filter") {
			t.Errorf("a search by phone digits filtered on the server, which cannot compare digits:\n%s", body)
		}
	}
}
