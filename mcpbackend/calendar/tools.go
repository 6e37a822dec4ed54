// Package calendar holds the Calendar (events) and Tasks (VTODO) tools of
// the Nextcloud MCP backend, over standard CalDAV.
package calendar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/scopegate/scopegate/mcpbackend/davclient"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

// app is the Nextcloud app serving CalDAV.
const app = "dav"

// Tools returns the 17 calendar and task tools for a Nextcloud client; its
// signature is the backend's tool-family constructor.
func Tools(c *nextcloud.Client) []tooldef.Tool {
	d, err := davclient.FromNextcloud(c)
	if err != nil {
		// Unreachable: nextcloud.New accepts only absolute http(s) URLs,
		// which is all davclient.New checks.
		return nil
	}
	return ToolsFor(d)
}

// ToolsWithConfig returns the calendar and task tools for any CalDAV/CardDAV server.
func ToolsWithConfig(cfg davclient.Config) ([]tooldef.Tool, error) {
	d, err := davclient.New(cfg)
	if err != nil {
		return nil, err
	}
	return ToolsFor(d), nil
}

// ToolsFor returns the calendar and task tools on an existing client, so
// several families can share one discovery cache.
func ToolsFor(c *davclient.Client) []tooldef.Tool {
	s := store{dav: c}
	tools := []tooldef.Tool{
		listCalendarsTool(s),
		createEventTool(s),
		listEventsTool(s),
		getEventTool(s),
		updateEventTool(s),
		deleteEventTool(s),
		createMeetingTool(s),
		upcomingEventsTool(s),
		findAvailabilityTool(s),
		bulkOperationsTool(s),
		manageCalendarTool(s),
		listTodosTool(s),
		createTodoTool(s),
		updateTodoTool(s),
		completeTodoTool(s),
		deleteTodoTool(s),
		searchTodosTool(s),
	}
	for i := range tools {
		tooldef.NullableOptionals(&tools[i].Def)
	}
	return tools
}

// handler adapts a typed handler: arguments are bound into A, and an
// error returned by fn becomes a tool error ("<tool> failed: ...") the
// model can act on.
func handler[A any](tool string, fn func(ctx context.Context, args A) (*mcp.CallToolResult, error)) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args A
		if err := req.BindArguments(&args); err != nil {
			return mcp.NewToolResultError(fmt.Sprintf("%s: invalid arguments: %v", tool, err)), nil
		}
		res, err := fn(ctx, args)
		if err != nil {
			return failure(tool, err), nil
		}
		return res, nil
	}
}

// stepError says which step of a tool failed.
type stepError struct {
	what string
	err  error
}

func (e *stepError) Error() string { return e.what + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// step labels err with what was being done.
func step(what string, err error) error {
	if err == nil {
		return nil
	}
	return &stepError{what: what, err: err}
}

func failure(tool string, err error) *mcp.CallToolResult {
	what := "request"
	if se, ok := errors.AsType[*stepError](err); ok {
		what, err = se.what, se.err
	}
	return davclient.ToolError(tool, what, err)
}

// structured returns v as structured content with a JSON text fallback for
// clients that only read text.
func structured(v any) (*mcp.CallToolResult, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding result: %w", err)
	}
	return mcp.NewToolResultStructured(v, string(b)), nil
}

// calendarsFor resolves calendar_name, or all calendars accepting comp
// when it is empty or all is set.
//
// A named calendar is resolved from the user's recent listing
// (davclient.FindCalendar), which spares Nextcloud's most expensive
// request before an operation on one calendar; a scan of every calendar
// lists them afresh.
func calendarsFor(ctx context.Context, s store, name string, all bool, comp string) ([]davclient.Calendar, error) {
	if name != "" && !all {
		cal, err := s.dav.FindCalendar(ctx, name)
		if _, missing := errors.AsType[*davclient.NotFoundError](err); missing {
			return nil, step("finding the calendar", err)
		}
		if err != nil {
			return nil, step("listing calendars", err)
		}
		return []davclient.Calendar{cal}, nil
	}
	cals, err := s.dav.Calendars(ctx)
	if err != nil {
		return nil, step("listing calendars", err)
	}
	var out []davclient.Calendar
	for _, cal := range cals {
		if cal.Accepts(comp) {
			out = append(out, cal)
		}
	}
	return out, nil
}

func oneCalendar(ctx context.Context, s store, name string) (davclient.Calendar, error) {
	if name == "" {
		return davclient.Calendar{}, errors.New("calendar_name is required")
	}
	cals, err := calendarsFor(ctx, s, name, false, "")
	if err != nil {
		return davclient.Calendar{}, err
	}
	return cals[0], nil
}

// parallelCalendars bounds the requests one tool call has in flight.
const parallelCalendars = 4

// eachCalendar runs fn for every calendar, a few at a time, and returns
// the results in calendar order, or the error of the first calendar that
// failed.
func eachCalendar[T any](ctx context.Context, cals []davclient.Calendar, fn func(context.Context, davclient.Calendar) (T, error)) ([]T, error) {
	out := make([]T, len(cals))
	errs := make([]error, len(cals))
	sem := make(chan struct{}, parallelCalendars)
	var wg sync.WaitGroup
	for i, cal := range cals {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i], errs[i] = fn(ctx, cal)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
