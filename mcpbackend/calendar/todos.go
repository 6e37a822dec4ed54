package calendar

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav/caldav"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/mcpbackend/davclient"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

var todoStatuses = []string{"NEEDS-ACTION", "IN-PROCESS", "COMPLETED", "CANCELLED"}

type todoArgs struct {
	CalendarName    string      `json:"calendar_name"`
	TodoUID         string      `json:"todo_uid"`
	Summary         *string     `json:"summary"`
	Description     *string     `json:"description"`
	Status          *string     `json:"status"`
	Priority        *int        `json:"priority"`
	PercentComplete *int        `json:"percent_complete"`
	Due             *string     `json:"due"`
	DTStart         *string     `json:"dtstart"`
	Completed       *string     `json:"completed"`
	Categories      *string     `json:"categories"`
	Reminders       *[]Reminder `json:"reminders"`
	Timezone        string      `json:"timezone"`
	ETag            string      `json:"etag"`
}

// applyTodo writes the given arguments into the VTODO c. Status,
// PERCENT-COMPLETE and COMPLETED are kept consistent (RFC 5545 §3.8.1.8,
// §3.8.2.1): completing sets 100% and a completion time, reopening clears
// it.
func applyTodo(cal *ical.Calendar, c *ical.Component, a todoArgs, now time.Time) error {
	loc, err := LoadZone(a.Timezone)
	if err != nil {
		return err
	}
	if a.Summary != nil {
		if strings.TrimSpace(*a.Summary) == "" {
			return errors.New("summary must not be empty")
		}
		c.Props.SetText(ical.PropSummary, *a.Summary)
	}
	if a.Description != nil {
		setText(c, ical.PropDescription, *a.Description)
	}
	if a.Priority != nil {
		if *a.Priority < 0 || *a.Priority > 9 {
			return fmt.Errorf("priority must be 0 (undefined) to 9, not %d", *a.Priority)
		}
		setInt(c, ical.PropPriority, *a.Priority)
	}
	if a.Categories != nil {
		setCategories(c, splitList(*a.Categories))
	}
	for _, d := range []struct {
		v    *string
		prop string
		name string
	}{{a.Due, ical.PropDue, "due"}, {a.DTStart, ical.PropDateTimeStart, "dtstart"}} {
		if d.v == nil {
			continue
		}
		if *d.v == "" {
			c.Props.Del(d.prop)
			continue
		}
		t, dateOnly, err := parseWhen(*d.v, loc)
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		if dateOnly {
			t = dayOf(t)
		}
		setWhen(cal, c, d.prop, t, dateOnly)
	}
	if a.Status != nil {
		st, err := oneOf("status", *a.Status, todoStatuses)
		if err != nil {
			return err
		}
		c.Props.SetText(ical.PropStatus, st)
		switch st {
		case "COMPLETED":
			if a.PercentComplete == nil {
				setInt(c, ical.PropPercentComplete, 100)
			}
			if a.Completed == nil && c.Props.Get(ical.PropCompleted) == nil {
				c.Props.SetDateTime(ical.PropCompleted, now.UTC().Truncate(time.Second))
			}
		case "NEEDS-ACTION", "IN-PROCESS":
			if a.Completed == nil {
				c.Props.Del(ical.PropCompleted)
			}
			if a.PercentComplete == nil && integer(c, ical.PropPercentComplete) == 100 {
				setInt(c, ical.PropPercentComplete, 0)
			}
		}
	}
	if a.PercentComplete != nil {
		if *a.PercentComplete < 0 || *a.PercentComplete > 100 {
			return fmt.Errorf("percent_complete must be 0 to 100, not %d", *a.PercentComplete)
		}
		setInt(c, ical.PropPercentComplete, *a.PercentComplete)
	}
	if a.Completed != nil {
		if *a.Completed == "" {
			c.Props.Del(ical.PropCompleted)
		} else {
			t, _, err := parseWhen(*a.Completed, loc)
			if err != nil {
				return fmt.Errorf("completed: %w", err)
			}
			c.Props.SetDateTime(ical.PropCompleted, t.UTC())
		}
	}
	if a.Reminders != nil {
		if len(*a.Reminders) > 0 && c.Props.Get(ical.PropDue) == nil && c.Props.Get(ical.PropDateTimeStart) == nil {
			return errors.New("reminders on a task need a due date or dtstart to be relative to")
		}
		setReminders(c, *a.Reminders, text(c, ical.PropSummary))
		if c.Props.Get(ical.PropDue) != nil {
			// Task alarms count back from the due time (RFC 5545 §3.8.6.3).
			for _, al := range c.Children {
				if p := al.Props.Get(ical.PropTrigger); al.Name == ical.CompAlarm && p != nil {
					p.Params.Set(ical.ParamRelated, "END")
				}
			}
		}
	}
	stamp(c, now)
	dropUnusedTimezones(cal)
	return nil
}

func todoSchema(opts ...mcp.ToolOption) []mcp.ToolOption {
	return append(opts,
		mcp.WithString("description", mcp.Description("Details")),
		mcp.WithString("status", mcp.Description("NEEDS-ACTION, IN-PROCESS, COMPLETED or CANCELLED"), mcp.Enum(todoStatuses...)),
		mcp.WithInteger("priority", mcp.Description("0 (undefined), 1 (highest) to 9 (lowest)"), mcp.Min(0), mcp.Max(9)),
		mcp.WithString("due", mcp.Description("Due date (YYYY-MM-DD) or date-time; empty string removes it")),
		mcp.WithString("dtstart", mcp.Description("Start date or date-time; empty string removes it")),
		mcp.WithString("categories", mcp.Description("Comma-separated categories")),
		mcp.WithString("timezone", mcp.Description("IANA zone of times without an offset (default UTC)")),
		mcp.WithArray("reminders", mcp.Description("Reminders relative to the due time (or the start)"),
			mcp.Items(map[string]any{
				"type": "object",
				"properties": map[string]any{
					"minutes_before": map[string]any{"type": "integer", "description": "minutes before the due time"},
					"action":         map[string]any{"type": "string", "enum": []string{"DISPLAY", "EMAIL"}},
				},
				"required": []string{"minutes_before"},
			})),
	)
}

func createTodoTool(s store) tooldef.Tool {
	const name = "nc_calendar_create_todo"
	opts := todoSchema(
		mcp.WithDescription("Create a task (VTODO) in a calendar that accepts tasks. Without calendar_name the task goes to the first writable calendar whose components include VTODO (Nextcloud's default personal calendar takes only events)."),
		mcp.WithString("calendar_name", mcp.Description("Calendar to add the task to; it must accept VTODO (see nc_calendar_list_calendars). Default: the first writable calendar that does")),
		mcp.WithString("summary", mcp.Required(), mcp.Description("What is to be done")),
	)
	opts = append(opts, tooldef.Annotations(false, false, false, true), mcp.WithOutputSchema[Todo]())
	return tooldef.Tool{
		Def:    mcp.NewTool(name, opts...),
		Scopes: []string{"todo:write"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a todoArgs) (*mcp.CallToolResult, error) {
			if a.Summary == nil {
				return nil, step("checking arguments", errors.New("summary is required"))
			}
			cal, err := todoCalendar(ctx, s, a.CalendarName)
			if err != nil {
				return nil, err
			}
			if err := writable(cal, ical.CompToDo); err != nil {
				return nil, step("checking the calendar", err)
			}
			if a.Status == nil {
				a.Status = ptr("NEEDS-ACTION")
			}
			uid := newUID()
			c := ical.NewComponent(ical.CompToDo)
			c.Props.SetText(ical.PropUID, uid)
			obj := newCalendarObject(c)
			if err := applyTodo(obj, c, a, time.Now()); err != nil {
				return nil, step("building the task", err)
			}
			href, etag, err := s.create(ctx, cal, uid, obj)
			if err != nil {
				return nil, step("storing the task", err)
			}
			t := todoFrom(c, zonesOf(obj, time.UTC))
			t.Calendar, t.Href, t.ETag = cal.Name, href, etag
			return structured(t)
		}),
	}
}

// createCalendarCall is the exact call that makes a calendar for tasks.
const createCalendarCall = `nc_calendar_manage_calendar {"action": "create", "display_name": "Tasks"}`

// todoCalendar is the named calendar, or the first one a new task can go
// to: writable, not generated by an app (Deck's board calendars take
// VTODO but are read-only), and accepting VTODO. Nextcloud 34 creates a
// user's personal calendar for VEVENT only, so a first-time user has none
// unless they make one; the error says how.
func todoCalendar(ctx context.Context, s store, name string) (davclient.Calendar, error) {
	if name != "" {
		return oneCalendar(ctx, s, name)
	}
	// The user's recent listing will do for choosing where a new task
	// goes; without one that takes tasks, ask the server before saying
	// there is none.
	cals, err := s.dav.CachedCalendars(ctx)
	if err == nil && !slices.ContainsFunc(cals, takesTasks) {
		cals, err = s.dav.Calendars(ctx)
	}
	if err != nil {
		return davclient.Calendar{}, step("listing calendars", err)
	}
	var names []string
	for _, c := range cals {
		if takesTasks(c) {
			return c, nil
		}
		names = append(names, fmt.Sprintf("%s %v", c.Name, c.Components))
	}
	return davclient.Calendar{}, step("choosing a calendar", fmt.Errorf("no calendar accepts tasks (VTODO) and is writable (calendars: %s); create one with %s and call nc_calendar_create_todo again",
		strings.Join(names, ", "), createCalendarCall))
}

// takesTasks tells whether a new task may go to c.
func takesTasks(c davclient.Calendar) bool {
	return !c.ReadOnly && !c.Subscription && !strings.HasPrefix(c.Name, "app-generated--") && c.Accepts(ical.CompToDo)
}

func updateTodoTool(s store) tooldef.Tool {
	const name = "nc_calendar_update_todo"
	opts := todoSchema(
		mcp.WithDescription("Change a task; only the fields given change. Conditional on the task's ETag, so concurrent changes are reported, not overwritten."),
		mcp.WithString("calendar_name", mcp.Required(), mcp.Description("Calendar holding the task")),
		mcp.WithString("todo_uid", mcp.Required(), mcp.Description("The task's UID")),
		mcp.WithString("summary", mcp.Description("New summary")),
		mcp.WithInteger("percent_complete", mcp.Description("Progress 0-100"), mcp.Min(0), mcp.Max(100)),
		mcp.WithString("completed", mcp.Description("Completion date-time; empty string clears it")),
		mcp.WithString("etag", mcp.Description("ETag from a previous read; the update fails if the task changed since")),
	)
	opts = append(opts, tooldef.Annotations(false, false, false, true), mcp.WithOutputSchema[Todo]())
	return tooldef.Tool{
		Def:    mcp.NewTool(name, opts...),
		Scopes: []string{"todo:write"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a todoArgs) (*mcp.CallToolResult, error) {
			return s.changeTodo(ctx, a)
		}),
	}
}

func (s store) changeTodo(ctx context.Context, a todoArgs) (*mcp.CallToolResult, error) {
	cal, err := oneCalendar(ctx, s, a.CalendarName)
	if err != nil {
		return nil, err
	}
	if cal.ReadOnly {
		return nil, step("checking the calendar", fmt.Errorf("calendar %q is read-only (a subscription or shared read-only)", cal.Name))
	}
	obj, err := s.byUID(ctx, cal, ical.CompToDo, a.TodoUID)
	if err != nil {
		return nil, step("finding the task", err)
	}
	c := mainComponent(obj.Data, ical.CompToDo)
	if err := applyTodo(obj.Data, c, a, time.Now()); err != nil {
		return nil, step("changing the task", err)
	}
	etag := obj.ETag
	if a.ETag != "" {
		etag = davclient.UnquoteETag(a.ETag)
	}
	href, newTag, err := s.update(ctx, obj.Path, etag, obj.Data)
	if err != nil {
		return nil, step("storing the task", err)
	}
	t := todoFrom(c, zonesOf(obj.Data, time.UTC))
	t.Calendar, t.Href, t.ETag = cal.Name, href, newTag
	return structured(t)
}

type completeArgs struct {
	CalendarName string `json:"calendar_name"`
	TodoUID      string `json:"todo_uid"`
	Completed    string `json:"completed"`
	ETag         string `json:"etag"`
}

func completeTodoTool(s store) tooldef.Tool {
	const name = "nc_calendar_complete_todo"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Mark a task as done: STATUS COMPLETED, PERCENT-COMPLETE 100 and the completion time."),
			mcp.WithString("calendar_name", mcp.Required(), mcp.Description("Calendar holding the task")),
			mcp.WithString("todo_uid", mcp.Required(), mcp.Description("The task's UID")),
			mcp.WithString("completed", mcp.Description("When it was completed (default: now)")),
			mcp.WithString("etag", mcp.Description("ETag from a previous read; fails if the task changed since")),
			tooldef.Annotations(false, false, true, true),
			mcp.WithOutputSchema[Todo](),
		),
		Scopes: []string{"todo:write"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a completeArgs) (*mcp.CallToolResult, error) {
			ta := todoArgs{
				CalendarName: a.CalendarName, TodoUID: a.TodoUID, ETag: a.ETag,
				Status: ptr("COMPLETED"), PercentComplete: ptr(100),
			}
			if a.Completed != "" {
				ta.Completed = &a.Completed
			} else {
				ta.Completed = ptr(time.Now().UTC().Format(time.RFC3339))
			}
			return s.changeTodo(ctx, ta)
		}),
	}
}

func deleteTodoTool(s store) tooldef.Tool {
	const name = "nc_calendar_delete_todo"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Delete a task."),
			mcp.WithString("calendar_name", mcp.Required(), mcp.Description("Calendar holding the task")),
			mcp.WithString("todo_uid", mcp.Required(), mcp.Description("The task's UID")),
			tooldef.Annotations(false, true, true, true),
			mcp.WithOutputSchema[deleteResult](),
		),
		Scopes: []string{"todo:write"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a deleteArgs) (*mcp.CallToolResult, error) {
			return s.deleteObject(ctx, a.CalendarName, ical.CompToDo, a.TodoUID)
		}),
	}
}

type todoFilter struct {
	CalendarName    string  `json:"calendar_name"`
	Status          *string `json:"status"`
	MinPriority     *int    `json:"min_priority"`
	Categories      *string `json:"categories"`
	SummaryContains *string `json:"summary_contains"`
}

func (f todoFilter) match(t Todo) bool {
	if f.Status != nil && *f.Status != "" && !strings.EqualFold(t.Status, *f.Status) {
		return false
	}
	if f.MinPriority != nil && *f.MinPriority > 0 && (t.Priority == 0 || t.Priority > *f.MinPriority) {
		return false
	}
	if f.Categories != nil && *f.Categories != "" && !anyCategory(t.Categories, splitList(*f.Categories)) {
		return false
	}
	if f.SummaryContains != nil && !containsFold(t.Summary, *f.SummaryContains) {
		return false
	}
	return true
}

type todosResult struct {
	Todos []Todo `json:"todos"`
	Count int    `json:"count"`
}

func todoFilterOptions() []mcp.ToolOption {
	return []mcp.ToolOption{
		mcp.WithString("status", mcp.Description("Only tasks with this status"), mcp.Enum(todoStatuses...)),
		mcp.WithInteger("min_priority", mcp.Description("Only tasks at least this important: priority 1 (highest) up to this value; tasks without priority are left out"), mcp.Min(1), mcp.Max(9)),
		mcp.WithString("categories", mcp.Description("Only tasks in any of these comma-separated categories")),
		mcp.WithString("summary_contains", mcp.Description("Only tasks whose summary contains this text (case-insensitive)")),
	}
}

func listTodosTool(s store) tooldef.Tool {
	const name = "nc_calendar_list_todos"
	opts := append([]mcp.ToolOption{
		mcp.WithDescription("List the tasks of one calendar, completed ones included, optionally filtered."),
		mcp.WithString("calendar_name", mcp.Required(), mcp.Description("Calendar to list")),
	}, todoFilterOptions()...)
	opts = append(opts, tooldef.Annotations(true, false, true, true), mcp.WithOutputSchema[todosResult]())
	return tooldef.Tool{
		Def:    mcp.NewTool(name, opts...),
		Scopes: []string{"todo:read"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, f todoFilter) (*mcp.CallToolResult, error) {
			if f.CalendarName == "" {
				return nil, step("checking arguments", errors.New("calendar_name is required"))
			}
			return s.todos(ctx, f)
		}),
	}
}

func searchTodosTool(s store) tooldef.Tool {
	const name = "nc_calendar_search_todos"
	opts := append([]mcp.ToolOption{
		mcp.WithDescription("Search tasks across every calendar that holds tasks."),
	}, todoFilterOptions()...)
	opts = append(opts, tooldef.Annotations(true, false, true, true), mcp.WithOutputSchema[todosResult]())
	return tooldef.Tool{
		Def:    mcp.NewTool(name, opts...),
		Scopes: []string{"todo:read"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, f todoFilter) (*mcp.CallToolResult, error) {
			f.CalendarName = ""
			return s.todos(ctx, f)
		}),
	}
}

func (s store) todos(ctx context.Context, f todoFilter) (*mcp.CallToolResult, error) {
	cals, err := calendarsFor(ctx, s, f.CalendarName, false, ical.CompToDo)
	if err != nil {
		return nil, err
	}
	perCal, err := eachCalendar(ctx, cals, func(ctx context.Context, cal davclient.Calendar) ([]Todo, error) {
		objs, err := s.todoObjects(ctx, cal, f)
		if err != nil {
			return nil, step("listing tasks of "+cal.Name, err)
		}
		var out []Todo
		for _, obj := range objs {
			c := mainComponent(obj.Data, ical.CompToDo)
			if c == nil {
				continue
			}
			t := todoFrom(c, zonesOf(obj.Data, time.UTC))
			t.Calendar, t.Href, t.ETag = cal.Name, obj.Path, obj.ETag
			if f.match(t) {
				out = append(out, t)
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	res := todosResult{Todos: []Todo{}}
	for _, ts := range perCal {
		res.Todos = append(res.Todos, ts...)
	}
	res.Count = len(res.Todos)
	return structured(res)
}

// todoObjects returns the task objects of cal that f may accept: with
// summary_contains in ASCII, the server filters them by summary
// (calendar-query text-match), so a search does not download every task
// of every calendar; f.match still decides. Text beyond ASCII, whose case
// the standard collation does not fold, and servers refusing the filter
// get every task.
func (s store) todoObjects(ctx context.Context, cal davclient.Calendar, f todoFilter) ([]caldav.CalendarObject, error) {
	if f.SummaryContains != nil && *f.SummaryContains != "" && isASCII(*f.SummaryContains) {
		objs, err := s.dav.CalendarObjectsContaining(ctx, cal.Href, ical.CompToDo, ical.PropSummary, *f.SummaryContains)
		if err == nil {
			return objs, nil
		}
		if st := davclient.StatusOf(err); st != http.StatusBadRequest && st != http.StatusForbidden && st != http.StatusNotImplemented && st < 500 {
			return nil, err
		}
	}
	return s.query(ctx, cal, ical.CompToDo, time.Time{}, time.Time{})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
