package mcpbackend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

func TestHideNextcloudAddress(t *testing.T) {
	const base = "http://10.0.0.7:8080/nextcloud"
	leak := `Get "http://10.0.0.7:8080/nextcloud/remote.php/dav/calendars/alice/": dial tcp 10.0.0.7:8080: i/o timeout`
	cases := []struct {
		name string
		res  *mcp.CallToolResult
		err  error
	}{
		{"tool error", mcp.NewToolResultError("nc_calendar_list failed: " + leak), nil},
		{"go error", nil, fmt.Errorf("nc_calendar_list: %w", errors.Join(context.Canceled, errors.New(leak)))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := hideNextcloudAddress(base)(func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return tc.res, tc.err
			})
			res, err := h(context.Background(), mcp.CallToolRequest{})
			text := ""
			if err != nil {
				text = err.Error()
				if !errors.Is(err, context.Canceled) {
					t.Errorf("errors.Is lost: %v", err)
				}
			} else {
				text = res.Content[0].(mcp.TextContent).Text
			}
			if strings.Contains(text, "10.0.0.7") {
				t.Errorf("address shown: %q", text)
			}
			if !strings.Contains(text, "/nextcloud/remote.php/dav/calendars/alice/") {
				t.Errorf("path lost: %q", text)
			}
		})
	}
}
