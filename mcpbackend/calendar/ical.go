package calendar

import (
	"fmt"
	"net/mail"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

const prodID = "-//Scopegate//Nextcloud MCP//EN"

// Attendee is an invited participant.
type Attendee struct {
	Email  string `json:"email" jsonschema:"the attendee's e-mail address"`
	Name   string `json:"name,omitempty" jsonschema:"display name"`
	Role   string `json:"role,omitempty" jsonschema:"REQ-PARTICIPANT, OPT-PARTICIPANT, CHAIR or NON-PARTICIPANT"`
	Status string `json:"status,omitempty" jsonschema:"participation status: NEEDS-ACTION, ACCEPTED, DECLINED, TENTATIVE"`
}

// Reminder is a VALARM relative to the start (or the due time of a task).
type Reminder struct {
	MinutesBefore int    `json:"minutes_before" jsonschema:"minutes before the start (negative: after)"`
	Action        string `json:"action,omitempty" jsonschema:"DISPLAY (default) or EMAIL"`
}

// Event is an event, or one occurrence of a recurring event, as the tools
// return it. Times are RFC 3339 in the event's own zone; all-day events
// carry dates (YYYY-MM-DD, end exclusive).
type Event struct {
	UID             string     `json:"uid" jsonschema:"the event's UID, used by get/update/delete"`
	Calendar        string     `json:"calendar" jsonschema:"name of the calendar holding it"`
	Href            string     `json:"href,omitempty" jsonschema:"the object's path on the server"`
	ETag            string     `json:"etag,omitempty" jsonschema:"pass to update as etag to make sure nobody changed it since"`
	Title           string     `json:"title"`
	Start           string     `json:"start" jsonschema:"start: RFC 3339 date-time in the event's zone, or YYYY-MM-DD for all-day events"`
	End             string     `json:"end,omitempty" jsonschema:"end (exclusive for all-day events)"`
	AllDay          bool       `json:"all_day"`
	TimeZone        string     `json:"timezone,omitempty" jsonschema:"the event's time zone (TZID)"`
	DurationMinutes int        `json:"duration_minutes"`
	Description     string     `json:"description,omitempty"`
	Location        string     `json:"location,omitempty"`
	Categories      []string   `json:"categories,omitempty"`
	Status          string     `json:"status,omitempty" jsonschema:"CONFIRMED, TENTATIVE or CANCELLED"`
	Priority        int        `json:"priority,omitempty" jsonschema:"0 (undefined), 1 (highest) to 9 (lowest)"`
	Privacy         string     `json:"privacy,omitempty" jsonschema:"PUBLIC, PRIVATE or CONFIDENTIAL"`
	Transparent     bool       `json:"transparent,omitempty" jsonschema:"true when the event does not block time"`
	RecurrenceRule  string     `json:"recurrence_rule,omitempty" jsonschema:"RFC 5545 RRULE of a recurring event"`
	ExceptionDates  []string   `json:"exception_dates,omitempty" jsonschema:"occurrences removed from the series"`
	RecurrenceID    string     `json:"recurrence_id,omitempty" jsonschema:"for an occurrence of a recurring event: its original start"`
	Organizer       string     `json:"organizer,omitempty"`
	Attendees       []Attendee `json:"attendees,omitempty"`
	Reminders       []Reminder `json:"reminders,omitempty"`
	URL             string     `json:"url,omitempty"`
	Color           string     `json:"color,omitempty"`
}

// Todo is a task (VTODO).
type Todo struct {
	UID             string     `json:"uid" jsonschema:"the task's UID, used by update/complete/delete"`
	Calendar        string     `json:"calendar"`
	Href            string     `json:"href,omitempty"`
	ETag            string     `json:"etag,omitempty"`
	Summary         string     `json:"summary"`
	Description     string     `json:"description,omitempty"`
	Status          string     `json:"status,omitempty" jsonschema:"NEEDS-ACTION, IN-PROCESS, COMPLETED or CANCELLED"`
	Priority        int        `json:"priority,omitempty" jsonschema:"0 (undefined), 1 (highest) to 9 (lowest)"`
	PercentComplete int        `json:"percent_complete"`
	Due             string     `json:"due,omitempty"`
	Start           string     `json:"dtstart,omitempty"`
	Completed       string     `json:"completed,omitempty" jsonschema:"when it was completed (UTC)"`
	Categories      []string   `json:"categories,omitempty"`
	Reminders       []Reminder `json:"reminders,omitempty"`
}

// span is a component's time as instants, with what is needed to expand
// and print it.
type span struct {
	start, end time.Time // instants
	startWall  time.Time // wall clock of start, UTC-located
	dur        time.Duration
	allDay     bool
	zone       zone
}

// spanOf reads DTSTART/DTEND/DURATION (or DUE for tasks).
func spanOf(c *ical.Component, z zones) (span, error) {
	var s span
	p := c.Props.Get(ical.PropDateTimeStart)
	if p == nil {
		return s, fmt.Errorf("%s without DTSTART", c.Name)
	}
	start, allDay, zn, err := instant(p, z)
	if err != nil {
		return s, fmt.Errorf("reading DTSTART: %w", err)
	}
	s.start, s.allDay, s.zone = start, allDay, zn
	s.startWall = wall(zn.display(start))
	if allDay {
		s.startWall = wall(start)
	}
	switch {
	case c.Props.Get(ical.PropDateTimeEnd) != nil:
		end, _, _, err := instant(c.Props.Get(ical.PropDateTimeEnd), z)
		if err != nil {
			return s, fmt.Errorf("reading DTEND: %w", err)
		}
		s.dur = end.Sub(start)
		if allDay {
			s.dur = wallDays(wall(start), wall(end))
		}
	case c.Props.Get(ical.PropDuration) != nil:
		d, err := c.Props.Get(ical.PropDuration).Duration()
		if err != nil {
			return s, fmt.Errorf("reading DURATION: %w", err)
		}
		s.dur = d
	case allDay:
		s.dur = 24 * time.Hour
	}
	if s.dur < 0 {
		s.dur = 0
	}
	s.end = s.endFor(s.startWall)
	return s, nil
}

// wallDays is the length of a run of whole days, independent of DST.
func wallDays(a, b time.Time) time.Duration {
	return time.Duration(b.Sub(a).Hours()/24+0.5) * 24 * time.Hour
}

// at returns the instant of a wall-clock start of this span's series.
func (s span) at(w time.Time) time.Time {
	return s.zone.at(w)
}

// endFor returns the end instant of the occurrence starting at wall w;
// day-based lengths are added in wall time so all-day events stay whole
// days across DST.
func (s span) endFor(w time.Time) time.Time {
	if s.allDay && s.dur%(24*time.Hour) == 0 {
		return s.zone.at(w.AddDate(0, 0, int(s.dur/(24*time.Hour))))
	}
	return s.zone.at(w).Add(s.dur)
}

// instant reads a DATE or DATE-TIME property. Dates and floating times are
// placed in the caller's zone.
func instant(p *ical.Prop, z zones) (time.Time, bool, zone, error) {
	v := strings.TrimSpace(p.Value)
	isDate := p.Params.Get(ical.ParamValue) == string(ical.ValueDate) || len(v) == len("20060102")
	floating := zone{name: z.fallback.String(), loc: z.fallback}
	if isDate {
		d, err := time.Parse("20060102", v)
		if err != nil {
			return time.Time{}, false, zone{}, err
		}
		return floating.at(d), true, floating, nil
	}
	if strings.HasSuffix(v, "Z") {
		t, err := time.Parse("20060102T150405Z", v)
		return t, false, zone{name: "UTC", loc: time.UTC}, err
	}
	w, err := time.Parse(wallLayout, v)
	if err != nil {
		return time.Time{}, false, zone{}, err
	}
	zn := z.lookup(p.Params.Get(ical.ParamTimezoneID))
	return zn.at(w), false, zn, nil
}

// dateTimes reads every value of a possibly multi-valued, possibly
// repeated date property (EXDATE, RDATE) as wall times in zn.
func dateTimes(c *ical.Component, name string, z zones, zn zone) ([]time.Time, error) {
	var out []time.Time
	for _, p := range c.Props.Values(name) {
		for _, v := range strings.Split(p.Value, ",") {
			one := ical.Prop{Name: p.Name, Params: p.Params, Value: v}
			t, allDay, _, err := instant(&one, z)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", name, err)
			}
			if allDay {
				out = append(out, wall(t))
			} else {
				out = append(out, wall(zn.display(t)))
			}
		}
	}
	return out, nil
}

func formatWhen(t time.Time, allDay bool, zn zone) string {
	if allDay {
		return t.Format(time.DateOnly)
	}
	return zn.display(t).Format(time.RFC3339)
}

func text(c *ical.Component, name string) string {
	p := c.Props.Get(name)
	if p == nil {
		return ""
	}
	s, err := p.Text()
	if err != nil {
		return p.Value
	}
	return s
}

func integer(c *ical.Component, name string) int {
	p := c.Props.Get(name)
	if p == nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(p.Value))
	if err != nil {
		return 0
	}
	return n
}

func categories(c *ical.Component) []string {
	var out []string
	for _, p := range c.Props.Values(ical.PropCategories) {
		l, err := p.TextList()
		if err != nil {
			continue
		}
		for _, s := range l {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func reminders(c *ical.Component) []Reminder {
	var out []Reminder
	for _, a := range c.Children {
		if a.Name != ical.CompAlarm {
			continue
		}
		p := a.Props.Get(ical.PropTrigger)
		if p == nil || p.Params.Get(ical.ParamValue) == string(ical.ValueDateTime) {
			continue
		}
		d, err := p.Duration()
		if err != nil {
			continue
		}
		out = append(out, Reminder{MinutesBefore: int(-d / time.Minute), Action: text(a, ical.PropAction)})
	}
	return out
}

func attendees(c *ical.Component) []Attendee {
	var out []Attendee
	for _, p := range c.Props.Values(ical.PropAttendee) {
		out = append(out, Attendee{
			Email:  mailAddress(p.Value),
			Name:   p.Params.Get(ical.ParamCommonName),
			Role:   p.Params.Get(ical.ParamRole),
			Status: p.Params.Get(ical.ParamParticipationStatus),
		})
	}
	return out
}

func mailAddress(uri string) string {
	if len(uri) > 7 && strings.EqualFold(uri[:7], "mailto:") {
		return uri[7:]
	}
	return uri
}

// eventFrom describes a VEVENT; occ, when set, is the occurrence to report
// instead of the component's own start.
func eventFrom(c *ical.Component, z zones, occ *occurrence) (Event, error) {
	s, err := spanOf(c, z)
	if err != nil {
		return Event{}, err
	}
	start, end := s.start, s.end
	if occ != nil {
		start, end = occ.start, occ.end
	}
	e := Event{
		UID:             text(c, ical.PropUID),
		Title:           text(c, ical.PropSummary),
		Start:           formatWhen(start, s.allDay, s.zone),
		End:             formatWhen(end, s.allDay, s.zone),
		AllDay:          s.allDay,
		DurationMinutes: int(end.Sub(start) / time.Minute),
		Description:     text(c, ical.PropDescription),
		Location:        text(c, ical.PropLocation),
		Categories:      categories(c),
		Status:          strings.ToUpper(text(c, ical.PropStatus)),
		Priority:        integer(c, ical.PropPriority),
		Privacy:         strings.ToUpper(text(c, ical.PropClass)),
		Transparent:     strings.EqualFold(text(c, ical.PropTransparency), "TRANSPARENT"),
		Attendees:       attendees(c),
		Reminders:       reminders(c),
		URL:             text(c, ical.PropURL),
		Color:           text(c, ical.PropColor),
	}
	if !s.allDay {
		e.TimeZone = s.zone.name
	}
	if p := c.Props.Get(ical.PropOrganizer); p != nil {
		e.Organizer = mailAddress(p.Value)
	}
	if p := c.Props.Get(ical.PropRecurrenceRule); p != nil {
		e.RecurrenceRule = p.Value
	}
	if ex, err := dateTimes(c, ical.PropExceptionDates, z, s.zone); err == nil {
		for _, w := range ex {
			if s.allDay {
				e.ExceptionDates = append(e.ExceptionDates, w.Format(time.DateOnly))
			} else {
				e.ExceptionDates = append(e.ExceptionDates, formatWhen(s.zone.at(w), false, s.zone))
			}
		}
	}
	if occ != nil && occ.recurring {
		e.RecurrenceID = formatWhen(occ.recurrenceID, s.allDay, s.zone)
	}
	return e, nil
}

// todoFrom describes a VTODO.
func todoFrom(c *ical.Component, z zones) Todo {
	t := Todo{
		UID:             text(c, ical.PropUID),
		Summary:         text(c, ical.PropSummary),
		Description:     text(c, ical.PropDescription),
		Status:          strings.ToUpper(text(c, ical.PropStatus)),
		Priority:        integer(c, ical.PropPriority),
		PercentComplete: integer(c, ical.PropPercentComplete),
		Categories:      categories(c),
		Reminders:       reminders(c),
	}
	for name, dst := range map[string]*string{ical.PropDue: &t.Due, ical.PropDateTimeStart: &t.Start, ical.PropCompleted: &t.Completed} {
		if p := c.Props.Get(name); p != nil {
			if at, allDay, zn, err := instant(p, z); err == nil {
				*dst = formatWhen(at, allDay, zn)
			}
		}
	}
	if t.Status == "" {
		t.Status = "NEEDS-ACTION"
	}
	return t
}

// mainComponent returns the object's master component of the given type:
// the one without RECURRENCE-ID.
func mainComponent(cal *ical.Calendar, name string) *ical.Component {
	var first *ical.Component
	for _, c := range cal.Children {
		if c.Name != name {
			continue
		}
		if first == nil {
			first = c
		}
		if c.Props.Get(ical.PropRecurrenceID) == nil {
			return c
		}
	}
	return first
}

// newCalendarObject returns an empty VCALENDAR holding comp.
func newCalendarObject(comp *ical.Component) *ical.Calendar {
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, prodID)
	cal.Children = append(cal.Children, comp)
	return cal
}

// ensureTimezone adds the VTIMEZONE a TZID needs unless the object
// already has one by that name.
func ensureTimezone(cal *ical.Calendar, loc *time.Location, year int) {
	if loc == time.UTC {
		return
	}
	for _, c := range cal.Children {
		if c.Name == ical.CompTimezone && text(c, ical.PropTimezoneID) == loc.String() {
			return
		}
	}
	cal.Children = append([]*ical.Component{VTimezone(loc, year)}, cal.Children...)
}

// dropUnusedTimezones removes VTIMEZONEs no property refers to any more.
func dropUnusedTimezones(cal *ical.Calendar) {
	used := map[string]bool{}
	var walk func(c *ical.Component)
	walk = func(c *ical.Component) {
		for _, ps := range c.Props {
			for _, p := range ps {
				if id := p.Params.Get(ical.ParamTimezoneID); id != "" {
					used[id] = true
				}
			}
		}
		for _, ch := range c.Children {
			if ch.Name != ical.CompTimezone {
				walk(ch)
			}
		}
	}
	walk(cal.Component)
	kept := cal.Children[:0]
	for _, c := range cal.Children {
		if c.Name == ical.CompTimezone && !used[text(c, ical.PropTimezoneID)] {
			continue
		}
		kept = append(kept, c)
	}
	cal.Children = kept
}

// setWhen writes a DATE or DATE-TIME property; non-UTC zones get a TZID
// and the object a VTIMEZONE.
func setWhen(cal *ical.Calendar, c *ical.Component, name string, t time.Time, allDay bool) {
	p := ical.NewProp(name)
	switch {
	case allDay:
		p.SetDate(t)
	case t.Location() == time.UTC:
		p.SetDateTime(t)
	default:
		p.SetDateTime(t)
		ensureTimezone(cal, t.Location(), t.Year())
	}
	c.Props.Set(p)
}

func setText(c *ical.Component, name, v string) {
	if v == "" {
		c.Props.Del(name)
		return
	}
	c.Props.SetText(name, v)
}

func setCategories(c *ical.Component, list []string) {
	c.Props.Del(ical.PropCategories)
	if len(list) == 0 {
		return
	}
	p := ical.NewProp(ical.PropCategories)
	p.SetTextList(list)
	c.Props.Set(p)
}

func setInt(c *ical.Component, name string, n int) {
	c.Props.Set(&ical.Prop{Name: name, Params: ical.Params{}, Value: strconv.Itoa(n)})
}

func setReminders(c *ical.Component, rs []Reminder, summary string) {
	kept := c.Children[:0]
	for _, ch := range c.Children {
		if ch.Name != ical.CompAlarm {
			kept = append(kept, ch)
		}
	}
	c.Children = kept
	for _, r := range rs {
		a := ical.NewComponent(ical.CompAlarm)
		action := strings.ToUpper(r.Action)
		if action == "" {
			action = "DISPLAY"
		}
		a.Props.SetText(ical.PropAction, action)
		trig := ical.NewProp(ical.PropTrigger)
		trig.SetDuration(-time.Duration(r.MinutesBefore) * time.Minute)
		a.Props.Set(trig)
		desc := summary
		if desc == "" {
			desc = "Reminder"
		}
		a.Props.SetText(ical.PropDescription, desc)
		if action == "EMAIL" {
			a.Props.SetText(ical.PropSummary, desc)
		}
		c.Children = append(c.Children, a)
	}
}

// parseAttendees reads "ann@example.com, Bob <bob@example.com>".
func parseAttendees(s string) ([]Attendee, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	list, err := mail.ParseAddressList(s)
	if err != nil {
		return nil, fmt.Errorf("attendees must be comma-separated e-mail addresses (optionally \"Name <mail>\"): %w", err)
	}
	out := make([]Attendee, 0, len(list))
	for _, a := range list {
		out = append(out, Attendee{Email: a.Address, Name: a.Name})
	}
	return out, nil
}

func setAttendees(c *ical.Component, as []Attendee) {
	c.Props.Del(ical.PropAttendee)
	for _, a := range as {
		p := &ical.Prop{Name: ical.PropAttendee, Params: ical.Params{}, Value: "mailto:" + a.Email}
		if a.Name != "" {
			p.Params.Set(ical.ParamCommonName, a.Name)
		}
		role := a.Role
		if role == "" {
			role = "REQ-PARTICIPANT"
		}
		p.Params.Set(ical.ParamRole, role)
		status := a.Status
		if status == "" {
			status = "NEEDS-ACTION"
		}
		p.Params.Set(ical.ParamParticipationStatus, status)
		p.Params.Set(ical.ParamRSVP, "TRUE")
		c.Props.Add(p)
	}
}

// splitList reads a comma-separated parameter.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parseWhen reads a user-supplied date or date-time. Times without an
// offset are wall-clock times in loc; times with one are converted to loc.
func parseWhen(s string, loc *time.Location) (t time.Time, dateOnly bool, err error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(loc), false, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, false, nil
		}
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return t, true, nil
	}
	return time.Time{}, false, fmt.Errorf("cannot read %q as a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM[:SS][±HH:MM])", s)
}

func sortEvents(es []Event) {
	sort.SliceStable(es, func(i, j int) bool { return startKey(es[i]) < startKey(es[j]) })
}

// startKey orders events of different zones and all-day events by
// instant; all-day events sort at the start of their day in UTC.
func startKey(e Event) string {
	if t, err := time.Parse(time.RFC3339, e.Start); err == nil {
		return t.UTC().Format(time.RFC3339)
	}
	return e.Start + "T00:00:00Z"
}
