package calendar

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/mcpbackend/davclient"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

type availabilityArgs struct {
	DurationMinutes    int    `json:"duration_minutes"`
	Attendees          string `json:"attendees"`
	DateRangeStart     string `json:"date_range_start"`
	DateRangeEnd       string `json:"date_range_end"`
	BusinessHoursOnly  *bool  `json:"business_hours_only"`
	ExcludeWeekends    *bool  `json:"exclude_weekends"`
	PreferredTimes     string `json:"preferred_times"`
	Timezone           string `json:"timezone"`
	BusinessHoursStart string `json:"business_hours_start"`
	BusinessHoursEnd   string `json:"business_hours_end"`
	MaxSlots           *int   `json:"max_slots"`
}

type availabilityResult struct {
	Slots           []Slot   `json:"slots" jsonschema:"free periods at least duration_minutes long, earliest first"`
	DurationMinutes int      `json:"duration_minutes"`
	From            string   `json:"from"`
	To              string   `json:"to"`
	TimeZone        string   `json:"timezone"`
	BusyPeriods     int      `json:"busy_periods" jsonschema:"number of busy periods found in the window"`
	Calendars       []string `json:"calendars" jsonschema:"calendars whose events were treated as busy"`
	// AttendeesChecked are the attendees whose busy time the server
	// disclosed and the slots respect; the others are in Note.
	AttendeesChecked []string `json:"attendees_checked,omitempty" jsonschema:"attendees whose busy time was taken into account"`
	Note             string   `json:"note,omitempty" jsonschema:"what could not be taken into account"`
}

func findAvailabilityTool(s store) tooldef.Tool {
	const name = "nc_calendar_find_availability"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Find free time for a meeting of the given length: collects busy time from every calendar of the user (recurring events expanded; cancelled, transparent and all-day events do not block) and, where the server shares it, the attendees' busy time, then returns the free periods within business hours (or the whole day), skipping weekends if asked."),
			mcp.WithInteger("duration_minutes", mcp.Required(), mcp.Description("Length of the meeting in minutes"), mcp.Min(1)),
			mcp.WithString("attendees", mcp.Description("Comma-separated e-mail addresses of attendees whose busy time should be respected too, where the server shares it (Nextcloud does for its users)")),
			mcp.WithString("date_range_start", mcp.Description("Search from this date or date-time (default: now)")),
			mcp.WithString("date_range_end", mcp.Description("Search until this day, inclusive, or date-time (default: 7 days after the start)")),
			mcp.WithBoolean("business_hours_only", mcp.Description("Only within business hours (default 09:00-17:00)"), mcp.DefaultBool(true)),
			mcp.WithBoolean("exclude_weekends", mcp.Description("Skip Saturdays and Sundays"), mcp.DefaultBool(true)),
			mcp.WithString("preferred_times", mcp.Description("morning (08-12), afternoon (12-17), evening (17-21) or HH:MM-HH:MM")),
			mcp.WithString("timezone", mcp.Description("IANA zone the hours and dates are meant in (default UTC)")),
			mcp.WithString("business_hours_start", mcp.Description("Start of business hours, HH:MM"), mcp.DefaultString("09:00")),
			mcp.WithString("business_hours_end", mcp.Description("End of business hours, HH:MM"), mcp.DefaultString("17:00")),
			mcp.WithInteger("max_slots", mcp.Description("Maximum number of free periods returned"), mcp.DefaultNumber(10), mcp.Min(1)),
			tooldef.Annotations(true, false, true, true),
			mcp.WithOutputSchema[availabilityResult](),
		),
		Scopes: []string{"calendar:read"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a availabilityArgs) (*mcp.CallToolResult, error) {
			o, err := a.options(time.Now())
			if err != nil {
				return nil, step("checking arguments", err)
			}
			attendees, err := parseAttendees(a.Attendees)
			if err != nil {
				return nil, step("checking arguments", err)
			}
			res, err := s.findAvailability(ctx, o, attendees)
			if err != nil {
				return nil, err
			}
			return structured(res)
		}),
	}
}

func (a availabilityArgs) options(now time.Time) (availabilityOptions, error) {
	var o availabilityOptions
	if a.DurationMinutes <= 0 {
		return o, errors.New("duration_minutes must be positive")
	}
	loc, err := LoadZone(a.Timezone)
	if err != nil {
		return o, err
	}
	o.loc = loc
	o.duration = time.Duration(a.DurationMinutes) * time.Minute
	o.businessHours = a.BusinessHoursOnly == nil || *a.BusinessHoursOnly
	o.skipWeekends = a.ExcludeWeekends == nil || *a.ExcludeWeekends
	o.dayStart, o.dayEnd = 9*time.Hour, 17*time.Hour
	if a.BusinessHoursStart != "" {
		if o.dayStart, err = clock(a.BusinessHoursStart); err != nil {
			return o, errors.New("business_hours_start must be HH:MM")
		}
	}
	if a.BusinessHoursEnd != "" {
		if o.dayEnd, err = clock(a.BusinessHoursEnd); err != nil {
			return o, errors.New("business_hours_end must be HH:MM")
		}
	}
	if o.dayEnd <= o.dayStart {
		return o, errors.New("business hours must end after they start")
	}
	if o.prefStart, o.prefEnd, err = parsePreferred(a.PreferredTimes); err != nil {
		return o, err
	}
	o.from = now.In(loc).Truncate(time.Minute)
	if a.DateRangeStart != "" {
		t, _, err := parseWhen(a.DateRangeStart, loc)
		if err != nil {
			return o, err
		}
		o.from = t
	}
	o.to = o.from.AddDate(0, 0, 7)
	if a.DateRangeEnd != "" {
		t, dateOnly, err := parseWhen(a.DateRangeEnd, loc)
		if err != nil {
			return o, err
		}
		if dateOnly {
			t = t.AddDate(0, 0, 1)
		}
		o.to = t
	}
	if !o.to.After(o.from) {
		return o, errors.New("date_range_end must be after date_range_start")
	}
	o.maxSlots = 10
	if a.MaxSlots != nil && *a.MaxSlots > 0 {
		o.maxSlots = *a.MaxSlots
	}
	return o, nil
}

func (s store) findAvailability(ctx context.Context, o availabilityOptions, attendees []Attendee) (availabilityResult, error) {
	cals, err := calendarsFor(ctx, s, "", true, ical.CompEvent)
	if err != nil {
		return availabilityResult{}, err
	}
	res := availabilityResult{
		DurationMinutes: int(o.duration / time.Minute),
		From:            o.from.Format(time.RFC3339),
		To:              o.to.Format(time.RFC3339),
		TimeZone:        o.loc.String(),
		Slots:           []Slot{},
		Calendars:       []string{},
	}
	perCal, err := eachCalendar(ctx, cals, func(ctx context.Context, cal davclient.Calendar) ([]Event, error) {
		es, err := s.eventsIn(ctx, cal, o.from, o.to, o.loc)
		return es, step("reading busy times of "+cal.Name, err)
	})
	if err != nil {
		return availabilityResult{}, err
	}
	var busy []interval
	for i, es := range perCal {
		res.Calendars = append(res.Calendars, cals[i].Name)
		for _, e := range es {
			if iv, ok := busyInterval(e); ok {
				busy = append(busy, iv)
			}
		}
	}
	if len(attendees) > 0 {
		others, note := s.attendeesBusy(ctx, attendees, o)
		for _, a := range others {
			res.AttendeesChecked = append(res.AttendeesChecked, a.Attendee)
			for _, b := range a.Busy {
				busy = append(busy, interval{b.Start, b.End})
			}
		}
		res.Note = note
	}
	res.BusyPeriods = len(mergeIntervals(busy))
	for _, gap := range freeSlots(busy, o) {
		res.Slots = append(res.Slots, Slot{
			Start:           gap.start.In(o.loc).Format(time.RFC3339),
			End:             gap.end.In(o.loc).Format(time.RFC3339),
			DurationMinutes: int(gap.end.Sub(gap.start) / time.Minute),
		})
	}
	return res, nil
}

// busyInterval tells whether an occurrence blocks time. All-day events
// (holidays, birthdays, "working from home") usually do not, and RFC 5545
// lets TRANSP:TRANSPARENT and CANCELLED events say so explicitly.
func busyInterval(e Event) (interval, bool) {
	if e.AllDay || e.Transparent || e.Status == "CANCELLED" {
		return interval{}, false
	}
	start, err1 := time.Parse(time.RFC3339, e.Start)
	end, err2 := time.Parse(time.RFC3339, e.End)
	if err1 != nil || err2 != nil {
		return interval{}, false
	}
	return interval{start, end}, true
}

// attendeesBusy asks the server for the attendees' busy time (CalDAV
// scheduling, which Nextcloud offers for its users); what it cannot learn
// is said in the note rather than failing the search.
func (s store) attendeesBusy(ctx context.Context, attendees []Attendee, o availabilityOptions) ([]davclient.FreeBusyAnswer, string) {
	emails := make([]string, 0, len(attendees))
	for _, a := range attendees {
		emails = append(emails, a.Email)
	}
	answers, err := s.dav.FreeBusy(ctx, emails, o.from, o.to)
	if err != nil {
		return nil, "The attendees' busy times were not included: " + davclient.Explain("nc_calendar_find_availability", "asking their free/busy time", err)
	}
	var (
		ok      []davclient.FreeBusyAnswer
		missing []string
	)
	for _, a := range answers {
		if a.Err != nil {
			missing = append(missing, a.Attendee+" ("+a.Err.Error()+")")
			continue
		}
		ok = append(ok, a)
	}
	if len(missing) > 0 {
		return ok, "Busy times unknown for: " + strings.Join(missing, "; ") + ". The slots do not account for them."
	}
	return ok, ""
}
