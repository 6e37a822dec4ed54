package caddymodule

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/certmagic"

	"github.com/scopegate/scopegate/caddymodule/internal/sessionbind"
)

// wrapFor is the id the gateway hands subject for the backend's sid.
func wrapFor(t *testing.T, g *Gateway, sid, subject string) string {
	t.Helper()
	w, err := g.sessionKeys.Wrap(context.Background(), sid, subject)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestSessionsOutliveReload: the gateway of a reloaded config, like
// another replica sharing the storage, accepts the ids the old one handed
// out, for their own subject only; a gateway for another resource accepts
// none.
func TestSessionsOutliveReload(t *testing.T) {
	mutate := func(g *Gateway) { g.Resource = "https://reload.example.com/mcp" }
	old := testGateway(t, mutate)
	wrapped := wrapFor(t, old, "sid-reload", "alice")

	fresh := testGateway(t, mutate) // the reloaded config
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if id, ok, err := fresh.sessionKeys.Unwrap(ctx, wrapped, "alice"); err != nil || !ok || id != "sid-reload" {
		t.Fatalf("after reload the session unwraps to %q, %v, %v; want sid-reload", id, ok, err)
	}
	if _, ok, _ := fresh.sessionKeys.Unwrap(ctx, wrapped, "bob"); ok {
		t.Fatal("after reload another subject's session is accepted")
	}

	other := testGateway(t, func(g *Gateway) { g.Resource = "https://other.example.com/mcp" })
	if _, ok, _ := other.sessionKeys.Unwrap(ctx, wrapped, "alice"); ok {
		t.Fatal("a gateway for another resource accepts the session")
	}
	fresh.Cleanup()
	other.Cleanup()
}

// TestCancellationOnlyInOwnSession: notifications/cancelled without a
// session is answered 202 and never forwarded; inside the sender's own
// session it reaches the backend, with the backend's own id.
func TestCancellationOnlyInOwnSession(t *testing.T) {
	g := testGateway(t, func(g *Gateway) { g.Resource = "https://cancel.example.com/mcp" })
	defer g.Cleanup()
	const body = `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}`
	post := func(sid string) result {
		r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer good")
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		if sid != "" {
			r.Header.Set(headerSession, sid)
		}
		return serve(t, g, r)
	}
	if res := post(""); res.code != http.StatusAccepted || res.reached != nil {
		t.Errorf("without a session: %d, reached %v; want 202 and nothing forwarded", res.code, res.reached != nil)
	}
	res := post(wrapFor(t, g, "sid-alice", "alice"))
	if res.code != 299 || res.reached == nil {
		t.Fatalf("in the sender's own session: %d, reached %v; want it forwarded", res.code, res.reached != nil)
	}
	if got := res.reached.Header.Values(headerSession); len(got) != 1 || got[0] != "sid-alice" {
		t.Errorf("the backend got session %q, want the unwrapped sid-alice", got)
	}
	for name, sid := range map[string]string{
		"another subject's session": wrapFor(t, g, "sid-bob", "bob"),
		"the raw backend id":        "sid-alice",
	} {
		if res := post(sid); res.code != http.StatusNotFound || res.reached != nil {
			t.Errorf("%s: %d, reached %v; want 404", name, res.code, res.reached != nil)
		}
	}
}

// TestSessionIDsWrapped: every Mcp-Session-Id the backend answers reaches
// the client wrapped for the subject — initialize, a GET stream, a DELETE,
// a plain call, and a response flushed before its first write — and the
// backend gets its own id back on the next request. Ids that do not
// verify for the subject get 404 and never reach the backend.
func TestSessionIDsWrapped(t *testing.T) {
	const backendSID = "mcp-session-7c1f"
	b := &fakeBackend{answer: func(w http.ResponseWriter, r *http.Request, rpc string) bool {
		if rpc != "initialize" && r.Header.Get(headerSession) == "" {
			return false
		}
		w.Header().Set(headerSession, backendSID)
		if rpc == "initialize" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
			return true
		}
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "text/event-stream")
			http.NewResponseController(w).Flush() // headers before any write
			_, _ = io.WriteString(w, ": ping\n\n")
			return true
		}
		if rpc == "ping" {
			w.Header().Set("Content-Type", "application/json")
			http.NewResponseController(w).Flush() // headers before any write
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":2,"result":{}}`)
			return true
		}
		if r.Method == http.MethodDelete {
			http.NewResponseController(w).Flush() // headers without WriteHeader
			return true
		}
		return false
	}}
	g := enforcingGateway(t, b)
	init := serveNext(t, g, b, post("alice", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`))
	wrapped := init.Header().Get(headerSession)
	if init.Code != http.StatusOK || wrapped == "" || wrapped == backendSID || !strings.HasPrefix(wrapped, "sg1.") {
		t.Fatalf("initialize: %d, session %q; want the backend's id wrapped", init.Code, wrapped)
	}
	for _, c := range wrapped {
		if c < 0x21 || c > 0x7e {
			t.Fatalf("wrapped id %q is not visible ASCII", wrapped)
		}
	}
	reqs := map[string]*http.Request{
		"call":   post("alice", `{"jsonrpc":"2.0","id":2,"method":"ping"}`, headerSession, wrapped),
		"GET":    httptest.NewRequest(http.MethodGet, "/mcp", nil),
		"DELETE": httptest.NewRequest(http.MethodDelete, "/mcp", nil),
	}
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		reqs[m].Header.Set("Authorization", "Bearer alice")
		reqs[m].Header.Set("Accept", "application/json, text/event-stream")
		reqs[m].Header.Set(headerSession, wrapped)
	}
	for _, name := range []string{"call", "GET", "DELETE"} {
		rec := serveNext(t, g, b, reqs[name])
		if rec.Code != http.StatusOK {
			t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
		}
		if got := b.last().header.Values(headerSession); len(got) != 1 || got[0] != backendSID {
			t.Errorf("%s: the backend got session %q, want %q", name, got, backendSID)
		}
		// The headers as sent (the recorder's snapshot at the first
		// write or flush), not the live map.
		if got := rec.Result().Header.Get(headerSession); got != wrapped {
			t.Errorf("%s: the client got session %q, want the wrapped %q", name, got, wrapped)
		}
	}

	before := b.count()
	for name, sid := range map[string]string{
		"raw backend id": backendSID,
		"bob's":          wrapFor(t, g, backendSID, "bob"),
		"truncated":      wrapped[:len(wrapped)-1],
	} {
		if rec := serveNext(t, g, b, post("alice", `{"jsonrpc":"2.0","id":3,"method":"ping"}`, headerSession, sid)); rec.Code != http.StatusNotFound {
			t.Errorf("%s session id: %d, want 404", name, rec.Code)
		}
	}
	if rec := serveNext(t, g, b, post("bob", `{"jsonrpc":"2.0","id":3,"method":"ping"}`, headerSession, wrapped)); rec.Code != http.StatusNotFound {
		t.Errorf("alice's session replayed by bob: %d, want 404", rec.Code)
	}
	if n := b.count() - before; n != 0 {
		t.Errorf("%d refused requests reached the backend", n)
	}
}

// TestSessionKeysUnavailable: when the keys can be neither read nor
// created, an initialize and a request in a session get 503 and never
// reach the backend; requests without a session are not affected.
func TestSessionKeysUnavailable(t *testing.T) {
	b := &fakeBackend{}
	g := enforcingGateway(t, b)
	g.sessionKeys = sessionbind.NewKeyring(brokenStorage{}, g.Resource, 0, 0, nil)
	for name, r := range map[string]*http.Request{
		"initialize": post("alice", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`),
		"in session": post("alice", `{"jsonrpc":"2.0","id":2,"method":"ping"}`, headerSession, "sg1.00000000.YQ."+strings.Repeat("A", 43)),
	} {
		if rec := serveNext(t, g, b, r); rec.Code != http.StatusServiceUnavailable || rec.Header().Get(headerSession) != "" {
			t.Errorf("%s: %d (session %q), want 503", name, rec.Code, rec.Header().Get(headerSession))
		}
	}
	if b.count() != 0 {
		t.Errorf("%d requests reached the backend", b.count())
	}
	if rec := serveNext(t, g, b, post("alice", `{"jsonrpc":"2.0","id":3,"method":"ping"}`)); rec.Code != http.StatusOK {
		t.Errorf("without a session: %d, want 200", rec.Code)
	}
}

// brokenStorage fails every operation, as a storage that cannot be
// reached.
type brokenStorage struct{ certmagic.Storage }

func (brokenStorage) Load(context.Context, string) ([]byte, error) { return nil, errBroken }
func (brokenStorage) Lock(context.Context, string) error           { return errBroken }

var errBroken = io.ErrClosedPipe

var _ caddyhttp.Handler = (*fakeBackend)(nil)
