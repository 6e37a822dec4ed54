package calendar

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

func decode(t *testing.T, body string) *ical.Calendar {
	t.Helper()
	body = strings.ReplaceAll(strings.TrimSpace(body), "\n", "\r\n") + "\r\n"
	cal, err := ical.NewDecoder(strings.NewReader(body)).Decode()
	if err != nil {
		t.Fatalf("decoding test object: %v", err)
	}
	return cal
}

func vcal(events ...string) string {
	return "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:test\n" + strings.Join(events, "\n") + "\nEND:VCALENDAR"
}

func vevent(props ...string) string {
	return "BEGIN:VEVENT\nUID:u1\nDTSTAMP:20260101T000000Z\n" + strings.Join(props, "\n") + "\nEND:VEVENT"
}

func TestExpand(t *testing.T) {
	berlin := "Europe/Berlin"
	tests := []struct {
		name     string
		obj      string
		fallback string
		from, to string
		want     []string // occurrence starts, RFC 3339 in the event's zone
	}{
		{
			name: "weekly across the autumn DST change keeps 09:30",
			obj:  vcal(vevent("DTSTART;TZID=Europe/Berlin:20261013T093000", "DTEND;TZID=Europe/Berlin:20261013T100000", "RRULE:FREQ=WEEKLY;COUNT=4")),
			from: "2026-10-01T00:00:00Z", to: "2026-12-01T00:00:00Z",
			want: []string{"2026-10-13T09:30:00+02:00", "2026-10-20T09:30:00+02:00", "2026-10-27T09:30:00+01:00", "2026-11-03T09:30:00+01:00"},
		},
		{
			name: "daily across the spring DST change in New York",
			obj:  vcal(vevent("DTSTART;TZID=America/New_York:20260306T080000", "DURATION:PT30M", "RRULE:FREQ=DAILY;UNTIL=20260310T130000Z")),
			from: "2026-03-01T00:00:00Z", to: "2026-04-01T00:00:00Z",
			want: []string{"2026-03-06T08:00:00-05:00", "2026-03-07T08:00:00-05:00", "2026-03-08T08:00:00-04:00", "2026-03-09T08:00:00-04:00", "2026-03-10T08:00:00-04:00"},
		},
		{
			name: "window cuts the series; EXDATE and a moved occurrence",
			obj: vcal(
				vevent("DTSTART;TZID=Europe/Berlin:20261102T100000", "DTEND;TZID=Europe/Berlin:20261102T110000", "RRULE:FREQ=DAILY;COUNT=10",
					"EXDATE;TZID=Europe/Berlin:20261104T100000,20261105T100000"),
				vevent("RECURRENCE-ID;TZID=Europe/Berlin:20261106T100000", "DTSTART;TZID=Europe/Berlin:20261106T150000", "DTEND;TZID=Europe/Berlin:20261106T160000"),
				vevent("RECURRENCE-ID;TZID=Europe/Berlin:20261107T100000", "DTSTART;TZID=Europe/Berlin:20261107T100000", "DTEND;TZID=Europe/Berlin:20261107T110000", "STATUS:CANCELLED"),
			),
			from: "2026-11-03T00:00:00+01:00", to: "2026-11-09T00:00:00+01:00",
			want: []string{"2026-11-03T10:00:00+01:00", "2026-11-06T15:00:00+01:00", "2026-11-08T10:00:00+01:00"},
		},
		{
			name: "an event overlapping the window start is included",
			obj:  vcal(vevent("DTSTART:20261102T230000Z", "DTEND:20261103T010000Z")),
			from: "2026-11-03T00:00:00Z", to: "2026-11-04T00:00:00Z",
			want: []string{"2026-11-02T23:00:00Z"},
		},
		{
			name: "all-day multi-day event in the caller's zone",
			obj:  vcal(vevent("DTSTART;VALUE=DATE:20261210", "DTEND;VALUE=DATE:20261212")),
			from: "2026-12-11T12:00:00+01:00", to: "2026-12-11T13:00:00+01:00", fallback: berlin,
			want: []string{"2026-12-10"},
		},
		{
			name: "yearly all-day birthday",
			obj:  vcal(vevent("DTSTART;VALUE=DATE:19851210", "RRULE:FREQ=YEARLY")),
			from: "2026-01-01T00:00:00Z", to: "2027-12-31T00:00:00Z",
			want: []string{"2026-12-10", "2027-12-10"},
		},
		{
			name: "floating time uses the caller's zone; RDATE adds one",
			obj:  vcal(vevent("DTSTART:20261201T090000", "DTEND:20261201T100000", "RDATE:20261203T090000")),
			from: "2026-12-01T00:00:00Z", to: "2026-12-31T00:00:00Z", fallback: "Asia/Tokyo",
			want: []string{"2026-12-01T09:00:00+09:00", "2026-12-03T09:00:00+09:00"},
		},
		{
			name: "outside the window",
			obj:  vcal(vevent("DTSTART:20261201T090000Z", "RRULE:FREQ=WEEKLY;COUNT=2")),
			from: "2027-01-01T00:00:00Z", to: "2027-02-01T00:00:00Z",
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := time.UTC
			if tt.fallback != "" {
				fb = mustLoad(t, tt.fallback)
			}
			from, _ := time.Parse(time.RFC3339, tt.from)
			to, _ := time.Parse(time.RFC3339, tt.to)
			cal := decode(t, tt.obj)
			occs, err := expand(cal, ical.CompEvent, fb, from, to)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i := range occs {
				e, err := eventFrom(occs[i].comp, zonesOf(cal, fb), &occs[i])
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, e.Start)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("occurrences = %v\nwant          %v", got, tt.want)
			}
		})
	}
}

func TestEventFromFixture(t *testing.T) {
	// The recurring meeting recorded from Nextcloud (calendar/07).
	cal := decode(t, vcal(`BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE`, `BEGIN:VEVENT
UID:fixture-standup-7f3c2a
DTSTAMP:20261127T080000Z
SUMMARY:Weekly standup
DESCRIPTION:Status round\, blockers\, next steps
LOCATION:Room 4.12
DTSTART;TZID=Europe/Berlin:20261201T093000
DTEND;TZID=Europe/Berlin:20261201T100000
RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10
CATEGORIES:Work,Meeting
STATUS:CONFIRMED
PRIORITY:5
CLASS:PUBLIC
ORGANIZER;CN=admin:mailto:admin@example.com
ATTENDEE;CN=User Two;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:user2@example.com
ATTENDEE;CN=External Guest;ROLE=OPT-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:guest@example.org
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:Reminder
TRIGGER:-PT15M
END:VALARM
END:VEVENT`))
	e, err := eventFrom(mainComponent(cal, ical.CompEvent), zonesOf(cal, time.UTC), nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]any{
		"start":       {e.Start, "2026-12-01T09:30:00+01:00"},
		"end":         {e.End, "2026-12-01T10:00:00+01:00"},
		"zone":        {e.TimeZone, "Europe/Berlin"},
		"duration":    {e.DurationMinutes, 30},
		"description": {e.Description, "Status round, blockers, next steps"},
		"categories":  {strings.Join(e.Categories, "|"), "Work|Meeting"},
		"organizer":   {e.Organizer, "admin@example.com"},
		"attendees":   {len(e.Attendees), 2},
		"role":        {e.Attendees[1].Role, "OPT-PARTICIPANT"},
		"name":        {e.Attendees[0].Name, "User Two"},
		"reminder":    {e.Reminders[0].MinutesBefore, 15},
		"priority":    {e.Priority, 5},
		"privacy":     {e.Privacy, "PUBLIC"},
		"rule":        {e.RecurrenceRule, "FREQ=WEEKLY;BYDAY=TU;COUNT=10"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %v, want %v", name, c[0], c[1])
		}
	}
}
