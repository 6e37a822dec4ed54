package calendar_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/davtest"
	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/mcpbackend/calendar"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

// nextcloudSession drives the tools through MCP against recorded
// Nextcloud 34 answers.
func nextcloudSession(t *testing.T, fixtures ...string) (*davtest.Session, *nextcloudfake.DAVReplay) {
	t.Helper()
	r := nextcloudfake.NewDAVReplay(t, append([]string{"core/15", "core/16"}, fixtures...)...)
	tools, err := calendar.ToolsWithConfig(davtest.Config(r.URL))
	if err != nil {
		t.Fatal(err)
	}
	return davtest.Serve(t, nextcloud.Basic{Username: "admin", Password: "app-password"}, tools), r
}

func TestNextcloudUpdateEvent(t *testing.T) {
	s, r := nextcloudSession(t, "calendar/38", "calendar/19", "calendar/22")
	var ev calendar.Event
	s.OK("nc_calendar_update_event", map[string]any{"calendar_name": "fixture-work", "event_uid": "fixture-standup-7f3c2a", "title": "Weekly standup (moved)", "location": "Room 5.01"}, &ev)
	if ev.ETag != "f2737a4d422002588658c0629d4d005b" || ev.Href != "/remote.php/dav/calendars/admin/fixture-work/fixture-standup-7f3c2a.ics" ||
		ev.Start != "2026-12-01T09:30:00+01:00" || ev.RecurrenceRule != "FREQ=WEEKLY;BYDAY=TU;COUNT=10" || len(ev.Attendees) != 2 {
		t.Fatalf("updated = %+v", ev)
	}
	if got := r.Sent("PUT")[0].Header.Get("If-Match"); got != `"be7370272e715cd3dcb604e7bca77b39"` {
		t.Errorf("update sent If-Match %q, want the ETag read just before", got)
	}
}

func TestNextcloudStaleUpdate(t *testing.T) {
	s, _ := nextcloudSession(t, "calendar/38", "calendar/19", "calendar/23")
	s.Fail("nc_calendar_update_event", map[string]any{"calendar_name": "fixture-work", "event_uid": "fixture-standup-7f3c2a", "title": "x"},
		"nc_calendar_update_event failed: storing the event (HTTP 412): An If-Match header was specified", "Re-read", "nothing was overwritten")
}

func TestNextcloudTodoIntoPersonal(t *testing.T) {
	// The calendar says it takes only VEVENT: refused before any write.
	s, r := nextcloudSession(t, "calendar/01")
	s.Fail("nc_calendar_create_todo", map[string]any{"calendar_name": "personal", "summary": "Write quarterly report"},
		"accepts only [VEVENT]", "VTODO")
	if n := len(r.Sent("PUT")); n != 0 {
		t.Errorf("%d PUTs sent to a VEVENT-only calendar", n)
	}

	// A listing without the component set: Nextcloud's 403 is explained.
	s, r = nextcloudSession(t, "calendar/38", "calendar/11")
	s.Fail("nc_calendar_create_todo", map[string]any{"calendar_name": "personal", "summary": "Write quarterly report"},
		"storing the task (HTTP 403): iCalendar objects must at least have a component of type VEVENT", "does not accept this kind of item")
	if put := r.Sent("PUT"); len(put) != 1 || put[0].Header.Get("If-None-Match") != "*" {
		t.Errorf("create sent %v, want one PUT with If-None-Match: *", put)
	}
}

// Nextcloud 34's default personal calendar takes only VEVENT (calendar/01,
// calendar/11): without a calendar_name a task goes to the first calendar
// that takes tasks, never to Deck's read-only app-generated ones.
func TestNextcloudTodoDefaultCalendar(t *testing.T) {
	s, r := nextcloudSession(t, "calendar/01")
	r.Handle(http.MethodPut, "/remote.php/dav/calendars/admin/work/", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("ETag", `"etag-new-task"`)
		w.WriteHeader(http.StatusCreated)
	})
	var todo calendar.Todo
	s.OK("nc_calendar_create_todo", map[string]any{"summary": "Write quarterly report"}, &todo)
	if todo.Calendar != "work" || !strings.HasPrefix(todo.Href, "/remote.php/dav/calendars/admin/work/") {
		t.Errorf("task = %+v, want it in work", todo)
	}
	if put := r.Sent("PUT"); len(put) != 1 || !strings.HasPrefix(put[0].URL.Path, "/remote.php/dav/calendars/admin/work/") {
		t.Errorf("PUTs %v, want one into work", put)
	}

	// A home where no calendar takes tasks: the error names the call that
	// creates one.
	home := nextcloudfake.MustFixture(t, "calendar/01")
	s, r = nextcloudSession(t)
	r.Handle("PROPFIND", "/remote.php/dav/calendars/admin/", func(w http.ResponseWriter, req *http.Request) {
		for k, v := range home.Response.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(home.Response.Status)
		io.WriteString(w, strings.ReplaceAll(home.Response.Body, `<cal:comp name="VTODO"/>`, `<cal:comp name="VJOURNAL"/>`))
	})
	s.Fail("nc_calendar_create_todo", map[string]any{"summary": "Write quarterly report"},
		"no calendar accepts tasks", `nc_calendar_manage_calendar {"action": "create", "display_name": "Tasks"}`)
	if n := len(r.Sent("PUT")); n != 0 {
		t.Errorf("%d PUTs sent without a calendar for tasks", n)
	}
}

func TestNextcloudCalendarList(t *testing.T) {
	s, _ := nextcloudSession(t, "calendar/38")
	var l calList
	s.OK("nc_calendar_list_calendars", nil, &l)
	var names []string
	for _, c := range l.Calendars {
		names = append(names, c.Name)
	}
	// fixture-cs-color sits in the trash bin as a deleted-calendar.
	if !equal(names, []string{"personal", "contact_birthdays", "work", "fixture-work", "app-generated--deck--board-1", "app-generated--deck--board-2"}) {
		t.Fatalf("calendars = %v", names)
	}
}

func TestNextcloudDeleteEvent(t *testing.T) {
	s, r := nextcloudSession(t, "calendar/38", "calendar/19", "calendar/25")
	// The recorded REPORT answers with the standup; the recorded DELETE is
	// for the offsite, so only the request is checked here.
	s.Call("nc_calendar_delete_event", map[string]any{"calendar_name": "fixture-work", "event_uid": "fixture-standup-7f3c2a"})
	del := r.Sent("DELETE")
	if len(del) != 1 || del[0].URL.Path != "/remote.php/dav/calendars/admin/fixture-work/fixture-standup-7f3c2a.ics" || del[0].Header.Get("If-Match") != `"be7370272e715cd3dcb604e7bca77b39"` {
		t.Fatalf("DELETE requests = %v", del)
	}
}

func TestNextcloudAvailabilityWithAttendees(t *testing.T) {
	s, r := nextcloudSession(t, "calendar/01")
	empty := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		w.WriteHeader(http.StatusMultiStatus)
		_, _ = io.WriteString(w, `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"/>`)
	}
	for _, cal := range []string{"personal", "contact_birthdays", "work"} {
		r.Handle("REPORT", "/remote.php/dav/calendars/admin/"+cal+"/", empty)
	}
	// No free/busy exchange was recorded; this answer follows RFC 6638.
	r.Handle(http.MethodPost, "/remote.php/dav/calendars/admin/outbox/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		_, _ = io.WriteString(w, `<?xml version="1.0"?>
<cal:schedule-response xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav">
 <cal:response><cal:recipient><d:href>mailto:user2@example.com</d:href></cal:recipient>
  <cal:request-status>2.0;Success</cal:request-status>
  <cal:calendar-data>BEGIN:VCALENDAR&#13;
VERSION:2.0&#13;
PRODID:x&#13;
METHOD:REPLY&#13;
BEGIN:VFREEBUSY&#13;
UID:x&#13;
DTSTAMP:20261127T080000Z&#13;
FREEBUSY:20261116T090000Z/20261116T120000Z&#13;
END:VFREEBUSY&#13;
END:VCALENDAR&#13;
</cal:calendar-data></cal:response>
 <cal:response><cal:recipient><d:href>mailto:nobody@example.org</d:href></cal:recipient>
  <cal:request-status>3.7;Invalid calendar user</cal:request-status></cal:response>
</cal:schedule-response>`)
	})
	var res struct {
		Slots   []calendar.Slot `json:"slots"`
		Checked []string        `json:"attendees_checked"`
		Note    string          `json:"note"`
	}
	s.OK("nc_calendar_find_availability", map[string]any{
		"duration_minutes": 60, "date_range_start": "2026-11-16", "date_range_end": "2026-11-16",
		"attendees": "User Two <user2@example.com>, nobody@example.org",
	}, &res)
	if len(res.Slots) != 1 || res.Slots[0].Start != "2026-11-16T12:00:00Z" || res.Slots[0].End != "2026-11-16T17:00:00Z" {
		t.Fatalf("slots = %+v", res.Slots)
	}
	if len(res.Checked) != 1 || res.Checked[0] != "user2@example.com" || !strings.Contains(res.Note, "nobody@example.org (no free/busy time: 3.7;Invalid calendar user)") {
		t.Fatalf("checked %v, note %q", res.Checked, res.Note)
	}
}

// A task search by summary lets Nextcloud filter (calendar-query with a
// text-match on SUMMARY) instead of downloading every task of every
// calendar; text beyond ASCII, whose case the standard collation does not
// fold, is compared here only.
func TestNextcloudSearchTodosFiltersOnServer(t *testing.T) {
	tasks := nextcloudfake.MustFixture(t, "calendar/17")
	s, r := nextcloudSession(t, "calendar/01")
	for _, cal := range []string{"work", "app-generated--deck--board-1", "app-generated--deck--board-2"} {
		r.Handle("REPORT", "/remote.php/dav/calendars/admin/"+cal+"/", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/xml; charset=utf-8")
			w.WriteHeader(http.StatusMultiStatus)
			if cal == "work" {
				io.WriteString(w, tasks.Response.Body)
				return
			}
			io.WriteString(w, `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"/>`)
		})
	}
	var l struct {
		Todos []calendar.Todo `json:"todos"`
		Count int             `json:"count"`
	}
	s.OK("nc_calendar_search_todos", map[string]any{"summary_contains": "REPORT"}, &l)
	if l.Count != 1 || !strings.Contains(strings.ToLower(l.Todos[0].Summary), "report") {
		t.Fatalf("search = %+v", l)
	}
	reports := r.Sent("REPORT")
	if len(reports) != 3 {
		t.Fatalf("%d REPORTs, want one per calendar taking tasks (3)", len(reports))
	}
	for _, req := range reports {
		body, _ := io.ReadAll(req.Body)
		for _, want := range []string{`name="VTODO"`, `name="SUMMARY"`, `collation="i;ascii-casemap"`, `>REPORT<`} {
			if !strings.Contains(string(body), want) {
				t.Errorf("REPORT %s lacks %s:\n%s", req.URL.Path, want, body)
			}
		}
	}

	s.OK("nc_calendar_search_todos", map[string]any{"summary_contains": "Überweisung"}, &l)
	for _, req := range r.Sent("REPORT")[3:] {
		if body, _ := io.ReadAll(req.Body); strings.Contains(string(body), "prop-filter") {
			t.Errorf("a search beyond ASCII filtered on the server, whose collation does not fold its case:\n%s", body)
		}
	}
}
