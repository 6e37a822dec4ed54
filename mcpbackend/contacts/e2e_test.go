package contacts_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/carddav"

	"github.com/scopegate/scopegate/internal/davtest"
	"github.com/scopegate/scopegate/internal/radicaletest"
	"github.com/scopegate/scopegate/mcpbackend/contacts"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

type contactList struct {
	Contacts []contacts.Contact `json:"contacts"`
	Count    int                `json:"count"`
}

// A vCard 3.0 as older clients (and Nextcloud itself) write it, stored
// under a name that is not its UID, with a photo and an extension.
const ada30 = "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Other//EN\r\nUID:ada-3c1e\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\n" +
	"ORG:Analytical Engines Ltd\r\nTITLE:Chief Programmer\r\nEMAIL;TYPE=INTERNET,WORK:ada@example.com\r\n" +
	"EMAIL;TYPE=HOME:ada.home@example.org\r\nTEL;TYPE=CELL:+44 20 7946 0001\r\n" +
	"ADR;TYPE=WORK:;;12 St James's Square;London;;SW1Y 4JH;United Kingdom\r\nBDAY:1815-12-10\r\n" +
	"NOTE:First programmer\\, fixture contact\r\nCATEGORIES:Team,VIP\r\nPHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRg==\r\n" +
	"X-SOCIALPROFILE;TYPE=twitter:ada\r\nEND:VCARD\r\n"

func TestContactsAgainstRadicale(t *testing.T) {
	rad := radicaletest.Start(t)
	tools, err := contacts.ToolsWithConfig(davtest.Config(rad.URL))
	if err != nil {
		t.Fatal(err)
	}
	s := davtest.Serve(t, nextcloud.Basic{Username: "bob", Password: "x"}, tools)
	raw, err := carddav.NewClient(webdav.HTTPClientWithBasicAuth(http.DefaultClient, "bob", "x"), rad.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	var book contacts.AddressBook
	s.OK("nc_contacts_create_addressbook", map[string]any{"name": "team", "display_name": "Team", "description": "Colleagues"}, &book)
	if book.Name != "team" || book.DisplayName != "Team" || book.WritesVersion != "4.0" {
		t.Fatalf("created book = %+v", book)
	}
	s.Fail("nc_contacts_create_addressbook", map[string]any{"name": "team", "display_name": "Again"}, "HTTP")
	var books struct {
		AddressBooks []contacts.AddressBook `json:"addressbooks"`
	}
	s.OK("nc_contacts_list_addressbooks", nil, &books)
	if len(books.AddressBooks) != 1 || books.AddressBooks[0].Description != "Colleagues" {
		t.Fatalf("books = %+v", books)
	}

	// vCard 3.0 input from another client.
	card, err := vcard.NewDecoder(strings.NewReader(ada30)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.PutAddressObject(ctx, "/bob/team/some-other-name.vcf", card); err != nil {
		t.Fatal(err)
	}

	var grace contacts.Contact
	s.OK("nc_contacts_create_contact", map[string]any{
		"addressbook": "team", "uid": "grace-9d7f",
		"contact_data": map[string]any{
			"first_name": "Grace", "last_name": "Hopper", "emails": []any{map[string]any{"value": "grace@example.com", "type": "work"}},
			"phones": "+1-555-0100", "organization": "US Navy", "birthday": "1906-12-09", "categories": []any{"Navy"},
		},
	}, &grace)
	if grace.FullName != "Grace Hopper" || grace.Version != "4.0" || grace.ETag == "" {
		t.Fatalf("created contact = %+v", grace)
	}
	s.Fail("nc_contacts_create_contact", map[string]any{"addressbook": "team", "uid": "grace-9d7f", "contact_data": map[string]any{"full_name": "Dup"}}, "already exists")
	s.Fail("nc_contacts_create_contact", map[string]any{"addressbook": "team", "uid": "x", "contact_data": map[string]any{"full_nme": "Typo"}}, "unknown contact_data key")

	var all contactList
	s.OK("nc_contacts_list_contacts", map[string]any{"addressbook": "team"}, &all)
	if all.Count != 2 {
		t.Fatalf("contacts = %+v", all)
	}
	ada := all.Contacts[0]
	if ada.UID != "ada-3c1e" || ada.Version != "3.0" || ada.Href != "/bob/team/some-other-name.vcf" ||
		len(ada.Emails) != 2 || ada.Emails[0].Type != "work" || ada.Phones[0].Value != "+44 20 7946 0001" ||
		ada.Addresses[0].City != "London" || ada.Birthday != "1815-12-10" || ada.Note != "First programmer, fixture contact" ||
		len(ada.Categories) != 2 {
		t.Fatalf("3.0 contact read as %+v", ada)
	}

	var found contactList
	s.OK("nc_contacts_search_contacts", map[string]any{"query": "4420 7946"}, &found)
	if found.Count != 1 || found.Contacts[0].UID != "ada-3c1e" {
		t.Fatalf("search by phone digits = %+v", found)
	}
	s.OK("nc_contacts_search_contacts", map[string]any{"query": "navy", "addressbook": "team"}, &found)
	if found.Count != 1 || found.Contacts[0].UID != "grace-9d7f" {
		t.Fatalf("search by organisation = %+v", found)
	}

	// Merge-update of the 3.0 card: the fields not named are kept; its
	// inline photo keeps it at 3.0 (see toVersion).
	var upd contacts.Contact
	s.OK("nc_contacts_update_contact", map[string]any{
		"addressbook": "team", "uid": "ada-3c1e", "etag": ada.ETag,
		"contact_data": map[string]any{"title": "Countess", "phones": nil, "note": "updated"},
	}, &upd)
	if upd.Title != "Countess" || len(upd.Phones) != 0 || upd.Organization != "Analytical Engines Ltd" || len(upd.Emails) != 2 || upd.Version != "3.0" {
		t.Fatalf("merged contact = %+v", upd)
	}
	stored, err := raw.GetAddressObject(ctx, "/bob/team/some-other-name.vcf")
	if err != nil {
		t.Fatal(err)
	}
	if p := stored.Card.Get(vcard.FieldPhoto); p == nil || p.Value != "/9j/4AAQSkZJRg==" {
		t.Errorf("photo after update = %+v", p)
	}
	if stored.Card.Value("X-SOCIALPROFILE") != "ada" {
		t.Errorf("extension lost: %v", stored.Card)
	}

	// A second writer changes the card; the stale ETag is refused.
	stored.Card.SetValue(vcard.FieldNote, "changed elsewhere")
	if _, err := raw.PutAddressObject(ctx, stored.Path, stored.Card); err != nil {
		t.Fatal(err)
	}
	s.Fail("nc_contacts_update_contact", map[string]any{"addressbook": "team", "uid": "ada-3c1e", "etag": upd.ETag, "contact_data": map[string]any{"note": "mine"}},
		"nc_contacts_update_contact failed", "HTTP 412", "Re-read")
	s.OK("nc_contacts_search_contacts", map[string]any{"query": "changed elsewhere"}, &found)
	if found.Count != 1 {
		t.Fatalf("the other writer's change was lost: %+v", found)
	}

	var del struct {
		Deleted bool `json:"deleted"`
	}
	s.OK("nc_contacts_delete_contact", map[string]any{"addressbook": "team", "uid": "ada-3c1e"}, &del)
	s.Fail("nc_contacts_delete_contact", map[string]any{"addressbook": "team", "uid": "ada-3c1e"}, "no contact")
	s.OK("nc_contacts_list_contacts", map[string]any{"addressbook": "team"}, &all)
	if all.Count != 1 {
		t.Fatalf("after delete = %+v", all)
	}

	// A formatted name alone is stored split into N, and read back so
	// (Nextcloud 34 showed last_name "Wilma Test" before).
	s.OK("nc_contacts_create_contact", map[string]any{"addressbook": "team", "uid": "wilma-5e1a", "contact_data": map[string]any{"full_name": "Wilma Test"}}, nil)
	wilma, err := raw.GetAddressObject(ctx, "/bob/team/wilma-5e1a.vcf")
	if err != nil {
		t.Fatal(err)
	}
	if n := wilma.Card.Name(); n == nil || n.GivenName != "Wilma" || n.FamilyName != "Test" {
		t.Errorf("stored N = %+v", n)
	}
	var back contactList
	s.OK("nc_contacts_search_contacts", map[string]any{"query": "wilma"}, &back)
	if back.Count != 1 || back.Contacts[0].FirstName != "Wilma" || back.Contacts[0].LastName != "Test" {
		t.Errorf("read back = %+v", back)
	}

	s.OK("nc_contacts_delete_addressbook", map[string]any{"name": "team"}, &del)
	s.Fail("nc_contacts_list_contacts", map[string]any{"addressbook": "team"}, "no address book")
}
