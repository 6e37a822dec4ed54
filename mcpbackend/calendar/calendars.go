package calendar

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/mcpbackend/davclient"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

type calendarsResult struct {
	Calendars []davclient.Calendar `json:"calendars"`
}

func listCalendarsTool(s store) tooldef.Tool {
	const name = "nc_calendar_list_calendars"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("List the user's calendars and subscriptions: name (used by the other tools), display name, colour, description, the components each accepts (VEVENT events, VTODO tasks) and whether it is read-only."),
			tooldef.Annotations(true, false, true, true),
			mcp.WithOutputSchema[calendarsResult](),
		),
		Scopes: []string{"calendar:read"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, _ struct{}) (*mcp.CallToolResult, error) {
			cals, err := s.dav.Calendars(ctx)
			if err != nil {
				return nil, step("listing calendars", err)
			}
			if cals == nil {
				cals = []davclient.Calendar{}
			}
			return structured(calendarsResult{Calendars: cals})
		}),
	}
}

type manageArgs struct {
	Action       string `json:"action"`
	CalendarName string `json:"calendar_name"`
	DisplayName  string `json:"display_name"`
	Description  string `json:"description"`
	Color        string `json:"color"`
}

type manageResult struct {
	Action    string               `json:"action"`
	Calendar  *davclient.Calendar  `json:"calendar,omitempty" jsonschema:"the created or updated calendar"`
	Calendars []davclient.Calendar `json:"calendars,omitempty" jsonschema:"for list: all calendars"`
	Deleted   string               `json:"deleted,omitempty" jsonschema:"for delete: the deleted calendar's name"`
}

var slugUnsafe = regexp.MustCompile(`[^a-z0-9_-]+`)

// slug derives a collection name from a display name.
func slug(s string) string {
	return strings.Trim(slugUnsafe.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

func manageCalendarTool(s store) tooldef.Tool {
	const name = "nc_calendar_manage_calendar"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Create, update, delete or list calendars. create makes a calendar for events and tasks and waits until the server shows it; update renames, describes or recolours one; delete removes a calendar with everything in it."),
			mcp.WithString("action", mcp.Required(), mcp.Description("create, update, delete or list"), mcp.Enum("create", "update", "delete", "list")),
			mcp.WithString("calendar_name", mcp.Description("Name (URL segment) of the calendar; for create derived from display_name when empty")),
			mcp.WithString("display_name", mcp.Description("Display name (create, update)")),
			mcp.WithString("description", mcp.Description("Description (create, update)")),
			mcp.WithString("color", mcp.Description("Colour, #RRGGBB (create: default #1976D2; update: only when given)"), mcp.DefaultString("#1976D2")),
			tooldef.Annotations(false, true, false, true),
			mcp.WithOutputSchema[manageResult](),
		),
		Scopes: []string{"calendar:write"},
		App:    app,
		Handler: handler(name, func(ctx context.Context, a manageArgs) (*mcp.CallToolResult, error) {
			switch strings.ToLower(a.Action) {
			case "list":
				cals, err := s.dav.Calendars(ctx)
				if err != nil {
					return nil, step("listing calendars", err)
				}
				return structured(manageResult{Action: "list", Calendars: cals})
			case "create":
				n := a.CalendarName
				if n == "" {
					n = slug(a.DisplayName)
				}
				if n == "" {
					return nil, step("checking arguments", fmt.Errorf("create needs calendar_name or display_name"))
				}
				disp := a.DisplayName
				if disp == "" {
					disp = n
				}
				color := a.Color
				if color == "" {
					color = "#1976D2"
				}
				cal, err := s.dav.CreateCalendar(ctx, davclient.NewCalendar{
					Name: n, DisplayName: disp, Description: a.Description, Color: color,
					Components: []string{"VEVENT", "VTODO"},
				})
				if err != nil {
					return nil, step("creating calendar "+n, err)
				}
				return structured(manageResult{Action: "create", Calendar: &cal})
			case "update":
				cal, err := oneCalendar(ctx, s, a.CalendarName)
				if err != nil {
					return nil, err
				}
				var ch davclient.CalendarChange
				if a.DisplayName != "" {
					ch.DisplayName = &a.DisplayName
				}
				if a.Description != "" {
					ch.Description = &a.Description
				}
				if a.Color != "" {
					ch.Color = &a.Color
				}
				if ch == (davclient.CalendarChange{}) {
					return nil, step("checking arguments", fmt.Errorf("update needs display_name, description or color"))
				}
				updated, err := s.dav.UpdateCalendar(ctx, cal.Href, ch)
				if err != nil {
					return nil, step("updating calendar "+cal.Name, err)
				}
				return structured(manageResult{Action: "update", Calendar: &updated})
			case "delete":
				cal, err := oneCalendar(ctx, s, a.CalendarName)
				if err != nil {
					return nil, err
				}
				if err := s.dav.Delete(ctx, cal.Href, ""); err != nil {
					return nil, step("deleting calendar "+cal.Name, err)
				}
				return structured(manageResult{Action: "delete", Deleted: cal.Name})
			}
			return nil, step("checking arguments", fmt.Errorf("action must be create, update, delete or list, not %q", a.Action))
		}),
	}
}
