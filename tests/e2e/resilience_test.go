package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/mcptestserver"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// TestDiscoveryFallback: a provider with only RFC 8414 metadata (no OpenID
// discovery) still serves the JWKS and introspection endpoints the gateway
// needs.
func TestDiscoveryFallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{provider: oidctest.Options{OAuthMetadataOnly: true}})
	for _, opaque := range []bool{false, true} {
		if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, opaque, "notes:read"))); r.status != http.StatusOK {
			t.Errorf("opaque=%v: %s, want 200", opaque, statusOf(r))
		}
	}
}

// TestClockLeeway: a small clock skew is tolerated for exp and iat/nbf; a
// large one is not.
func TestClockLeeway(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	now := time.Now()
	tests := []struct {
		name     string
		iat, exp time.Time
		want     int
	}{
		{"expired 5s ago", now.Add(-5 * time.Minute), now.Add(-5 * time.Second), http.StatusOK},
		{"expired 5m ago", now.Add(-10 * time.Minute), now.Add(-5 * time.Minute), http.StatusUnauthorized},
		{"issued 5s ahead", now.Add(5 * time.Second), now.Add(5 * time.Minute), http.StatusOK},
		{"issued 5m ahead", now.Add(5 * time.Minute), now.Add(10 * time.Minute), http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := e.provider.MintJWT(t, oidctest.MintRequest{Audience: []string{e.resource}, Scopes: []string{"notes:read"}, IssuedAt: tc.iat, ExpiresAt: tc.exp})
			r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
			if r.status != tc.want {
				t.Errorf("%s, want %d", statusOf(r), tc.want)
			}
		})
	}
}

// TestClaimVariants: scopes come from `scope` or `scp` (array or string),
// the client from `client_id` or `azp`.
func TestClaimVariants(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tests := []struct {
		name       string
		claims     map[string]any
		wantScopes string
		wantClient string
	}{
		{"scope string", map[string]any{"scope": "notes:read files:read"}, "notes:read files:read", oidctest.JWTClientID},
		{"scp array", map[string]any{"scp": []string{"notes:read", "files:read"}}, "notes:read files:read", oidctest.JWTClientID},
		{"scp string", map[string]any{"scp": "notes:read files:read"}, "notes:read files:read", oidctest.JWTClientID},
		{"azp", map[string]any{"scope": "notes:read", "client_id": nil, "azp": "agent-7"}, "notes:read", "agent-7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := e.provider.MintJWT(t, oidctest.MintRequest{Audience: []string{e.resource}, Subject: "user-42", Claims: tc.claims})
			r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
			if r.status != http.StatusOK {
				t.Fatalf("%s, want 200", statusOf(r))
			}
			got := e.mcp.Requests()
			h := got[len(got)-1].Header
			if h.Get("X-Scopegate-Subject") != "user-42" || h.Get("X-Scopegate-Client-Id") != tc.wantClient || h.Get("X-Scopegate-Scopes") != tc.wantScopes {
				t.Errorf("upstream identity subject %q client %q scopes %q; want user-42 %q %q",
					h.Get("X-Scopegate-Subject"), h.Get("X-Scopegate-Client-Id"), h.Get("X-Scopegate-Scopes"), tc.wantClient, tc.wantScopes)
			}
		})
	}
}

// TestProviderDownAtStartup: Caddy starts while the provider is down,
// answers 503 with Retry-After meanwhile, and works once the provider is
// up.
func TestProviderDownAtStartup(t *testing.T) {
	t.Parallel()
	// Readiness is checked on /other, so the gateway has contacted nothing
	// yet: stopping the provider now is "down at startup" for the gateway.
	e := newEnv(t, envOptions{})
	tok := e.token(t, false, "notes:read")
	e.provider.Stop()
	r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("provider down before the first request: %s (Retry-After %q), want 503 with Retry-After", statusOf(r), r.header.Get("Retry-After"))
	}
	e.provider.Restart(t)
	eventually(t, "token accepted once the provider is up", func() (bool, string) {
		r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
		if r.status != http.StatusOK && r.status != http.StatusServiceUnavailable {
			t.Fatalf("while the gateway recovers: %s, want 503 or 200", statusOf(r))
		}
		return r.status == http.StatusOK, statusOf(r)
	})
}

// TestIntrospectionRefused: when the provider refuses the gateway's
// introspection credentials, opaque tokens are never passed.
func TestIntrospectionRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noIntrospection: true, gatewayExtra: "introspection {\n\tclient_id " + oidctest.ResourceServerID + "\n\tclient_secret wrong-secret\n}"})
	r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, true, "notes:read")))
	t.Logf("opaque token with refused introspection credentials: %d", r.status)
	if r.status == http.StatusOK || e.upstreamCalls() != 0 {
		t.Fatalf("%s: a token that could not be introspected was passed", statusOf(r))
	}
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("%s, want 503: the gateway cannot judge the token, the token is not known bad", statusOf(r))
	}
}

// TestReload: after a config reload the gateway still validates tokens and
// its metrics keep counting from where they were.
func TestReload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for range 3 {
		if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, false, "notes:read"))); r.status != http.StatusOK {
			t.Fatalf("before reload: %s", statusOf(r))
		}
	}
	before := validCount(t, e.caddy.Metrics(t))
	e.caddy.Reload(t)
	// The reload shuts the old server's keep-alive connections; a POST sent
	// on one the client still holds as idle fails with EOF, and Go's client
	// never resends a POST. Clients reconnect after a reload: so does this.
	http.DefaultClient.CloseIdleConnections()
	for _, opaque := range []bool{false, true} {
		if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, opaque, "notes:read"))); r.status != http.StatusOK {
			t.Errorf("after reload, opaque=%v: %s", opaque, statusOf(r))
		}
	}
	if after := validCount(t, e.caddy.Metrics(t)); after != before+2 {
		t.Errorf("valid validations %v before reload, %v after two more, want %v", before, after, before+2)
	}
	if strings.Contains(e.caddy.Logs(), "duplicate metrics collector registration") {
		t.Error("metrics registration conflict on reload")
	}
}

func validCount(t *testing.T, metrics string) float64 {
	t.Helper()
	var sum float64
	for _, m := range validationLine.FindAllStringSubmatch(metrics, -1) {
		if !strings.Contains(m[1], `result="valid"`) {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("metric value %q: %v", m[2], err)
		}
		sum += v
	}
	return sum
}

// TestClaimEdgeCases: RFC 7519 allows `aud` as a string or an array; `iss`
// must match exactly; `nbf` alone can make a token not yet valid; odd
// encodings of `exp` do not make it ignored.
func TestClaimEdgeCases(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	now := time.Now()
	tests := []struct {
		name    string
		claims  map[string]any
		want    int
		reasons []string
	}{
		{"aud string", map[string]any{"aud": e.resource}, http.StatusOK, nil},
		{"aud among others", map[string]any{"aud": []string{"api://other", e.resource}}, http.StatusOK, nil},
		{"iss with trailing slash", map[string]any{"iss": e.provider.Issuer() + "/"}, http.StatusUnauthorized, []string{"issuer"}},
		{"iss differing in case", map[string]any{"iss": strings.ToUpper(e.provider.Issuer())}, http.StatusUnauthorized, []string{"issuer"}},
		{"nbf ahead, iat now", map[string]any{"nbf": now.Add(10 * time.Minute).Unix()}, http.StatusUnauthorized, []string{"future", "not yet", "nbf"}},
		// jwx reads a numeric string as a date; what matters is that the
		// value is not ignored.
		{"past exp as string", map[string]any{"exp": strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)}, http.StatusUnauthorized, nil},
		{"past exp as float", map[string]any{"exp": float64(now.Add(-time.Hour).Unix()) + 0.5}, http.StatusUnauthorized, []string{"expire"}},
		{"aud of another resource besides an unrelated one", map[string]any{"aud": []string{"api://other", e.resource + "/x"}}, http.StatusUnauthorized, []string{"audience"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := e.provider.MintJWT(t, oidctest.MintRequest{Audience: []string{e.resource}, Scopes: []string{"notes:read"}, Claims: tc.claims})
			r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
			if tc.want == http.StatusUnauthorized {
				checkInvalidToken(t, e, r, tok, tc.reasons...)
				return
			}
			if r.status != tc.want {
				t.Errorf("%s, want %d", statusOf(r), tc.want)
			}
		})
	}
}
