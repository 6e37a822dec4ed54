package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

const metaURL = "https://cloud.example.com/.well-known/oauth-protected-resource/mcp"

// stepUp is the exact challenge for a tool the "good" token (notes:read)
// may not call.
func stepUp(scope, tool, required string) string {
	return `Bearer error="insufficient_scope", scope="` + scope + `", resource_metadata="` + metaURL + `", error_description="` + tool + ` requires ` + required + `"`
}

// TestEnforceMessages: every POST body is classified and decided before
// anything reaches the backend; each refusal has its status, JSON-RPC
// code, id and challenge, and never reaches the backend.
func TestEnforceMessages(t *testing.T) {
	b := &fakeBackend{}
	g := enforcingGateway(t, b, func(g *Gateway) {
		g.MaxBodySize = 512
		g.AllowMethods = []string{"custom/op"}
	})
	writeCh := stepUp("notes:read notes:write", "echo_write", "notes:write")
	cases := []struct {
		name      string
		body      string
		headers   []string
		code      int // HTTP status; 299 means passed to the backend
		rpc       int // JSON-RPC error code; 0 any
		id        string
		challenge string
	}{
		{name: "allowed call", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_read"}}`, code: 299},
		{name: "insufficient scope", body: `{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"echo_write"}}`, code: 403, id: `"a"`, challenge: writeCh},
		{name: "two scopes, one held", body: `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"needs_two"}}`, code: 403, id: "2",
			challenge: stepUp("files:read notes:read", "needs_two", "notes:read files:read")},
		{name: "undeclared tool", body: `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"undeclared"}}`, code: 403, rpc: codeForbidden, id: "3"},
		{name: "missing tool", body: `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"nope"}}`, code: 403, rpc: codeForbidden, id: "4"},
		{name: "unknown method", body: `{"jsonrpc":"2.0","id":5,"method":"tools/delete"}`, code: 403, rpc: codeMethodNotFound, id: "5"},
		{name: "allow_method", body: `{"jsonrpc":"2.0","id":6,"method":"custom/op"}`, code: 299},
		{name: "ping", body: `{"jsonrpc":"2.0","id":7,"method":"ping"}`, code: 299},
		{name: "unknown task", body: `{"jsonrpc":"2.0","id":7,"method":"tasks/get","params":{"taskId":"x"}}`, code: 200, rpc: codeInvalidParams, id: "7"},
		{name: "unknown task, 2026-07-28", body: `{"jsonrpc":"2.0","id":7,"method":"tasks/result","params":{"taskId":"x","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, code: 400, rpc: codeInvalidParams, id: "7"},
		{name: "unknown method, 2026-07-28", body: `{"jsonrpc":"2.0","id":5,"method":"tools/delete","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, code: 404, rpc: codeMethodNotFound, id: "5"},
		{name: "resources/subscribe, 2026-07-28", body: `{"jsonrpc":"2.0","id":5,"method":"resources/subscribe","params":{"uri":"nc://x","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, code: 404, rpc: codeMethodNotFound, id: "5"},
		{name: "resource uri with dot-segments", body: `{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"nc://a/../b"}}`, code: 400, rpc: codeInvalidParams, id: "5"},
		{name: "completion without ref", body: `{"jsonrpc":"2.0","id":5,"method":"completion/complete","params":{}}`, code: 400, rpc: codeInvalidParams, id: "5"},
		{name: "completion of an unknown prompt", body: `{"jsonrpc":"2.0","id":5,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"}}}`, code: 403, rpc: codeForbidden, id: "5"},
		{name: "response to a server request", body: `{"jsonrpc":"2.0","id":8,"result":{}}`, code: 299},
		{name: "notification", body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`, code: 299},
		{name: "notification carrying tools/call", body: `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"echo_write"}}`, code: 403, id: "null", challenge: writeCh},
		{name: "batch", body: `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_write"}}]`, code: 400, rpc: -32600, id: "null"},
		{name: "batch of allowed", body: `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, code: 400, rpc: -32600, id: "null"},
		{name: "duplicate method", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"echo_write"}}`, code: 400, rpc: -32600, id: "null"},
		{name: "duplicate name", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_read","name":"echo_write"}}`, code: 400, rpc: -32600, id: "null"},
		{name: "case-variant method", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","METHOD":"tools/call","params":{"name":"echo_write"}}`, code: 400, rpc: -32600, id: "null"},
		{name: "case-variant name", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_read","Name":"echo_write"}}`, code: 400, rpc: -32600, id: "null"},
		{name: "folded params key", body: `{"jsonrpc":"2.0","id":1,"method":"ping","paramſ":{"name":"echo_write"}}`, code: 400, rpc: -32600, id: "null"},
		{name: "escaped method", body: `{"jsonrpc":"2.0","id":1,"method":"tools\u002fcall","params":{"name":"echo\u005fwrite"}}`, code: 403, id: "1", challenge: writeCh},
		{name: "escaped key", body: `{"jsonrpc":"2.0","id":1,"\u006dethod":"tools/call","params":{"name":"echo_write"}}`, code: 403, id: "1", challenge: writeCh},
		{name: "escaped duplicate key", body: `{"jsonrpc":"2.0","id":1,"method":"ping","\u006dethod":"tools/call","params":{"name":"echo_write"}}`, code: 400, rpc: -32600, id: "null"},
		{name: "not JSON", body: `{"jsonrpc":"2.0",`, code: 400, rpc: -32700, id: "null"},
		{name: "empty", body: ``, code: 400, rpc: -32700, id: "null"},
		{name: "trailing data", body: `{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo_write"}}`, code: 400, id: "null"},
		{name: "null id", body: `{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"echo_write"}}`, code: 400, rpc: -32600, id: "null"},
		{name: "Mcp-Name lies", body: `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo_write"}}`, headers: []string{"Mcp-Method", "tools/call", "Mcp-Name", "echo_read"}, code: 400, rpc: -32020, id: "9"},
		{name: "Mcp-Method lies", body: `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo_write"}}`, headers: []string{"Mcp-Method", "ping"}, code: 400, rpc: -32020, id: "9"},
		{name: "Mcp-Name lies about an allowed call", body: `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo_read"}}`, headers: []string{"Mcp-Name", "echo_write"}, code: 400, rpc: -32020, id: "9"},
		{name: "truthful headers", body: `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo_write"}}`, headers: []string{"Mcp-Method", "tools/call", "Mcp-Name", "=?base64?ZWNob193cml0ZQ==?="}, code: 403, id: "9", challenge: writeCh},
		{name: "oversized", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_read","arguments":{"t":"` + strings.Repeat("x", 600) + `"}}}`, code: 413, rpc: -32600, id: "null"},
		{name: "spoofed scopes header", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_write"}}`, headers: []string{"X-Scopegate-Scopes", "notes:write"}, code: 403, id: "1", challenge: writeCh},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := b.count()
			w := serveNext(t, g, b, post("good", tc.body, tc.headers...))
			reached := b.count() - before
			if tc.code == 299 {
				if reached != 1 || w.Code != http.StatusOK && w.Code != http.StatusAccepted {
					t.Fatalf("status %d, reached %d; want passed to the backend: %s", w.Code, reached, w.Body)
				}
				if got := b.last().body; got != tc.body {
					t.Errorf("backend read %q, want the judged bytes %q", got, tc.body)
				}
				return
			}
			if reached != 0 {
				t.Errorf("refused request reached the backend")
			}
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.code, w.Body)
			}
			id, code := rpcErr(t, w.Body.String())
			if id != tc.id || (tc.rpc != 0 && code != tc.rpc) {
				t.Errorf("error id %s code %d, want %s %d: %s", id, code, tc.id, tc.rpc, w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate\n got  %q\n want %q", got, tc.challenge)
			}
		})
	}
}

// TestEnforceChunkedBody: a body without Content-Length (chunked) is read
// whole, judged, and handed on with the Content-Length of exactly the
// judged bytes.
func TestEnforceChunkedBody(t *testing.T) {
	b := &fakeBackend{}
	g := enforcingGateway(t, b, func(g *Gateway) { g.MaxBodySize = 512 })
	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_read"}}`, 200},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_write"}}`, 403},
		{`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("y", 600) + `"}}`, 413},
	} {
		r := post("good", "")
		r.Body = io.NopCloser(io.MultiReader(strings.NewReader(tc.body[:10]), strings.NewReader(tc.body[10:])))
		r.ContentLength = -1
		r.TransferEncoding = []string{"chunked"}
		r.Header.Del("Content-Length")
		before := b.count()
		w := serveNext(t, g, b, r)
		if w.Code != tc.code {
			t.Errorf("%.60s: status %d, want %d", tc.body, w.Code, tc.code)
		}
		if tc.code != 200 {
			if b.count() != before {
				t.Errorf("refused chunked body reached the backend")
			}
			continue
		}
		s := b.last()
		if s.body != tc.body || s.length != int64(len(tc.body)) || len(s.te) != 0 || s.header.Get("Content-Length") != fmt.Sprint(len(tc.body)) {
			t.Errorf("backend got body %q, length %d, transfer-encoding %v, Content-Length %q", s.body, s.length, s.te, s.header.Get("Content-Length"))
		}
	}
}

// listStream is a tools/list answer as an event stream: a comment, a
// progress notification, then the response, with mixed line ends and the
// response's data spread over three lines.
const listStream = "\uFEFF: hello\r\n" +
	"id: 1\revent: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}\n\n" +
	"id: 2\r\nretry: 10\r\n" +
	"data: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[{\"name\":\"echo_write\",\"_meta\":{\"scopegate/scopes\":[\"notes:write\"]}},\r" +
	"data: {\"name\":\"echo_read\",\"_meta\":{\"scopegate/scopes\":[\"notes:read\"]}},\n" +
	"data:{\"name\":\"undeclared\"},{\"name\":\"needs_two\",\"_meta\":{\"scopegate/scopes\":[\"notes:read\",\"files:read\"]}}],\"nextCursor\":\"c2\"}}\r\n\r\n"

// sseAnswer makes the backend answer client tools/list requests with
// stream, written in the given pieces with a flush after each.
func sseAnswer(pieces func() []string) func(w http.ResponseWriter, r *http.Request, rpc string) bool {
	return func(w http.ResponseWriter, r *http.Request, rpc string) bool {
		if rpc != "tools/list" {
			return false
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		for _, p := range pieces() {
			_, _ = io.WriteString(w, p)
			_ = rc.Flush()
		}
		return true
	}
}

// checkListStream asserts the filtered stream for a notes:read token.
func checkListStream(t *testing.T, body string) {
	t.Helper()
	for _, hidden := range []string{"echo_write", "undeclared", "needs_two"} {
		if strings.Contains(body, hidden) {
			t.Fatalf("stream leaks %s: %q", hidden, body)
		}
	}
	want := "id: 1\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}\n\n"
	if !strings.Contains(body, want) {
		t.Errorf("progress event not passed: %q", body)
	}
	if !strings.Contains(body, `"tools":[{"name":"echo_read","_meta":{"scopegate/scopes":["notes:read"]}}]`) || !strings.Contains(body, `"nextCursor":"c2"`) ||
		!strings.Contains(body, "id: 2\n") || !strings.Contains(body, "retry: 10\n") {
		t.Errorf("filtered response or its fields missing: %q", body)
	}
}

// TestEnforceListSplitAcrossWrites: the backend's stream split at every
// byte boundary (two writes), and in pieces of every size up to 32, is
// filtered identically.
func TestEnforceListSplitAcrossWrites(t *testing.T) {
	var pieces []string
	b := &fakeBackend{answer: sseAnswer(func() []string { return pieces })}
	g := enforcingGateway(t, b)
	req := `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`
	var want string
	for i := 1; i < len(listStream); i++ {
		pieces = []string{listStream[:i], listStream[i:]}
		w := serveNext(t, g, b, post("good", req))
		if i == 1 {
			want = w.Body.String()
			checkListStream(t, want)
		} else if w.Body.String() != want {
			t.Fatalf("split at %d (%q|%q):\n got  %q\n want %q", i, listStream[max(0, i-5):i], listStream[i:min(len(listStream), i+5)], w.Body, want)
		}
	}
	for n := 1; n <= 32; n++ {
		pieces = nil
		for s := listStream; s != ""; {
			k := min(n, len(s))
			pieces = append(pieces, s[:k])
			s = s[k:]
		}
		if w := serveNext(t, g, b, post("good", req)); w.Body.String() != want {
			t.Fatalf("pieces of %d:\n got  %q\n want %q", n, w.Body, want)
		}
	}
}

// flushRecorder records what had reached the client at each flush.
type flushRecorder struct {
	*httptest.ResponseRecorder
	atFlush []string
}

func (f *flushRecorder) Flush() {
	f.ResponseRecorder.Flush()
	f.atFlush = append(f.atFlush, f.Body.String())
}

// TestEnforceListPassesOtherEventsAtOnce: a notification event before
// the list response reaches the client when the backend flushes it, not
// when the response is complete.
func TestEnforceListPassesOtherEventsAtOnce(t *testing.T) {
	var client *flushRecorder
	var sawProgress bool
	b := &fakeBackend{answer: func(w http.ResponseWriter, r *http.Request, rpc string) bool {
		if rpc != "tools/list" {
			return false
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		_, _ = io.WriteString(w, "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\n\n")
		_ = rc.Flush()
		sawProgress = strings.Contains(client.Body.String(), "notifications/progress")
		_, _ = io.WriteString(w, `data: {"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo_write","_meta":{"scopegate/scopes":["notes:write"]}}]}}`+"\n\n")
		return true
	}}
	g := enforcingGateway(t, b)
	client = &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
	r := post("good", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if err := g.ServeHTTP(client, r, b); err != nil {
		t.Fatal(err)
	}
	if !sawProgress {
		t.Errorf("the progress event had not reached the client when the backend flushed it; flushes saw %q", client.atFlush)
	}
	if strings.Contains(client.Body.String(), "echo_write") || !strings.Contains(client.Body.String(), `"tools":[]`) {
		t.Errorf("response not filtered: %q", client.Body)
	}
}

// TestEnforceUnparsableListEvent: a list response event that does not
// parse is replaced by a JSON-RPC error event with the request's id.
func TestEnforceUnparsableListEvent(t *testing.T) {
	for name, data := range map[string]string{
		"truncated":       `{"jsonrpc":"2.0","id":"q","result":{"tools":[{"name":"echo_write"`,
		"duplicate tools": `{"jsonrpc":"2.0","id":"q","result":{"tools":[],"tools":[{"name":"echo_write"}]}}`,
		"array":           `[{"jsonrpc":"2.0","id":"q","result":{"tools":[{"name":"echo_write"}]}}]`,
	} {
		t.Run(name, func(t *testing.T) {
			b := &fakeBackend{answer: sseAnswer(func() []string { return []string{"data: " + data[:9], data[9:] + "\n\n"} })}
			g := enforcingGateway(t, b)
			w := serveNext(t, g, b, post("good", `{"jsonrpc":"2.0","id":"q","method":"tools/list"}`))
			body := w.Body.String()
			if strings.Contains(body, "echo_write") {
				t.Fatalf("raw list passed: %q", body)
			}
			ev := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(body, "event: message\n"), "data: "))
			if id, code := rpcErr(t, ev); id != `"q"` || code != -32603 {
				t.Errorf("error event %q", body)
			}
		})
	}
}

// TestEnforceListRequestHeaders: a rewritten list is asked for without
// Accept-Encoding; an encoded answer is refused; other requests keep the
// header.
func TestEnforceListRequestHeaders(t *testing.T) {
	encoded := false
	b := &fakeBackend{answer: func(w http.ResponseWriter, r *http.Request, rpc string) bool {
		if rpc != "tools/list" || !encoded {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo_write"}]}}`)
		return true
	}}
	g := enforcingGateway(t, b)
	r := post("good", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, "Accept-Encoding", "gzip, br")
	serveNext(t, g, b, r)
	if ae := b.last().header.Values("Accept-Encoding"); ae != nil {
		t.Errorf("tools/list forwarded with Accept-Encoding %q", ae)
	}
	serveNext(t, g, b, post("good", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_read"}}`, "Accept-Encoding", "gzip"))
	if ae := b.last().header.Get("Accept-Encoding"); ae != "gzip" {
		t.Errorf("tools/call forwarded with Accept-Encoding %q, want it kept", ae)
	}
	encoded = true
	w := serveNext(t, g, b, post("good", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if w.Code != http.StatusBadGateway || strings.Contains(w.Body.String(), "echo_write") {
		t.Errorf("encoded list: %d %q, want 502 without the list", w.Code, w.Body)
	}
}

// TestEnforceSessionBinding: a legacy session belongs to the subject of
// its initialize; any other subject gets the 404 of a missing session on
// POST, GET and DELETE, and cannot end it; the owner can. The client
// holds the wrapped id, the backend sees its own.
func TestEnforceSessionBinding(t *testing.T) {
	b := &fakeBackend{}
	g := enforcingGateway(t, b)
	w := serveNext(t, g, b, post("alice", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`))
	sid := w.Header().Get(headerSession)
	if w.Code != 200 || sid == "" {
		t.Fatalf("initialize: %d, session %q", w.Code, sid)
	}
	ghost := serveNext(t, g, b, post("bob", `{"jsonrpc":"2.0","id":2,"method":"ping"}`, headerSession, "session-999"))
	if ghost.Code != 404 {
		t.Fatalf("unknown session: %d", ghost.Code)
	}
	before := b.count()
	for _, r := range []*http.Request{
		post("bob", `{"jsonrpc":"2.0","id":2,"method":"ping"}`, headerSession, sid),
		post("bob", `{"jsonrpc":"2.0","id":2,"method":"ping"}`, headerSession, sid, "X-Scopegate-Subject", "alice"),
		post("alice", `{"jsonrpc":"2.0","id":2,"method":"ping"}`, headerSession, sid, headerSession, sid),
		withSession(httptest.NewRequest(http.MethodGet, "/mcp", nil), "bob", sid),
		withSession(httptest.NewRequest(http.MethodDelete, "/mcp", nil), "bob", sid),
	} {
		w := serveNext(t, g, b, r)
		if w.Code != 404 || w.Body.String() != ghost.Body.String() {
			t.Errorf("%s as %s: %d %q, want the unknown session's 404 %q", r.Method, r.Header.Get("Authorization"), w.Code, w.Body, ghost.Body)
		}
	}
	if b.count() != before {
		t.Errorf("%d replayed requests reached the backend", b.count()-before)
	}
	if w := serveNext(t, g, b, post("alice", `{"jsonrpc":"2.0","id":3,"method":"ping"}`, headerSession, sid)); w.Code != 200 {
		t.Fatalf("owner: %d", w.Code)
	}
	if w := serveNext(t, g, b, withSession(httptest.NewRequest(http.MethodDelete, "/mcp", nil), "alice", sid)); w.Code >= 300 {
		t.Fatalf("owner's DELETE: %d", w.Code)
	}
	// Ended through this replica: refused from then on, for backends that
	// do not refuse it themselves.
	before = b.count()
	if w := serveNext(t, g, b, post("alice", `{"jsonrpc":"2.0","id":4,"method":"ping"}`, headerSession, sid)); w.Code != 404 || b.count() != before {
		t.Errorf("ended session: %d (reached the backend %d times), want 404", w.Code, b.count()-before)
	}
}

func withSession(r *http.Request, tok, sid string) *http.Request {
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Header.Set(headerSession, sid)
	return r
}

// TestEnforceSessionIDReusedByBackend: a backend that hands one subject a
// session id bound to another (say, echoing the id a client sent) would
// join two users in one session: the gateway replaces that initialize
// response with 502 and drops the id and body.
func TestEnforceSessionIDReusedByBackend(t *testing.T) {
	b := &fakeBackend{answer: func(w http.ResponseWriter, r *http.Request, rpc string) bool {
		if rpc != "initialize" {
			return false
		}
		w.Header().Set(headerSession, "fixed-session")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{"secret":"alice's session"}}`)
		return true
	}}
	g := enforcingGateway(t, b)
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`
	w := serveNext(t, g, b, post("alice", init))
	if id, ok, _ := g.sessionKeys.Unwrap(context.Background(), w.Header().Get(headerSession), "alice"); w.Code != 200 || !ok || id != "fixed-session" {
		t.Fatalf("alice's initialize: %d %v", w.Code, w.Header())
	}
	w = serveNext(t, g, b, post("bob", init))
	if w.Code != http.StatusBadGateway || w.Header().Get(headerSession) != "" || strings.Contains(w.Body.String(), "secret") {
		t.Errorf("bob got alice's session id: %d %v %q", w.Code, w.Header(), w.Body)
	}
}

// TestEnforceListFiltersPerToken: the same JSON list answer is filtered
// for each token's scopes; cacheScope becomes private.
func TestEnforceListFiltersPerToken(t *testing.T) {
	b := &fakeBackend{answer: func(w http.ResponseWriter, r *http.Request, rpc string) bool {
		if rpc != "tools/list" {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		list := strings.Replace(fakeToolsList, `"scopegate-discovery"`, "5", 1)
		list = strings.TrimSuffix(list, `]}}`) + `],"ttlMs":1000,"cacheScope":"public"}}`
		_, _ = io.WriteString(w, list)
		return true
	}}
	g := enforcingGateway(t, b)
	for tok, want := range map[string][]string{
		"good":  {"echo_read"},
		"alice": {"echo_read", "echo_write"},
		"none":  nil,
	} {
		w := serveNext(t, g, b, post(tok, `{"jsonrpc":"2.0","id":5,"method":"tools/list"}`))
		var resp struct {
			Result struct {
				Tools []struct {
					Name string `json:"name"`
				} `json:"tools"`
				CacheScope string `json:"cacheScope"`
			} `json:"result"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatalf("%s: %v: %s", tok, err, w.Body)
		}
		var got []string
		for _, x := range resp.Result.Tools {
			got = append(got, x.Name)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) || resp.Result.CacheScope != "private" {
			t.Errorf("%s: tools %v cacheScope %q, want %v private", tok, got, resp.Result.CacheScope, want)
		}
		if cl := w.Header().Get("Content-Length"); cl != fmt.Sprint(w.Body.Len()) {
			t.Errorf("%s: Content-Length %s for %d bytes", tok, cl, w.Body.Len())
		}
	}
}
