package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/caddymodule/internal/tokenverifier"
)

// stubVerifier answers from a table: token → identity or error.
type stubVerifier map[string]any

func (s stubVerifier) VerifyCached(_ context.Context, token string) (tokenverifier.Identity, bool, error) {
	switch v := s[token].(type) {
	case tokenverifier.Identity:
		return v, false, nil
	case error:
		return tokenverifier.Identity{}, false, v
	}
	return tokenverifier.Identity{}, false, &tokenverifier.InvalidTokenError{Reason: "unknown signing key"}
}

func (stubVerifier) Close() error { return nil }

func testGateway(t *testing.T, mutate ...func(*Gateway)) *Gateway {
	t.Helper()
	g := &Gateway{
		Resource:        "https://cloud.example.com/mcp",
		Issuer:          "https://cloud.example.com",
		ScopesSupported: []string{"openid", "notes:read", "notes:write"},
	}
	for _, m := range mutate {
		m(g)
	}
	g.AuthorizationServers = []string{g.Issuer}
	g.Audience = []string{g.Resource}
	g.BaseScopes = []string{"openid", "profile", "email"}
	if g.ForwardToken == nil {
		on := true
		g.ForwardToken = &on
	}
	if err := g.setupResource(); err != nil {
		t.Fatal(err)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	g.logger = zap.NewNop()
	g.audits = g.logger
	g.metrics = registerMetrics(nil)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := g.setupEnforcement(ctx); err != nil {
		t.Fatal(err)
	}
	// Session keys in the test's own storage, shared by the gateways of
	// one test as replicas share theirs.
	g.setupSessionKeys(testStorage(t))
	g.verifier = stubVerifier{
		"good":  tokenverifier.Identity{Subject: "alice", ClientID: "app", Scopes: []string{"notes:read"}, Kind: "jwt"},
		"down":  fmt.Errorf("discovering: %w", tokenverifier.ErrUnavailable),
		"stale": &tokenverifier.InvalidTokenError{Reason: "token expired"},
	}
	return g
}

type result struct {
	code    int
	header  http.Header
	body    string
	reached *http.Request
	repl    *caddy.Replacer
}

func serve(t *testing.T, g *Gateway, r *http.Request) result {
	t.Helper()
	repl := caddy.NewReplacer()
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
	var reached *http.Request
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		reached = r
		w.WriteHeader(299)
		return nil
	})
	w := httptest.NewRecorder()
	if err := g.ServeHTTP(w, r, next); err != nil {
		t.Fatalf("ServeHTTP: %v", err)
	}
	return result{code: w.Code, header: w.Header(), body: w.Body.String(), reached: reached, repl: repl}
}

func TestServeHTTPAuthentication(t *testing.T) {
	g := testGateway(t)
	const meta = "https://cloud.example.com/.well-known/oauth-protected-resource/mcp"
	cases := []struct {
		name      string
		method    string
		target    string
		headers   map[string][]string
		code      int
		challenge string
		passes    bool
	}{
		{name: "not ours", method: "GET", target: "/index.php/apps/files", code: 299, passes: true},
		{name: "prefix look-alike is claimed too (Caddy's /mcp* matches it)", method: "GET", target: "/mcpx", code: 401,
			challenge: `Bearer resource_metadata="` + meta + `", scope="openid notes:read notes:write"`},
		{name: "upper case path", method: "GET", target: "/MCP", code: 401,
			challenge: `Bearer resource_metadata="` + meta + `", scope="openid notes:read notes:write"`},
		{name: "dot segments", method: "GET", target: "/x/../mcp", code: 401,
			challenge: `Bearer resource_metadata="` + meta + `", scope="openid notes:read notes:write"`},
		{name: "other paths are not ours", method: "GET", target: "/remote.php/dav", code: 299, passes: true},
		{name: "no token", method: "POST", target: "/mcp", code: 401,
			challenge: `Bearer resource_metadata="` + meta + `", scope="openid notes:read notes:write"`},
		{name: "below the endpoint needs a token too", method: "GET", target: "/mcp/sub", code: 401,
			challenge: `Bearer resource_metadata="` + meta + `", scope="openid notes:read notes:write"`},
		{name: "basic credentials are no bearer token", method: "POST", target: "/mcp", headers: map[string][]string{"Authorization": {"Basic YTpi"}}, code: 401,
			challenge: `Bearer resource_metadata="` + meta + `", scope="openid notes:read notes:write"`},
		{name: "invalid token", method: "POST", target: "/mcp", headers: map[string][]string{"Authorization": {"Bearer stale"}}, code: 401,
			challenge: `Bearer error="invalid_token", scope="openid notes:read notes:write", resource_metadata="` + meta + `", error_description="token expired"`},
		{name: "malformed token", method: "POST", target: "/mcp", headers: map[string][]string{"Authorization": {"Bearer a b"}}, code: 401,
			challenge: `Bearer error="invalid_token", scope="openid notes:read notes:write", resource_metadata="` + meta + `", error_description="malformed token"`},
		{name: "provider down", method: "POST", target: "/mcp", headers: map[string][]string{"Authorization": {"Bearer down"}}, code: 503},
		{name: "duplicate authorization", method: "POST", target: "/mcp", headers: map[string][]string{"Authorization": {"Bearer good", "Bearer good"}}, code: 400},
		{name: "token in query", method: "POST", target: "/mcp?access_token=good", code: 400},
		{name: "foreign origin", method: "POST", target: "/mcp", headers: map[string][]string{"Authorization": {"Bearer good"}, "Origin": {"https://evil.example"}}, code: 403},
		{name: "own origin", method: "POST", target: "/mcp", headers: map[string][]string{"Authorization": {"Bearer good"}, "Origin": {"https://cloud.example.com"}}, code: 299, passes: true},
		{name: "null origin", method: "POST", target: "/mcp", headers: map[string][]string{"Authorization": {"Bearer good"}, "Origin": {"null"}}, code: 403},
		{name: "preflight from own origin", method: "OPTIONS", target: "/mcp", headers: map[string][]string{"Origin": {"https://cloud.example.com"}, "Access-Control-Request-Method": {"POST"}}, code: 204},
		{name: "preflight from foreign origin", method: "OPTIONS", target: "/mcp", headers: map[string][]string{"Origin": {"https://evil.example"}, "Access-Control-Request-Method": {"POST"}}, code: 403},
		{name: "OPTIONS without preflight headers needs a token", method: "OPTIONS", target: "/mcp", code: 401,
			challenge: `Bearer resource_metadata="` + meta + `", scope="openid notes:read notes:write"`},
		{name: "valid", method: "POST", target: "/mcp", headers: map[string][]string{"Authorization": {"Bearer good"}}, code: 299, passes: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.method == "POST" {
				body = strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
			}
			r := httptest.NewRequest(tc.method, tc.target, body)
			for k, vs := range tc.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			res := serve(t, g, r)
			if res.code != tc.code {
				t.Fatalf("status = %d, want %d (body %s)", res.code, tc.code, res.body)
			}
			if (res.reached != nil) != tc.passes {
				t.Fatalf("reached next = %v, want %v", res.reached != nil, tc.passes)
			}
			if got := res.header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate\n got  %s\n want %s", got, tc.challenge)
			}
			if tc.code == 503 && res.header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if tc.code == 204 {
				if res.header.Get("Access-Control-Allow-Origin") != "https://cloud.example.com" || !strings.Contains(res.header.Get("Access-Control-Allow-Headers"), "Authorization") {
					t.Errorf("preflight headers = %v", res.header)
				}
				return
			}
			if !tc.passes {
				var body struct {
					JSONRPC string          `json:"jsonrpc"`
					ID      json.RawMessage `json:"id"`
					Error   struct{ Code int }
				}
				if err := json.Unmarshal([]byte(res.body), &body); err != nil || body.JSONRPC != "2.0" || body.Error.Code == 0 {
					t.Errorf("body is not a JSON-RPC error: %s", res.body)
				}
				if strings.Contains(res.body, "good") || strings.Contains(res.body, "stale") {
					t.Errorf("body echoes the token: %s", res.body)
				}
			}
		})
	}
}

func TestServeHTTPIdentityForUpstream(t *testing.T) {
	for _, forward := range []bool{true, false} {
		t.Run(fmt.Sprintf("forward_token=%v", forward), func(t *testing.T) {
			g := testGateway(t, func(g *Gateway) { g.ForwardToken = &forward })
			r := httptest.NewRequest("POST", "/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
			r.Header.Set("Authorization", "Bearer good")
			r.Header.Set("X-Scopegate-Subject", "mallory")
			r.Header.Set("x-scopegate-scopes", "notes:write")
			r.Header["x-SCOPEGATE-extra"] = []string{"spoof"}
			res := serve(t, g, r)
			if res.reached == nil {
				t.Fatal("not passed on")
			}
			h := res.reached.Header
			if h.Get(headerSubject) != "alice" || h.Get(headerClientID) != "app" || h.Get(headerScopes) != "notes:read" {
				t.Errorf("identity headers = %v", h)
			}
			for name, vals := range h {
				if strings.HasPrefix(strings.ToLower(name), "x-scopegate-") && len(vals) != 1 {
					t.Errorf("%s = %v", name, vals)
				}
				if strings.EqualFold(name, "x-SCOPEGATE-extra") {
					t.Errorf("spoofed header %s survived", name)
				}
			}
			if got := h.Get("Authorization") != ""; got != forward {
				t.Errorf("Authorization forwarded = %v, want %v", got, forward)
			}
			for ph, want := range map[string]string{"http.auth.user.id": "alice", "http.auth.user.client_id": "app", "http.auth.user.scopes": "notes:read"} {
				if got, _ := res.repl.GetString(ph); got != want {
					t.Errorf("{%s} = %q, want %q", ph, got, want)
				}
			}
		})
	}
}

// TestServeHTTPUserForUpstream holds user_claim's contract with the
// upstream: the verified claim goes on as X-Scopegate-User and request
// variable scopegate_user, and a client-sent X-Scopegate-User never
// survives, with or without a claim.
func TestServeHTTPUserForUpstream(t *testing.T) {
	g := testGateway(t)
	g.verifier = stubVerifier{
		"good":      tokenverifier.Identity{Subject: "alice", Scopes: []string{"notes:read"}, Kind: "jwt"},
		"with-user": tokenverifier.Identity{Subject: "sub-123", User: "alice", Scopes: []string{"notes:read"}, Kind: "jwt"},
	}
	for token, want := range map[string]string{"with-user": "alice", "good": ""} {
		t.Run(token, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
			r.Header.Set("Authorization", "Bearer "+token)
			r.Header.Set("X-Scopegate-User", "mallory")
			r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{}))
			res := serve(t, g, r)
			if res.reached == nil {
				t.Fatalf("not passed on: %d %s", res.code, res.body)
			}
			if got := res.reached.Header.Values(headerUser); want == "" && len(got) != 0 || want != "" && (len(got) != 1 || got[0] != want) {
				t.Errorf("%s = %q, want %q", headerUser, got, want)
			}
			got, _ := caddyhttp.GetVar(res.reached.Context(), "scopegate_user").(string)
			if got != want {
				t.Errorf("scopegate_user = %q, want %q", got, want)
			}
		})
	}
}

func TestServeHTTPMetadata(t *testing.T) {
	g := testGateway(t)
	for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		t.Run(path, func(t *testing.T) {
			res := serve(t, g, httptest.NewRequest("GET", path, nil))
			if res.code != 200 || res.reached != nil {
				t.Fatalf("status %d, reached next %v", res.code, res.reached != nil)
			}
			if res.header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(res.header.Get("Cache-Control"), "max-age") {
				t.Errorf("headers = %v", res.header)
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(res.body), &doc); err != nil {
				t.Fatal(err)
			}
			want := `{"authorization_servers":["https://cloud.example.com"],"bearer_methods_supported":["header"],"resource":"https://cloud.example.com/mcp","resource_signing_alg_values_supported":["RS256","RS384","RS512","PS256","PS384","PS512","ES256","ES384","ES512","EdDSA"],"scopes_supported":["openid","notes:read","notes:write"]}`
			if got, _ := json.Marshal(doc); string(got) != want {
				t.Errorf("document\n got  %s\n want %s", got, want)
			}
		})
	}
	res := serve(t, g, httptest.NewRequest("OPTIONS", "/.well-known/oauth-protected-resource/mcp", nil))
	if res.code != 204 || res.header.Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("preflight: %d %v", res.code, res.header)
	}
	res = serve(t, g, httptest.NewRequest("POST", "/.well-known/oauth-protected-resource", nil))
	if res.code != 405 {
		t.Errorf("POST metadata: %d", res.code)
	}
	// Another path under the well-known prefix is not ours.
	res = serve(t, g, httptest.NewRequest("GET", "/.well-known/oauth-protected-resource/other", nil))
	if res.reached == nil {
		t.Error("unrelated well-known path was not passed on")
	}
}

func TestServeHTTPRootResource(t *testing.T) {
	g := testGateway(t, func(g *Gateway) { g.Resource = "https://mcp.example.com" })
	res := serve(t, g, httptest.NewRequest("GET", "/anything", nil))
	if res.code != 401 {
		t.Fatalf("status %d: a resource at the root protects everything", res.code)
	}
	if !strings.Contains(res.header.Get("WWW-Authenticate"), `resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource"`) {
		t.Errorf("challenge %s", res.header.Get("WWW-Authenticate"))
	}
	res = serve(t, g, httptest.NewRequest("GET", "/.well-known/oauth-protected-resource", nil))
	body, _ := io.ReadAll(strings.NewReader(res.body))
	if res.code != 200 || !strings.Contains(string(body), `"resource":"https://mcp.example.com"`) {
		t.Errorf("metadata %d %s", res.code, body)
	}
}

// testStorages holds one storage folder per test.
var testStorages sync.Map

// testStorage is the test's Caddy storage, one folder shared by every
// gateway the test builds.
func testStorage(t *testing.T) certmagic.Storage {
	dir, ok := testStorages.Load(t.Name())
	if !ok {
		dir, _ = testStorages.LoadOrStore(t.Name(), t.TempDir())
		t.Cleanup(func() { testStorages.Delete(t.Name()) })
	}
	return &certmagic.FileStorage{Path: dir.(string)}
}
