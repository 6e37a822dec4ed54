// Regression tests for gateway defects the end-to-end suite found: they
// failed against the gateway of 2026-11-27 05:00 and pass since e184bb8.

package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/mcptestserver"
)

// TestKeyRotationRetrySameToken: a client that got 401 for a token of a key
// the gateway has not fetched yet, and retries the same token, is accepted
// once the gateway may refetch the JWKS (10 s), not only when the
// remembered rejection expires (30 s). Otherwise anyone who triggers a
// refetch with a random kid just before a provider's key rotation makes the
// first tokens of the new key fail for half a minute.
func TestKeyRotationRetrySameToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, false, "notes:read"))); r.status != http.StatusOK {
		t.Fatalf("token before rotation: %s", statusOf(r))
	}
	e.provider.Rotate(t)
	tok := e.token(t, false, "notes:read")
	start := time.Now()
	for {
		r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
		if r.status == http.StatusOK {
			t.Logf("accepted after %v", time.Since(start).Round(100*time.Millisecond))
			return
		}
		// The refetch interval plus a generous margin, well short of the
		// 30 s negative cache.
		if time.Since(start) > 18*time.Second {
			t.Fatalf("the same new-key token is still refused: %s", statusOf(r))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestPathVariantsNeedAuthentication: every request path that Caddy routes
// to the protected upstream must be authenticated. Caddy's path matchers are
// case-insensitive and match on the cleaned path, so `reverse_proxy /mcp*`
// (and the sample Caddyfile's `handle /mcp*`) route /MCP and /./mcp to the
// MCP server; a gateway that compares the raw path case-sensitively lets
// them through unauthenticated. mcp-go answers them with 404 or a redirect,
// but a backend that normalises paths itself would serve them.
func TestPathVariantsNeedAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, target := range []string{"/MCP", "/Mcp", "/MCP/sub", "/./mcp", "/x/../mcp", "/mcp/../mcp", "/%6Dcp"} {
		t.Run(target, func(t *testing.T) {
			req, err := mcptestserver.NewToolCallRequest(context.Background(), e.base+"/mcp", mcptestserver.ToolEchoRead, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Opaque makes the client send the request target unnormalised.
			req.URL.Opaque = target
			before := e.upstreamCalls()
			r := do(t, req)
			if e.upstreamCalls() != before {
				got := e.mcp.Requests()
				t.Errorf("request target %s reached the upstream as %q without a token (answer %d)", target, got[len(got)-1].Path, r.status)
			}
		})
	}
}
