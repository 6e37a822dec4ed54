package nextcloud

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

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
		if e.Status >= 500 && e.RequestID != "" {
			// The admin finds Nextcloud's log line by it.
			msg += " (Nextcloud request id " + e.RequestID + ")"
		}
		if fateUnknown(err) {
			msg += uncertainNote
		}
		return mcp.NewToolResultError(fmt.Sprintf("%s failed: %s (HTTP %d): %s", tool, what, e.Status, msg)), nil
	case errors.Is(err, ErrNoCredentials):
		return nil, fmt.Errorf("%s: %w", tool, err)
	case errors.Is(err, context.Canceled):
		return nil, fmt.Errorf("%s: %w", tool, err)
	default:
		msg := fmt.Sprintf("%s failed: %s: %v", tool, what, err)
		if fateUnknown(err) {
			msg += uncertainNote
		}
		return mcp.NewToolResultError(msg), nil
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

// statusError is the *Error for an answer of status 400 or more to a
// request for host: Nextcloud's message (newError), its request id, and
// the explanation of answers that carry none an operator can act on.
func statusError(method, path, host string, resp *Response) *Error {
	e := newError(method, path, resp)
	e.RequestID = resp.Header.Get("X-Request-Id")
	if untrustedDomain(resp) {
		e.Message = fmt.Sprintf("Nextcloud refused the request: host %q is not in its trusted_domains (see deploy/README.md)", host)
	}
	if h, ok := serverHint(resp.Status, resp.Header); ok && (e.Message == "" || resp.Header.Get(maintenanceHeader) == "1") {
		e.Message = h
	}
	return e
}

// untrustedDomain recognises Nextcloud's answer to a request whose Host
// is not in trusted_domains: 400 with an HTML page titled "Access through
// untrusted domain", before any app or credential check (measured on
// Nextcloud 34; the Compose deployment once called it as
// http://nextcloud:80 and got this on every tool call).
func untrustedDomain(resp *Response) bool {
	return resp.Status == http.StatusBadRequest &&
		bytes.Contains(bytes.ToLower(resp.Body), []byte("untrusted domain"))
}
