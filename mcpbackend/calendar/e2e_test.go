package calendar_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"

	"github.com/scopegate/scopegate/internal/davtest"
	"github.com/scopegate/scopegate/internal/radicaletest"
	"github.com/scopegate/scopegate/mcpbackend/calendar"
	"github.com/scopegate/scopegate/mcpbackend/davclient"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

type event = calendar.Event

type eventList struct {
	Events    []event `json:"events"`
	Count     int     `json:"count"`
	Truncated bool    `json:"truncated"`
}

type calList struct {
	Calendars []davclient.Calendar `json:"calendars"`
}

type todo = calendar.Todo

type todoList struct {
	Todos []todo `json:"todos"`
	Count int    `json:"count"`
}

type slots struct {
	Slots []calendar.Slot `json:"slots"`
	Busy  int             `json:"busy_periods"`
	Cals  []string        `json:"calendars"`
	Note  string          `json:"note"`
}

// env is one Radicale with the calendar tools in front of it.
type env struct {
	s   *davtest.Session
	raw *caldav.Client // a second writer, bypassing the tools
}

func newEnv(t *testing.T) env {
	t.Helper()
	rad := radicaletest.Start(t, radicaletest.WithUsers(map[string]string{"alice": "secret"}))
	tools, err := calendar.ToolsWithConfig(davtest.Config(rad.URL))
	if err != nil {
		t.Fatal(err)
	}
	s := davtest.Serve(t, nextcloud.Basic{Username: "alice", Password: "secret"}, tools)
	raw, err := caldav.NewClient(webdav.HTTPClientWithBasicAuth(http.DefaultClient, "alice", "secret"), rad.URL)
	if err != nil {
		t.Fatal(err)
	}
	return env{s: s, raw: raw}
}

func (e env) mkcal(t *testing.T, name string) {
	t.Helper()
	var res struct {
		Calendar davclient.Calendar `json:"calendar"`
	}
	e.s.OK("nc_calendar_manage_calendar", map[string]any{"action": "create", "calendar_name": name, "display_name": strings.ToUpper(name)}, &res)
	if res.Calendar.Name != name || !res.Calendar.Accepts("VTODO") {
		t.Fatalf("created calendar = %+v", res.Calendar)
	}
}

func (e env) list(t *testing.T, args map[string]any) []event {
	t.Helper()
	var l eventList
	e.s.OK("nc_calendar_list_events", args, &l)
	return l.Events
}

func starts(es []event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Start)
	}
	return out
}

func equal(a, b []string) bool {
	return strings.Join(a, "|") == strings.Join(b, "|")
}

func TestEventsAgainstRadicale(t *testing.T) {
	e := newEnv(t)
	var cals calList
	e.s.OK("nc_calendar_list_calendars", nil, &cals)
	if len(cals.Calendars) != 0 {
		t.Fatalf("fresh Radicale has calendars: %+v", cals.Calendars)
	}
	e.mkcal(t, "work")
	e.s.OK("nc_calendar_list_calendars", nil, &cals)
	if len(cals.Calendars) != 1 || cals.Calendars[0].DisplayName != "WORK" || cals.Calendars[0].Color != "#1976D2" {
		t.Fatalf("calendars after create = %+v", cals.Calendars)
	}

	t.Run("recurring across DST", func(t *testing.T) {
		var ev event
		e.s.OK("nc_calendar_create_event", map[string]any{
			"calendar_name": "work", "title": "Standup", "start_datetime": "2026-10-13T09:30:00",
			"end_datetime": "2026-10-13T10:00:00", "timezone": "Europe/Berlin",
			"recurrence_rule": "FREQ=WEEKLY;BYDAY=TU;COUNT=4", "categories": "Work,Meeting",
			"attendees": "Ann <ann@example.com>, bob@example.com", "reminder_minutes": 10,
			"privacy": "PRIVATE", "priority": 3,
		}, &ev)
		if ev.TimeZone != "Europe/Berlin" || ev.RecurrenceRule != "FREQ=WEEKLY;BYDAY=TU;COUNT=4" || len(ev.Attendees) != 2 || ev.ETag == "" {
			t.Fatalf("created = %+v", ev)
		}
		got := e.list(t, map[string]any{"calendar_name": "work", "start_date": "2026-10-01", "end_date": "2026-11-30", "title_contains": "standup"})
		want := []string{"2026-10-13T09:30:00+02:00", "2026-10-20T09:30:00+02:00", "2026-10-27T09:30:00+01:00", "2026-11-03T09:30:00+01:00"}
		if !equal(starts(got), want) {
			t.Fatalf("occurrences = %v, want %v", starts(got), want)
		}
		if got[2].RecurrenceID == "" || got[2].DurationMinutes != 30 || got[2].Privacy != "PRIVATE" || got[2].Reminders[0].MinutesBefore != 10 {
			t.Errorf("occurrence = %+v", got[2])
		}

		// Leave out the occurrence after the change.
		e.s.OK("nc_calendar_update_event", map[string]any{"calendar_name": "work", "event_uid": ev.UID, "exception_dates": "2026-10-27"}, nil)
		got = e.list(t, map[string]any{"calendar_name": "work", "start_date": "2026-10-01", "end_date": "2026-11-30", "title_contains": "standup"})
		if !equal(starts(got), []string{want[0], want[1], want[3]}) {
			t.Fatalf("after EXDATE occurrences = %v", starts(got))
		}
		// One occurrence moved and renamed, another one deleted.
		var moved event
		e.s.OK("nc_calendar_update_event", map[string]any{"calendar_name": "work", "event_uid": ev.UID, "occurrence": "2026-10-20T09:30:00+02:00",
			"start_datetime": "2026-10-20T11:00", "title": "Standup (moved)"}, &moved)
		if moved.Start != "2026-10-20T11:00:00+02:00" || moved.End != "2026-10-20T11:30:00+02:00" || moved.RecurrenceID != "2026-10-20T09:30:00+02:00" {
			t.Fatalf("moved occurrence = %+v", moved)
		}
		e.s.OK("nc_calendar_delete_event", map[string]any{"calendar_name": "work", "event_uid": ev.UID, "occurrence": "2026-11-03"}, nil)
		e.s.OK("nc_calendar_update_event", map[string]any{"calendar_name": "work", "event_uid": ev.UID, "occurrence": "2026-10-20T09:30:00+02:00", "location": "Room 7"}, nil)
		got = e.list(t, map[string]any{"calendar_name": "work", "start_date": "2026-10-01", "end_date": "2026-11-30", "title_contains": "standup"})
		if !equal(starts(got), []string{want[0], "2026-10-20T11:00:00+02:00"}) || got[1].Title != "Standup (moved)" || got[1].Location != "Room 7" || got[0].Title != "Standup" {
			t.Fatalf("after changing occurrences: %+v", got)
		}
		e.s.Fail("nc_calendar_update_event", map[string]any{"calendar_name": "work", "event_uid": ev.UID, "occurrence": "2026-10-21T09:30:00+02:00", "title": "x"}, "no occurrence starting")

		// Filters that need the attendee count and the duration.
		if got := e.list(t, map[string]any{"start_date": "2026-10-01", "end_date": "2026-11-30", "min_attendees": 2, "min_duration_minutes": 30, "categories": "meeting"}); len(got) != 2 {
			t.Errorf("filtered = %v", starts(got))
		}
		if got := e.list(t, map[string]any{"start_date": "2026-10-01", "end_date": "2026-11-30", "min_attendees": 3}); len(got) != 0 {
			t.Errorf("min_attendees 3 = %v", starts(got))
		}
	})

	t.Run("all-day", func(t *testing.T) {
		var ev event
		e.s.OK("nc_calendar_create_event", map[string]any{
			"calendar_name": "work", "title": "Offsite", "start_datetime": "2026-12-10", "end_datetime": "2026-12-11", "all_day": true,
		}, &ev)
		if !ev.AllDay || ev.Start != "2026-12-10" || ev.End != "2026-12-12" {
			t.Fatalf("all-day event = %+v", ev)
		}
		got := e.list(t, map[string]any{"start_date": "2026-12-11", "end_date": "2026-12-11", "timezone": "Asia/Tokyo"})
		if len(got) != 1 || got[0].Start != "2026-12-10" || !got[0].AllDay {
			t.Fatalf("all-day listing = %+v", got)
		}
	})

	t.Run("other time zone", func(t *testing.T) {
		var ev event
		e.s.OK("nc_calendar_create_event", map[string]any{
			"calendar_name": "work", "title": "NY call", "start_datetime": "2026-11-02T10:00", "timezone": "America/New_York",
			"location": "Zoom",
		}, &ev)
		if ev.Start != "2026-11-02T10:00:00-05:00" || ev.End != "2026-11-02T11:00:00-05:00" {
			t.Fatalf("NY event = %+v", ev)
		}
		got := e.list(t, map[string]any{"start_date": "2026-11-02T14:30:00Z", "end_date": "2026-11-02T15:30:00Z", "location_contains": "zoom"})
		if len(got) != 1 || got[0].UID != ev.UID || got[0].TimeZone != "America/New_York" {
			t.Fatalf("listing around 15:00Z = %+v", got)
		}
		var got2 event
		e.s.OK("nc_calendar_get_event", map[string]any{"calendar_name": "work", "event_uid": ev.UID}, &got2)
		if got2.Title != "NY call" || got2.ETag != ev.ETag {
			t.Fatalf("get = %+v", got2)
		}
		// Clients written against the reference send null for "unchanged".
		e.s.OK("nc_calendar_update_event", map[string]any{"calendar_name": "work", "event_uid": ev.UID, "title": nil, "status": nil, "priority": nil, "location": "Zoom 2"}, &got2)
		if got2.Title != "NY call" || got2.Location != "Zoom 2" || got2.Start != ev.Start {
			t.Fatalf("update with nulls = %+v", got2)
		}
	})

	t.Run("etag conflict", func(t *testing.T) {
		var ev event
		e.s.OK("nc_calendar_create_event", map[string]any{"calendar_name": "work", "title": "Budget", "start_datetime": "2026-11-20T14:00:00Z"}, &ev)
		var read event
		e.s.OK("nc_calendar_get_event", map[string]any{"calendar_name": "work", "event_uid": ev.UID}, &read)

		// A second writer changes the event between our read and write.
		ctx := context.Background()
		co, err := e.raw.GetCalendarObject(ctx, read.Href)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range co.Data.Children {
			if c.Name == ical.CompEvent {
				c.Props.SetText(ical.PropSummary, "Budget (changed elsewhere)")
			}
		}
		if _, err := e.raw.PutCalendarObject(ctx, read.Href, co.Data); err != nil {
			t.Fatal(err)
		}

		msg := e.s.Fail("nc_calendar_update_event", map[string]any{"calendar_name": "work", "event_uid": ev.UID, "etag": read.ETag, "title": "Budget v2"},
			"nc_calendar_update_event failed", "HTTP 412", "Re-read")
		t.Log(msg)
		var now event
		e.s.OK("nc_calendar_get_event", map[string]any{"calendar_name": "work", "event_uid": ev.UID}, &now)
		if now.Title != "Budget (changed elsewhere)" {
			t.Fatalf("the other writer's change was overwritten: %+v", now)
		}
		// Re-read, retry with the current ETag: accepted.
		var upd event
		e.s.OK("nc_calendar_update_event", map[string]any{"calendar_name": "work", "event_uid": ev.UID, "etag": now.ETag, "title": "Budget v2"}, &upd)
		if upd.Title != "Budget v2" || upd.ETag == now.ETag || upd.Start != "2026-11-20T14:00:00Z" {
			t.Fatalf("update after re-read = %+v", upd)
		}
		e.s.OK("nc_calendar_delete_event", map[string]any{"calendar_name": "work", "event_uid": ev.UID}, nil)
		e.s.Fail("nc_calendar_get_event", map[string]any{"calendar_name": "work", "event_uid": ev.UID}, "no event")
	})

	t.Run("availability around recurring meetings", func(t *testing.T) {
		e.mkcal(t, "team")
		e.s.OK("nc_calendar_create_event", map[string]any{
			"calendar_name": "team", "title": "Daily sync", "start_datetime": "2026-11-09T10:00", "end_datetime": "2026-11-09T11:00",
			"timezone": "Europe/Berlin", "recurrence_rule": "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
		}, nil)
		e.s.OK("nc_calendar_create_event", map[string]any{
			"calendar_name": "work", "title": "Lunch talk", "start_datetime": "2026-11-17T12:00", "end_datetime": "2026-11-17T13:30",
			"timezone": "Europe/Berlin",
		}, nil)
		e.s.OK("nc_calendar_create_event", map[string]any{
			"calendar_name": "work", "title": "Free anyway", "start_datetime": "2026-11-16T14:00", "timezone": "Europe/Berlin", "status": "CANCELLED",
		}, nil)
		var res slots
		e.s.OK("nc_calendar_find_availability", map[string]any{
			"duration_minutes": 60, "date_range_start": "2026-11-14", "date_range_end": "2026-11-17", "timezone": "Europe/Berlin",
			"attendees": "bob@example.com",
		}, &res)
		if !strings.Contains(res.Note, "not included") || !strings.Contains(res.Note, "no CalDAV scheduling outbox") {
			t.Errorf("note about attendees on Radicale = %q", res.Note)
		}
		want := []string{
			"2026-11-16T09:00:00+01:00..2026-11-16T10:00:00+01:00",
			"2026-11-16T11:00:00+01:00..2026-11-16T17:00:00+01:00",
			"2026-11-17T09:00:00+01:00..2026-11-17T10:00:00+01:00",
			"2026-11-17T11:00:00+01:00..2026-11-17T12:00:00+01:00",
			"2026-11-17T13:30:00+01:00..2026-11-17T17:00:00+01:00",
		}
		var got []string
		for _, s := range res.Slots {
			got = append(got, s.Start+".."+s.End)
		}
		if !equal(got, want) {
			t.Fatalf("free slots =\n%v\nwant\n%v", got, want)
		}
		// A 90-minute meeting no longer fits before lunch on Tuesday.
		e.s.OK("nc_calendar_find_availability", map[string]any{
			"duration_minutes": 90, "date_range_start": "2026-11-17", "date_range_end": "2026-11-17", "timezone": "Europe/Berlin",
			"preferred_times": "morning",
		}, &res)
		if len(res.Slots) != 0 {
			t.Fatalf("90 minutes in the morning = %+v", res.Slots)
		}
	})

	t.Run("meeting, upcoming and bulk", func(t *testing.T) {
		soon := time.Now().UTC().Add(2 * time.Hour)
		var ev event
		e.s.OK("nc_calendar_create_meeting", map[string]any{
			"title": "Review", "date": soon.Format(time.DateOnly), "time": soon.Format("15:04"), "duration_minutes": 45,
			"calendar_name": "work", "attendees": "carol@example.com",
		}, &ev)
		if ev.DurationMinutes != 45 || len(ev.Attendees) != 1 {
			t.Fatalf("meeting = %+v", ev)
		}
		var up eventList
		e.s.OK("nc_calendar_get_upcoming_events", map[string]any{"days_ahead": 2}, &up)
		found := false
		for _, u := range up.Events {
			found = found || u.UID == ev.UID
		}
		if !found {
			t.Fatalf("upcoming events lack the meeting: %+v", up.Events)
		}
		e.s.Fail("nc_calendar_create_meeting", map[string]any{"title": "x", "date": "2026-11-20", "time": "10:00"}, "no calendar \"personal\"", "work")

		var dry struct {
			Matched int `json:"matched"`
			Items   []struct {
				UID string `json:"uid"`
			} `json:"items"`
		}
		e.s.OK("nc_calendar_bulk_operations", map[string]any{"operation": "delete", "title_contains": "review", "dry_run": true}, &dry)
		if dry.Matched != 1 || dry.Items[0].UID != ev.UID {
			t.Fatalf("dry run = %+v", dry)
		}
		var upd struct {
			Succeeded int `json:"succeeded"`
			Failed    int `json:"failed"`
		}
		e.s.OK("nc_calendar_bulk_operations", map[string]any{"operation": "update", "title_contains": "review", "new_location": "Room 1", "new_categories": "Reviews"}, &upd)
		if upd.Succeeded != 1 || upd.Failed != 0 {
			t.Fatalf("bulk update = %+v", upd)
		}
		var moved struct {
			Succeeded int `json:"succeeded"`
		}
		e.s.OK("nc_calendar_bulk_operations", map[string]any{"operation": "move", "categories": "reviews", "target_calendar": "team"}, &moved)
		var got event
		e.s.OK("nc_calendar_get_event", map[string]any{"calendar_name": "team", "event_uid": ev.UID}, &got)
		if got.Location != "Room 1" || moved.Succeeded != 1 {
			t.Fatalf("moved event = %+v", got)
		}
		e.s.OK("nc_calendar_bulk_operations", map[string]any{"operation": "delete", "calendar_name": "team", "title_contains": "review"}, &upd)
		if upd.Succeeded != 1 {
			t.Fatalf("bulk delete = %+v", upd)
		}
		e.s.Fail("nc_calendar_bulk_operations", map[string]any{"operation": "delete"}, "at least one filter")
	})

	t.Run("objects named by other clients", func(t *testing.T) {
		// Another client stores an event under a name unrelated to its
		// UID, in a zone only its VTIMEZONE defines.
		obj := strings.ReplaceAll(`BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Other//EN
BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:outlook-1234@example.com
DTSTAMP:20261001T000000Z
SUMMARY:Outlook series
DTSTART;TZID=W. Europe Standard Time:20261022T080000
DTEND;TZID=W. Europe Standard Time:20261022T090000
RRULE:FREQ=WEEKLY;COUNT=2
END:VEVENT
END:VCALENDAR
`, "\n", "\r\n")
		cal, err := ical.NewDecoder(strings.NewReader(obj)).Decode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.raw.PutCalendarObject(context.Background(), "/alice/work/Zm9yZWlnbg.ics", cal); err != nil {
			t.Fatal(err)
		}
		got := e.list(t, map[string]any{"calendar_name": "work", "start_date": "2026-10-20", "end_date": "2026-10-31", "title_contains": "outlook"})
		if !equal(starts(got), []string{"2026-10-22T08:00:00+02:00", "2026-10-29T08:00:00+01:00"}) {
			t.Fatalf("VTIMEZONE-only series = %v", starts(got))
		}
		var upd event
		e.s.OK("nc_calendar_update_event", map[string]any{"calendar_name": "work", "event_uid": "outlook-1234@example.com", "description": "kept its zone"}, &upd)
		if upd.Href != "/alice/work/Zm9yZWlnbg.ics" || upd.Start != "2026-10-22T08:00:00+02:00" {
			t.Fatalf("updated foreign event = %+v", upd)
		}
		e.s.OK("nc_calendar_delete_event", map[string]any{"calendar_name": "work", "event_uid": "outlook-1234@example.com"}, nil)
	})

	t.Run("calendar lifecycle", func(t *testing.T) {
		var upd struct {
			Calendar davclient.Calendar `json:"calendar"`
		}
		e.s.OK("nc_calendar_manage_calendar", map[string]any{"action": "update", "calendar_name": "team", "display_name": "Team (renamed)", "color": "#E91E63"}, &upd)
		if upd.Calendar.DisplayName != "Team (renamed)" || upd.Calendar.Color != "#E91E63" {
			t.Fatalf("updated calendar = %+v", upd.Calendar)
		}
		e.s.Fail("nc_calendar_manage_calendar", map[string]any{"action": "update", "calendar_name": "team"}, "needs display_name")
		e.s.Fail("nc_calendar_manage_calendar", map[string]any{"action": "create", "calendar_name": "team"}, "HTTP")
		var res struct {
			Deleted string `json:"deleted"`
		}
		e.s.OK("nc_calendar_manage_calendar", map[string]any{"action": "delete", "calendar_name": "team"}, &res)
		if res.Deleted != "team" {
			t.Fatalf("delete = %+v", res)
		}
		var l struct {
			Calendars []davclient.Calendar `json:"calendars"`
		}
		e.s.OK("nc_calendar_manage_calendar", map[string]any{"action": "list"}, &l)
		if len(l.Calendars) != 1 {
			t.Fatalf("calendars after delete = %+v", l.Calendars)
		}
	})
}

func TestTodosAgainstRadicale(t *testing.T) {
	// Built the way the server assembly builds it: from a nextcloud.Client.
	rad := radicaletest.Start(t, radicaletest.WithUsers(map[string]string{"alice": "secret"}))
	nc, err := nextcloud.New(nextcloud.Options{BaseURL: rad.URL})
	if err != nil {
		t.Fatal(err)
	}
	e := env{s: davtest.Serve(t, nextcloud.Basic{Username: "alice", Password: "secret"}, calendar.Tools(nc))}
	e.mkcal(t, "tasks")

	var td todo
	e.s.OK("nc_calendar_create_todo", map[string]any{
		"calendar_name": "tasks", "summary": "Write report", "due": "2026-12-05T17:00:00", "timezone": "Europe/Berlin",
		"priority": 1, "categories": "Work", "reminders": []map[string]any{{"minutes_before": 60}},
	}, &td)
	if td.Status != "NEEDS-ACTION" || td.Due != "2026-12-05T17:00:00+01:00" || td.Priority != 1 || len(td.Reminders) != 1 {
		t.Fatalf("created task = %+v", td)
	}
	e.s.OK("nc_calendar_create_todo", map[string]any{"calendar_name": "tasks", "summary": "Buy milk", "priority": 7}, nil)

	var l todoList
	e.s.OK("nc_calendar_list_todos", map[string]any{"calendar_name": "tasks", "min_priority": 3}, &l)
	if l.Count != 1 || l.Todos[0].UID != td.UID {
		t.Fatalf("important tasks = %+v", l)
	}
	var upd todo
	e.s.OK("nc_calendar_update_todo", map[string]any{"calendar_name": "tasks", "todo_uid": td.UID, "percent_complete": 50, "status": "IN-PROCESS", "etag": td.ETag}, &upd)
	if upd.PercentComplete != 50 || upd.Status != "IN-PROCESS" {
		t.Fatalf("updated task = %+v", upd)
	}
	e.s.Fail("nc_calendar_update_todo", map[string]any{"calendar_name": "tasks", "todo_uid": td.UID, "summary": "stale", "etag": td.ETag}, "HTTP 412", "Re-read")

	var done todo
	e.s.OK("nc_calendar_complete_todo", map[string]any{"calendar_name": "tasks", "todo_uid": td.UID}, &done)
	if done.Status != "COMPLETED" || done.PercentComplete != 100 || done.Completed == "" {
		t.Fatalf("completed task = %+v", done)
	}
	e.s.OK("nc_calendar_search_todos", map[string]any{"status": "COMPLETED"}, &l)
	if l.Count != 1 || l.Todos[0].Summary != "Write report" {
		t.Fatalf("completed search = %+v", l)
	}
	e.s.OK("nc_calendar_search_todos", map[string]any{"summary_contains": "MILK"}, &l)
	if l.Count != 1 {
		t.Fatalf("summary search = %+v", l)
	}
	// Reopening clears the completion.
	e.s.OK("nc_calendar_update_todo", map[string]any{"calendar_name": "tasks", "todo_uid": td.UID, "status": "NEEDS-ACTION"}, &upd)
	if upd.Completed != "" || upd.PercentComplete != 0 {
		t.Fatalf("reopened task = %+v", upd)
	}
	e.s.OK("nc_calendar_delete_todo", map[string]any{"calendar_name": "tasks", "todo_uid": td.UID}, nil)
	e.s.OK("nc_calendar_list_todos", map[string]any{"calendar_name": "tasks"}, &l)
	if l.Count != 1 {
		t.Fatalf("tasks after delete = %+v", l)
	}
	e.s.Fail("nc_calendar_delete_todo", map[string]any{"calendar_name": "tasks", "todo_uid": td.UID}, "no task")
}
