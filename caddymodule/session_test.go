package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/caddymodule/internal/sessionbind"
)

// TestSessionsOutliveReload: a reload provisions the new gateway before
// the old one is cleaned up; the bindings must carry over, or every
// legacy session would become unknown (404) to the new instance.
func TestSessionsOutliveReload(t *testing.T) {
	mutate := func(g *Gateway) { g.Resource = "https://reload.example.com/mcp" }
	old := testGateway(t, mutate)
	old.sessions.Bind("sid-reload", "alice")

	fresh := testGateway(t, mutate) // the reloaded config
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if got := fresh.sessions.Lookup("sid-reload", "alice"); got != sessionbind.Owned {
		t.Fatalf("after reload the session is %v, want owned", got)
	}
	if got := fresh.sessions.Lookup("sid-reload", "bob"); got != sessionbind.Foreign {
		t.Fatalf("after reload another subject sees %v, want foreign", got)
	}

	other := testGateway(t, func(g *Gateway) { g.Resource = "https://other.example.com/mcp" })
	if got := other.sessions.Lookup("sid-reload", "alice"); got == sessionbind.Owned {
		t.Fatal("a gateway for another resource shares the session store")
	}
	fresh.Cleanup()
	other.Cleanup()
}

// TestCancellationOnlyInOwnSession: notifications/cancelled without a
// session is answered 202 and never forwarded; inside the sender's own
// session it reaches the backend.
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
	g.sessions.Bind("sid-alice", "alice")
	if res := post("sid-alice"); res.code != 299 || res.reached == nil {
		t.Errorf("in the sender's own session: %d, reached %v; want it forwarded", res.code, res.reached != nil)
	}
	g.sessions.Bind("sid-bob", "bob")
	if res := post("sid-bob"); res.code != http.StatusNotFound || res.reached != nil {
		t.Errorf("in another subject's session: %d, reached %v; want 404", res.code, res.reached != nil)
	}
}
