package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/rawupstream"
)

// TestNonPostMethodsCarryNoMessage: only a POST carries a JSON-RPC
// message, and every POST body is judged. A request of another method
// must not smuggle an unjudged message to the backend: methods the MCP
// transport does not define (PUT, PATCH, OPTIONS, HEAD, anything) are not
// forwarded at all, and GET and DELETE reach the backend without a body.
// (A backend that dispatches on the body whatever the method — not
// mcp-go, which answers 405 — would otherwise run a forbidden tools/call.)
func TestNonPostMethodsCarryNoMessage(t *testing.T) {
	t.Parallel()
	e, raw := rawEnv(t, "")
	raw.Respond("tools/list", rawupstream.JSON(rawupstream.Result(rawupstream.ToolsResult(rawTools...))))
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		raw.HandleHTTP(m, func(rawupstream.Request) rawupstream.Response {
			return rawupstream.Response{Status: http.StatusOK, ContentType: "text/event-stream", Chunks: []string{": ok\n\n"}}
		})
	}
	tok := e.token(t, false, "notes:read")
	body := call("1", "forbidden_write")
	for _, m := range []string{"PUT", "PATCH", "OPTIONS", "HEAD", "FOO", http.MethodGet, http.MethodDelete} {
		t.Run(m, func(t *testing.T) {
			before := len(raw.ClientRequests())
			r := do(t, newRequest(t, m, e.resource, body, append(bearer(tok), [2]string{"Content-Type", "application/json"})))
			got := raw.ClientRequests()[before:]
			for _, req := range got {
				if strings.Contains(string(req.Body), "forbidden_write") {
					t.Errorf("%s: the backend got the unjudged body %q (client answer %d)", m, req.Body, r.status)
				}
			}
			if m != http.MethodGet && m != http.MethodDelete && len(got) != 0 {
				t.Errorf("%s: forwarded to the backend (answer %d), want refused by the gateway (405)", m, r.status)
			}
		})
	}
}

// TestResumedStreamFiltered: a 2025-11-25 client that lost the event
// stream of its tools/list POST resumes it with GET and Last-Event-ID;
// the server replays the remaining events there — the list response
// among them (transports: "MUST NOT send a JSON-RPC response on the
// stream unless resuming"). That response must be filtered like the one
// on the POST stream, or every tool leaks to a client that merely
// reconnects.
func TestResumedStreamFiltered(t *testing.T) {
	t.Parallel()
	e, raw := rawEnv(t, "")
	raw.Respond("tools/list", rawupstream.JSON(rawupstream.Result(rawupstream.ToolsResult(rawTools...))))
	raw.HandleHTTP(http.MethodGet, func(r rawupstream.Request) rawupstream.Response {
		if r.Header.Get("Last-Event-ID") == "" {
			return rawupstream.SSE(": listening\n\n")
		}
		return rawupstream.SSE(
			"id: 6\nevent: message\ndata: "+progressData+"\n\n",
			"id: 7\nevent: message\ndata: "+strings.ReplaceAll(rawupstream.Result(rawupstream.ToolsResult(rawTools...)), rawupstream.IDPlaceholder, "3")+"\n\n")
	})
	tok := e.token(t, false, "notes:read")
	r := do(t, newRequest(t, http.MethodGet, e.resource, "", append(bearer(tok),
		[2]string{"Accept", "text/event-stream"}, [2]string{"Last-Event-ID", "5"})))
	if r.status != http.StatusOK {
		t.Fatalf("resumed GET: %s", statusOf(r))
	}
	noForbidden(t, r)
	if !strings.Contains(r.body, progressData) {
		t.Errorf("the replayed notification was lost: %q", r.body)
	}
}
