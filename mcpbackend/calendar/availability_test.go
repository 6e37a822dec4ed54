package calendar

import (
	"strings"
	"testing"
	"time"
)

func TestFreeSlots(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	busy := func(pairs ...string) []interval {
		var out []interval
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, interval{at(pairs[i]), at(pairs[i+1])})
		}
		return out
	}
	base := availabilityOptions{
		loc: berlin, duration: time.Hour, businessHours: true,
		dayStart: 9 * time.Hour, dayEnd: 17 * time.Hour, skipWeekends: true,
	}
	tests := []struct {
		name string
		busy []interval
		opts func(o *availabilityOptions)
		from string
		to   string
		want []string
	}{
		{
			name: "overlapping and touching meetings merge",
			busy: busy("2026-11-16 10:00", "2026-11-16 11:00", "2026-11-16 10:30", "2026-11-16 12:00", "2026-11-16 12:00", "2026-11-16 12:30", "2026-11-16 16:30", "2026-11-16 18:00"),
			from: "2026-11-16 00:00", to: "2026-11-17 00:00",
			want: []string{"09:00-10:00", "12:30-16:30"},
		},
		{
			name: "gaps shorter than the meeting are dropped",
			busy: busy("2026-11-16 09:30", "2026-11-16 16:45"),
			from: "2026-11-16 00:00", to: "2026-11-17 00:00",
			want: nil,
		},
		{
			name: "weekends skipped, Monday after the DST change at 09:00 local",
			busy: nil,
			from: "2026-10-24 00:00", to: "2026-10-27 00:00",
			want: []string{"10-26 09:00-17:00"},
		},
		{
			name: "weekends kept, whole days",
			opts: func(o *availabilityOptions) { o.skipWeekends, o.businessHours = false, false },
			busy: busy("2026-10-25 08:00", "2026-10-25 20:00"),
			from: "2026-10-25 00:00", to: "2026-10-26 00:00",
			want: []string{"10-25 00:00-08:00", "10-25 20:00-00:00"},
		},
		{
			name: "search starts mid-day",
			from: "2026-11-16 15:20", to: "2026-11-17 00:00",
			want: []string{"15:20-17:00"},
		},
		{
			name: "preferred afternoon, at most two",
			opts: func(o *availabilityOptions) { o.prefStart, o.prefEnd, o.maxSlots = 12*time.Hour, 17*time.Hour, 2 },
			busy: busy("2026-11-16 13:00", "2026-11-16 14:00"),
			from: "2026-11-16 00:00", to: "2026-11-20 00:00",
			want: []string{"11-16 12:00-13:00", "11-16 14:00-17:00"},
		},
		{
			name: "busy time in another zone",
			busy: []interval{{time.Date(2026, 11, 16, 4, 0, 0, 0, mustLoad(t, "America/New_York")), time.Date(2026, 11, 16, 6, 0, 0, 0, mustLoad(t, "America/New_York"))}},
			from: "2026-11-16 00:00", to: "2026-11-17 00:00",
			want: []string{"09:00-10:00", "12:00-17:00"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			if tt.opts != nil {
				tt.opts(&o)
			}
			o.from, o.to = at(tt.from), at(tt.to)
			var got []string
			multiDay := o.to.Sub(o.from) > 24*time.Hour || tt.name == "weekends kept, whole days"
			for _, s := range freeSlots(tt.busy, o) {
				a, b := s.start.In(berlin), s.end.In(berlin)
				if multiDay {
					got = append(got, a.Format("01-02 15:04")+"-"+b.Format("15:04"))
				} else {
					got = append(got, a.Format("15:04")+"-"+b.Format("15:04"))
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("slots = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParsePreferred(t *testing.T) {
	tests := []struct {
		in     string
		lo, hi time.Duration
		ok     bool
	}{
		{"", 0, 0, true},
		{"Morning", 8 * time.Hour, 12 * time.Hour, true},
		{"afternoon", 12 * time.Hour, 17 * time.Hour, true},
		{"10:30-12:00", 10*time.Hour + 30*time.Minute, 12 * time.Hour, true},
		{"14:00-24:00", 14 * time.Hour, 24 * time.Hour, true},
		{"12:00-10:00", 0, 0, false},
		{"lunch", 0, 0, false},
	}
	for _, tt := range tests {
		lo, hi, err := parsePreferred(tt.in)
		if (err == nil) != tt.ok || lo != tt.lo || hi != tt.hi {
			t.Errorf("parsePreferred(%q) = %v, %v, %v", tt.in, lo, hi, err)
		}
	}
}

func TestAvailabilityOptions(t *testing.T) {
	no := false
	o, err := availabilityArgs{DurationMinutes: 30, DateRangeStart: "2026-12-01", DateRangeEnd: "2026-12-02", Timezone: "Europe/Berlin",
		BusinessHoursOnly: &no, BusinessHoursStart: "08:00"}.options(now)
	if err != nil {
		t.Fatal(err)
	}
	if o.from.Format(time.RFC3339) != "2026-12-01T00:00:00+01:00" || o.to.Format(time.RFC3339) != "2026-12-03T00:00:00+01:00" ||
		o.businessHours || !o.skipWeekends || o.dayStart != 8*time.Hour || o.maxSlots != 10 {
		t.Errorf("options = %+v", o)
	}
	for _, bad := range []availabilityArgs{
		{DurationMinutes: 0},
		{DurationMinutes: 30, Timezone: "Nowhere/City"},
		{DurationMinutes: 30, BusinessHoursStart: "18:00"},
		{DurationMinutes: 30, DateRangeStart: "2026-12-02", DateRangeEnd: "2026-12-01T00:00:00Z"},
		{DurationMinutes: 30, PreferredTimes: "whenever"},
	} {
		if _, err := bad.options(now); err == nil {
			t.Errorf("options(%+v) accepted", bad)
		}
	}
}

func TestBusyInterval(t *testing.T) {
	tests := []struct {
		e    Event
		busy bool
	}{
		{Event{Start: "2026-12-01T09:00:00Z", End: "2026-12-01T10:00:00Z"}, true},
		{Event{Start: "2026-12-01T09:00:00Z", End: "2026-12-01T10:00:00Z", Transparent: true}, false},
		{Event{Start: "2026-12-01T09:00:00Z", End: "2026-12-01T10:00:00Z", Status: "CANCELLED"}, false},
		{Event{Start: "2026-12-01", End: "2026-12-02", AllDay: true}, false},
	}
	for _, tt := range tests {
		if _, got := busyInterval(tt.e); got != tt.busy {
			t.Errorf("busyInterval(%+v) = %v", tt.e, got)
		}
	}
}
