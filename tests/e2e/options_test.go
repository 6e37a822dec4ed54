package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/mcptestserver"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// TestMetadataOverrides: authorization_servers is advertised instead of the
// issuer, and challenge_scopes replaces scopes_supported in challenges.
func TestMetadataOverrides(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{gatewayExtra: "authorization_servers https://as.example https://as2.example\nchallenge_scopes notes:read"})
	r := do(t, newRequest(t, http.MethodGet, e.base+"/.well-known/oauth-protected-resource/mcp", "", nil))
	var doc struct {
		AuthorizationServers []string `json:"authorization_servers"`
		ScopesSupported      []string `json:"scopes_supported"`
	}
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	if want := []string{"https://as.example", "https://as2.example"}; !slices.Equal(doc.AuthorizationServers, want) {
		t.Errorf("authorization_servers %v, want %v", doc.AuthorizationServers, want)
	}
	if !slices.Equal(doc.ScopesSupported, strings.Fields(scopesSupported)) {
		t.Errorf("scopes_supported %v, want %v", doc.ScopesSupported, strings.Fields(scopesSupported))
	}
	r = do(t, newRequest(t, http.MethodPost, e.resource, "", nil))
	want := fmt.Sprintf(`Bearer resource_metadata="%s/.well-known/oauth-protected-resource/mcp", scope="notes:read"`, e.base)
	if got := r.header.Get("WWW-Authenticate"); r.status != http.StatusUnauthorized || got != want {
		t.Errorf("status %d, WWW-Authenticate %q, want 401 %q", r.status, got, want)
	}
	// Tokens still come from the issuer, whatever is advertised.
	if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, false, "notes:read"))); r.status != http.StatusOK {
		t.Errorf("valid token: %s", statusOf(r))
	}
}

// TestAudienceOption: `audience` replaces the accepted set; the resource URL
// is accepted only if listed.
func TestAudienceOption(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{gatewayExtra: "audience api://scopegate urn:other"})
	tests := []struct {
		aud    string
		opaque bool
		want   int
	}{
		{"api://scopegate", false, http.StatusOK},
		{"urn:other", false, http.StatusOK},
		{"api://scopegate", true, http.StatusOK},
		{e.resource, false, http.StatusUnauthorized},
		{e.resource, true, http.StatusUnauthorized},
		{"api://elsewhere", false, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s opaque=%v", tc.aud, tc.opaque), func(t *testing.T) {
			tok := e.provider.Token(t, oidctest.TokenRequest{Opaque: tc.opaque, Scopes: []string{"notes:read"}, Audience: []string{tc.aud}})
			r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
			if r.status != tc.want {
				t.Fatalf("%s, want %d", statusOf(r), tc.want)
			}
			if tc.want == http.StatusUnauthorized {
				checkInvalidToken(t, e, r, tok, "audience")
			}
		})
	}
}

// TestUserinfoFallback: without introspection, `userinfo on` validates
// opaque tokens at the discovered userinfo endpoint.
func TestUserinfoFallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noIntrospection: true, gatewayExtra: "userinfo on"})
	tok := e.token(t, true, "notes:read")
	// Userinfo proves the token, not its scopes: the identity holds none,
	// so a tool needing a scope is refused with a step-up challenge...
	r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
	if r.status != http.StatusForbidden || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("opaque token via userinfo calling a scoped tool: %s", statusOf(r))
	}
	// ...while a method that needs no scope reaches the server.
	req := newRequest(t, http.MethodPost, e.resource,
		`{"jsonrpc":"2.0","id":7,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`,
		append(bearer(tok), [2]string{"Content-Type", "application/json"}, [2]string{"Accept", "application/json, text/event-stream"},
			[2]string{"Mcp-Protocol-Version", "2026-07-28"}, [2]string{"Mcp-Method", "server/discover"}))
	if r := do(t, req); r.status != http.StatusOK {
		t.Fatalf("server/discover with an opaque token via userinfo: %s", statusOf(r))
	}
	got := e.mcp.Requests()
	if sub := got[len(got)-1].Header.Get("X-Scopegate-Subject"); sub != "sub-"+oidctest.OpaqueClientID {
		t.Errorf("subject %q, want %q", sub, "sub-"+oidctest.OpaqueClientID)
	}
	bogus := "opaque-" + strings.Repeat("z", 40)
	checkInvalidToken(t, e, e.callTool(t, mcptestserver.ToolEchoRead, bearer(bogus)), bogus)
}

// TestOpaqueWithoutIntrospection: with neither introspection nor userinfo an
// opaque token cannot be judged and is refused; JWTs still work.
func TestOpaqueWithoutIntrospection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noIntrospection: true})
	tok := e.token(t, true, "notes:read")
	if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok)); r.status != http.StatusUnauthorized {
		t.Errorf("opaque token without introspection: %s, want 401", statusOf(r))
	}
	if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, false, "notes:read"))); r.status != http.StatusOK {
		t.Errorf("JWT without introspection: %s, want 200", statusOf(r))
	}
}

// TestCacheTTL: a validated opaque token is trusted from the cache until
// cache_ttl ends, then introspected again, so revocation takes effect.
func TestCacheTTL(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cacheTTL: "2s"})
	tok := e.token(t, true, "notes:read")
	if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok)); r.status != http.StatusOK {
		t.Fatalf("before revocation: %s", statusOf(r))
	}
	e.provider.RevokeAll()
	eventually(t, "revoked token rejected once its cache entry ends", func() (bool, string) {
		r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
		if r.status == http.StatusUnauthorized {
			checkInvalidToken(t, e, r, tok)
			return true, ""
		}
		if r.status != http.StatusOK {
			t.Fatalf("revoked token: %s, want 200 (cached) or 401", statusOf(r))
		}
		return false, statusOf(r)
	})
}

// TestCacheNeverOutlivesToken: a cached result ends when the token expires,
// even though cache_ttl is longer. With the provider down, the expired
// opaque token then gets 503, never a pass.
func TestCacheNeverOutlivesToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{provider: oidctest.Options{TokenLifetime: 2 * time.Second}})
	tok := e.token(t, true, "notes:read")
	if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok)); r.status != http.StatusOK {
		t.Fatalf("fresh token: %s", statusOf(r))
	}
	e.provider.Stop()
	// The gateway may allow some clock leeway past exp (30 s by default).
	deadline := time.Now().Add(50 * time.Second)
	for {
		r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
		if r.status == http.StatusServiceUnavailable || r.status == http.StatusUnauthorized {
			t.Logf("expired token: %d", r.status)
			return
		}
		if r.status != http.StatusOK {
			t.Fatalf("expired token: %s", statusOf(r))
		}
		if time.Now().After(deadline) {
			t.Fatal("expired opaque token still served from the cache long after exp")
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestMalformedAuthorization: a Bearer header whose token is not RFC 6750
// b64token syntax is an invalid token; another scheme is no credentials.
func TestMalformedAuthorization(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	noCreds := fmt.Sprintf(`Bearer resource_metadata="%s/.well-known/oauth-protected-resource/mcp", scope="%s"`, e.base, scopesSupported)
	tests := []struct {
		header  string
		noCreds bool
	}{
		{"Bearer", false},
		{"Bearer ", false},
		{"Bearer a b", false},
		{"Bearer t\u00f6ken", false},
		{"Bearer " + strings.Repeat("a", 17<<10), false}, // over the gateway's 16 KiB limit
		{"Basic dXNlcjpwYXNz", true},
		{"Token abc", true},
	}
	for _, tc := range tests {
		name := tc.header
		if len(name) > 24 {
			name = name[:24] + "..."
		}
		t.Run(name, func(t *testing.T) {
			r := e.callTool(t, mcptestserver.ToolEchoRead, [][2]string{{"Authorization", tc.header}})
			if tc.noCreds {
				if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != noCreds {
					t.Errorf("%s, want 401 %q", statusOf(r), noCreds)
				}
				return
			}
			checkInvalidToken(t, e, r, strings.TrimPrefix(tc.header, "Bearer "))
		})
	}
	if n := e.upstreamCalls(); n != 0 {
		t.Errorf("upstream saw %d requests, want 0", n)
	}
}

// TestOAuthDiscovery: mcp-go's clients follow the gateway's challenge to
// the metadata document and on to the provider's metadata, and then work
// through the gateway with a token from that provider.
func TestOAuthDiscovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// A client without credentials learns the metadata URL from the 401.
	plain := newMCPClient(t, e.resource, "", "")
	_, err := plain.Initialize(ctx, mcp.InitializeRequest{})
	prm := client.GetResourceMetadataURL(err)
	if want := e.base + "/.well-known/oauth-protected-resource/mcp"; prm != want {
		t.Fatalf("resource metadata URL %q (error %v), want %q", prm, err, want)
	}

	// The OAuth client resolves the authorization server from it.
	store := transport.NewMemoryTokenStore()
	c, err := client.NewOAuthStreamableHttpClient(e.resource, client.OAuthConfig{
		ClientID:                     oidctest.JWTClientID,
		ClientSecret:                 oidctest.ClientSecret,
		Scopes:                       []string{"notes:read"},
		TokenStore:                   store,
		RedirectURI:                  "http://127.0.0.1:1/callback",
		ProtectedResourceMetadataURL: prm,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Initialize(ctx, mcp.InitializeRequest{})
	if !client.IsOAuthAuthorizationRequiredError(err) {
		t.Fatalf("initialize without token: %v, want OAuth authorization required", err)
	}
	md, err := client.GetOAuthHandler(err).GetServerMetadata(ctx)
	if err != nil {
		t.Fatalf("discover authorization server: %v", err)
	}
	if md.Issuer != e.provider.Issuer() || md.TokenEndpoint != e.provider.TokenEndpoint() {
		t.Errorf("discovered issuer %q, token endpoint %q; want %q, %q", md.Issuer, md.TokenEndpoint, e.provider.Issuer(), e.provider.TokenEndpoint())
	}

	// mcp-go has no client_credentials flow; the harness gets the token the
	// discovered endpoint issues and hands it to the client's store.
	resp, err := e.provider.RequestToken(ctx, oidctest.TokenRequest{Scopes: []string{"notes:read"}, Audience: []string{e.resource}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SaveToken(ctx, &transport.Token{AccessToken: resp.AccessToken, TokenType: "Bearer", ExpiresAt: time.Now().Add(time.Duration(resp.ExpiresIn) * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{}); err != nil {
		t.Fatalf("initialize with token: %v", err)
	}
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: mcptestserver.ToolEchoRead}})
	if err != nil {
		t.Fatalf("tools/call: %v", err)
	}
	if echo, err := mcptestserver.DecodeEcho(res); err != nil || http.Header(echo.Headers).Get("X-Scopegate-Scopes") != "notes:read" {
		t.Errorf("echo %+v, %v", echo, err)
	}
}

// TestExplicitEndpoints: jwks_uri and an introspection URL override
// discovery. URLs that do not answer make tokens unverifiable (503), which
// shows the overrides are what the gateway uses.
func TestExplicitEndpoints(t *testing.T) {
	t.Parallel()
	config := func(jwks, introspect string) string {
		return "jwks_uri " + jwks + "\nintrospection " + introspect +
			" {\n\tclient_id {env.MCP_CLIENT_ID}\n\tclient_secret {env.MCP_CLIENT_SECRET}\n}"
	}
	tests := []struct {
		name       string
		jwks       string
		introspect string
		want       int
	}{
		{"working", "$ISSUER/keys", "$ISSUER/oauth/introspect", http.StatusOK},
		{"missing", "$ISSUER/no-keys", "$ISSUER/no-introspect", http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{noIntrospection: true, gatewayExtra: config(tc.jwks, tc.introspect)})
			for _, opaque := range []bool{false, true} {
				r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, opaque, "notes:read")))
				if r.status != tc.want {
					t.Errorf("opaque=%v: %s, want %d", opaque, statusOf(r), tc.want)
				}
			}
		})
	}
}

// TestIntrospectionCached: an opaque token is introspected once and then
// served from the cache; so is a rejected one (negative caching), so
// repeating a bad token does not reach the provider each time.
func TestIntrospectionCached(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tests := []struct {
		name  string
		token string
		want  int
	}{
		{"active", e.token(t, true, "notes:read"), http.StatusOK},
		{"inactive", "opaque-" + strings.Repeat("q", 40), http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.provider.Hits("/oauth/introspect")
			for range 5 {
				if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tc.token)); r.status != tc.want {
					t.Fatalf("%s, want %d", statusOf(r), tc.want)
				}
			}
			if n := e.provider.Hits("/oauth/introspect") - before; n != 1 {
				t.Errorf("5 requests caused %d introspections, want 1", n)
			}
		})
	}
}

// TestIntrospectionAnswers: the gateway applies the iss/aud/exp rules to an
// introspection answer where it carries them, and does without the ones it
// lacks.
func TestIntrospectionAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rewrite func(resp map[string]any)
		want    int
		reasons []string
	}{
		{"no aud", func(r map[string]any) { delete(r, "aud") }, http.StatusOK, nil},
		{"no iss", func(r map[string]any) { delete(r, "iss") }, http.StatusOK, nil},
		{"no exp", func(r map[string]any) { delete(r, "exp") }, http.StatusOK, nil},
		{"aud as string", func(r map[string]any) { r["aud"] = r["aud"].([]any)[0] }, http.StatusOK, nil},
		{"other issuer", func(r map[string]any) { r["iss"] = "http://127.0.0.2:1" }, http.StatusUnauthorized, []string{"issuer"}},
		{"other audience", func(r map[string]any) { r["aud"] = []string{"api://elsewhere"} }, http.StatusUnauthorized, []string{"audience"}},
		{"active but expired", func(r map[string]any) { r["exp"] = time.Now().Add(-time.Hour).Unix() }, http.StatusUnauthorized, []string{"expire"}},
		// A malformed answer is the provider's fault: 503 or 401, never a pass.
		{"active as string", func(r map[string]any) { r["active"] = "true" }, refused, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rewrite := func(r map[string]any) {
				if r["active"] == true {
					tc.rewrite(r)
				}
			}
			e := newEnv(t, envOptions{provider: oidctest.Options{IntrospectionRewrite: rewrite}})
			tok := e.token(t, true, "notes:read")
			r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
			switch tc.want {
			case http.StatusUnauthorized:
				checkInvalidToken(t, e, r, tok, tc.reasons...)
			case refused:
				if (r.status != http.StatusUnauthorized && r.status != http.StatusServiceUnavailable) || e.upstreamCalls() != 0 {
					t.Errorf("%s, want 401 or 503 and no upstream call", statusOf(r))
				}
			default:
				if r.status != tc.want {
					t.Errorf("%s, want %d", statusOf(r), tc.want)
				}
			}
		})
	}
}

// refused is a want status meaning 401 or 503: rejected or not judged.
const refused = -1

// TestCacheSize: the validation cache holds at most cache_size results, so a
// token pushed out by others is introspected again.
func TestCacheSize(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{gatewayExtra: "cache_size 2"})
	first := e.token(t, true, "notes:read")
	present := func(tok string) {
		t.Helper()
		if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok)); r.status != http.StatusOK {
			t.Fatalf("%s", statusOf(r))
		}
	}
	present(first)
	present(first)
	if n := e.provider.Hits("/oauth/introspect"); n != 1 {
		t.Fatalf("%d introspections for one token presented twice, want 1", n)
	}
	// Many more distinct tokens than the cache holds.
	for range 10 {
		present(e.token(t, true, "notes:read"))
	}
	before := e.provider.Hits("/oauth/introspect")
	present(first)
	if n := e.provider.Hits("/oauth/introspect") - before; n != 1 {
		t.Errorf("first token after 10 others in a 2-entry cache: %d introspections, want 1", n)
	}
}
