package davclient_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav/carddav"

	"github.com/scopegate/scopegate/internal/davtest"
	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/mcpbackend/davclient"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

// These tests replay exchanges recorded against Nextcloud 34, so the
// Nextcloud-specific answers are covered without a Nextcloud.

func adminCtx() context.Context {
	return nextcloud.WithCredentials(context.Background(), nextcloud.Basic{Username: "admin", Password: "app-password"})
}

func client(t *testing.T, r *nextcloudfake.DAVReplay) *davclient.Client {
	t.Helper()
	c, err := davclient.New(davtest.Config(r.URL))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNextcloudDiscovery(t *testing.T) {
	r := nextcloudfake.NewDAVReplay(t, "core/15", "core/16")
	h, err := client(t, r).Homes(adminCtx())
	if err != nil {
		t.Fatal(err)
	}
	want := davclient.Homes{
		Principal:    "/remote.php/dav/principals/users/admin/",
		Calendars:    "/remote.php/dav/calendars/admin/",
		AddressBooks: "/remote.php/dav/addressbooks/users/admin/",
	}
	if h != want {
		t.Fatalf("homes = %+v, want %+v", h, want)
	}
}

func TestNextcloudLayoutFallback(t *testing.T) {
	// A server that answers no discovery at all: the Nextcloud layout
	// under the base URL, with the login name as the user id.
	r := nextcloudfake.NewDAVReplay(t)
	h, err := client(t, r).Homes(adminCtx())
	if err != nil {
		t.Fatal(err)
	}
	if h.Calendars != "/remote.php/dav/calendars/admin/" || h.AddressBooks != "/remote.php/dav/addressbooks/users/admin/" {
		t.Fatalf("fallback homes = %+v", h)
	}
}

func TestNextcloudCalendarHome(t *testing.T) {
	r := nextcloudfake.NewDAVReplay(t, "core/15", "core/16", "calendar/01")
	cals, err := client(t, r).Calendars(adminCtx())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cals {
		names = append(names, c.Name)
	}
	// The inbox, outbox and trash bin are not calendars.
	want := []string{"personal", "contact_birthdays", "work", "app-generated--deck--board-1", "app-generated--deck--board-2"}
	if !slices.Equal(names, want) {
		t.Fatalf("calendars = %v, want %v", names, want)
	}
	personal := cals[0]
	if personal.DisplayName != "Personal" || personal.Color != "#00679e" || personal.CTag != "http://sabre.io/ns/sync/3" ||
		!slices.Equal(personal.Components, []string{"VEVENT"}) || personal.Accepts("VTODO") {
		t.Errorf("personal = %+v", personal)
	}
	if deck := cals[3]; deck.Accepts("VEVENT") || !deck.Accepts("VTODO") {
		t.Errorf("deck calendar = %+v", deck)
	}
	pf := r.Sent("PROPFIND")
	req := pf[len(pf)-1]
	if req.URL.Path != "/remote.php/dav/calendars/admin/" {
		t.Fatalf("last PROPFIND went to %s", req.URL.Path)
	}
	if got := req.Header.Get("X-NC-CalDAV-Webcal-Caching"); got != "Off" {
		t.Errorf("calendar listing sent X-NC-CalDAV-Webcal-Caching %q, want Off so subscriptions show as such", got)
	}
	if req.Header.Get("Depth") != "1" {
		t.Errorf("Depth = %q", req.Header.Get("Depth"))
	}
}

func TestNextcloudMakeCalendar(t *testing.T) {
	r := nextcloudfake.NewDAVReplay(t, "core/15", "core/16", "calendar/03", "calendar/05")
	cal, err := client(t, r).CreateCalendar(adminCtx(), davclient.NewCalendar{
		Name: "fixture-work", DisplayName: "Fixture Work", Description: "Work calendar for fixtures",
		Color: "#1976D2", Components: []string{"VEVENT", "VTODO"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cal.Href != "/remote.php/dav/calendars/admin/fixture-work/" || cal.Color != "#1976D2" || !cal.Accepts("VTODO") {
		t.Fatalf("created = %+v", cal)
	}
	mk := r.Sent("MKCALENDAR")
	if len(mk) != 1 {
		t.Fatalf("MKCALENDAR requests: %d", len(mk))
	}
}

func TestNextcloudMakeCalendarExists(t *testing.T) {
	r := nextcloudfake.NewDAVReplay(t, "core/15", "core/16", "calendar/04")
	_, err := client(t, r).CreateCalendar(adminCtx(), davclient.NewCalendar{Name: "fixture-work", DisplayName: "dup"})
	if davclient.StatusOf(err) != http.StatusMethodNotAllowed {
		t.Fatalf("err = %v, want 405", err)
	}
	msg := davclient.Explain("nc_calendar_manage_calendar", "creating calendar fixture-work", err)
	for _, want := range []string{"nc_calendar_manage_calendar failed: creating calendar fixture-work (HTTP 405): The resource you tried to create already exists", "already exists; choose another name"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
}

func todo(t *testing.T) *ical.Calendar {
	t.Helper()
	ex := nextcloudfake.MustFixture(t, "calendar/11")
	cal, err := ical.NewDecoder(strings.NewReader(ex.Request.Body)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	return cal
}

func TestNextcloudTodoIntoEventCalendar(t *testing.T) {
	r := nextcloudfake.NewDAVReplay(t, "calendar/11")
	c := client(t, r)
	_, err := c.CalDAV().PutCalendarObject(adminCtx(), "/remote.php/dav/calendars/admin/personal/fixture-todo-report-44d1-personal.ics", todo(t))
	he, ok := err.(*davclient.HTTPError)
	if !ok || he.Status != http.StatusForbidden || he.Precondition != "supported-calendar-component" {
		t.Fatalf("err = %#v", err)
	}
	msg := davclient.Explain("nc_calendar_create_todo", "storing the task", err)
	if !strings.Contains(msg, "(HTTP 403): iCalendar objects must at least have a component of type VEVENT") || !strings.Contains(msg, "does not accept this kind of item") {
		t.Fatalf("explanation = %q", msg)
	}
}

func TestNextcloudStaleETag(t *testing.T) {
	ex := nextcloudfake.MustFixture(t, "calendar/23")
	r := nextcloudfake.NewDAVReplay(t, "calendar/23")
	c := client(t, r)
	cal, err := ical.NewDecoder(strings.NewReader(ex.Request.Body)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	ctx := davclient.WithPrecondition(adminCtx(), davclient.Precondition{IfMatch: "be7370272e715cd3dcb604e7bca77b39"})
	_, err = c.CalDAV().PutCalendarObject(ctx, ex.Request.Path, cal)
	if davclient.StatusOf(err) != http.StatusPreconditionFailed {
		t.Fatalf("err = %v, want 412", err)
	}
	put := r.Sent("PUT")[0]
	if got := put.Header.Get("If-Match"); got != `"be7370272e715cd3dcb604e7bca77b39"` {
		t.Errorf("If-Match = %q", got)
	}
	if got := put.Header.Get("X-NC-CalDAV-Webcal-Caching"); got != "On" {
		t.Errorf("X-NC-CalDAV-Webcal-Caching = %q, want On", got)
	}
	msg := davclient.Explain("nc_calendar_update_event", "storing the event", err)
	if !strings.Contains(msg, "(HTTP 412): An If-Match header was specified, but none of the specified ETags matched.") || !strings.Contains(msg, "Re-read it") {
		t.Fatalf("explanation = %q", msg)
	}
}

func TestNextcloudCreateOnly(t *testing.T) {
	ex := nextcloudfake.MustFixture(t, "contacts/05")
	r := nextcloudfake.NewDAVReplay(t, "contacts/05")
	card, err := vcard.NewDecoder(strings.NewReader(ex.Request.Body)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	ctx := davclient.WithPrecondition(adminCtx(), davclient.Precondition{IfNoneMatch: true})
	ao, err := client(t, r).CardDAV().PutAddressObject(ctx, ex.Request.Path, card)
	if err != nil {
		t.Fatal(err)
	}
	if ao.ETag != "3c1b2963946edd0368717452261cb499" {
		t.Errorf("ETag = %q", ao.ETag)
	}
	if got := r.Sent("PUT")[0].Header.Get("If-None-Match"); got != "*" {
		t.Errorf("If-None-Match = %q", got)
	}
}

func TestNextcloudAddressBooks(t *testing.T) {
	r := nextcloudfake.NewDAVReplay(t, "core/15", "core/16", "contacts/01", "contacts/10", "contacts/16")
	c := client(t, r)
	ctx := adminCtx()
	h, err := c.Homes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	books, err := c.CardDAV().FindAddressBooks(ctx, h.AddressBooks)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range books {
		names = append(names, b.Name)
	}
	if !slices.Equal(names, []string{"Contacts", "Accounts", "Recently contacted"}) {
		t.Fatalf("books = %v", names)
	}

	// A vCard 4.0 stored under a name that is not its UID comes back as 3.0.
	objs, err := c.CardDAV().QueryAddressBook(ctx, "/remote.php/dav/addressbooks/users/admin/fixture-team/", &carddav.AddressBookQuery{DataRequest: carddav.AddressDataRequest{AllProp: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[1].Path != "/remote.php/dav/addressbooks/users/admin/fixture-team/grace.vcf" ||
		objs[1].Card.Value(vcard.FieldUID) != "fixture-grace-hopper-9d7f" || objs[1].Card.Value(vcard.FieldVersion) != "3.0" {
		t.Fatalf("objects = %+v", objs)
	}

	ex := nextcloudfake.MustFixture(t, "contacts/16")
	card, _ := vcard.NewDecoder(strings.NewReader(ex.Request.Body)).Decode()
	_, err = c.CardDAV().PutAddressObject(davclient.WithPrecondition(ctx, davclient.Precondition{IfMatch: `"3c1b2963946edd0368717452261cb499"`}), ex.Request.Path, card)
	if davclient.StatusOf(err) != http.StatusPreconditionFailed {
		t.Fatalf("stale contact update: %v", err)
	}
}

func TestDiscoveryCachedPerCaller(t *testing.T) {
	r := nextcloudfake.NewDAVReplay(t, "core/15", "core/16")
	c := client(t, r)
	for range 3 {
		if _, err := c.Homes(adminCtx()); err != nil {
			t.Fatal(err)
		}
	}
	once := len(r.Sent("PROPFIND"))
	other := nextcloud.WithCredentials(context.Background(), nextcloud.Bearer("another-token"))
	if _, err := c.Homes(other); err != nil {
		t.Fatal(err)
	}
	if twice := len(r.Sent("PROPFIND")); twice != 2*once {
		t.Errorf("PROPFINDs: %d after three calls by one caller, %d after a second caller; want discovery once per caller", once, twice)
	}
}

func TestNextcloudQueryByUID(t *testing.T) {
	r := nextcloudfake.NewDAVReplay(t, "calendar/19")
	objs, err := client(t, r).CalendarObjectsByUID(adminCtx(), "/remote.php/dav/calendars/admin/fixture-work/", "VEVENT", "fixture-standup-7f3c2a")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].ETag != "be7370272e715cd3dcb604e7bca77b39" || objs[0].Path != "/remote.php/dav/calendars/admin/fixture-work/fixture-standup-7f3c2a.ics" {
		t.Fatalf("objects = %+v", objs)
	}
	body, _ := io.ReadAll(r.Sent("REPORT")[0].Body)
	for _, want := range []string{`<prop-filter xmlns="urn:ietf:params:xml:ns:caldav" name="UID">`, `collation="i;octet">fixture-standup-7f3c2a</text-match>`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("REPORT body lacks %q:\n%s", want, body)
		}
	}
}

func TestNextcloudUIDInTrashBin(t *testing.T) {
	ex := nextcloudfake.MustFixture(t, "calendar/28")
	r := nextcloudfake.NewDAVReplay(t, "calendar/28")
	cal, err := ical.NewDecoder(strings.NewReader(ex.Request.Body)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	_, err = client(t, r).CalDAV().PutCalendarObject(adminCtx(), ex.Request.Path, cal)
	msg := davclient.Explain("nc_calendar_bulk_operations", "move", err)
	if !strings.Contains(msg, "(HTTP 500): An exception occurred") || !strings.Contains(msg, "calendar trash bin") {
		t.Fatalf("explanation = %q", msg)
	}
}

func TestNextcloudUpdateCalendar(t *testing.T) {
	r := nextcloudfake.NewDAVReplay(t, "calendar/06", "calendar/05")
	name, color := "Fixture Work (renamed)", "#E91E63"
	cal, err := client(t, r).UpdateCalendar(adminCtx(), "/remote.php/dav/calendars/admin/fixture-work/", davclient.CalendarChange{DisplayName: &name, Color: &color})
	if err != nil {
		t.Fatal(err)
	}
	if cal.Name != "fixture-work" {
		t.Errorf("calendar = %+v", cal)
	}
	body, _ := io.ReadAll(r.Sent("PROPPATCH")[0].Body)
	for _, want := range []string{`<displayname xmlns="DAV:">Fixture Work (renamed)</displayname>`, `<calendar-color xmlns="http://apple.com/ns/ical/">#E91E63</calendar-color>`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("PROPPATCH body lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(string(body), "calendar-description") {
		t.Errorf("PROPPATCH sets a property not asked for:\n%s", body)
	}
}

// Discovery against Nextcloud is two requests: the DAV root's
// current-user-principal (core/15), then both home sets and the
// scheduling properties from the principal in one PROPFIND (core/16).
// The well-known lookup is only made when the Nextcloud root does not
// answer.
func TestNextcloudDiscoveryRoundTrips(t *testing.T) {
	r := nextcloudfake.NewDAVReplay(t, "core/15", "core/16")
	if _, err := client(t, r).Homes(adminCtx()); err != nil {
		t.Fatal(err)
	}
	var sent []string
	for _, req := range r.Sent("PROPFIND") {
		sent = append(sent, req.URL.Path)
	}
	want := []string{"/remote.php/dav/", "/remote.php/dav/principals/users/admin/"}
	if !slices.Equal(sent, want) {
		t.Errorf("discovery sent PROPFIND %q, want %q", sent, want)
	}
	if u := r.Unmatched(); len(u) != 0 {
		t.Errorf("requests no recording answers: %q", u)
	}
}

// A cached discovery is dropped when the server says it no longer holds:
// the home answers 404 (the user was renamed or deleted), or the
// credentials answer 401.
func TestDiscoveryForgottenWhenStale(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusUnauthorized} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			r := nextcloudfake.NewDAVReplay(t, "core/15", "core/16")
			r.Handle("PROPFIND", "/remote.php/dav/calendars/admin/", func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(status)
			})
			c := client(t, r)
			if _, err := c.Homes(adminCtx()); err != nil {
				t.Fatal(err)
			}
			discovery := len(r.Sent("PROPFIND"))
			if _, err := c.Homes(adminCtx()); err != nil {
				t.Fatal(err)
			}
			if n := len(r.Sent("PROPFIND")); n != discovery {
				t.Fatalf("a second Homes sent %d PROPFINDs, want the cached answer", n-discovery)
			}
			if _, err := c.Calendars(adminCtx()); davclient.StatusOf(err) != status {
				t.Fatalf("listing calendars: %v, want HTTP %d", err, status)
			}
			before := len(r.Sent("PROPFIND"))
			if _, err := c.Homes(adminCtx()); err != nil {
				t.Fatal(err)
			}
			if n := len(r.Sent("PROPFIND")) - before; n != discovery {
				t.Errorf("after HTTP %d, Homes sent %d PROPFINDs, want a fresh discovery (%d)", status, n, discovery)
			}
		})
	}
}

// Basic credentials are cached by login name, so a rotated app password
// keeps the user's discovery; bearer tokens, which name no user, by a
// hash of the token.
func TestDiscoveryKeyedByUser(t *testing.T) {
	r := nextcloudfake.NewDAVReplay(t, "core/15", "core/16")
	c := client(t, r)
	rotated := nextcloud.WithCredentials(context.Background(), nextcloud.Basic{Username: "admin", Password: "new-app-password"})
	for _, ctx := range []context.Context{adminCtx(), rotated} {
		if _, err := c.Homes(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(r.Sent("PROPFIND")); n != 2 {
		t.Errorf("%d PROPFINDs for one user with two app passwords, want one discovery (2)", n)
	}
}
