package calendar

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/teambition/rrule-go"

	"github.com/scopegate/scopegate/mcpbackend/davclient"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

// eventArgs are the arguments of create_event and update_event. Pointers
// tell "not given" (keep) from an explicit value.
type eventArgs struct {
	CalendarName      string      `json:"calendar_name"`
	EventUID          string      `json:"event_uid"`
	Title             *string     `json:"title"`
	StartDatetime     *string     `json:"start_datetime"`
	EndDatetime       *string     `json:"end_datetime"`
	AllDay            *bool       `json:"all_day"`
	Description       *string     `json:"description"`
	Location          *string     `json:"location"`
	Categories        *string     `json:"categories"`
	Recurring         *bool       `json:"recurring"`
	RecurrenceRule    *string     `json:"recurrence_rule"`
	RecurrenceEndDate *string     `json:"recurrence_end_date"`
	ExceptionDates    *string     `json:"exception_dates"`
	ReminderMinutes   *int        `json:"reminder_minutes"`
	ReminderEmail     *bool       `json:"reminder_email"`
	Status            *string     `json:"status"`
	Priority          *int        `json:"priority"`
	Privacy           *string     `json:"privacy"`
	Attendees         *string     `json:"attendees"`
	URL               *string     `json:"url"`
	Color             *string     `json:"color"`
	Timezone          *string     `json:"timezone"`
	Reminders         *[]Reminder `json:"reminders"`
	ETag              string      `json:"etag"`
	Occurrence        *string     `json:"occurrence"`
}

func ptr[T any](v T) *T { return &v }

// withCreateDefaults fills what create_event defaults when not given.
func (a eventArgs) withCreateDefaults() eventArgs {
	if a.Status == nil {
		a.Status = ptr("CONFIRMED")
	}
	if a.Priority == nil {
		a.Priority = ptr(5)
	}
	if a.Privacy == nil {
		a.Privacy = ptr("PUBLIC")
	}
	if a.ReminderMinutes == nil && a.Reminders == nil {
		a.ReminderMinutes = ptr(15)
	}
	return a
}

var (
	eventStatuses = []string{"CONFIRMED", "TENTATIVE", "CANCELLED"}
	privacies     = []string{"PUBLIC", "PRIVATE", "CONFIDENTIAL"}
)

func oneOf(field, v string, allowed []string) (string, error) {
	u := strings.ToUpper(strings.TrimSpace(v))
	for _, a := range allowed {
		if u == a {
			return u, nil
		}
	}
	return "", fmt.Errorf("%s must be one of %s, not %q", field, strings.Join(allowed, ", "), v)
}

// applyEvent writes the given arguments into the VEVENT c of cal; what is
// not given stays as it is.
func applyEvent(cal *ical.Calendar, c *ical.Component, a eventArgs, now time.Time) error {
	if err := applyEventTimes(cal, c, a); err != nil {
		return err
	}
	if a.Title != nil {
		if strings.TrimSpace(*a.Title) == "" {
			return errors.New("title must not be empty")
		}
		c.Props.SetText(ical.PropSummary, *a.Title)
	}
	if a.Description != nil {
		setText(c, ical.PropDescription, *a.Description)
	}
	if a.Location != nil {
		setText(c, ical.PropLocation, *a.Location)
	}
	if a.Categories != nil {
		setCategories(c, splitList(*a.Categories))
	}
	if a.Status != nil {
		st, err := oneOf("status", *a.Status, eventStatuses)
		if err != nil {
			return err
		}
		c.Props.SetText(ical.PropStatus, st)
	}
	if a.Priority != nil {
		if *a.Priority < 0 || *a.Priority > 9 {
			return fmt.Errorf("priority must be 0 (undefined) to 9, not %d", *a.Priority)
		}
		setInt(c, ical.PropPriority, *a.Priority)
	}
	if a.Privacy != nil {
		cl, err := oneOf("privacy", *a.Privacy, privacies)
		if err != nil {
			return err
		}
		c.Props.SetText(ical.PropClass, cl)
	}
	if a.URL != nil {
		if *a.URL == "" {
			c.Props.Del(ical.PropURL)
		} else {
			c.Props.Set(&ical.Prop{Name: ical.PropURL, Params: ical.Params{}, Value: *a.URL})
		}
	}
	if a.Color != nil {
		setText(c, ical.PropColor, *a.Color)
	}
	if a.Attendees != nil {
		as, err := parseAttendees(*a.Attendees)
		if err != nil {
			return err
		}
		setAttendees(c, as)
	}
	if err := applyRecurrence(c, a); err != nil {
		return err
	}
	if err := applyReminders(c, a.Reminders, a.ReminderMinutes, a.ReminderEmail, text(c, ical.PropSummary)); err != nil {
		return err
	}
	stamp(c, now)
	dropUnusedTimezones(cal)
	return nil
}

// stamp records a change (DTSTAMP, LAST-MODIFIED, SEQUENCE).
func stamp(c *ical.Component, now time.Time) {
	now = now.UTC().Truncate(time.Second)
	if c.Props.Get(ical.PropCreated) == nil {
		c.Props.SetDateTime(ical.PropCreated, now)
	} else {
		setInt(c, ical.PropSequence, integer(c, ical.PropSequence)+1)
	}
	c.Props.SetDateTime(ical.PropDateTimeStamp, now)
	c.Props.SetDateTime(ical.PropLastModified, now)
}

func applyEventTimes(cal *ical.Calendar, c *ical.Component, a eventArgs) error {
	if a.StartDatetime == nil && a.EndDatetime == nil && a.AllDay == nil && a.Timezone == nil {
		return nil
	}
	var (
		cur    span
		hasCur = c.Props.Get(ical.PropDateTimeStart) != nil
	)
	if hasCur {
		var err error
		if cur, err = spanOf(c, zonesOf(cal, time.UTC)); err != nil {
			return err
		}
	}
	loc := time.UTC
	switch {
	case a.Timezone != nil && *a.Timezone != "":
		l, err := LoadZone(*a.Timezone)
		if err != nil {
			return err
		}
		loc = l
	case hasCur && !cur.allDay && cur.zone.loc != nil:
		loc = cur.zone.loc
	case hasCur && !cur.allDay && cur.zone.vtz != nil:
		return fmt.Errorf("the event's time zone %q is not an IANA zone; give timezone (e.g. Europe/Berlin) with the new times", cur.zone.name)
	}

	allDay := hasCur && cur.allDay
	if a.AllDay != nil {
		allDay = *a.AllDay
	}
	var start time.Time
	startGiven := a.StartDatetime != nil && *a.StartDatetime != ""
	switch {
	case startGiven:
		t, dateOnly, err := parseWhen(*a.StartDatetime, loc)
		if err != nil {
			return fmt.Errorf("start_datetime: %w", err)
		}
		if dateOnly && a.AllDay == nil {
			allDay = true
		}
		start = t
	case hasCur:
		// Keep the wall-clock time when only the zone or the all-day
		// flag changes: "it is at 09:00 Tokyo time" moves the instant.
		w := cur.startWall
		start = time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
	default:
		return errors.New("start_datetime is required")
	}

	var end time.Time
	switch {
	case a.EndDatetime != nil && *a.EndDatetime != "":
		t, dateOnly, err := parseWhen(*a.EndDatetime, loc)
		if err != nil {
			return fmt.Errorf("end_datetime: %w", err)
		}
		end = t
		if allDay && (dateOnly || !t.After(start)) {
			// An all-day end given as a date is the last day, inclusive.
			end = dayOf(t).AddDate(0, 0, 1)
		}
	case hasCur && cur.allDay == allDay && cur.dur > 0:
		// A moved event keeps its length.
		if allDay {
			end = dayOf(start).AddDate(0, 0, max(1, int(cur.dur/(24*time.Hour))))
		} else {
			end = start.Add(cur.dur)
		}
	case allDay:
		end = dayOf(start).AddDate(0, 0, 1)
	default:
		end = start.Add(time.Hour)
	}
	if allDay {
		start = dayOf(start)
		end = dayOf(end)
	}
	if !end.After(start) {
		return fmt.Errorf("the end (%s) must be after the start (%s)", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	setWhen(cal, c, ical.PropDateTimeStart, start, allDay)
	setWhen(cal, c, ical.PropDateTimeEnd, end, allDay)
	c.Props.Del(ical.PropDuration)
	// Exception dates must share DTSTART's value type and zone.
	if a.ExceptionDates == nil && c.Props.Get(ical.PropExceptionDates) != nil && hasCur && (cur.allDay != allDay || cur.zone.name != loc.String()) {
		c.Props.Del(ical.PropExceptionDates)
	}
	return nil
}

// dayOf returns the date of t as midnight UTC, the form DATE values take.
func dayOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// normalizeRule validates an RRULE given with or without "RRULE:".
func normalizeRule(s string) (string, error) {
	s = strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "RRULE:")
	if _, err := rrule.StrToROption(s); err != nil {
		return "", fmt.Errorf("recurrence_rule %q is not a valid RFC 5545 RRULE (e.g. FREQ=WEEKLY;BYDAY=MO,WE): %w", s, err)
	}
	return s, nil
}

func applyRecurrence(c *ical.Component, a eventArgs) error {
	if a.Recurring != nil && !*a.Recurring {
		c.Props.Del(ical.PropRecurrenceRule)
		c.Props.Del(ical.PropExceptionDates)
		return nil
	}
	if a.RecurrenceRule != nil {
		if *a.RecurrenceRule == "" {
			c.Props.Del(ical.PropRecurrenceRule)
		} else {
			r, err := normalizeRule(*a.RecurrenceRule)
			if err != nil {
				return err
			}
			p := ical.NewProp(ical.PropRecurrenceRule)
			p.Value = r
			c.Props.Set(p)
		}
	}
	rp := c.Props.Get(ical.PropRecurrenceRule)
	if a.Recurring != nil && *a.Recurring && rp == nil {
		return errors.New("recurring=true needs a recurrence_rule, e.g. FREQ=WEEKLY or FREQ=DAILY;COUNT=5")
	}
	s, err := spanOf(c, zonesOf(&ical.Calendar{Component: ical.NewComponent(ical.CompCalendar)}, time.UTC))
	if err != nil {
		return err
	}
	if a.RecurrenceEndDate != nil && *a.RecurrenceEndDate != "" {
		if rp == nil {
			return errors.New("recurrence_end_date needs a recurrence_rule")
		}
		loc := time.UTC
		if s.zone.loc != nil {
			loc = s.zone.loc
		}
		d, _, err := parseWhen(*a.RecurrenceEndDate, loc)
		if err != nil {
			return fmt.Errorf("recurrence_end_date: %w", err)
		}
		var until string
		if s.allDay {
			until = d.Format("20060102")
		} else {
			// The series ends with the last occurrence on that day.
			endOfDay := time.Date(d.Year(), d.Month(), d.Day(), 23, 59, 59, 0, loc)
			until = endOfDay.UTC().Format("20060102T150405Z")
		}
		var parts []string
		for _, part := range strings.Split(rp.Value, ";") {
			k, _, _ := strings.Cut(strings.ToUpper(part), "=")
			if k != "UNTIL" && k != "COUNT" && part != "" {
				parts = append(parts, part)
			}
		}
		rp.Value = strings.Join(append(parts, "UNTIL="+until), ";")
	}
	if a.ExceptionDates != nil {
		c.Props.Del(ical.PropExceptionDates)
		for _, v := range splitList(*a.ExceptionDates) {
			loc := time.UTC
			if s.zone.loc != nil {
				loc = s.zone.loc
			}
			t, dateOnly, err := parseWhen(v, loc)
			if err != nil {
				return fmt.Errorf("exception_dates: %w", err)
			}
			p := ical.NewProp(ical.PropExceptionDates)
			switch {
			case s.allDay:
				p.SetDate(t)
			case dateOnly:
				// A date names the occurrence starting that day.
				w := s.startWall
				p.SetDateTime(time.Date(t.Year(), t.Month(), t.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc))
			default:
				p.SetDateTime(t)
			}
			c.Props.Add(p)
		}
	}
	return nil
}

// applyReminders replaces the alarms: an explicit list wins, otherwise
// reminder_minutes (0 = none) and reminder_email build them.
func applyReminders(c *ical.Component, list *[]Reminder, minutes *int, email *bool, summary string) error {
	if list != nil {
		for _, r := range *list {
			if a := strings.ToUpper(r.Action); a != "" && a != "DISPLAY" && a != "EMAIL" && a != "AUDIO" {
				return fmt.Errorf("reminder action must be DISPLAY or EMAIL, not %q", r.Action)
			}
		}
		setReminders(c, *list, summary)
		return nil
	}
	if minutes == nil && email == nil {
		return nil
	}
	m := 15
	if cur := reminders(c); len(cur) > 0 {
		m = cur[0].MinutesBefore
	}
	if minutes != nil {
		m = *minutes
	}
	if m < 0 {
		return fmt.Errorf("reminder_minutes must not be negative, got %d", m)
	}
	var rs []Reminder
	if m > 0 {
		rs = append(rs, Reminder{MinutesBefore: m, Action: "DISPLAY"})
		if email != nil && *email {
			rs = append(rs, Reminder{MinutesBefore: m, Action: "EMAIL"})
		}
	}
	setReminders(c, rs, summary)
	return nil
}

type eventsResult struct {
	Events    []Event `json:"events"`
	Count     int     `json:"count"`
	Truncated bool    `json:"truncated" jsonschema:"true when more events matched than the limit"`
	From      string  `json:"from" jsonschema:"start of the searched window"`
	To        string  `json:"to" jsonschema:"end of the searched window (exclusive)"`
}

type deleteResult struct {
	Deleted    bool   `json:"deleted"`
	UID        string `json:"uid"`
	Calendar   string `json:"calendar"`
	Occurrence string `json:"occurrence,omitempty" jsonschema:"the one occurrence removed from the series"`
}

func eventSchema(opts ...mcp.ToolOption) []mcp.ToolOption {
	return append(opts,
		mcp.WithString("title", mcp.Description("Event title (SUMMARY)")),
		mcp.WithString("start_datetime", mcp.Description("Start: YYYY-MM-DDTHH:MM[:SS] in `timezone`, an RFC 3339 time with offset, or YYYY-MM-DD for an all-day event")),
		mcp.WithString("end_datetime", mcp.Description("End, same formats; default one hour after the start (one day for all-day events). For all-day events a date is the last day, inclusive")),
		mcp.WithBoolean("all_day", mcp.Description("All-day event (dates without times)")),
		mcp.WithString("description", mcp.Description("Longer description")),
		mcp.WithString("location", mcp.Description("Where it takes place")),
		mcp.WithString("categories", mcp.Description("Comma-separated categories, e.g. \"Work,Meeting\"")),
		mcp.WithBoolean("recurring", mcp.Description("false removes the recurrence; true requires recurrence_rule")),
		mcp.WithString("recurrence_rule", mcp.Description("RFC 5545 RRULE such as FREQ=WEEKLY;BYDAY=TU or FREQ=DAILY;COUNT=10; expanded in the event's time zone")),
		mcp.WithString("recurrence_end_date", mcp.Description("Last day of the series (YYYY-MM-DD); replaces COUNT/UNTIL")),
		mcp.WithString("exception_dates", mcp.Description("Comma-separated occurrences to leave out of the series (dates or date-times); replaces the existing list")),
		mcp.WithInteger("reminder_minutes", mcp.Description("A reminder this many minutes before the start; 0 for none")),
		mcp.WithBoolean("reminder_email", mcp.Description("Also send the reminder by e-mail")),
		mcp.WithString("status", mcp.Description("CONFIRMED, TENTATIVE or CANCELLED"), mcp.Enum(eventStatuses...)),
		mcp.WithInteger("priority", mcp.Description("0 (undefined), 1 (highest) to 9 (lowest)"), mcp.Min(0), mcp.Max(9)),
		mcp.WithString("privacy", mcp.Description("PUBLIC, PRIVATE or CONFIDENTIAL (iCalendar CLASS)"), mcp.Enum(privacies...)),
		mcp.WithString("attendees", mcp.Description("Comma-separated e-mail addresses, optionally \"Name <mail>\"; replaces the attendee list")),
		mcp.WithString("url", mcp.Description("A link for the event")),
		mcp.WithString("color", mcp.Description("Event colour (CSS name or #RRGGBB)")),
		mcp.WithString("timezone", mcp.Description("IANA time zone of the times given, e.g. Europe/Berlin (default: the event's zone, or UTC for new events)")),
		mcp.WithArray("reminders", mcp.Description("Explicit reminders; overrides reminder_minutes/reminder_email"),
			mcp.Items(map[string]any{
				"type": "object",
				"properties": map[string]any{
					"minutes_before": map[string]any{"type": "integer", "description": "minutes before the start"},
					"action":         map[string]any{"type": "string", "enum": []string{"DISPLAY", "EMAIL"}, "description": "how to remind (default DISPLAY)"},
				},
				"required": []string{"minutes_before"},
			})),
	)
}

func createEventTool(s store) tooldef.Tool {
	const name = "nc_calendar_create_event"
	opts := eventSchema(
		mcp.WithDescription("Create an event in a calendar: one-off or recurring (RRULE with exceptions), timed in any IANA time zone or all-day, with attendees, reminders, categories, status, priority and privacy. Returns the stored event with its UID and ETag."),
		mcp.WithString("calendar_name", mcp.Required(), mcp.Description("Calendar to add the event to (its name from nc_calendar_list_calendars, or its display name)")),
	)
	opts = append(opts, tooldef.Annotations(false, false, false, true), mcp.WithOutputSchema[Event]())
	def := mcp.NewTool(name, opts...)
	markRequired(&def, "title", "start_datetime")
	return tooldef.Tool{
		Def:    def,
		Scopes: []string{"calendar:write"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a eventArgs) (*mcp.CallToolResult, error) {
			if a.Title == nil || a.StartDatetime == nil {
				return nil, step("checking arguments", errors.New("title and start_datetime are required"))
			}
			e, err := s.createEvent(ctx, a.CalendarName, a.withCreateDefaults())
			if err != nil {
				return nil, err
			}
			return structured(e)
		}),
	}
}

// markRequired adds schema-level required fields to options built by
// the shared event schema.
func markRequired(t *mcp.Tool, fields ...string) {
	t.InputSchema.Required = append(t.InputSchema.Required, fields...)
}

func (s store) createEvent(ctx context.Context, calendarName string, a eventArgs) (Event, error) {
	cal, err := oneCalendar(ctx, s, calendarName)
	if err != nil {
		return Event{}, err
	}
	if err := writable(cal, ical.CompEvent); err != nil {
		return Event{}, step("checking the calendar", err)
	}
	uid := newUID()
	c := ical.NewComponent(ical.CompEvent)
	c.Props.SetText(ical.PropUID, uid)
	obj := newCalendarObject(c)
	if err := applyEvent(obj, c, a, time.Now()); err != nil {
		return Event{}, step("building the event", err)
	}
	href, etag, err := s.create(ctx, cal, uid, obj)
	if err != nil {
		return Event{}, step("storing the event", err)
	}
	e, err := eventFrom(c, zonesOf(obj, time.UTC), nil)
	if err != nil {
		return Event{}, step("reading back the event", err)
	}
	e.Calendar, e.Href, e.ETag = cal.Name, href, etag
	return e, nil
}

type getEventArgs struct {
	CalendarName string `json:"calendar_name"`
	EventUID     string `json:"event_uid"`
}

func getEventTool(s store) tooldef.Tool {
	const name = "nc_calendar_get_event"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Get one event by UID with all its details (recurrence rule, exceptions, attendees, reminders) and its current ETag."),
			mcp.WithString("calendar_name", mcp.Required(), mcp.Description("Calendar holding the event")),
			mcp.WithString("event_uid", mcp.Required(), mcp.Description("The event's UID")),
			tooldef.Annotations(true, false, true, true),
			mcp.WithOutputSchema[Event](),
		),
		Scopes: []string{"calendar:read"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a getEventArgs) (*mcp.CallToolResult, error) {
			cal, err := oneCalendar(ctx, s, a.CalendarName)
			if err != nil {
				return nil, err
			}
			obj, err := s.byUID(ctx, cal, ical.CompEvent, a.EventUID)
			if err != nil {
				return nil, step("finding the event", err)
			}
			e, err := eventFrom(mainComponent(obj.Data, ical.CompEvent), zonesOf(obj.Data, time.UTC), nil)
			if err != nil {
				return nil, step("reading the event", err)
			}
			e.Calendar, e.Href, e.ETag = cal.Name, obj.Path, obj.ETag
			return structured(e)
		}),
	}
}

func updateEventTool(s store) tooldef.Tool {
	const name = "nc_calendar_update_event"
	opts := eventSchema(
		mcp.WithDescription("Change an event; only the fields given change. The write is conditional on the event's ETag (the one given, or the one read just before), so a concurrent change is reported instead of overwritten. Returns the updated event with its new ETag."),
		mcp.WithString("calendar_name", mcp.Required(), mcp.Description("Calendar holding the event")),
		mcp.WithString("event_uid", mcp.Required(), mcp.Description("The event's UID")),
		mcp.WithString("etag", mcp.Description("ETag from a previous read; the update fails if the event changed since")),
		mcp.WithString("occurrence", mcp.Description("Change only this occurrence of a recurring event: its original start, the recurrence_id from nc_calendar_list_events (or its date)")),
	)
	opts = append(opts, tooldef.Annotations(false, false, false, true), mcp.WithOutputSchema[Event]())
	return tooldef.Tool{
		Def:    mcp.NewTool(name, opts...),
		Scopes: []string{"calendar:write"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a eventArgs) (*mcp.CallToolResult, error) {
			cal, err := oneCalendar(ctx, s, a.CalendarName)
			if err != nil {
				return nil, err
			}
			if err := writable(cal, ical.CompEvent); err != nil {
				return nil, step("checking the calendar", err)
			}
			obj, err := s.byUID(ctx, cal, ical.CompEvent, a.EventUID)
			if err != nil {
				return nil, step("finding the event", err)
			}
			c := mainComponent(obj.Data, ical.CompEvent)
			var (
				occ *occurrence
				sp  span
			)
			if a.Occurrence != nil && *a.Occurrence != "" {
				if a.RecurrenceRule != nil || a.Recurring != nil || a.RecurrenceEndDate != nil || a.ExceptionDates != nil {
					return nil, step("checking arguments", errors.New("recurrence fields change the whole series; leave out occurrence to change them"))
				}
				o, series, err := findOccurrence(obj.Data, c, *a.Occurrence)
				if err != nil {
					return nil, step("finding the occurrence", err)
				}
				occ, sp = &o, series
				c = overrideFor(obj.Data, c, o, series)
			}
			if err := applyEvent(obj.Data, c, a, time.Now()); err != nil {
				return nil, step("changing the event", err)
			}
			etag := obj.ETag
			if a.ETag != "" {
				etag = davclient.UnquoteETag(a.ETag)
			}
			href, newTag, err := s.update(ctx, obj.Path, etag, obj.Data)
			if err != nil {
				return nil, step("storing the event", err)
			}
			e, err := eventFrom(c, zonesOf(obj.Data, time.UTC), nil)
			if err != nil {
				return nil, step("reading back the event", err)
			}
			if occ != nil {
				e.RecurrenceID = formatWhen(occ.recurrenceID, sp.allDay, sp.zone)
			}
			e.Calendar, e.Href, e.ETag = cal.Name, href, newTag
			return structured(e)
		}),
	}
}

type deleteArgs struct {
	CalendarName string `json:"calendar_name"`
	EventUID     string `json:"event_uid"`
	TodoUID      string `json:"todo_uid"`
	Occurrence   string `json:"occurrence"`
}

func deleteEventTool(s store) tooldef.Tool {
	const name = "nc_calendar_delete_event"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Delete an event: the whole series of a recurring event, or with occurrence just one instance. Refused for invitations owned by another organizer."),
			mcp.WithString("calendar_name", mcp.Required(), mcp.Description("Calendar holding the event")),
			mcp.WithString("event_uid", mcp.Required(), mcp.Description("The event's UID")),
			mcp.WithString("occurrence", mcp.Description("Delete only this occurrence of a recurring event: its original start (recurrence_id from nc_calendar_list_events) or its date")),
			tooldef.Annotations(false, true, true, true),
			mcp.WithOutputSchema[deleteResult](),
		),
		Scopes: []string{"calendar:write"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a deleteArgs) (*mcp.CallToolResult, error) {
			if a.Occurrence != "" {
				return s.deleteOccurrence(ctx, a)
			}
			return s.deleteObject(ctx, a.CalendarName, ical.CompEvent, a.EventUID)
		}),
	}
}

func (s store) deleteObject(ctx context.Context, calendarName, comp, uid string) (*mcp.CallToolResult, error) {
	cal, err := oneCalendar(ctx, s, calendarName)
	if err != nil {
		return nil, err
	}
	if cal.ReadOnly {
		return nil, step("checking the calendar", fmt.Errorf("calendar %q is read-only (a subscription or shared read-only)", cal.Name))
	}
	obj, err := s.byUID(ctx, cal, comp, uid)
	if err != nil {
		return nil, step("finding the "+kindOf(comp), err)
	}
	if err := s.dav.Delete(ctx, obj.Path, obj.ETag); err != nil {
		return nil, step("deleting the "+kindOf(comp), err)
	}
	return structured(deleteResult{Deleted: true, UID: uid, Calendar: cal.Name})
}

type meetingArgs struct {
	Title           string `json:"title"`
	Date            string `json:"date"`
	Time            string `json:"time"`
	DurationMinutes *int   `json:"duration_minutes"`
	CalendarName    string `json:"calendar_name"`
	Attendees       string `json:"attendees"`
	Location        string `json:"location"`
	Description     string `json:"description"`
	ReminderMinutes *int   `json:"reminder_minutes"`
	Timezone        string `json:"timezone"`
}

func createMeetingTool(s store) tooldef.Tool {
	const name = "nc_calendar_create_meeting"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Quickly schedule a meeting from a date, a time and a duration, with attendees. Returns the stored event."),
			mcp.WithString("title", mcp.Required(), mcp.Description("Meeting title")),
			mcp.WithString("date", mcp.Required(), mcp.Description("Day of the meeting, YYYY-MM-DD")),
			mcp.WithString("time", mcp.Required(), mcp.Description("Start time, HH:MM (24h) in `timezone`")),
			mcp.WithInteger("duration_minutes", mcp.Description("Length in minutes"), mcp.DefaultNumber(60), mcp.Min(1)),
			mcp.WithString("calendar_name", mcp.Description("Calendar to add it to"), mcp.DefaultString("personal")),
			mcp.WithString("attendees", mcp.Description("Comma-separated e-mail addresses, optionally \"Name <mail>\"")),
			mcp.WithString("location", mcp.Description("Where it takes place")),
			mcp.WithString("description", mcp.Description("Agenda or notes")),
			mcp.WithInteger("reminder_minutes", mcp.Description("Reminder before the start; 0 for none"), mcp.DefaultNumber(15)),
			mcp.WithString("timezone", mcp.Description("IANA time zone of date and time (default UTC)")),
			tooldef.Annotations(false, false, false, true),
			mcp.WithOutputSchema[Event](),
		),
		Scopes: []string{"calendar:write"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a meetingArgs) (*mcp.CallToolResult, error) {
			loc, err := LoadZone(a.Timezone)
			if err != nil {
				return nil, step("checking arguments", err)
			}
			start, err := time.ParseInLocation("2006-01-02 15:04", strings.TrimSpace(a.Date)+" "+strings.TrimSpace(a.Time), loc)
			if err != nil {
				return nil, step("checking arguments", fmt.Errorf("date must be YYYY-MM-DD and time HH:MM: %w", err))
			}
			dur := 60
			if a.DurationMinutes != nil {
				dur = *a.DurationMinutes
			}
			if dur <= 0 {
				return nil, step("checking arguments", errors.New("duration_minutes must be positive"))
			}
			if a.CalendarName == "" {
				a.CalendarName = "personal"
			}
			ea := eventArgs{
				Title:           &a.Title,
				StartDatetime:   ptr(start.Format(time.RFC3339)),
				EndDatetime:     ptr(start.Add(time.Duration(dur) * time.Minute).Format(time.RFC3339)),
				Description:     &a.Description,
				Location:        &a.Location,
				Attendees:       &a.Attendees,
				ReminderMinutes: a.ReminderMinutes,
				Timezone:        ptr(loc.String()),
			}
			e, err := s.createEvent(ctx, a.CalendarName, ea.withCreateDefaults())
			if err != nil {
				return nil, err
			}
			return structured(e)
		}),
	}
}

// eventFilter narrows listed events.
type eventFilter struct {
	MinAttendees       *int    `json:"min_attendees"`
	MinDurationMinutes *int    `json:"min_duration_minutes"`
	Categories         *string `json:"categories"`
	Status             *string `json:"status"`
	TitleContains      *string `json:"title_contains"`
	LocationContains   *string `json:"location_contains"`
}

func (f eventFilter) match(e Event) bool {
	if f.MinAttendees != nil && len(e.Attendees) < *f.MinAttendees {
		return false
	}
	if f.MinDurationMinutes != nil && e.DurationMinutes < *f.MinDurationMinutes {
		return false
	}
	if f.Status != nil && *f.Status != "" && !strings.EqualFold(e.Status, *f.Status) {
		return false
	}
	if f.TitleContains != nil && !containsFold(e.Title, *f.TitleContains) {
		return false
	}
	if f.LocationContains != nil && !containsFold(e.Location, *f.LocationContains) {
		return false
	}
	if f.Categories != nil && *f.Categories != "" && !anyCategory(e.Categories, splitList(*f.Categories)) {
		return false
	}
	return true
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func anyCategory(have, want []string) bool {
	for _, w := range want {
		for _, h := range have {
			if strings.EqualFold(h, w) {
				return true
			}
		}
	}
	return false
}

type listEventsArgs struct {
	eventFilter
	CalendarName       string `json:"calendar_name"`
	StartDate          string `json:"start_date"`
	EndDate            string `json:"end_date"`
	Limit              *int   `json:"limit"`
	SearchAllCalendars bool   `json:"search_all_calendars"`
	Timezone           string `json:"timezone"`
}

func filterOptions() []mcp.ToolOption {
	return []mcp.ToolOption{
		mcp.WithInteger("min_attendees", mcp.Description("Only events with at least this many attendees")),
		mcp.WithInteger("min_duration_minutes", mcp.Description("Only events lasting at least this long")),
		mcp.WithString("categories", mcp.Description("Only events in any of these comma-separated categories")),
		mcp.WithString("status", mcp.Description("Only events with this status (CONFIRMED, TENTATIVE, CANCELLED)")),
		mcp.WithString("title_contains", mcp.Description("Only events whose title contains this text (case-insensitive)")),
		mcp.WithString("location_contains", mcp.Description("Only events whose location contains this text (case-insensitive)")),
	}
}

func listEventsTool(s store) tooldef.Tool {
	const name = "nc_calendar_list_events"
	opts := []mcp.ToolOption{
		mcp.WithDescription("List events in a time window, with recurring events expanded into their occurrences (in each event's own time zone), optionally filtered by title, location, category, status, attendee count or duration. Searches one calendar, or all when calendar_name is empty or search_all_calendars is true."),
		mcp.WithString("calendar_name", mcp.Description("Calendar to search; empty for all calendars")),
		mcp.WithString("start_date", mcp.Description("Window start, YYYY-MM-DD or a date-time (default: today)")),
		mcp.WithString("end_date", mcp.Description("Window end, inclusive day YYYY-MM-DD or a date-time (default: 30 days after the start)")),
		mcp.WithInteger("limit", mcp.Description("Maximum number of events returned"), mcp.DefaultNumber(50), mcp.Min(1)),
		mcp.WithBoolean("search_all_calendars", mcp.Description("Search every calendar even if calendar_name is given"), mcp.DefaultBool(false)),
		mcp.WithString("timezone", mcp.Description("IANA zone for dates without a time and for all-day events (default UTC)")),
	}
	opts = append(opts, filterOptions()...)
	opts = append(opts, tooldef.Annotations(true, false, true, true), mcp.WithOutputSchema[eventsResult]())
	return tooldef.Tool{
		Def:    mcp.NewTool(name, opts...),
		Scopes: []string{"calendar:read"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a listEventsArgs) (*mcp.CallToolResult, error) {
			loc, err := LoadZone(a.Timezone)
			if err != nil {
				return nil, step("checking arguments", err)
			}
			from, to, err := window(a.StartDate, a.EndDate, loc, time.Now(), 30)
			if err != nil {
				return nil, step("checking arguments", err)
			}
			limit := 50
			if a.Limit != nil {
				limit = *a.Limit
			}
			res, err := s.listEvents(ctx, a.CalendarName, a.SearchAllCalendars, from, to, loc, a.eventFilter, limit)
			if err != nil {
				return nil, err
			}
			return structured(res)
		}),
	}
}

// window reads a start and end date; an end given as a date includes
// that whole day.
func window(startS, endS string, loc *time.Location, now time.Time, defaultDays int) (time.Time, time.Time, error) {
	n := now.In(loc)
	from := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, loc)
	if startS != "" {
		t, _, err := parseWhen(startS, loc)
		if err != nil {
			return from, from, fmt.Errorf("start_date: %w", err)
		}
		from = t
	}
	to := from.AddDate(0, 0, defaultDays)
	if endS != "" {
		t, dateOnly, err := parseWhen(endS, loc)
		if err != nil {
			return from, to, fmt.Errorf("end_date: %w", err)
		}
		if dateOnly {
			t = t.AddDate(0, 0, 1)
		}
		to = t
	}
	if !to.After(from) {
		return from, to, fmt.Errorf("end_date (%s) must be after start_date (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	return from, to, nil
}

func (s store) listEvents(ctx context.Context, calendarName string, all bool, from, to time.Time, loc *time.Location, f eventFilter, limit int) (eventsResult, error) {
	cals, err := calendarsFor(ctx, s, calendarName, all, ical.CompEvent)
	if err != nil {
		return eventsResult{}, err
	}
	perCal, err := eachCalendar(ctx, cals, func(ctx context.Context, cal davclient.Calendar) ([]Event, error) {
		es, err := s.eventsIn(ctx, cal, from, to, loc)
		return es, step("listing events of "+cal.Name, err)
	})
	if err != nil {
		return eventsResult{}, err
	}
	var events []Event
	for _, es := range perCal {
		for _, e := range es {
			if f.match(e) {
				events = append(events, e)
			}
		}
	}
	sortEvents(events)
	res := eventsResult{From: from.Format(time.RFC3339), To: to.Format(time.RFC3339), Events: []Event{}}
	if limit > 0 && len(events) > limit {
		events, res.Truncated = events[:limit], true
	}
	if events != nil {
		res.Events = events
	}
	res.Count = len(res.Events)
	return res, nil
}

// eventsIn returns the occurrences of a calendar's events in [from, to).
func (s store) eventsIn(ctx context.Context, cal davclient.Calendar, from, to time.Time, loc *time.Location) ([]Event, error) {
	objs, err := s.query(ctx, cal, ical.CompEvent, from, to)
	if err != nil {
		return nil, err
	}
	var out []Event
	for _, obj := range objs {
		occs, err := expand(obj.Data, ical.CompEvent, loc, from, to)
		if err != nil {
			// One malformed object must not hide the others.
			continue
		}
		z := zonesOf(obj.Data, loc)
		for i := range occs {
			e, err := eventFrom(occs[i].comp, z, &occs[i])
			if err != nil {
				continue
			}
			e.Calendar, e.Href, e.ETag = cal.Name, obj.Path, obj.ETag
			out = append(out, e)
		}
	}
	return out, nil
}

type upcomingArgs struct {
	CalendarName string `json:"calendar_name"`
	DaysAhead    *int   `json:"days_ahead"`
	Limit        *int   `json:"limit"`
	Timezone     string `json:"timezone"`
}

func upcomingEventsTool(s store) tooldef.Tool {
	const name = "nc_calendar_get_upcoming_events"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("The next events from now on, recurring events expanded, across all calendars or one."),
			mcp.WithString("calendar_name", mcp.Description("Calendar to look at; empty for all")),
			mcp.WithInteger("days_ahead", mcp.Description("How many days ahead to look"), mcp.DefaultNumber(7), mcp.Min(1)),
			mcp.WithInteger("limit", mcp.Description("Maximum number of events"), mcp.DefaultNumber(10), mcp.Min(1)),
			mcp.WithString("timezone", mcp.Description("IANA zone for all-day events (default UTC)")),
			tooldef.Annotations(true, false, true, true),
			mcp.WithOutputSchema[eventsResult](),
		),
		Scopes: []string{"calendar:read"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a upcomingArgs) (*mcp.CallToolResult, error) {
			loc, err := LoadZone(a.Timezone)
			if err != nil {
				return nil, step("checking arguments", err)
			}
			days, limit := 7, 10
			if a.DaysAhead != nil {
				days = *a.DaysAhead
			}
			if a.Limit != nil {
				limit = *a.Limit
			}
			if days <= 0 {
				return nil, step("checking arguments", errors.New("days_ahead must be positive"))
			}
			now := time.Now().In(loc).Truncate(time.Minute)
			res, err := s.listEvents(ctx, a.CalendarName, false, now, now.AddDate(0, 0, days), loc, eventFilter{}, limit)
			if err != nil {
				return nil, err
			}
			return structured(res)
		}),
	}
}

// deleteOccurrence removes one instance of a series: an EXDATE on the
// master, written conditionally on the ETag just read.
func (s store) deleteOccurrence(ctx context.Context, a deleteArgs) (*mcp.CallToolResult, error) {
	cal, err := oneCalendar(ctx, s, a.CalendarName)
	if err != nil {
		return nil, err
	}
	if err := writable(cal, ical.CompEvent); err != nil {
		return nil, step("checking the calendar", err)
	}
	obj, err := s.byUID(ctx, cal, ical.CompEvent, a.EventUID)
	if err != nil {
		return nil, step("finding the event", err)
	}
	master := mainComponent(obj.Data, ical.CompEvent)
	o, sp, err := findOccurrence(obj.Data, master, a.Occurrence)
	if err != nil {
		return nil, step("finding the occurrence", err)
	}
	excludeOccurrence(obj.Data, master, o, sp)
	stamp(master, time.Now())
	if _, _, err := s.update(ctx, obj.Path, obj.ETag, obj.Data); err != nil {
		return nil, step("storing the event", err)
	}
	return structured(deleteResult{Deleted: true, UID: a.EventUID, Calendar: cal.Name, Occurrence: formatWhen(o.recurrenceID, sp.allDay, sp.zone)})
}
