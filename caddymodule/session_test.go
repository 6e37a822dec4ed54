package caddymodule

import (
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
