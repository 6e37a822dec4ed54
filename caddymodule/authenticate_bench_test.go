package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/scopegate/scopegate/caddymodule/internal/tokenverifier"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// cachedJWTGateway is a test gateway with a real verifier against the
// in-process OpenID provider, and a request carrying a JWT that verifier
// has already verified once.
func cachedJWTGateway(t testing.TB) (*Gateway, *http.Request) {
	p := oidctest.Start(t, oidctest.Options{})
	g := testGateway(&testing.T{})
	v, err := tokenverifier.New(context.Background(), tokenverifier.Config{Issuer: p.Issuer(), Audiences: []string{g.Resource}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	g.verifier = v
	tok := p.MintJWT(t, oidctest.MintRequest{Audience: []string{g.Resource}, Scopes: []string{"notes:read", "notes:write"}})
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	if _, err := g.authenticate(r, tok); err != nil {
		t.Fatal(err)
	}
	return g, r
}

// authenticateStep is step 4 of ServeHTTP: the bearer token out of the
// header, verified (from the cache here) and counted.
func authenticateStep(tb testing.TB, g *Gateway, r *http.Request) {
	token, status, why := bearerToken(r)
	if status != 0 {
		tb.Fatalf("%d %s", status, why)
	}
	if id, err := g.authenticate(r, token); err != nil || id.Subject == "" {
		tb.Fatalf("authenticate: %+v, %v", id, err)
	}
}

// BenchmarkAuthenticateCachedJWT is what a request with a JWT verified
// before costs the gateway to authenticate.
func BenchmarkAuthenticateCachedJWT(b *testing.B) {
	g, r := cachedJWTGateway(b)
	b.ReportAllocs()
	for b.Loop() {
		authenticateStep(b, g, r)
	}
}

// TestAuthenticateCachedAllocations holds cached-token authentication,
// header to metrics, to at most three allocations (issue 11).
func TestAuthenticateCachedAllocations(t *testing.T) {
	g, r := cachedJWTGateway(t)
	allocs := testing.AllocsPerRun(200, func() { authenticateStep(t, g, r) })
	t.Logf("%.0f allocations", allocs)
	if allocs > 3 {
		t.Fatalf("cached-token authentication: %.0f allocations, want at most 3", allocs)
	}
}
