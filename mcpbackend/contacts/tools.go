// Package contacts holds the Contacts tools of the Nextcloud MCP backend,
// over standard CardDAV. vCard 3.0 and 4.0 are read; 4.0 is written
// unless the address book declares it takes only 3.0.
package contacts

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav/carddav"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/scopegate/scopegate/mcpbackend/davclient"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

// app is the Nextcloud app serving CardDAV.
const app = "dav"

// Tools returns the 8 contacts tools for a Nextcloud client; its
// signature is the backend's tool-family constructor.
func Tools(c *nextcloud.Client) []tooldef.Tool {
	d, err := davclient.FromNextcloud(c)
	if err != nil {
		// Unreachable: nextcloud.New accepts only absolute http(s) URLs,
		// which is all davclient.New checks.
		return nil
	}
	return ToolsFor(d)
}

// ToolsWithConfig returns the contacts tools for any CalDAV/CardDAV server.
func ToolsWithConfig(cfg davclient.Config) ([]tooldef.Tool, error) {
	d, err := davclient.New(cfg)
	if err != nil {
		return nil, err
	}
	return ToolsFor(d), nil
}

// ToolsFor returns the contacts tools on an existing client, so several
// families can share one discovery cache.
func ToolsFor(c *davclient.Client) []tooldef.Tool {
	s := store{dav: c}
	tools := []tooldef.Tool{
		listAddressBooksTool(s),
		listContactsTool(s),
		searchContactsTool(s),
		createAddressBookTool(s),
		deleteAddressBookTool(s),
		createContactTool(s),
		deleteContactTool(s),
		updateContactTool(s),
	}
	for i := range tools {
		tooldef.NullableOptionals(&tools[i].Def)
	}
	return tools
}

type store struct {
	dav *davclient.Client
}

// AddressBook is an address book in the user's home.
type AddressBook struct {
	Name          string   `json:"name" jsonschema:"the identifier the other tools take"`
	Href          string   `json:"href"`
	DisplayName   string   `json:"display_name,omitempty"`
	Description   string   `json:"description,omitempty"`
	VCardVersions []string `json:"vcard_versions,omitempty" jsonschema:"vCard versions the book declares it accepts"`
	WritesVersion string   `json:"writes_version" jsonschema:"the vCard version new and updated contacts are stored in"`
}

// books lists the address books afresh, to show them or search them all.
func (s store) books(ctx context.Context) ([]carddav.AddressBook, error) {
	books, err := s.dav.AddressBooks(ctx)
	if err != nil {
		return nil, step("listing address books", err)
	}
	return books, nil
}

// pick finds the book called name (its path segment, else its display
// name ignoring case) among books.
func pick(books []carddav.AddressBook, name string) (carddav.AddressBook, bool) {
	for _, b := range books {
		if bookName(b) == name {
			return b, true
		}
	}
	for _, b := range books {
		if strings.EqualFold(b.Name, name) {
			return b, true
		}
	}
	return carddav.AddressBook{}, false
}

func bookName(b carddav.AddressBook) string {
	n := path.Base(strings.TrimSuffix(b.Path, "/"))
	if u, err := url.PathUnescape(n); err == nil {
		return u
	}
	return n
}

// writeVersion is 4.0 unless the book declares vCard types without it.
func writeVersion(b carddav.AddressBook) string {
	if len(b.SupportedAddressData) == 0 || b.SupportsAddressData(vcard.MIMEType, "4.0") {
		return "4.0"
	}
	return "3.0"
}

func describe(b carddav.AddressBook) AddressBook {
	ab := AddressBook{Name: bookName(b), Href: b.Path, DisplayName: b.Name, Description: b.Description, WritesVersion: writeVersion(b)}
	for _, t := range b.SupportedAddressData {
		if t.ContentType == vcard.MIMEType {
			ab.VCardVersions = append(ab.VCardVersions, t.Version)
		}
	}
	return ab
}

func (s store) book(ctx context.Context, name string) (carddav.AddressBook, error) {
	if name == "" {
		return carddav.AddressBook{}, step("checking arguments", errors.New("addressbook is required"))
	}
	// The user's recent listing resolves the name without Nextcloud's
	// listing request; a name it lacks is looked up afresh.
	if cached, err := s.dav.CachedAddressBooks(ctx); err == nil {
		if b, ok := pick(cached, name); ok {
			return b, nil
		}
	}
	books, err := s.books(ctx)
	if err != nil {
		return carddav.AddressBook{}, err
	}
	if b, ok := pick(books, name); ok {
		return b, nil
	}
	var names []string
	for _, b := range books {
		names = append(names, bookName(b))
	}
	return carddav.AddressBook{}, step("finding the address book", &davclient.NotFoundError{What: "address book", Name: name, Known: names})
}

// all returns every contact of a book with its href and ETag.
func (s store) all(ctx context.Context, b carddav.AddressBook) ([]carddav.AddressObject, error) {
	objs, err := s.dav.CardDAV().QueryAddressBook(ctx, b.Path, &carddav.AddressBookQuery{DataRequest: carddav.AddressDataRequest{AllProp: true}})
	if err != nil {
		return nil, step("reading address book "+bookName(b), err)
	}
	return objs, nil
}

// searchedProps are the vCard properties matches looks at; a server-side
// filter on them returns every card matches can accept.
var searchedProps = []string{
	vcard.FieldUID, vcard.FieldFormattedName, vcard.FieldName, vcard.FieldNickname,
	vcard.FieldOrganization, vcard.FieldTitle, vcard.FieldNote, vcard.FieldCategories,
	vcard.FieldEmail, vcard.FieldTelephone, vcard.FieldAddress,
}

// search returns the cards of b that may match query: the server filters
// by text (addressbook-query, RFC 6352 §8.6: any of searchedProps
// contains the query, case-insensitively), so a search does not download
// the whole book, which for Nextcloud's system address book is every
// account of the instance. matches then decides exactly. A query with
// three digits or more may match a phone number by its digits ("+44 20"
// finds "+442079460001"), which no text-match expresses, so its book is
// read whole; so is every book of a server that refused the filter.
func (s store) search(ctx context.Context, b carddav.AddressBook, query string) ([]carddav.AddressObject, error) {
	q := strings.TrimSpace(query)
	if q == "" || byDigits(q) || s.dav.TextFilterRefused() {
		return s.all(ctx, b)
	}
	filters := make([]carddav.PropFilter, 0, len(searchedProps))
	for _, name := range searchedProps {
		filters = append(filters, carddav.PropFilter{Name: name, TextMatches: []carddav.TextMatch{{Text: q, MatchType: carddav.MatchContains}}})
	}
	objs, err := s.dav.CardDAV().QueryAddressBook(ctx, b.Path, &carddav.AddressBookQuery{
		DataRequest: carddav.AddressDataRequest{AllProp: true},
		PropFilters: filters,
		FilterTest:  carddav.FilterAnyOf,
	})
	if err != nil {
		// Radicale 3 fails (500) on text-match against structured
		// properties such as N, ORG and ADR; other servers may answer
		// 400, 403 or 501. Remembered, so it costs one request per
		// server, not one per search.
		if st := davclient.StatusOf(err); st == http.StatusBadRequest || st == http.StatusForbidden || st == http.StatusNotImplemented || st >= 500 {
			s.dav.RefuseTextFilter()
			return s.all(ctx, b)
		}
		return nil, step("searching address book "+bookName(b), err)
	}
	return objs, nil
}

// byDigits tells whether matches may accept a card for its phone number's
// digits alone: any query with three digits or more.
func byDigits(q string) bool { return len(digits(q)) >= 3 }

// byUID locates a contact by UID; its href comes from the server, since
// cards made by other clients are not necessarily named <UID>.vcf.
func (s store) byUID(ctx context.Context, b carddav.AddressBook, uid string) (*carddav.AddressObject, error) {
	objs, err := s.dav.CardDAV().QueryAddressBook(ctx, b.Path, &carddav.AddressBookQuery{
		DataRequest: carddav.AddressDataRequest{AllProp: true},
		PropFilters: []carddav.PropFilter{{
			Name:        vcard.FieldUID,
			TextMatches: []carddav.TextMatch{{Text: uid, MatchType: carddav.MatchEquals}},
		}},
	})
	if err != nil {
		// A server that cannot filter: read the whole address book.
		if objs, err = s.all(ctx, b); err != nil {
			return nil, err
		}
	}
	for i := range objs {
		if objs[i].Card.Value(vcard.FieldUID) == uid {
			return &objs[i], nil
		}
	}
	return nil, step("finding the contact", &davclient.NotFoundError{What: "contact", Name: uid + " in address book " + bookName(b)})
}

func handler[A any](tool string, fn func(ctx context.Context, args A) (any, error)) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args A
		if err := req.BindArguments(&args); err != nil {
			return mcp.NewToolResultError(fmt.Sprintf("%s: invalid arguments: %v", tool, err)), nil
		}
		v, err := fn(ctx, args)
		if err != nil {
			what := "request"
			if se, ok := errors.AsType[*stepError](err); ok {
				what, err = se.what, se.err
			}
			return davclient.ToolError(tool, what, err), nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encoding result: %w", err)
		}
		return mcp.NewToolResultStructured(v, string(b)), nil
	}
}

type stepError struct {
	what string
	err  error
}

func (e *stepError) Error() string { return e.what + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

func step(what string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*stepError](err); ok {
		return err
	}
	return &stepError{what: what, err: err}
}

type booksResult struct {
	AddressBooks []AddressBook `json:"addressbooks"`
}

func listAddressBooksTool(s store) tooldef.Tool {
	const name = "nc_contacts_list_addressbooks"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("List the user's address books with the name the other contacts tools take."),
			tooldef.Annotations(true, false, true, true),
			mcp.WithOutputSchema[booksResult](),
		),
		Scopes: []string{"contacts:read"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, _ struct{}) (any, error) {
			books, err := s.books(ctx)
			if err != nil {
				return nil, err
			}
			res := booksResult{AddressBooks: []AddressBook{}}
			for _, b := range books {
				res.AddressBooks = append(res.AddressBooks, describe(b))
			}
			return res, nil
		}),
	}
}

type contactsResult struct {
	Contacts  []Contact `json:"contacts"`
	Count     int       `json:"count"`
	Truncated bool      `json:"truncated"`
}

type listArgs struct {
	AddressBook string `json:"addressbook"`
	Query       string `json:"query"`
	Limit       *int   `json:"limit"`
}

// parallelBooks bounds the address books one call reads at a time.
const parallelBooks = 4

func (s store) contacts(ctx context.Context, books []carddav.AddressBook, query string, limit int) (contactsResult, error) {
	res := contactsResult{Contacts: []Contact{}}
	perBook := make([][]Contact, len(books))
	errs := make([]error, len(books))
	sem := make(chan struct{}, parallelBooks)
	var wg sync.WaitGroup
	for i, b := range books {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			objs, err := s.search(ctx, b, query)
			if err != nil {
				errs[i] = err
				return
			}
			for _, o := range objs {
				c := contactFrom(o.Card)
				c.AddressBook, c.Href, c.ETag = bookName(b), o.Path, o.ETag
				if query == "" || matches(c, query) {
					perBook[i] = append(perBook[i], c)
				}
			}
		}()
	}
	wg.Wait()
	for i := range books {
		if errs[i] != nil {
			return res, errs[i]
		}
		res.Contacts = append(res.Contacts, perBook[i]...)
	}
	sort.SliceStable(res.Contacts, func(i, j int) bool {
		return strings.ToLower(res.Contacts[i].FullName) < strings.ToLower(res.Contacts[j].FullName)
	})
	if limit > 0 && len(res.Contacts) > limit {
		res.Contacts, res.Truncated = res.Contacts[:limit], true
	}
	res.Count = len(res.Contacts)
	return res, nil
}

func listContactsTool(s store) tooldef.Tool {
	const name = "nc_contacts_list_contacts"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("List the contacts of an address book (vCard 3.0 and 4.0 alike), sorted by name, each with its UID and ETag."),
			mcp.WithString("addressbook", mcp.Required(), mcp.Description("Address book name (see nc_contacts_list_addressbooks)")),
			mcp.WithInteger("limit", mcp.Description("Maximum number of contacts"), mcp.DefaultNumber(200), mcp.Min(1)),
			tooldef.Annotations(true, false, true, true),
			mcp.WithOutputSchema[contactsResult](),
		),
		Scopes: []string{"contacts:read"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a listArgs) (any, error) {
			b, err := s.book(ctx, a.AddressBook)
			if err != nil {
				return nil, err
			}
			limit := 200
			if a.Limit != nil {
				limit = *a.Limit
			}
			return s.contacts(ctx, []carddav.AddressBook{b}, "", limit)
		}),
	}
}

func searchContactsTool(s store) tooldef.Tool {
	const name = "nc_contacts_search_contacts"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Find contacts by UID (exact) or by text in their name, nickname, e-mail, phone number (digits compared), organisation, address, note or category, in one address book or all."),
			mcp.WithString("query", mcp.Required(), mcp.Description("Text to look for (case-insensitive)")),
			mcp.WithString("addressbook", mcp.Description("Address book to search; empty for all")),
			mcp.WithInteger("limit", mcp.Description("Maximum number of contacts"), mcp.DefaultNumber(50), mcp.Min(1)),
			tooldef.Annotations(true, false, true, true),
			mcp.WithOutputSchema[contactsResult](),
		),
		Scopes: []string{"contacts:read"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a listArgs) (any, error) {
			if strings.TrimSpace(a.Query) == "" {
				return nil, step("checking arguments", errors.New("query must not be empty"))
			}
			var books []carddav.AddressBook
			if a.AddressBook != "" {
				b, err := s.book(ctx, a.AddressBook)
				if err != nil {
					return nil, err
				}
				books = []carddav.AddressBook{b}
			} else {
				all, err := s.books(ctx)
				if err != nil {
					return nil, err
				}
				books = all
			}
			limit := 50
			if a.Limit != nil {
				limit = *a.Limit
			}
			return s.contacts(ctx, books, a.Query, limit)
		}),
	}
}

type bookArgs struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Description string `json:"description"`
}

var validBookName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func createAddressBookTool(s store) tooldef.Tool {
	const name = "nc_contacts_create_addressbook"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Create an address book."),
			mcp.WithString("name", mcp.Required(), mcp.Description("Identifier (URL segment): letters, digits, '.', '_', '-'")),
			mcp.WithString("display_name", mcp.Required(), mcp.Description("Name shown to people")),
			mcp.WithString("description", mcp.Description("What the address book is for")),
			tooldef.Annotations(false, false, false, true),
			mcp.WithOutputSchema[AddressBook](),
		),
		Scopes: []string{"contacts:write"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a bookArgs) (any, error) {
			if !validBookName.MatchString(a.Name) {
				return nil, step("checking arguments", fmt.Errorf("name %q must use letters, digits, '.', '_' or '-'", a.Name))
			}
			if _, err := s.dav.CreateAddressBook(ctx, a.Name, a.DisplayName, a.Description); err != nil {
				return nil, step("creating address book "+a.Name, err)
			}
			b, err := s.book(ctx, a.Name)
			if err != nil {
				return nil, err
			}
			return describe(b), nil
		}),
	}
}

type deleteResult struct {
	Deleted     bool   `json:"deleted"`
	AddressBook string `json:"addressbook"`
	UID         string `json:"uid,omitempty"`
}

func deleteAddressBookTool(s store) tooldef.Tool {
	const name = "nc_contacts_delete_addressbook"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Delete an address book with all its contacts."),
			mcp.WithString("name", mcp.Required(), mcp.Description("Address book name")),
			tooldef.Annotations(false, true, true, true),
			mcp.WithOutputSchema[deleteResult](),
		),
		Scopes: []string{"contacts:write"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a bookArgs) (any, error) {
			b, err := s.book(ctx, a.Name)
			if err != nil {
				return nil, err
			}
			defer s.dav.ForgetCollections(ctx)
			if err := s.dav.Delete(ctx, b.Path, ""); err != nil {
				return nil, step("deleting address book "+a.Name, err)
			}
			return deleteResult{Deleted: true, AddressBook: bookName(b)}, nil
		}),
	}
}

type contactArgs struct {
	AddressBook string      `json:"addressbook"`
	UID         string      `json:"uid"`
	ContactData contactData `json:"contact_data"`
	ETag        string      `json:"etag"`
}

// contactDataSchema describes contact_data. Lists also take a
// comma-separated string; with nullable (update) every field also takes
// null, which removes it.
func contactDataSchema(nullable bool) mcp.PropertyOption {
	str := func(desc string) map[string]any {
		return map[string]any{"type": "string", "description": desc}
	}
	typed := map[string]any{
		"anyOf": []any{
			map[string]any{
				"type": "array",
				"items": map[string]any{
					"anyOf": []any{
						map[string]any{"type": "string"},
						map[string]any{
							"type": "object",
							"properties": map[string]any{
								"value": map[string]any{"type": "string"},
								"type":  map[string]any{"type": "string", "description": "labels such as work, home, cell"},
							},
							"required": []string{"value"},
						},
					},
				},
			},
			map[string]any{"type": "string", "description": "comma-separated values"},
		},
	}
	address := map[string]any{"type": "object", "properties": map[string]any{
		"street": map[string]any{"type": "string"}, "city": map[string]any{"type": "string"}, "region": map[string]any{"type": "string"},
		"postal_code": map[string]any{"type": "string"}, "country": map[string]any{"type": "string"}, "type": map[string]any{"type": "string"},
	}}
	props := map[string]any{
		"full_name":    str("Formatted name (FN)"),
		"first_name":   str("Given name"),
		"last_name":    str("Family name"),
		"nickname":     str("Nickname"),
		"emails":       typed,
		"phones":       typed,
		"addresses":    map[string]any{"anyOf": []any{map[string]any{"type": "array", "items": address}, address}},
		"organization": str("Company or organisation"),
		"title":        str("Job title"),
		"birthday":     str("YYYY-MM-DD"),
		"url":          str("Web site"),
		"note":         str("Free text"),
		"categories": map[string]any{"anyOf": []any{
			map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			map[string]any{"type": "string", "description": "comma-separated"},
		}},
	}
	if nullable {
		for k, v := range props {
			props[k] = map[string]any{"anyOf": []any{v, map[string]any{"type": "null"}}}
		}
	}
	return mcp.Properties(props)
}

var safeName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,200}$`)

func createContactTool(s store) tooldef.Tool {
	const name = "nc_contacts_create_contact"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Create a contact. It is stored as vCard 4.0, or 3.0 if the address book takes only that, and never overwrites an existing card."),
			mcp.WithString("addressbook", mcp.Required(), mcp.Description("Address book name")),
			mcp.WithString("uid", mcp.Required(), mcp.Description("UID for the new contact (unique in the address book)")),
			mcp.WithObject("contact_data", mcp.Required(), mcp.Description("The contact's fields; full_name or first_name/last_name (alias given_name/family_name) is required. A full_name without explicit parts is split: the last word becomes last_name, the words before it first_name"), contactDataSchema(false)),
			tooldef.Annotations(false, false, false, true),
			mcp.WithOutputSchema[Contact](),
		),
		Scopes: []string{"contacts:write"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a contactArgs) (any, error) {
			if strings.TrimSpace(a.UID) == "" {
				return nil, step("checking arguments", errors.New("uid must not be empty"))
			}
			b, err := s.book(ctx, a.AddressBook)
			if err != nil {
				return nil, err
			}
			card := vcard.Card{}
			card.SetValue(vcard.FieldVersion, "4.0")
			card.SetValue(vcard.FieldUID, a.UID)
			card.SetValue(vcard.FieldProductID, "-//Scopegate//Nextcloud MCP//EN")
			if err := apply(card, a.ContactData); err != nil {
				return nil, step("building the contact", err)
			}
			toVersion(card, writeVersion(b))
			file := a.UID
			if !safeName.MatchString(file) {
				file = randomName()
			}
			href := davclient.ChildHref(b.Path, file+".vcf")
			// Create-only (If-None-Match: *), and a UID already in the book
			// is the server's to refuse (RFC 6352 §6.3.2.1 no-uid-conflict:
			// Nextcloud answers 400, Radicale 409), so no lookup first.
			co, err := s.dav.CardDAV().PutAddressObject(davclient.WithPrecondition(ctx, davclient.Precondition{IfNoneMatch: true}), href, card)
			if err != nil {
				return nil, step("storing the contact", err)
			}
			c := contactFrom(card)
			c.AddressBook, c.Href, c.ETag = bookName(b), co.Path, co.ETag
			return c, nil
		}),
	}
}

func randomName() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x", b)
}

func updateContactTool(s store) tooldef.Tool {
	const name = "nc_contacts_update_contact"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Change a contact by merging: the fields given in contact_data replace the card's (null removes one), all other properties, photos and extensions included, stay. Conditional on the card's ETag, so a concurrent change is reported instead of overwritten."),
			mcp.WithString("addressbook", mcp.Required(), mcp.Description("Address book name")),
			mcp.WithString("uid", mcp.Required(), mcp.Description("The contact's UID")),
			mcp.WithObject("contact_data", mcp.Required(), mcp.Description("Fields to change; null removes a field"), contactDataSchema(true)),
			mcp.WithString("etag", mcp.Description("ETag from a previous read; the update fails if the contact changed since")),
			tooldef.Annotations(false, false, false, true),
			mcp.WithOutputSchema[Contact](),
		),
		Scopes: []string{"contacts:write"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a contactArgs) (any, error) {
			b, err := s.book(ctx, a.AddressBook)
			if err != nil {
				return nil, err
			}
			obj, err := s.byUID(ctx, b, a.UID)
			if err != nil {
				return nil, err
			}
			if err := apply(obj.Card, a.ContactData); err != nil {
				return nil, step("changing the contact", err)
			}
			toVersion(obj.Card, writeVersion(b))
			etag := obj.ETag
			if a.ETag != "" {
				etag = davclient.UnquoteETag(a.ETag)
			}
			co, err := s.dav.CardDAV().PutAddressObject(davclient.WithPrecondition(ctx, davclient.Precondition{IfMatch: etag}), obj.Path, obj.Card)
			if err != nil {
				return nil, step("storing the contact", err)
			}
			c := contactFrom(obj.Card)
			c.AddressBook, c.Href, c.ETag = bookName(b), co.Path, co.ETag
			return c, nil
		}),
	}
}

func deleteContactTool(s store) tooldef.Tool {
	const name = "nc_contacts_delete_contact"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Delete a contact by UID."),
			mcp.WithString("addressbook", mcp.Required(), mcp.Description("Address book name")),
			mcp.WithString("uid", mcp.Required(), mcp.Description("The contact's UID")),
			tooldef.Annotations(false, true, true, true),
			mcp.WithOutputSchema[deleteResult](),
		),
		Scopes: []string{"contacts:write"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a contactArgs) (any, error) {
			b, err := s.book(ctx, a.AddressBook)
			if err != nil {
				return nil, err
			}
			obj, err := s.byUID(ctx, b, a.UID)
			if err != nil {
				return nil, err
			}
			if err := s.dav.Delete(ctx, obj.Path, obj.ETag); err != nil {
				return nil, step("deleting the contact", err)
			}
			return deleteResult{Deleted: true, AddressBook: bookName(b), UID: a.UID}, nil
		}),
	}
}
