package calendar

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emersion/go-ical"
)

func TestOccurrenceForms(t *testing.T) {
	tests := []struct {
		name     string
		master   string
		occ      string
		override []string // lines of the new override
		exdate   string
	}{
		{
			name:     "zoned series",
			master:   vevent("DTSTART;TZID=Europe/Berlin:20261013T093000", "DTEND;TZID=Europe/Berlin:20261013T100000", "RRULE:FREQ=WEEKLY", "SEQUENCE:3"),
			occ:      "2026-10-27",
			override: []string{"RECURRENCE-ID;TZID=Europe/Berlin:20261027T093000", "DTSTART;TZID=Europe/Berlin:20261027T093000", "DTEND;TZID=Europe/Berlin:20261027T100000"},
			exdate:   "EXDATE;TZID=Europe/Berlin:20261027T093000",
		},
		{
			name:     "UTC series",
			master:   vevent("DTSTART:20261201T090000Z", "DURATION:PT1H", "RRULE:FREQ=DAILY;COUNT=5"),
			occ:      "2026-12-03T09:00:00Z",
			override: []string{"RECURRENCE-ID:20261203T090000Z", "DTSTART:20261203T090000Z", "DTEND:20261203T100000Z"},
			exdate:   "EXDATE:20261203T090000Z",
		},
		{
			name:     "all-day series",
			master:   vevent("DTSTART;VALUE=DATE:19851210", "RRULE:FREQ=YEARLY"),
			occ:      "2026-12-10",
			override: []string{"RECURRENCE-ID;VALUE=DATE:20261210", "DTSTART;VALUE=DATE:20261210", "DTEND;VALUE=DATE:20261211"},
			exdate:   "EXDATE;VALUE=DATE:20261210",
		},
	}
	encode := func(cal *ical.Calendar) string {
		var b bytes.Buffer
		if err := ical.NewEncoder(&b).Encode(cal); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cal := decode(t, vcal(tt.master))
			master := mainComponent(cal, ical.CompEvent)
			o, s, err := findOccurrence(cal, master, tt.occ)
			if err != nil {
				t.Fatal(err)
			}
			ov := overrideFor(cal, master, o, s)
			if len(cal.Children) != 2 || ov.Props.Get(ical.PropRecurrenceRule) != nil || ov.Props.Get(ical.PropSequence) != nil {
				t.Fatalf("override = %+v", ov.Props)
			}
			out := encode(&ical.Calendar{Component: &ical.Component{Name: ical.CompCalendar, Props: cal.Props, Children: []*ical.Component{ov}}})
			for _, w := range tt.override {
				if !strings.Contains(out, w+"\\r\\n") && !strings.Contains(out, w) {
					t.Errorf("override lacks %q:\n%s", w, out)
				}
			}
			// The same occurrence is found again through its override.
			o2, _, err := findOccurrence(cal, master, tt.occ)
			if err != nil || o2.comp != ov {
				t.Fatalf("second lookup = %+v, %v", o2, err)
			}
			excludeOccurrence(cal, master, o2, s)
			out = encode(cal)
			if !strings.Contains(out, tt.exdate) || len(cal.Children) != 1 {
				t.Errorf("after exclusion:\n%s", out)
			}
		})
	}
	cal := decode(t, vcal(vevent("DTSTART:20261201T090000Z")))
	if _, _, err := findOccurrence(cal, mainComponent(cal, ical.CompEvent), "2026-12-01"); err == nil || !strings.Contains(err.Error(), "does not recur") {
		t.Errorf("single event: %v", err)
	}
}
