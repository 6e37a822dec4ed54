package e2e

import (
	"bufio"
	"context"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/rawupstream"
)

// openStream sends req and returns the open response and a reader of its
// body; the response is closed when the test ends.
func openStream(t *testing.T, req *http.Request) (*http.Response, *bufio.Reader) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v (a gateway that buffers the stream never answers)", req.Method, req.URL, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, bufio.NewReader(resp.Body)
}

// readEvent reads one event, up to its blank line.
func readEvent(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v after %q", err, b.String()+line)
		}
		if line == "\n" || line == "\r\n" {
			return b.String()
		}
		b.WriteString(line)
	}
}

// TestLongLivedStreamsPassThrough: subscriptions/listen, a streaming
// tools/call, a legacy GET stream and the events before a tools/list
// response reach the client while the upstream still holds the stream
// open: the gateway buffers none of them.
func TestLongLivedStreamsPassThrough(t *testing.T) {
	t.Parallel()
	e, raw := rawEnv(t, "")
	raw.Respond("tools/list", rawupstream.JSON(rawupstream.Result(rawupstream.ToolsResult(rawTools...))))
	tok := e.token(t, false, "notes:read")
	first := `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"first"}}`
	tests := []struct {
		name    string
		rpc     string // JSON-RPC method; "" for the GET stream
		body    string
		headers [][2]string
		last    string // the final event's data, after the hold
	}{
		{"subscriptions/listen", "subscriptions/listen", modernMessage("1", "subscriptions/listen", nil), modernHeaders("subscriptions/listen", ""),
			`{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`},
		{"streaming tools/call", "tools/call", call("2", "public_read"), modernHeaders("tools/call", "public_read"),
			`{"jsonrpc":"2.0","id":2,"result":{"content":[]}}`},
		{"tools/list events before the response", "tools/list", modernMessage("3", "tools/list", nil), modernHeaders("tools/list", ""),
			`{"jsonrpc":"2.0","id":3,"result":{"tools":[` + rawToolJSON(0) + `]}}`},
		{"legacy GET stream", "", "", [][2]string{{"Accept", "text/event-stream"}},
			`{"jsonrpc":"2.0","method":"notifications/resources/list_changed"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hold := make(chan struct{})
			resp := rawupstream.Response{ContentType: "text/event-stream", Hold: hold, HoldAt: 1,
				Chunks: []string{"event: message\ndata: " + first + "\n\n", "event: message\ndata: " + tc.last + "\n\n"}}
			h := func(rawupstream.Request) rawupstream.Response { return resp }
			var req *http.Request
			if tc.rpc == "" {
				raw.HandleHTTP(http.MethodGet, h)
				req = newRequest(t, http.MethodGet, e.resource, "", append(bearer(tok), tc.headers...))
			} else {
				raw.Handle(tc.rpc, func(r rawupstream.Request) rawupstream.Response {
					if r.Discovery() {
						return rawupstream.JSON(rawupstream.Result(rawupstream.ToolsResult(rawTools...)))
					}
					return resp
				})
				req = newRequest(t, http.MethodPost, e.resource, tc.body, append(append(bearer(tok),
					[2]string{"Content-Type", "application/json"}, [2]string{"Accept", "application/json, text/event-stream"}), tc.headers...))
			}
			r, body := openStream(t, req)
			if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("status %d, Content-Type %q", r.StatusCode, r.Header.Get("Content-Type"))
			}
			// The upstream is holding the stream: this event must be here.
			if ev := readEvent(t, body); !strings.Contains(ev, first) {
				t.Fatalf("first event %q", ev)
			}
			close(hold)
			if ev := readEvent(t, body); !strings.Contains(ev, strings.TrimSuffix(tc.last, "}")[:20]) {
				t.Errorf("last event %q, want %s", ev, tc.last)
			}
		})
	}
}

// TestCatalogLearnsFromListResponses: a tool the gateway's discovery did
// not see but a tools/list response it rewrote declares is learned from
// that response: listed to tokens with its scope and then callable.
func TestCatalogLearnsFromListResponses(t *testing.T) {
	t.Parallel()
	e, raw := rawEnv(t, "")
	learned := rawupstream.Tool{Name: "learned_tool", Scopes: []string{"notes:read"}}
	raw.Handle("tools/list", func(r rawupstream.Request) rawupstream.Response {
		if r.Discovery() {
			return rawupstream.JSON(rawupstream.Result(rawupstream.ToolsResult(rawTools[0])))
		}
		return rawupstream.JSON(rawupstream.Result(rawupstream.ToolsResult(rawTools[0], learned, rawTools[1])))
	})
	tok := e.token(t, false, "notes:read")
	r := e.post(t, tok, call("1", "learned_tool"), modernHeaders("tools/call", "learned_tool")...)
	checkRPCError(t, r, http.StatusForbidden, -32003, "1")
	r = e.listTools(t, tok, "2")
	if got := decodeList(t, r).names(); !slices.Equal(got, []string{"learned_tool", "public_read"}) {
		t.Errorf("tools/list = %v, want [learned_tool public_read]", got)
	}
	if r := e.post(t, tok, call("3", "learned_tool"), modernHeaders("tools/call", "learned_tool")...); r.status != http.StatusOK {
		t.Errorf("learned tool after the list: %s", statusOf(r))
	}
	r = e.post(t, e.token(t, false, "notes:write"), call("4", "learned_tool"), modernHeaders("tools/call", "learned_tool")...)
	if want := e.stepUpChallenge("learned_tool", []string{"notes:read", "notes:write"}, []string{"notes:read"}); r.status != http.StatusForbidden || r.header.Get("WWW-Authenticate") != want {
		t.Errorf("learned tool without its scope: %s, want %q", statusOf(r), want)
	}
}

// TestDiscoveryRetriedUntilBackendUp: while the backend answers discovery
// with errors, declared tools are unknown and refused (fail closed); the
// gateway keeps retrying, and once the backend is up they are allowed.
func TestDiscoveryRetriedUntilBackendUp(t *testing.T) {
	t.Parallel()
	e, raw := rawEnv(t, "")
	var up atomic.Bool
	var attempts atomic.Int64
	raw.Handle("tools/list", func(r rawupstream.Request) rawupstream.Response {
		if r.Discovery() {
			attempts.Add(1)
		}
		if !up.Load() {
			return rawupstream.Response{Status: http.StatusServiceUnavailable, ContentType: "text/plain", Chunks: []string{"starting"}}
		}
		return rawupstream.JSON(rawupstream.Result(rawupstream.ToolsResult(rawTools...)))
	})
	raw.Respond("initialize", rawupstream.Response{Status: http.StatusServiceUnavailable, ContentType: "text/plain", Chunks: []string{"starting"}})
	tok := e.token(t, false, "notes:read")
	before := len(raw.ClientRequests())
	r := e.post(t, tok, call("1", "public_read"), modernHeaders("tools/call", "public_read")...)
	checkRPCError(t, r, http.StatusForbidden, -32003, "1")
	if len(raw.ClientRequests()) != before {
		t.Error("a call the gateway could not judge reached the backend")
	}
	eventually(t, "discovery retried", func() (bool, string) { return attempts.Load() >= 2, "" })
	up.Store(true)
	eventually(t, "tool allowed once the backend is up", func() (bool, string) {
		r := e.post(t, tok, call("2", "public_read"), modernHeaders("tools/call", "public_read")...)
		return r.status == http.StatusOK, statusOf(r)
	})
	// The catalog is the backend's: the other tools keep their scopes.
	if r := e.post(t, tok, call("3", "forbidden_write"), modernHeaders("tools/call", "forbidden_write")...); r.status != http.StatusForbidden ||
		!strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Errorf("forbidden_write: %s", statusOf(r))
	}
}

// TestListResponseUnexpectedType: a 200 list answer that is neither JSON
// nor an event stream is refused (502), never passed on; error statuses
// and 202 pass unchanged.
func TestListResponseUnexpectedType(t *testing.T) {
	t.Parallel()
	list := rawupstream.ToolsResult(rawTools...)
	e, _ := rawListEnv(t, "", func(r rawupstream.Request) rawupstream.Response {
		switch r.Header.Get("X-Case") {
		case "html":
			return rawupstream.Response{ContentType: "text/html", Chunks: []string{"<pre>" + list + "</pre>"}}
		case "none":
			return rawupstream.Response{ContentType: "-", Chunks: []string{rawupstream.Result(list)}}
		case "octet":
			return rawupstream.Response{ContentType: "application/octet-stream", Chunks: []string{rawupstream.Result(list)}}
		case "error":
			return rawupstream.Response{Status: http.StatusInternalServerError, ContentType: "text/plain", Chunks: []string{"backend failed"}}
		}
		return rawupstream.JSON(rawupstream.Result(list))
	})
	tok := e.token(t, false, "notes:read")
	for _, c := range []string{"html", "none", "octet"} {
		t.Run(c, func(t *testing.T) {
			r := e.post(t, tok, modernMessage("5", "tools/list", nil), append(modernHeaders("tools/list", ""), [2]string{"X-Case", c})...)
			noForbidden(t, r)
			checkRPCError(t, r, http.StatusBadGateway, -32603, "5")
		})
	}
	r := e.post(t, tok, modernMessage("6", "tools/list", nil), append(modernHeaders("tools/list", ""), [2]string{"X-Case", "error"})...)
	if r.status != http.StatusInternalServerError || r.body != "backend failed" {
		t.Errorf("backend error: %s, want it passed", statusOf(r))
	}
}

// TestSessionBindingBounded: the binding of a session to its subject is
// stateless (the wrapped id), so what session_capacity and
// session_idle_timeout bound is only this replica's count of sessions per
// subject: the least recently used and the idle ones leave the count (the
// subject may create more), while every session keeps working. Above
// max_sessions_per_subject counted sessions an initialize gets 429.
func TestSessionBindingBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{gatewayExtra: "session_capacity 3\nsession_idle_timeout 1s\nmax_sessions_per_subject 2"})
	tok := e.token(t, false, "notes:read")
	ping := func(id, sid string) int {
		return e.post(t, tok, `{"jsonrpc":"2.0","id":`+id+`,"method":"ping"}`, legacyHeaders(sid)...).status
	}
	initialize := func() int {
		return e.post(t, tok, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"0"}}}`).status
	}
	s1 := e.legacySession(t, tok)
	s2 := e.legacySession(t, tok)
	if got := initialize(); got != http.StatusTooManyRequests {
		t.Errorf("third session with max_sessions_per_subject 2: %d, want 429", got)
	}
	// Idle for well over session_idle_timeout: the count is empty, the
	// sessions are not gone.
	time.Sleep(2500 * time.Millisecond)
	for _, sid := range []string{s1, s2} {
		if got := ping("2", sid); got != http.StatusOK {
			t.Errorf("idle session %s: %d, want 200 (only the count forgets it)", sid, got)
		}
	}
	if got := ping("3", e.legacySession(t, tok)); got != http.StatusOK {
		t.Errorf("new session after the count emptied: %d", got)
	}
}
