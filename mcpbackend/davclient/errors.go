package davclient

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
)

// HTTPError is a DAV request the server refused.
type HTTPError struct {
	Method string
	Path   string
	Status int
	// Exception and Message come from a Sabre (Nextcloud) error body;
	// Message is also the start of a plain-text body from other servers.
	Exception string
	Message   string
	// Precondition names the RFC 4791/6352 precondition element of the
	// error body, e.g. "supported-calendar-component".
	Precondition string
	// RequestID is Nextcloud's X-Request-Id, the key of its log line.
	RequestID string
	// CreateOnly marks a request sent with If-None-Match: *, whose 412
	// means the target exists, whatever the server's message says.
	CreateOnly bool
}

func (e *HTTPError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, msg)
}

// davError is a DAV error body (RFC 4918 §8.7) with Sabre's additions.
type davError struct {
	XMLName   xml.Name `xml:"DAV: error"`
	Exception string   `xml:"http://sabredav.org/ns exception"`
	Message   string   `xml:"http://sabredav.org/ns message"`
	Any       []struct {
		XMLName xml.Name
	} `xml:",any"`
}

const maxErrorBody = 16 << 10

func newHTTPError(req *http.Request, resp *http.Response) *HTTPError {
	e := &HTTPError{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id"),
		CreateOnly: req.Header.Get("If-None-Match") == "*"}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case resp.StatusCode == http.StatusBadRequest && mt == "text/html" && strings.Contains(strings.ToLower(string(body)), "untrusted domain"):
		// Nextcloud's page for a Host missing from trusted_domains
		// (measured on Nextcloud 34; the Compose deployment once hit it
		// on every call). The same words as the OCS/app client's.
		e.Message = fmt.Sprintf("Nextcloud refused the request: host %q is not in its trusted_domains (see deploy/README.md)", req.URL.Hostname())
	case strings.HasSuffix(mt, "xml"):
		var de davError
		if xml.Unmarshal(body, &de) == nil {
			e.Exception = strings.TrimSpace(de.Exception)
			e.Message = strings.TrimSpace(de.Message)
			for _, a := range de.Any {
				if a.XMLName.Space != "http://sabredav.org/ns" {
					e.Precondition = a.XMLName.Local
					break
				}
			}
		}
	case strings.HasPrefix(mt, "text/") && mt != "text/html":
		msg := strings.TrimSpace(string(body))
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		e.Message = msg
	}
	return e
}

// StatusOf returns the HTTP status of a DAV failure, or 0.
func StatusOf(err error) int {
	if he, ok := errors.AsType[*HTTPError](err); ok {
		return he.Status
	}
	return 0
}

// ToolError turns a failed DAV operation into the tool result the model
// sees: "<tool> failed: <what> (HTTP <status>): <server message>", plus
// what to do about it. Expected failures are tool results, not protocol
// errors, so the model can recover.
func ToolError(tool, what string, err error) *mcp.CallToolResult {
	return mcp.NewToolResultError(Explain(tool, what, err))
}

// Explain is the text of ToolError.
func Explain(tool, what string, err error) string {
	he, ok := errors.AsType[*HTTPError](err)
	if !ok {
		return fmt.Sprintf("%s failed: %s: %v", tool, what, err)
	}
	msg := he.Message
	if msg == "" {
		msg = http.StatusText(he.Status)
	}
	if he.Status >= 500 && he.RequestID != "" {
		msg += " (Nextcloud request id " + he.RequestID + ")"
	}
	text := fmt.Sprintf("%s failed: %s (HTTP %d): %s", tool, what, he.Status, msg)
	if hint := hintFor(he); hint != "" {
		text += ". " + hint
	}
	return text
}

func hintFor(e *HTTPError) string {
	switch e.Status {
	case http.StatusUnauthorized:
		return "The DAV server did not accept the credentials; the user must sign in again"
	case http.StatusForbidden:
		if e.Precondition == "supported-calendar-component" || strings.Contains(e.Exception, "InvalidComponentType") {
			return "This calendar does not accept this kind of item (for example tasks in an events-only calendar); pick a calendar whose components include it (see nc_calendar_list_calendars)"
		}
		if (e.Method == http.MethodDelete || e.Method == http.MethodPut) && (strings.HasSuffix(e.Path, ".vcf") || strings.Contains(e.Path, "/addressbooks/")) {
			return "The address book is read-only for this user (for example Nextcloud's system address book of accounts, or one shared read-only)"
		}
		if e.Method == http.MethodDelete || e.Method == http.MethodPut {
			return "The server refused to change this object: it is either a scheduled invitation (iMIP) owned by its organizer, which only the organizer can change or delete, or it lives in a read-only (shared or subscribed) calendar"
		}
		return "Access denied for this collection"
	case http.StatusNotFound:
		return "It does not exist (any more); list the calendars, address books or items to find the right name or UID"
	case http.StatusConflict:
		return "The request conflicts with the server's state, for example an object with the same UID already exists in this collection or the parent collection is missing"
	case http.StatusPreconditionFailed:
		if e.Method == http.MethodPut && (e.CreateOnly || strings.Contains(e.Message, "If-None-Match")) {
			return "An object already exists at this location; read it and update it instead"
		}
		if e.Method == http.MethodDelete {
			// Deletes are conditional on the ETag the object was found
			// with, so a change made in between is not thrown away.
			return "The object was changed by someone else between finding and deleting it (its ETag no longer matches), so nothing was deleted; read it again and delete it again if it should still go"
		}
		return "The object was changed by someone else since it was read (its ETag no longer matches). Re-read it, re-apply the change to the current version and retry with the new etag; nothing was overwritten"
	case http.StatusMethodNotAllowed:
		if e.Method == "MKCALENDAR" || e.Method == "MKCOL" {
			return "A collection with this name already exists; choose another name"
		}
	case http.StatusUnsupportedMediaType:
		return "The server rejected the data as invalid iCalendar or vCard"
	case http.StatusLocked:
		return "The object is locked; retry later"
	case http.StatusInsufficientStorage:
		return "The user's storage quota is exhausted"
	case http.StatusInternalServerError:
		if strings.Contains(e.Message, "UNIQUE") {
			return "An object with the same UID probably sits in the calendar trash bin; empty it there or use a new UID"
		}
	case http.StatusBadRequest:
		if strings.Contains(e.Message, "uid already exists") {
			return "An object with this UID already exists in this collection; update it instead"
		}
	}
	return ""
}
