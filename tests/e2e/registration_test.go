package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/mcptestserver"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// TestSelfRegistration: with `introspection` and no client credentials the
// gateway registers its own client (RFC 7591) once, keeps it across
// requests and reloads (Caddy storage), and registers anew when the
// provider deletes it.
func TestSelfRegistration(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noIntrospection: true, gatewayExtra: "introspection", provider: oidctest.Options{Registration: true}})
	accept := func(what string) {
		t.Helper()
		if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, true, "notes:read"))); r.status != http.StatusOK {
			t.Fatalf("%s: %s", what, statusOf(r))
		}
	}
	accept("first opaque token")
	first := e.provider.RegisteredClientIDs()
	if len(first) != 1 {
		t.Fatalf("registered clients after the first token: %v, want one", first)
	}
	accept("second opaque token")
	e.caddy.Reload(t)
	accept("opaque token after reload")
	if got := e.provider.RegisteredClientIDs(); !slices.Equal(got, first) || e.provider.Hits("/register") != 1 {
		t.Fatalf("registered clients %v after %d registrations, want %v after 1", got, e.provider.Hits("/register"), first)
	}

	e.provider.DeleteClient(t, first[0])
	eventually(t, "opaque token accepted after the provider deleted the gateway's client", func() (bool, string) {
		r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, true, "notes:read")))
		if r.status != http.StatusOK && r.status != http.StatusServiceUnavailable {
			t.Fatalf("while re-registering: %s, want 503 or 200", statusOf(r))
		}
		return r.status == http.StatusOK, statusOf(r)
	})
	got := e.provider.RegisteredClientIDs()
	if len(got) != 1 || got[0] == first[0] {
		t.Fatalf("registered clients %v, want one new client", got)
	}
	secret := e.provider.ClientSecret(t, got[0])
	e.caddy.Stop() // flush
	if strings.Contains(e.caddy.Logs(), secret) {
		t.Error("the self-registered client secret appears in Caddy's logs")
	}
}

// TestSelfRegistrationUnavailable: without client credentials and without a
// registration endpoint, opaque tokens cannot be judged: 503, never a pass.
// JWTs do not need introspection and still work.
func TestSelfRegistrationUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noIntrospection: true, gatewayExtra: "introspection"})
	r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, true, "notes:read")))
	if r.status != http.StatusServiceUnavailable || e.upstreamCalls() != 0 {
		t.Errorf("opaque token without any introspection client: %s, want 503 and no upstream call", statusOf(r))
	}
	if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, false, "notes:read"))); r.status != http.StatusOK {
		t.Errorf("JWT: %s, want 200", statusOf(r))
	}
}
