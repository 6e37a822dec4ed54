package calendar

import (
	"errors"
	"fmt"
	"time"

	"github.com/emersion/go-ical"
)

// findOccurrence resolves the "occurrence" argument, the original start of
// one instance of a recurring event (as list_events reports it in
// recurrence_id), to that instance.
func findOccurrence(cal *ical.Calendar, master *ical.Component, occ string) (occurrence, span, error) {
	z := zonesOf(cal, time.UTC)
	s, err := spanOf(master, z)
	if err != nil {
		return occurrence{}, s, err
	}
	if master.Props.Get(ical.PropRecurrenceRule) == nil && master.Props.Get(ical.PropRecurrenceDates) == nil {
		return occurrence{}, s, errors.New("the event does not recur; leave out occurrence to change the whole event")
	}
	loc := time.UTC
	if s.zone.loc != nil {
		loc = s.zone.loc
	}
	t, dateOnly, err := parseWhen(occ, loc)
	if err != nil {
		return occurrence{}, s, fmt.Errorf("occurrence: %w", err)
	}
	if dateOnly && !s.allDay {
		// A date names the instance that starts on that day.
		w := s.startWall
		t = s.at(time.Date(t.Year(), t.Month(), t.Day(), w.Hour(), w.Minute(), w.Second(), 0, time.UTC))
	}
	if s.allDay {
		t = s.at(wall(t))
	}
	// An instance changed before may have moved away from its original
	// start; its RECURRENCE-ID still names it.
	for _, c := range cal.Children {
		rp := c.Props.Get(ical.PropRecurrenceID)
		if c.Name != ical.CompEvent || rp == nil {
			continue
		}
		if rid, _, _, err := instant(rp, z); err == nil && rid.Equal(t) {
			os, err := spanOf(c, z)
			if err != nil {
				return occurrence{}, s, err
			}
			return occurrence{start: os.start, end: os.end, comp: c, recurring: true, recurrenceID: rid}, s, nil
		}
	}
	occs, err := expand(cal, ical.CompEvent, time.UTC, t.Add(-time.Second), t.Add(time.Second))
	if err != nil {
		return occurrence{}, s, err
	}
	for _, o := range occs {
		if o.recurring && o.recurrenceID.Equal(t) {
			return o, s, nil
		}
	}
	return occurrence{}, s, fmt.Errorf("the series has no occurrence starting %s; use a recurrence_id from nc_calendar_list_events", formatWhen(t, s.allDay, s.zone))
}

// overrideFor returns the component holding one instance's own data
// (RFC 5545 §3.8.4.4), copying the master's properties into a new one the
// first time an instance is changed.
func overrideFor(cal *ical.Calendar, master *ical.Component, o occurrence, s span) *ical.Component {
	if o.comp != master {
		return o.comp
	}
	c := ical.NewComponent(ical.CompEvent)
	for name, props := range master.Props {
		switch name {
		case ical.PropRecurrenceRule, ical.PropRecurrenceDates, ical.PropExceptionDates, ical.PropSequence:
			continue
		}
		c.Props[name] = cloneProps(props)
	}
	for _, child := range master.Children {
		c.Children = append(c.Children, cloneComponent(child))
	}
	setInstant(c, ical.PropRecurrenceID, master, o.recurrenceID, s)
	setInstant(c, ical.PropDateTimeStart, master, o.start, s)
	c.Props.Del(ical.PropDuration)
	setInstant(c, ical.PropDateTimeEnd, master, o.end, s)
	cal.Children = append(cal.Children, c)
	return c
}

// setInstant writes t in the same form as the master's DTSTART (date,
// UTC, or wall time with the same TZID), as RFC 5545 requires of
// RECURRENCE-ID.
func setInstant(c *ical.Component, name string, master *ical.Component, t time.Time, s span) {
	ref := master.Props.Get(ical.PropDateTimeStart)
	p := ical.NewProp(name)
	switch {
	case s.allDay:
		p.SetDate(wall(t))
	case ref != nil && ref.Params.Get(ical.ParamTimezoneID) != "":
		p.Params.Set(ical.ParamTimezoneID, ref.Params.Get(ical.ParamTimezoneID))
		p.Value = wall(s.zone.display(t)).Format(wallLayout)
	default:
		p.SetDateTime(t.UTC())
	}
	c.Props.Set(p)
}

// excludeOccurrence removes one instance from a series with an EXDATE and
// drops its override, if any.
func excludeOccurrence(cal *ical.Calendar, master *ical.Component, o occurrence, s span) {
	ex := &ical.Component{Name: ical.CompEvent, Props: ical.Props{}}
	setInstant(ex, ical.PropExceptionDates, master, o.recurrenceID, s)
	master.Props.Add(ex.Props.Get(ical.PropExceptionDates))
	if o.comp != master {
		kept := make([]*ical.Component, 0, len(cal.Children))
		for _, c := range cal.Children {
			if c != o.comp {
				kept = append(kept, c)
			}
		}
		cal.Children = kept
	}
}

func cloneProps(in []ical.Prop) []ical.Prop {
	out := make([]ical.Prop, len(in))
	for i, p := range in {
		params := ical.Params{}
		for k, v := range p.Params {
			params[k] = append([]string(nil), v...)
		}
		out[i] = ical.Prop{Name: p.Name, Params: params, Value: p.Value}
	}
	return out
}

func cloneComponent(in *ical.Component) *ical.Component {
	c := ical.NewComponent(in.Name)
	for name, props := range in.Props {
		c.Props[name] = cloneProps(props)
	}
	for _, child := range in.Children {
		c.Children = append(c.Children, cloneComponent(child))
	}
	return c
}
