package calendar

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav/caldav"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/mcpbackend/davclient"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

type bulkArgs struct {
	Operation          string  `json:"operation"`
	TitleContains      *string `json:"title_contains"`
	Categories         *string `json:"categories"`
	CalendarName       *string `json:"calendar_name"`
	StartDate          string  `json:"start_date"`
	EndDate            string  `json:"end_date"`
	Status             *string `json:"status"`
	LocationContains   *string `json:"location_contains"`
	NewTitle           *string `json:"new_title"`
	NewDescription     *string `json:"new_description"`
	NewLocation        *string `json:"new_location"`
	NewCategories      *string `json:"new_categories"`
	NewPriority        *int    `json:"new_priority"`
	NewReminderMinutes *int    `json:"new_reminder_minutes"`
	TargetCalendar     *string `json:"target_calendar"`
	DryRun             bool    `json:"dry_run"`
	Timezone           string  `json:"timezone"`
}

// BulkItem is one event a bulk operation selected.
type BulkItem struct {
	UID      string `json:"uid"`
	Title    string `json:"title"`
	Calendar string `json:"calendar"`
	Start    string `json:"start"`
	Error    string `json:"error,omitempty" jsonschema:"why the operation failed for this event"`
}

type bulkResult struct {
	Operation string     `json:"operation"`
	DryRun    bool       `json:"dry_run"`
	Matched   int        `json:"matched"`
	Succeeded int        `json:"succeeded"`
	Failed    int        `json:"failed"`
	Items     []BulkItem `json:"items"`
}

func bulkOperationsTool(s store) tooldef.Tool {
	const name = "nc_calendar_bulk_operations"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Update, delete or move every event matching the filters (at least one filter is required). Whole events are changed, not single occurrences; each write is conditional on the ETag just read. Use dry_run to see the selection first."),
			mcp.WithString("operation", mcp.Required(), mcp.Description("update, delete or move"), mcp.Enum("update", "delete", "move")),
			mcp.WithString("title_contains", mcp.Description("Select events whose title contains this text")),
			mcp.WithString("categories", mcp.Description("Select events in any of these comma-separated categories")),
			mcp.WithString("calendar_name", mcp.Description("Only this calendar (default: all)")),
			mcp.WithString("start_date", mcp.Description("Only events overlapping the window from this date")),
			mcp.WithString("end_date", mcp.Description("Only events overlapping the window until this day (inclusive)")),
			mcp.WithString("status", mcp.Description("Select events with this status")),
			mcp.WithString("location_contains", mcp.Description("Select events whose location contains this text")),
			mcp.WithString("new_title", mcp.Description("update: new title")),
			mcp.WithString("new_description", mcp.Description("update: new description")),
			mcp.WithString("new_location", mcp.Description("update: new location")),
			mcp.WithString("new_categories", mcp.Description("update: new comma-separated categories")),
			mcp.WithInteger("new_priority", mcp.Description("update: new priority 0-9")),
			mcp.WithInteger("new_reminder_minutes", mcp.Description("update: new reminder (0 removes reminders)")),
			mcp.WithString("target_calendar", mcp.Description("move: the calendar to move the events to")),
			mcp.WithBoolean("dry_run", mcp.Description("Only report what would be changed"), mcp.DefaultBool(false)),
			mcp.WithString("timezone", mcp.Description("IANA zone of the dates (default UTC)")),
			tooldef.Annotations(false, true, false, true),
			mcp.WithOutputSchema[bulkResult](),
		),
		Scopes: []string{"calendar:write"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a bulkArgs) (*mcp.CallToolResult, error) {
			res, err := s.bulk(ctx, a)
			if err != nil {
				return nil, err
			}
			return structured(res)
		}),
	}
}

type selected struct {
	cal davclient.Calendar
	obj caldav.CalendarObject
	ev  Event
}

func (s store) bulk(ctx context.Context, a bulkArgs) (bulkResult, error) {
	op := strings.ToLower(a.Operation)
	if op != "update" && op != "delete" && op != "move" {
		return bulkResult{}, step("checking arguments", fmt.Errorf("operation must be update, delete or move, not %q", a.Operation))
	}
	f := eventFilter{TitleContains: a.TitleContains, Categories: a.Categories, Status: a.Status, LocationContains: a.LocationContains}
	calName := ""
	if a.CalendarName != nil {
		calName = *a.CalendarName
	}
	if f == (eventFilter{}) && calName == "" && a.StartDate == "" && a.EndDate == "" {
		return bulkResult{}, step("checking arguments", errors.New("give at least one filter (title_contains, categories, calendar_name, dates, status or location_contains)"))
	}
	loc, err := LoadZone(a.Timezone)
	if err != nil {
		return bulkResult{}, step("checking arguments", err)
	}
	var from, to time.Time
	if a.StartDate != "" || a.EndDate != "" {
		if from, to, err = window(a.StartDate, a.EndDate, loc, time.Now(), 365); err != nil {
			return bulkResult{}, step("checking arguments", err)
		}
	}
	var target davclient.Calendar
	if op == "move" {
		if a.TargetCalendar == nil || *a.TargetCalendar == "" {
			return bulkResult{}, step("checking arguments", errors.New("move needs target_calendar"))
		}
		if target, err = oneCalendar(ctx, s, *a.TargetCalendar); err != nil {
			return bulkResult{}, err
		}
		if err := writable(target, ical.CompEvent); err != nil {
			return bulkResult{}, step("checking the target calendar", err)
		}
	}

	cals, err := calendarsFor(ctx, s, calName, false, ical.CompEvent)
	if err != nil {
		return bulkResult{}, err
	}
	var sel []selected
	for _, cal := range cals {
		objs, err := s.query(ctx, cal, ical.CompEvent, from, to)
		if err != nil {
			return bulkResult{}, step("selecting events of "+cal.Name, err)
		}
		for _, obj := range objs {
			c := mainComponent(obj.Data, ical.CompEvent)
			if c == nil {
				continue
			}
			e, err := eventFrom(c, zonesOf(obj.Data, loc), nil)
			if err != nil || !f.match(e) {
				continue
			}
			e.Calendar = cal.Name
			sel = append(sel, selected{cal: cal, obj: obj, ev: e})
		}
	}

	res := bulkResult{Operation: op, DryRun: a.DryRun, Matched: len(sel), Items: []BulkItem{}}
	for _, it := range sel {
		item := BulkItem{UID: it.ev.UID, Title: it.ev.Title, Calendar: it.cal.Name, Start: it.ev.Start}
		if !a.DryRun {
			if err := s.bulkOne(ctx, op, it, target, a); err != nil {
				item.Error = davclient.Explain("nc_calendar_bulk_operations", op+" "+it.ev.UID, err)
				res.Failed++
			} else {
				res.Succeeded++
			}
		}
		res.Items = append(res.Items, item)
	}
	return res, nil
}

func (s store) bulkOne(ctx context.Context, op string, it selected, target davclient.Calendar, a bulkArgs) error {
	if op != "move" && it.cal.ReadOnly {
		return fmt.Errorf("calendar %q is read-only (a subscription or shared read-only)", it.cal.Name)
	}
	switch op {
	case "delete":
		return s.dav.Delete(ctx, it.obj.Path, it.obj.ETag)
	case "update":
		c := mainComponent(it.obj.Data, ical.CompEvent)
		ea := eventArgs{
			Title: a.NewTitle, Description: a.NewDescription, Location: a.NewLocation,
			Categories: a.NewCategories, Priority: a.NewPriority, ReminderMinutes: a.NewReminderMinutes,
		}
		if err := applyEvent(it.obj.Data, c, ea, time.Now()); err != nil {
			return err
		}
		_, _, err := s.update(ctx, it.obj.Path, it.obj.ETag, it.obj.Data)
		return err
	case "move":
		if it.cal.Href == target.Href {
			return nil
		}
		if _, _, err := s.create(ctx, target, newUID(), it.obj.Data); err != nil {
			return fmt.Errorf("copying to %s: %w", target.Name, err)
		}
		return s.dav.Delete(ctx, it.obj.Path, it.obj.ETag)
	}
	return nil
}
