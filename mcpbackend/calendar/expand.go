package calendar

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// occurrence is one instance of a calendar object in a time window.
type occurrence struct {
	start, end   time.Time
	comp         *ical.Component // the master, or the override of this instance
	recurring    bool
	recurrenceID time.Time
}

// maxOccurrences bounds one object's expansion, against rules such as
// FREQ=SECONDLY that would otherwise flood a window.
const maxOccurrences = 5000

// expand returns the occurrences of the object's components of type name
// that overlap [from, to). Recurrences are expanded client-side on wall
// clock times in the event's own zone (a server-side <expand> would hand
// back UTC and lose the zone), then overridden by RECURRENCE-ID instances
// and thinned by EXDATE. Dates and floating times use fallback.
func expand(cal *ical.Calendar, name string, fallback *time.Location, from, to time.Time) ([]occurrence, error) {
	z := zonesOf(cal, fallback)
	var (
		master    *ical.Component
		overrides []*ical.Component
	)
	for _, c := range cal.Children {
		if c.Name != name {
			continue
		}
		if c.Props.Get(ical.PropRecurrenceID) != nil {
			overrides = append(overrides, c)
		} else if master == nil {
			master = c
		}
	}

	var out []occurrence
	overridden := map[int64]bool{}
	for _, o := range overrides {
		rid, _, _, err := instant(o.Props.Get(ical.PropRecurrenceID), z)
		if err != nil {
			return nil, fmt.Errorf("reading RECURRENCE-ID: %w", err)
		}
		overridden[rid.Unix()] = true
		if strings.EqualFold(text(o, ical.PropStatus), "CANCELLED") {
			continue
		}
		s, err := spanOf(o, z)
		if err != nil {
			return nil, err
		}
		if overlaps(s.start, s.end, from, to) {
			out = append(out, occurrence{start: s.start, end: s.end, comp: o, recurring: true, recurrenceID: rid})
		}
	}
	if master == nil {
		return sortOccurrences(out), nil
	}

	s, err := spanOf(master, z)
	if err != nil {
		return nil, err
	}
	set, err := recurrenceSet(master, s, z)
	if err != nil {
		return nil, err
	}
	if set == nil {
		if overlaps(s.start, s.end, from, to) && !overridden[s.start.Unix()] {
			out = append(out, occurrence{start: s.start, end: s.end, comp: master})
		}
		return sortOccurrences(out), nil
	}

	// Search a wall-clock window widened by the event's length and a day
	// on each side for zone offsets; the exact overlap is checked on
	// instants below.
	lo := wall(s.zone.display(from)).Add(-s.dur - 26*time.Hour)
	hi := wall(s.zone.display(to)).Add(26 * time.Hour)
	next := set.Iterator()
	for n := 0; n < maxOccurrences; {
		w, ok := next()
		if !ok || w.After(hi) {
			break
		}
		if w.Before(lo) {
			continue
		}
		n++
		start, end := s.at(w), s.endFor(w)
		if overridden[start.Unix()] || !overlaps(start, end, from, to) {
			continue
		}
		out = append(out, occurrence{start: start, end: end, comp: master, recurring: true, recurrenceID: start})
	}
	return sortOccurrences(out), nil
}

// recurrenceSet builds the RRULE/RDATE/EXDATE set of a master component
// on wall-clock times, or nil when it does not recur.
func recurrenceSet(c *ical.Component, s span, z zones) (*rrule.Set, error) {
	rp := c.Props.Get(ical.PropRecurrenceRule)
	rdates, err := dateTimes(c, ical.PropRecurrenceDates, z, s.zone)
	if err != nil {
		return nil, err
	}
	if rp == nil && len(rdates) == 0 {
		return nil, nil
	}
	set := &rrule.Set{}
	set.DTStart(s.startWall)
	if rp != nil {
		opt, err := rrule.StrToROptionInLocation(rp.Value, time.UTC)
		if err != nil {
			return nil, fmt.Errorf("reading RRULE %q: %w", rp.Value, err)
		}
		opt.Dtstart = s.startWall
		if !opt.Until.IsZero() && strings.Contains(strings.ToUpper(rp.Value), "Z") && !s.allDay {
			// A UTC UNTIL is an instant; compare it on the zone's wall clock.
			opt.Until = wall(s.zone.display(opt.Until))
		}
		r, err := rrule.NewRRule(*opt)
		if err != nil {
			return nil, fmt.Errorf("building RRULE %q: %w", rp.Value, err)
		}
		set.RRule(r)
	} else {
		set.RDate(s.startWall)
	}
	for _, d := range rdates {
		set.RDate(d)
	}
	exdates, err := dateTimes(c, ical.PropExceptionDates, z, s.zone)
	if err != nil {
		return nil, err
	}
	for _, d := range exdates {
		set.ExDate(d)
	}
	return set, nil
}

func overlaps(start, end, from, to time.Time) bool {
	if !end.After(start) {
		// Zero-length events occupy their start instant.
		end = start.Add(time.Nanosecond)
	}
	return (to.IsZero() || start.Before(to)) && (from.IsZero() || end.After(from))
}

func sortOccurrences(o []occurrence) []occurrence {
	sort.SliceStable(o, func(i, j int) bool { return o[i].start.Before(o[j].start) })
	return o
}
