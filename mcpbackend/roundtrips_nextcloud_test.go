package mcpbackend_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/davtest"
	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/mcpbackend/calendar"
	"github.com/scopegate/scopegate/mcpbackend/contacts"
	"github.com/scopegate/scopegate/mcpbackend/davclient"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

// TestRoundTripsNextcloudSlowTools pins the DAV requests of the tools a
// real Nextcloud 34 answered slowest (issue 11: 1.6 to 2.7 s against
// 0.2 to 0.6 s for most others), replayed from its recordings, so the
// counts are those of Nextcloud's own layout: its calendar home holds
// seven calendars (two of them Deck's, taking tasks), its address book
// home three books (one is every account of the instance). Answers the
// recordings lack are filled in per collection. "warm" is after the user
// listed calendars and address books.
func TestRoundTripsNextcloudSlowTools(t *testing.T) {
	const home = "/remote.php/dav/calendars/admin/"
	const books = "/remote.php/dav/addressbooks/users/admin/"
	empty := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"/>`)
	}
	created := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("ETag", `"etag-new"`)
		w.WriteHeader(http.StatusCreated)
	}
	deleted := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }
	ada := nextcloudfake.MustFixture(t, "contacts/11")
	// The calendars of calendar/38.
	calendars := []string{"personal", "contact_birthdays", "work", "fixture-work", "fixture-cs-color", "app-generated--deck--board-1", "app-generated--deck--board-2"}
	// calendar/01 is the home as Nextcloud 34 lists it with the component
	// sets; calendar/38 (without them) holds fixture-work, where the
	// recorded event is.
	cases := []struct {
		tool     string
		args     map[string]any
		fixtures []string
		handle   func(r *nextcloudfake.DAVReplay)
	}{
		{tool: "nc_calendar_list_calendars", args: map[string]any{}, fixtures: []string{"calendar/01"}},
		{tool: "nc_calendar_create_todo", args: map[string]any{"summary": "Write the report"}, fixtures: []string{"calendar/01"}, handle: func(r *nextcloudfake.DAVReplay) {
			for _, cal := range calendars {
				r.Handle(http.MethodPut, home+cal+"/", created)
			}
		}},
		{tool: "nc_calendar_delete_event", args: map[string]any{"calendar_name": "fixture-work", "event_uid": "fixture-standup-7f3c2a"}, fixtures: []string{"calendar/38", "calendar/19"}, handle: func(r *nextcloudfake.DAVReplay) {
			r.Handle(http.MethodDelete, home+"fixture-work/", deleted)
		}},
		{tool: "nc_calendar_search_todos", args: map[string]any{"summary_contains": "report"}, fixtures: []string{"calendar/01", "calendar/17"}, handle: func(r *nextcloudfake.DAVReplay) {
			for _, cal := range calendars {
				if cal != "fixture-work" { // recorded: calendar/17
					r.Handle("REPORT", home+cal+"/", empty)
				}
			}
		}},
		{tool: "nc_contacts_search_contacts", args: map[string]any{"query": "lovelace"}, fixtures: []string{"calendar/01"}, handle: func(r *nextcloudfake.DAVReplay) {
			r.Handle("REPORT", books+"contacts/", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/xml; charset=utf-8")
				w.WriteHeader(http.StatusMultiStatus)
				io.WriteString(w, ada.Response.Body)
			})
			r.Handle("REPORT", books+"z-server-generated--system/", empty)
			r.Handle("REPORT", books+"z-app-generated--contactsinteraction--recent/", empty)
		}},
	}
	got := map[string]rtCount{}
	for _, tc := range cases {
		var c rtCount
		for _, warm := range []bool{false, true} {
			r := nextcloudfake.NewDAVReplay(t, append([]string{"core/15", "core/16", "contacts/01"}, tc.fixtures...)...)
			if tc.handle != nil {
				tc.handle(r)
			}
			d, err := davclient.New(davtest.Config(r.URL))
			if err != nil {
				t.Fatal(err)
			}
			s := davtest.Serve(t, nextcloud.Basic{Username: "admin", Password: "app-password"}, append(calendar.ToolsFor(d), contacts.ToolsFor(d)...))
			if warm {
				s.OK("nc_calendar_list_calendars", nil, nil)
				s.OK("nc_contacts_list_addressbooks", nil, nil)
			}
			before := sentAll(r)
			s.OK(tc.tool, tc.args, nil)
			sent := sentAll(r)[len(before):]
			if u := r.Unmatched(); len(u) != 0 {
				t.Errorf("%s: requests nothing answers: %q", tc.tool, u)
			}
			if warm {
				c.warm = len(sent)
			} else {
				c.cold = len(sent)
			}
			t.Logf("%s warm=%v: %d\n\t%s", tc.tool, warm, len(sent), strings.Join(sent, "\n\t"))
		}
		got[tc.tool] = c
	}
	t.Logf("%-28s %12s %12s", "DAV round trips", "before", "now")
	for _, tc := range cases {
		b, n := slowToolsBefore[tc.tool], got[tc.tool]
		t.Logf("%-28s %5d cold %d warm %5d cold %d warm", tc.tool, b.cold, b.warm, n.cold, n.warm)
		if n.warm >= n.cold {
			t.Errorf("%s: %d round trips warm, %d cold: the user's discovery is not reused", tc.tool, n.warm, n.cold)
		}
	}
	checkGolden(t, "nextcloud", got)
}

// slowToolsBefore are the counts this test measured on the code before
// issue 11's DAV work (commit 10a4ec8), kept to show what changed.
var slowToolsBefore = map[string]rtCount{
	"nc_calendar_list_calendars":  {5, 1},
	"nc_calendar_create_todo":     {6, 2},
	"nc_calendar_delete_event":    {7, 3},
	"nc_calendar_search_todos":    {8, 4},
	"nc_contacts_search_contacts": {8, 4},
}

// sentAll lists every request r received, in order.
func sentAll(r *nextcloudfake.DAVReplay) []string {
	var out []string
	for _, req := range r.Requests() {
		out = append(out, req.Method+" "+req.URL.Path)
	}
	return out
}
