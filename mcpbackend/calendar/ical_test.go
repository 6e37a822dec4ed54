package calendar

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

var now = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

// build runs applyEvent on a fresh or given object and returns the encoded
// iCalendar text and the event as tools report it.
func build(t *testing.T, base *ical.Calendar, a eventArgs) (string, Event, error) {
	t.Helper()
	cal := base
	if cal == nil {
		c := ical.NewComponent(ical.CompEvent)
		c.Props.SetText(ical.PropUID, "u1")
		cal = newCalendarObject(c)
	}
	c := mainComponent(cal, ical.CompEvent)
	if err := applyEvent(cal, c, a, now); err != nil {
		return "", Event{}, err
	}
	var b bytes.Buffer
	if err := ical.NewEncoder(&b).Encode(cal); err != nil {
		t.Fatalf("encoding: %v", err)
	}
	e, err := eventFrom(c, zonesOf(cal, time.UTC), nil)
	if err != nil {
		t.Fatalf("reading back: %v", err)
	}
	return b.String(), e, nil
}

func TestApplyEvent(t *testing.T) {
	tests := []struct {
		name    string
		args    eventArgs
		want    []string // lines the encoded object must contain
		absent  []string
		start   string
		end     string
		wantErr string
	}{
		{
			name:  "timed event in an IANA zone carries TZID and VTIMEZONE",
			args:  eventArgs{Title: ptr("Standup"), StartDatetime: ptr("2026-12-01T09:30"), Timezone: ptr("Europe/Berlin")}.withCreateDefaults(),
			want:  []string{"DTSTART;TZID=Europe/Berlin:20261201T093000", "DTEND;TZID=Europe/Berlin:20261201T103000", "BEGIN:VTIMEZONE", "STATUS:CONFIRMED", "PRIORITY:5", "CLASS:PUBLIC", "TRIGGER:-PT900S", "ACTION:DISPLAY"},
			start: "2026-12-01T09:30:00+01:00", end: "2026-12-01T10:30:00+01:00",
		},
		{
			name:   "UTC times need no VTIMEZONE",
			args:   eventArgs{Title: ptr("Call"), StartDatetime: ptr("2026-12-01T09:30:00Z"), EndDatetime: ptr("2026-12-01T10:00:00Z"), ReminderMinutes: ptr(0)},
			want:   []string{"DTSTART:20261201T093000Z", "DTEND:20261201T100000Z"},
			absent: []string{"VTIMEZONE", "VALARM"},
			start:  "2026-12-01T09:30:00Z", end: "2026-12-01T10:00:00Z",
		},
		{
			name:   "an offset time is converted into the requested zone",
			args:   eventArgs{Title: ptr("x"), StartDatetime: ptr("2026-12-01T08:30:00Z"), Timezone: ptr("Europe/Berlin")},
			want:   []string{"DTSTART;TZID=Europe/Berlin:20261201T093000"},
			absent: []string{"VALARM"},
		},
		{
			name:   "all-day with an inclusive end date",
			args:   eventArgs{Title: ptr("Offsite"), StartDatetime: ptr("2026-12-10"), EndDatetime: ptr("2026-12-11"), AllDay: ptr(true)},
			want:   []string{"DTSTART;VALUE=DATE:20261210", "DTEND;VALUE=DATE:20261212"},
			absent: []string{"VTIMEZONE"},
			start:  "2026-12-10", end: "2026-12-12",
		},
		{
			name:  "a date alone makes an all-day event of one day",
			args:  eventArgs{Title: ptr("Holiday"), StartDatetime: ptr("2026-12-24")},
			want:  []string{"DTSTART;VALUE=DATE:20261224", "DTEND;VALUE=DATE:20261225"},
			start: "2026-12-24", end: "2026-12-25",
		},
		{
			name: "recurrence with an end date, exceptions, attendees, reminders by e-mail",
			args: eventArgs{
				Title: ptr("Sync"), StartDatetime: ptr("2026-12-01T10:00"), Timezone: ptr("Europe/Berlin"),
				RecurrenceRule: ptr("rrule:freq=weekly;count=5"), RecurrenceEndDate: ptr("2026-12-22"), ExceptionDates: ptr("2026-12-08"),
				Attendees: ptr("Ann <ann@example.com>, bob@example.com"), ReminderMinutes: ptr(30), ReminderEmail: ptr(true),
				Categories: ptr("Work, Team"), Privacy: ptr("confidential"), URL: ptr("https://example.com/m"), Color: ptr("red"),
			},
			want: []string{
				"RRULE:FREQ=WEEKLY;UNTIL=20261222T225959Z", "EXDATE;TZID=Europe/Berlin:20261208T100000",
				"ATTENDEE;CN=Ann;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:ann@example.com",
				"mailto:bob@example.com", "ACTION:EMAIL", "TRIGGER:-PT1800S", "CATEGORIES:Work,Team", "CLASS:CONFIDENTIAL",
				"URL:https://example.com/m", "COLOR:red",
			},
			absent: []string{"COUNT="},
		},
		{name: "bad rule", args: eventArgs{Title: ptr("x"), StartDatetime: ptr("2026-12-01T10:00"), RecurrenceRule: ptr("FREQ=SOMETIMES")}, wantErr: "not a valid RFC 5545 RRULE"},
		{name: "recurring without rule", args: eventArgs{Title: ptr("x"), StartDatetime: ptr("2026-12-01T10:00"), Recurring: ptr(true)}, wantErr: "needs a recurrence_rule"},
		{name: "end before start", args: eventArgs{Title: ptr("x"), StartDatetime: ptr("2026-12-01T10:00"), EndDatetime: ptr("2026-12-01T09:00")}, wantErr: "must be after the start"},
		{name: "unknown zone", args: eventArgs{Title: ptr("x"), StartDatetime: ptr("2026-12-01T10:00"), Timezone: ptr("Europe/Atlantis")}, wantErr: "unknown time zone"},
		{name: "bad status", args: eventArgs{Title: ptr("x"), StartDatetime: ptr("2026-12-01T10:00"), Status: ptr("MAYBE")}, wantErr: "status must be one of"},
		{name: "bad attendee", args: eventArgs{Title: ptr("x"), StartDatetime: ptr("2026-12-01T10:00"), Attendees: ptr("not an address")}, wantErr: "attendees must be"},
		{name: "no start", args: eventArgs{Title: ptr("x"), EndDatetime: ptr("2026-12-01T10:00")}, wantErr: "start_datetime is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, e, err := build(t, nil, tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w+"\r\n") && !strings.Contains(out, w) {
					t.Errorf("missing %q in\n%s", w, out)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(out, a) {
					t.Errorf("unexpected %q in\n%s", a, out)
				}
			}
			if tt.start != "" && (e.Start != tt.start || e.End != tt.end) {
				t.Errorf("event %s .. %s, want %s .. %s", e.Start, e.End, tt.start, tt.end)
			}
		})
	}
}

func TestUpdateKeepsWhatIsNotGiven(t *testing.T) {
	_, created, err := build(t, nil, eventArgs{Title: ptr("Standup"), StartDatetime: ptr("2026-12-01T09:30"), EndDatetime: ptr("2026-12-01T10:00"),
		Timezone: ptr("Europe/Berlin"), Location: ptr("Room 1"), RecurrenceRule: ptr("FREQ=DAILY;COUNT=3")})
	if err != nil {
		t.Fatal(err)
	}
	_ = created
	base := func() *ical.Calendar {
		c := ical.NewComponent(ical.CompEvent)
		c.Props.SetText(ical.PropUID, "u1")
		cal := newCalendarObject(c)
		if err := applyEvent(cal, c, eventArgs{Title: ptr("Standup"), StartDatetime: ptr("2026-12-01T09:30"), EndDatetime: ptr("2026-12-01T10:00"),
			Timezone: ptr("Europe/Berlin"), Location: ptr("Room 1"), RecurrenceRule: ptr("FREQ=DAILY;COUNT=3")}, now); err != nil {
			t.Fatal(err)
		}
		return cal
	}
	tests := []struct {
		name       string
		args       eventArgs
		start, end string
		location   string
		rule       string
	}{
		{"title only", eventArgs{Title: ptr("Daily")}, "2026-12-01T09:30:00+01:00", "2026-12-01T10:00:00+01:00", "Room 1", "FREQ=DAILY;COUNT=3"},
		{"new start keeps the length", eventArgs{StartDatetime: ptr("2026-12-02T14:00")}, "2026-12-02T14:00:00+01:00", "2026-12-02T14:30:00+01:00", "Room 1", "FREQ=DAILY;COUNT=3"},
		{"new zone keeps the wall clock", eventArgs{Timezone: ptr("America/New_York")}, "2026-12-01T09:30:00-05:00", "2026-12-01T10:00:00-05:00", "Room 1", "FREQ=DAILY;COUNT=3"},
		{"recurring false drops the rule", eventArgs{Recurring: ptr(false), Location: ptr("")}, "2026-12-01T09:30:00+01:00", "2026-12-01T10:00:00+01:00", "", ""},
		{"to all-day", eventArgs{AllDay: ptr(true)}, "2026-12-01", "2026-12-02", "Room 1", "FREQ=DAILY;COUNT=3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, e, err := build(t, base(), tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if e.Start != tt.start || e.End != tt.end || e.Location != tt.location || e.RecurrenceRule != tt.rule {
				t.Errorf("got %s..%s %q %q", e.Start, e.End, e.Location, e.RecurrenceRule)
			}
			if !strings.Contains(out, "SEQUENCE:1") {
				t.Errorf("update did not bump SEQUENCE:\n%s", out)
			}
			if tt.args.Timezone != nil && strings.Contains(out, "TZID:Europe/Berlin") {
				t.Errorf("unused VTIMEZONE kept:\n%s", out)
			}
		})
	}
}

func TestUpdateTimesOfVendorZone(t *testing.T) {
	cal := decode(t, vcal(`BEGIN:VTIMEZONE
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
END:VTIMEZONE`, vevent("DTSTART;TZID=W. Europe Standard Time:20261022T080000", "DTEND;TZID=W. Europe Standard Time:20261022T090000")))
	if _, _, err := build(t, cal, eventArgs{StartDatetime: ptr("2026-10-22T10:00")}); err == nil || !strings.Contains(err.Error(), "not an IANA zone") {
		t.Fatalf("moving without a zone: %v", err)
	}
	out, e, err := build(t, cal, eventArgs{StartDatetime: ptr("2026-10-22T10:00"), Timezone: ptr("Europe/Berlin")})
	if err != nil {
		t.Fatal(err)
	}
	if e.Start != "2026-10-22T10:00:00+02:00" || e.End != "2026-10-22T11:00:00+02:00" || strings.Contains(out, "W. Europe") {
		t.Errorf("moved event %s..%s:\n%s", e.Start, e.End, out)
	}
}

func TestParseWhen(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	tests := []struct {
		in       string
		want     string
		dateOnly bool
		ok       bool
	}{
		{"2026-12-01T09:30", "2026-12-01T09:30:00+01:00", false, true},
		{"2026-12-01T09:30:15", "2026-12-01T09:30:15+01:00", false, true},
		{"2026-12-01 09:30", "2026-12-01T09:30:00+01:00", false, true},
		{"2026-07-01T09:30:00Z", "2026-07-01T11:30:00+02:00", false, true},
		{"2026-07-01T09:30:00-04:00", "2026-07-01T15:30:00+02:00", false, true},
		{"2026-12-01", "2026-12-01T00:00:00+01:00", true, true},
		{"tomorrow", "", false, false},
		{"01.12.2026", "", false, false},
	}
	for _, tt := range tests {
		got, dateOnly, err := parseWhen(tt.in, berlin)
		if (err == nil) != tt.ok {
			t.Errorf("parseWhen(%q) err = %v", tt.in, err)
			continue
		}
		if tt.ok && (got.Format(time.RFC3339) != tt.want || dateOnly != tt.dateOnly) {
			t.Errorf("parseWhen(%q) = %s, %v", tt.in, got.Format(time.RFC3339), dateOnly)
		}
	}
}

func TestWindow(t *testing.T) {
	tests := []struct {
		start, end string
		from, to   string
		ok         bool
	}{
		{"", "", "2026-11-27T00:00:00Z", "2026-12-27T00:00:00Z", true},
		{"2026-12-01", "2026-12-01", "2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z", true},
		{"2026-12-01T10:00:00Z", "2026-12-01T12:00:00Z", "2026-12-01T10:00:00Z", "2026-12-01T12:00:00Z", true},
		{"2026-12-02", "2026-12-01", "", "", false},
	}
	for _, tt := range tests {
		from, to, err := window(tt.start, tt.end, time.UTC, now, 30)
		if (err == nil) != tt.ok {
			t.Errorf("window(%q, %q) err = %v", tt.start, tt.end, err)
			continue
		}
		if tt.ok && (from.Format(time.RFC3339) != tt.from || to.Format(time.RFC3339) != tt.to) {
			t.Errorf("window(%q, %q) = %s .. %s", tt.start, tt.end, from.Format(time.RFC3339), to.Format(time.RFC3339))
		}
	}
}

func TestTodoLifecycle(t *testing.T) {
	c := ical.NewComponent(ical.CompToDo)
	c.Props.SetText(ical.PropUID, "t1")
	cal := newCalendarObject(c)
	steps := []struct {
		args      todoArgs
		status    string
		percent   int
		completed bool
	}{
		{todoArgs{Summary: ptr("Report"), Status: ptr("needs-action"), Due: ptr("2026-12-05")}, "NEEDS-ACTION", 0, false},
		{todoArgs{PercentComplete: ptr(40), Status: ptr("IN-PROCESS")}, "IN-PROCESS", 40, false},
		{todoArgs{Status: ptr("COMPLETED")}, "COMPLETED", 100, true},
		{todoArgs{Status: ptr("NEEDS-ACTION")}, "NEEDS-ACTION", 0, false},
		{todoArgs{Completed: ptr("2026-11-26T12:00:00Z"), Status: ptr("COMPLETED"), PercentComplete: ptr(100)}, "COMPLETED", 100, true},
	}
	for i, st := range steps {
		if err := applyTodo(cal, c, st.args, now); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		td := todoFrom(c, zonesOf(cal, time.UTC))
		if td.Status != st.status || td.PercentComplete != st.percent || (td.Completed != "") != st.completed {
			t.Errorf("step %d: %+v", i, td)
		}
		if td.Due != "2026-12-05" {
			t.Errorf("step %d: due = %q", i, td.Due)
		}
	}
	for _, bad := range []todoArgs{{PercentComplete: ptr(120)}, {Status: ptr("DONE")}, {Priority: ptr(10)}, {Summary: ptr(" ")}} {
		if err := applyTodo(cal, c, bad, now); err == nil {
			t.Errorf("applyTodo(%+v) accepted", bad)
		}
	}
}
