package calendar

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones must resolve even on hosts without tzdata

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// wallLayout is an iCalendar local ("floating") date-time.
const wallLayout = "20060102T150405"

// zone turns wall-clock times of one TZID into instants. Recurrences are
// expanded on wall-clock times and resolved one by one, so a weekly 09:30
// meeting stays at 09:30 across a DST change whatever defines the zone: an
// IANA location, or only the object's VTIMEZONE (Outlook's "W. Europe
// Standard Time" and similar names Go cannot load).
type zone struct {
	name string
	loc  *time.Location
	vtz  *ical.Component
}

// wall returns t's wall clock as a UTC-located time, the form rrule-go
// expands in.
func wall(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
}

// at resolves a wall-clock time (read from its fields) to an instant.
func (z zone) at(w time.Time) time.Time {
	if z.loc != nil {
		return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, z.loc)
	}
	off := vtimezoneOffset(z.vtz, w)
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, time.FixedZone(z.name, off))
}

// display returns t in this zone for output.
func (z zone) display(t time.Time) time.Time {
	if z.loc != nil {
		return t.In(z.loc)
	}
	return t.In(time.FixedZone(z.name, vtimezoneOffset(z.vtz, wall(t.UTC()))))
}

// zones resolves the TZIDs used in one calendar object.
type zones struct {
	vtz      map[string]*ical.Component
	fallback *time.Location
}

func zonesOf(cal *ical.Calendar, fallback *time.Location) zones {
	z := zones{vtz: map[string]*ical.Component{}, fallback: fallback}
	for _, c := range cal.Children {
		if c.Name == ical.CompTimezone {
			if id, err := c.Props.Text(ical.PropTimezoneID); err == nil {
				z.vtz[id] = c
			}
		}
	}
	return z
}

// lookup finds the zone of a TZID: an IANA name, an IANA name buried in a
// vendor prefix ("/mozilla.org/20050126_1/Europe/Berlin"), the object's own
// VTIMEZONE, or at last the caller's zone.
func (z zones) lookup(tzid string) zone {
	if tzid == "" {
		return zone{name: z.fallback.String(), loc: z.fallback}
	}
	if loc, ok := loadIANA(tzid); ok {
		return zone{name: tzid, loc: loc}
	}
	if c, ok := z.vtz[tzid]; ok && len(c.Children) > 0 {
		return zone{name: tzid, vtz: c}
	}
	return zone{name: z.fallback.String(), loc: z.fallback}
}

func loadIANA(tzid string) (*time.Location, bool) {
	name := strings.Trim(tzid, `"`)
	for {
		if name != "" && name != "Local" {
			if loc, err := time.LoadLocation(name); err == nil {
				return loc, true
			}
		}
		i := strings.Index(name, "/")
		if i < 0 {
			return nil, false
		}
		name = name[i+1:]
	}
}

// LoadZone loads a user-supplied IANA zone name; empty means UTC.
func LoadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, fmt.Errorf("unknown time zone %q: use an IANA name such as Europe/Berlin or America/New_York", name)
	}
	return loc, nil
}

// vtimezoneOffset evaluates a VTIMEZONE (RFC 5545 §3.6.5) at a wall-clock
// time: the observance with the latest onset not after w wins.
func vtimezoneOffset(vtz *ical.Component, w time.Time) int {
	var (
		best      time.Time
		bestOff   int
		found     bool
		earliest  time.Time
		firstFrom int
	)
	for _, obs := range vtz.Children {
		if obs.Name != ical.CompTimezoneStandard && obs.Name != ical.CompTimezoneDaylight {
			continue
		}
		start, err := parseWall(obs.Props.Get(ical.PropDateTimeStart))
		if err != nil {
			continue
		}
		to, err1 := parseOffset(propValue(obs, ical.PropTimezoneOffsetTo))
		from, err2 := parseOffset(propValue(obs, "TZOFFSETFROM"))
		if err1 != nil {
			continue
		}
		if err2 != nil {
			from = to
		}
		if earliest.IsZero() || start.Before(earliest) {
			earliest, firstFrom = start, from
		}
		onset := time.Time{}
		if !start.After(w) {
			onset = start
		}
		if p := obs.Props.Get(ical.PropRecurrenceRule); p != nil {
			if opt, err := rrule.StrToROptionInLocation(p.Value, time.UTC); err == nil {
				opt.Dtstart = start
				if opt.Freq == rrule.YEARLY && w.Year()-start.Year() > 2 {
					// rrule-go gives up after a few hundred iterations, and
					// Outlook starts its rules in 1601; a yearly rule's
					// onsets do not depend on the year it starts in.
					opt.Dtstart = time.Date(w.Year()-2, 1, 1, start.Hour(), start.Minute(), start.Second(), 0, time.UTC)
				}
				if r, err := rrule.NewRRule(*opt); err == nil {
					if t := r.Before(w, true); !t.IsZero() && t.After(onset) {
						onset = t
					}
				}
			}
		}
		for _, rd := range obs.Props.Values(ical.PropRecurrenceDates) {
			for _, v := range strings.Split(rd.Value, ",") {
				if t, err := time.Parse(wallLayout, v); err == nil && !t.After(w) && t.After(onset) {
					onset = t
				}
			}
		}
		if !onset.IsZero() && (!found || onset.After(best)) {
			best, bestOff, found = onset, to, true
		}
	}
	if !found {
		return firstFrom
	}
	return bestOff
}

func propValue(c *ical.Component, name string) string {
	if p := c.Props.Get(name); p != nil {
		return p.Value
	}
	return ""
}

func parseWall(p *ical.Prop) (time.Time, error) {
	if p == nil {
		return time.Time{}, fmt.Errorf("missing")
	}
	return time.Parse(wallLayout, strings.TrimSuffix(p.Value, "Z"))
}

// parseOffset reads a UTC offset such as "+0130" or "-050000" as seconds.
func parseOffset(s string) (int, error) {
	if len(s) != 5 && len(s) != 7 {
		return 0, fmt.Errorf("bad UTC offset %q", s)
	}
	sign := 1
	switch s[0] {
	case '-':
		sign = -1
	case '+':
	default:
		return 0, fmt.Errorf("bad UTC offset %q", s)
	}
	h, err1 := strconv.Atoi(s[1:3])
	m, err2 := strconv.Atoi(s[3:5])
	sec := 0
	var err3 error
	if len(s) == 7 {
		sec, err3 = strconv.Atoi(s[5:7])
	}
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, fmt.Errorf("bad UTC offset %q", s)
	}
	return sign * (h*3600 + m*60 + sec), nil
}

func formatOffset(sec int) string {
	sign := '+'
	if sec < 0 {
		sign, sec = '-', -sec
	}
	return fmt.Sprintf("%c%02d%02d", sign, sec/3600, sec%3600/60)
}

type transition struct {
	at       time.Time // instant
	from, to int
	name     string
	dst      bool
}

// VTimezone describes an IANA zone as a VTIMEZONE for objects that use it
// (RFC 5545 requires one per TZID). Transitions around year are summarised
// as yearly rules when they follow one (as in Europe and North America),
// else listed one by one.
func VTimezone(loc *time.Location, year int) *ical.Component {
	vtz := ical.NewComponent(ical.CompTimezone)
	vtz.Props.SetText(ical.PropTimezoneID, loc.String())

	from := time.Date(year-1, 1, 1, 0, 0, 0, 0, loc)
	until := time.Date(year+2, 1, 1, 0, 0, 0, 0, loc)
	var ts []transition
	for t := from; ; {
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(until) {
			break
		}
		_, offFrom := t.Zone()
		name, offTo := end.Zone()
		ts = append(ts, transition{at: end, from: offFrom, to: offTo, name: name, dst: end.IsDST()})
		t = end
	}
	if len(ts) == 0 {
		name, off := from.Zone()
		vtz.Children = append(vtz.Children, observance(false, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), off, off, name, ""))
		return vtz
	}

	rules := map[int]string{}
	firsts := map[int]transition{}
	regular := true
	for _, tr := range ts {
		local := tr.at.In(time.FixedZone("", tr.from))
		r := yearlyRule(local)
		if prev, ok := rules[tr.to]; ok && prev != r {
			regular = false
			break
		}
		rules[tr.to] = r
		if _, ok := firsts[tr.to]; !ok {
			firsts[tr.to] = tr
		}
	}
	if regular && len(rules) <= 2 {
		for _, tr := range ts {
			first, ok := firsts[tr.to]
			if !ok {
				continue
			}
			delete(firsts, tr.to)
			local := wall(first.at.In(time.FixedZone("", first.from)))
			vtz.Children = append(vtz.Children, observance(first.dst, local, first.from, first.to, first.name, rules[first.to]))
		}
		return vtz
	}
	for _, tr := range ts {
		local := wall(tr.at.In(time.FixedZone("", tr.from)))
		vtz.Children = append(vtz.Children, observance(tr.dst, local, tr.from, tr.to, tr.name, ""))
	}
	return vtz
}

// yearlyRule names the day of a transition as an RRULE: the nth (or last)
// weekday of its month at its local time.
func yearlyRule(local time.Time) string {
	days := time.Date(local.Year(), local.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	nth := (local.Day()-1)/7 + 1
	if local.Day()+7 > days {
		nth = -1
	}
	wd := [...]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}[local.Weekday()]
	return fmt.Sprintf("FREQ=YEARLY;BYMONTH=%d;BYDAY=%d%s|%s", local.Month(), nth, wd, local.Format("150405"))
}

func observance(dst bool, start time.Time, from, to int, name, rule string) *ical.Component {
	kind := ical.CompTimezoneStandard
	if dst {
		kind = ical.CompTimezoneDaylight
	}
	c := ical.NewComponent(kind)
	p := ical.NewProp(ical.PropDateTimeStart)
	p.Value = start.Format(wallLayout)
	c.Props.Set(p)
	c.Props.Set(&ical.Prop{Name: "TZOFFSETFROM", Params: ical.Params{}, Value: formatOffset(from)})
	c.Props.Set(&ical.Prop{Name: ical.PropTimezoneOffsetTo, Params: ical.Params{}, Value: formatOffset(to)})
	if name != "" {
		c.Props.SetText(ical.PropTimezoneName, name)
	}
	if rule != "" {
		r := ical.NewProp(ical.PropRecurrenceRule)
		r.Value = strings.SplitN(rule, "|", 2)[0]
		c.Props.Set(r)
	}
	return c
}
