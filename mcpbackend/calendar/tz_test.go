package calendar

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestVTimezoneRules(t *testing.T) {
	tests := []struct {
		zone  string
		rules []string // RRULEs of the observances, in order
	}{
		{"Europe/Berlin", []string{"FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"}},
		{"America/New_York", []string{"FREQ=YEARLY;BYMONTH=3;BYDAY=2SU", "FREQ=YEARLY;BYMONTH=11;BYDAY=1SU"}},
		{"Asia/Tokyo", []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.zone, func(t *testing.T) {
			vtz := VTimezone(mustLoad(t, tt.zone), 2026)
			if got := text(vtz, ical.PropTimezoneID); got != tt.zone {
				t.Errorf("TZID = %q", got)
			}
			var rules []string
			for _, obs := range vtz.Children {
				rules = append(rules, propValue(obs, ical.PropRecurrenceRule))
			}
			if strings.Join(rules, "|") != strings.Join(tt.rules, "|") {
				t.Errorf("rules = %q, want %q", rules, tt.rules)
			}
		})
	}
}

// A generated VTIMEZONE must resolve wall times exactly as Go's zone data
// does, including the days around the changes.
func TestVTimezoneMatchesGo(t *testing.T) {
	for _, name := range []string{"Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "America/Sao_Paulo"} {
		loc := mustLoad(t, name)
		z := zone{name: name, vtz: VTimezone(loc, 2026)}
		for d := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC); d.Year() == 2026; d = d.Add(61 * time.Hour) {
			want := time.Date(d.Year(), d.Month(), d.Day(), d.Hour(), 0, 0, 0, loc)
			if got := z.at(d); !got.Equal(want) {
				t.Errorf("%s %s: VTIMEZONE gives %s, Go %s", name, d.Format("2006-01-02T15"), got, want)
				break
			}
		}
	}
}

func TestVTimezoneEncodes(t *testing.T) {
	cal := newCalendarObject(ical.NewComponent(ical.CompEvent))
	ev := cal.Children[0]
	ev.Props.SetText(ical.PropUID, "x")
	ev.Props.SetDateTime(ical.PropDateTimeStamp, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	setWhen(cal, ev, ical.PropDateTimeStart, time.Date(2026, 3, 1, 9, 0, 0, 0, mustLoad(t, "Europe/Berlin")), false)
	var b bytes.Buffer
	if err := ical.NewEncoder(&b).Encode(cal); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin", "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200", "DTSTART;TZID=Europe/Berlin:20260301T090000"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("encoded object lacks %q:\n%s", want, b.String())
		}
	}
}

func TestZoneLookup(t *testing.T) {
	vtz := VTimezone(mustLoad(t, "Europe/Paris"), 2026)
	vtz.Props.SetText(ical.PropTimezoneID, "Romance Standard Time")
	cal := newCalendarObject(vtz)
	z := zonesOf(cal, mustLoad(t, "Asia/Tokyo"))
	tests := []struct {
		tzid     string
		wantLoc  string
		wantVTZ  bool
		wantName string
	}{
		{"Europe/Berlin", "Europe/Berlin", false, "Europe/Berlin"},
		{"/mozilla.org/20050126_1/America/New_York", "America/New_York", false, "/mozilla.org/20050126_1/America/New_York"},
		{"Romance Standard Time", "", true, "Romance Standard Time"},
		{"Nowhere Standard Time", "Asia/Tokyo", false, "Asia/Tokyo"},
		{"", "Asia/Tokyo", false, "Asia/Tokyo"},
	}
	for _, tt := range tests {
		got := z.lookup(tt.tzid)
		loc := ""
		if got.loc != nil {
			loc = got.loc.String()
		}
		if loc != tt.wantLoc || (got.vtz != nil) != tt.wantVTZ || got.name != tt.wantName {
			t.Errorf("lookup(%q) = loc %q vtz %v name %q", tt.tzid, loc, got.vtz != nil, got.name)
		}
	}
}

func TestParseOffset(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"+0100", 3600, true},
		{"-0500", -5 * 3600, true},
		{"+0530", 5*3600 + 1800, true},
		{"+013015", 3600 + 1800 + 15, true},
		{"0100", 0, false},
		{"+1", 0, false},
	}
	for _, tt := range tests {
		got, err := parseOffset(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseOffset(%q) = %d, %v", tt.in, got, err)
		}
	}
	if got := formatOffset(-(3*3600 + 1800)); got != "-0330" {
		t.Errorf("formatOffset = %q", got)
	}
}

func TestLoadZone(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{{"", true}, {"Europe/Berlin", true}, {"UTC", true}, {"Local", false}, {"Mars/Olympus", false}} {
		_, err := LoadZone(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("LoadZone(%q) err = %v", tt.in, err)
		}
	}
}
