package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/mcptestserver"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// pending skips a test that documents a gateway behaviour reported to the
// lead but not yet settled, unless SCOPEGATE_E2E_PENDING=1. Once the gateway
// passes, drop the call and move the test where it belongs.
func pending(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("SCOPEGATE_E2E_PENDING") != "1" {
		t.Skip("pending (set SCOPEGATE_E2E_PENDING=1 to run): " + why)
	}
}

// TestMalformedPayloadReason: a JWT whose signature is valid but whose
// payload is not JSON is malformed; saying its signature failed sends an
// operator looking for a key problem that is not there.
func TestMalformedPayloadReason(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.provider.BadToken(t, oidctest.MalformedPayload, oidctest.MintRequest{Audience: []string{e.resource}})
	r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
	checkInvalidToken(t, e, r, tok, "malformed", "payload", "claims", "json", "parse")
	if strings.Contains(strings.ToLower(r.header.Get("WWW-Authenticate")), "signature") {
		t.Errorf("challenge blames the signature: %s", r.header.Get("WWW-Authenticate"))
	}
}

// TestUnknownCriticalHeader: RFC 7515 §4.1.11 — a JWS whose "crit" header
// names an extension the recipient does not understand must be rejected.
// jwx v3's jwt.Parse with a key set ignores "crit" unless told otherwise
// (jws.WithCritValidation), so a validly signed token carrying a critical
// constraint the gateway cannot enforce is accepted.
func TestUnknownCriticalHeader(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.provider.BadToken(t, oidctest.UnknownCritical, oidctest.MintRequest{Audience: []string{e.resource}, Scopes: []string{"notes:read"}})
	checkInvalidToken(t, e, e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok)), tok)
	if n := e.upstreamCalls(); n != 0 {
		t.Errorf("upstream saw %d requests, want 0", n)
	}
}
