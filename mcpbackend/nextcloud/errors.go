package nextcloud

import (
	"context"
	"errors"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
)

// ToolError turns err from a Nextcloud call into the result of tool: an
// actionable tool error "<tool> failed: <what> (HTTP <status>): <message>"
// for anything Nextcloud answered or the network refused, and a Go error
// (a JSON-RPC internal error) only for faults of the backend itself:
// missing credentials or a cancelled request.
func ToolError(tool, what string, err error) (*mcp.CallToolResult, error) {
	var e *Error
	switch {
	case errors.As(err, &e):
		msg := e.Message
		if msg == "" {
			msg = hint(e.Status)
		}
		return mcp.NewToolResultError(fmt.Sprintf("%s failed: %s (HTTP %d): %s", tool, what, e.Status, msg)), nil
	case errors.Is(err, ErrNoCredentials):
		return nil, fmt.Errorf("%s: %w", tool, err)
	case errors.Is(err, context.Canceled):
		return nil, fmt.Errorf("%s: %w", tool, err)
	default:
		return mcp.NewToolResultError(fmt.Sprintf("%s failed: %s: %v", tool, what, err)), nil
	}
}

// hint explains statuses for which Nextcloud sends no text.
func hint(status int) string {
	switch status {
	case 401:
		return "not authenticated (token expired or wrong app password)"
	case 403:
		return "permission denied (or the object does not exist)"
	case 404:
		return "not found"
	case 409:
		return "conflict (the parent is missing or the object exists)"
	case 412:
		return "precondition failed: the object changed since its ETag was read, or already exists"
	case 423:
		return "locked"
	case 429:
		return "rate limited"
	case 500:
		return "Nextcloud internal error"
	default:
		return "no message"
	}
}

// ArgError is the tool result for a bad argument.
func ArgError(tool string, err error) *mcp.CallToolResult {
	return mcp.NewToolResultError(fmt.Sprintf("%s failed: invalid arguments: %v", tool, err))
}
