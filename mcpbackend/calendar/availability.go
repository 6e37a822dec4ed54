package calendar

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// interval is a half-open span of time [start, end).
type interval struct {
	start, end time.Time
}

// Slot is a free period long enough for the requested meeting.
type Slot struct {
	Start           string `json:"start" jsonschema:"first possible start (RFC 3339, in the requested zone)"`
	End             string `json:"end" jsonschema:"end of the free period"`
	DurationMinutes int    `json:"free_minutes" jsonschema:"length of the free period in minutes"`
}

// availabilityOptions shape the search for free time.
type availabilityOptions struct {
	from, to      time.Time
	loc           *time.Location
	duration      time.Duration
	businessHours bool
	dayStart      time.Duration // offset from midnight
	dayEnd        time.Duration
	skipWeekends  bool
	// preferred further narrows each day; zero values mean no preference.
	prefStart, prefEnd time.Duration
	maxSlots           int
}

// freeSlots subtracts the busy intervals from the allowed hours of each
// day between from and to (in loc, so business hours follow DST) and
// keeps the gaps that fit the duration.
func freeSlots(busy []interval, o availabilityOptions) []interval {
	merged := mergeIntervals(busy)
	var out []interval
	day := time.Date(o.from.In(o.loc).Year(), o.from.In(o.loc).Month(), o.from.In(o.loc).Day(), 0, 0, 0, 0, o.loc)
	for ; day.Before(o.to); day = day.AddDate(0, 0, 1) {
		if o.skipWeekends && (day.Weekday() == time.Saturday || day.Weekday() == time.Sunday) {
			continue
		}
		lo, hi := time.Duration(0), 24*time.Hour
		if o.businessHours {
			lo, hi = o.dayStart, o.dayEnd
		}
		if o.prefEnd > o.prefStart {
			lo, hi = max(lo, o.prefStart), min(hi, o.prefEnd)
		}
		if hi <= lo {
			continue
		}
		win := interval{atOffset(day, lo), atOffset(day, hi)}
		if win.start.Before(o.from) {
			win.start = o.from
		}
		if win.end.After(o.to) {
			win.end = o.to
		}
		for _, gap := range subtract(win, merged) {
			if gap.end.Sub(gap.start) >= o.duration {
				out = append(out, gap)
				if o.maxSlots > 0 && len(out) >= o.maxSlots {
					return out
				}
			}
		}
	}
	return out
}

// atOffset returns the wall-clock time d after midnight of day, so that
// 09:00 is 09:00 on DST-change days too.
func atOffset(day time.Time, d time.Duration) time.Time {
	if d >= 24*time.Hour {
		return day.AddDate(0, 0, 1)
	}
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	return time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, day.Location())
}

func mergeIntervals(in []interval) []interval {
	s := make([]interval, 0, len(in))
	for _, iv := range in {
		if iv.end.After(iv.start) {
			s = append(s, iv)
		}
	}
	sort.Slice(s, func(i, j int) bool { return s[i].start.Before(s[j].start) })
	var out []interval
	for _, iv := range s {
		if n := len(out); n > 0 && !iv.start.After(out[n-1].end) {
			if iv.end.After(out[n-1].end) {
				out[n-1].end = iv.end
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// subtract returns the parts of win not covered by the sorted, merged
// busy intervals.
func subtract(win interval, busy []interval) []interval {
	var out []interval
	cur := win.start
	for _, b := range busy {
		if !b.end.After(cur) {
			continue
		}
		if !b.start.Before(win.end) {
			break
		}
		if b.start.After(cur) {
			out = append(out, interval{cur, b.start})
		}
		if b.end.After(cur) {
			cur = b.end
		}
	}
	if cur.Before(win.end) {
		out = append(out, interval{cur, win.end})
	}
	return out
}

// parsePreferred reads preferred_times: "morning", "afternoon", "evening"
// or an explicit "HH:MM-HH:MM".
func parsePreferred(s string) (time.Duration, time.Duration, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "":
		return 0, 0, nil
	case "morning":
		return 8 * time.Hour, 12 * time.Hour, nil
	case "afternoon":
		return 12 * time.Hour, 17 * time.Hour, nil
	case "evening":
		return 17 * time.Hour, 21 * time.Hour, nil
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("preferred_times must be morning, afternoon, evening or HH:MM-HH:MM, not %q", s)
	}
	lo, err1 := clock(a)
	hi, err2 := clock(b)
	if err1 != nil || err2 != nil || hi <= lo {
		return 0, 0, fmt.Errorf("preferred_times must be morning, afternoon, evening or HH:MM-HH:MM, not %q", s)
	}
	return lo, hi, nil
}

func clock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		if strings.TrimSpace(s) == "24:00" {
			return 24 * time.Hour, nil
		}
		return 0, err
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}
