package mcpbackend

import (
	"context"
	"net/url"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// hideNextcloudAddress is the safety net behind nextcloud.TransportError:
// whatever error text a tool produces (a library's, a wrapped *url.Error),
// the address the backend reaches Nextcloud at is replaced before the
// answer leaves, since it is an internal detail of the deployment. Paths
// stay: they tell the client what failed.
func hideNextcloudAddress(base string) server.ToolHandlerMiddleware {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return func(next server.ToolHandlerFunc) server.ToolHandlerFunc { return next }
	}
	r := strings.NewReplacer(u.Scheme+"://"+u.Host, "", u.Host, "Nextcloud")
	scrub := func(s string) string {
		if !strings.Contains(s, u.Host) {
			return s
		}
		return r.Replace(s)
	}
	return func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := next(ctx, req)
			if err != nil {
				if s := err.Error(); scrub(s) != s {
					err = &redactedError{msg: scrub(s), err: err}
				}
			}
			if res != nil && res.IsError {
				for i, c := range res.Content {
					if tc, ok := c.(mcp.TextContent); ok {
						tc.Text = scrub(tc.Text)
						res.Content[i] = tc
					}
				}
			}
			return res, err
		}
	}
}

// redactedError keeps errors.Is/As working on an error whose text was
// scrubbed.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
