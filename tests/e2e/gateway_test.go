package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scopegate/scopegate/internal/mcptestserver"
	"github.com/scopegate/scopegate/internal/oidctest"
)

func newRequest(t *testing.T, method, rawURL string, body string, headers [][2]string) *http.Request {
	t.Helper()
	var req *http.Request
	var err error
	if body == "" {
		req, err = http.NewRequest(method, rawURL, nil)
	} else {
		req, err = http.NewRequest(method, rawURL, strings.NewReader(body))
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		req.Header.Add(h[0], h[1])
	}
	return req
}

// TestPassthrough: requests outside the resource and metadata paths reach
// the next handler untouched, credentials or not.
func TestPassthrough(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, headers := range [][][2]string{nil, bearer("not-a-valid-token"), {{"Origin", "https://evil.example"}}} {
		r := do(t, newRequest(t, http.MethodGet, e.base+"/other", "", headers))
		if r.status != http.StatusOK || r.body != "passthrough" || r.header.Get("WWW-Authenticate") != "" {
			t.Errorf("headers %v: got %d %q (WWW-Authenticate %q), want 200 \"passthrough\"", headers, r.status, r.body, r.header.Get("WWW-Authenticate"))
		}
	}
}

// TestProtectedResourceMetadata: RFC 9728 documents at the path-suffixed and
// the root well-known URL, CORS-readable.
func TestProtectedResourceMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		t.Run(path, func(t *testing.T) {
			r := do(t, newRequest(t, http.MethodGet, e.base+path, "", [][2]string{{"Origin", "https://client.example"}}))
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want 200; body %s", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if r.header.Get("Access-Control-Allow-Origin") == "" {
				t.Error("no Access-Control-Allow-Origin: browser clients cannot read the document")
			}
			if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
				t.Errorf("Cache-Control %q, want a short max-age", cc)
			}
			var doc struct {
				Resource             string   `json:"resource"`
				AuthorizationServers []string `json:"authorization_servers"`
				ScopesSupported      []string `json:"scopes_supported"`
				BearerMethods        []string `json:"bearer_methods_supported"`
				SigningAlgs          []string `json:"resource_signing_alg_values_supported"`
			}
			if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
				t.Fatalf("decode %s: %v", r.body, err)
			}
			if doc.Resource != e.resource {
				t.Errorf("resource %q, want exactly %q", doc.Resource, e.resource)
			}
			if !slices.Equal(doc.AuthorizationServers, []string{e.provider.Issuer()}) {
				t.Errorf("authorization_servers %v, want [%s]", doc.AuthorizationServers, e.provider.Issuer())
			}
			if !slices.Equal(doc.ScopesSupported, strings.Fields(scopesSupported)) {
				t.Errorf("scopes_supported %v, want %v", doc.ScopesSupported, strings.Fields(scopesSupported))
			}
			if !slices.Equal(doc.BearerMethods, []string{"header"}) {
				t.Errorf("bearer_methods_supported %v, want [header]", doc.BearerMethods)
			}
			if len(doc.SigningAlgs) == 0 || slices.Contains(doc.SigningAlgs, "none") || slices.ContainsFunc(doc.SigningAlgs, func(a string) bool { return strings.HasPrefix(a, "HS") }) {
				t.Errorf("resource_signing_alg_values_supported %v, want asymmetric algorithms only", doc.SigningAlgs)
			}
		})
	}

	t.Run("preflight", func(t *testing.T) {
		r := do(t, newRequest(t, http.MethodOptions, e.base+"/.well-known/oauth-protected-resource/mcp", "", [][2]string{
			{"Origin", "https://client.example"},
			{"Access-Control-Request-Method", "GET"},
		}))
		if r.status != http.StatusOK && r.status != http.StatusNoContent {
			t.Fatalf("preflight status %d, want 200 or 204", r.status)
		}
		if r.header.Get("Access-Control-Allow-Origin") == "" || !strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "GET") {
			t.Errorf("preflight headers %v lack Allow-Origin or Allow-Methods GET", r.header)
		}
	})
}

// TestNoCredentialsChallenge: no token → 401 with the exact challenge of
// RFC 9728 §5.1 and no error parameter (RFC 6750 §3.1).
func TestNoCredentialsChallenge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	want := fmt.Sprintf(`Bearer resource_metadata="%s/.well-known/oauth-protected-resource/mcp", scope="%s"`, e.base, scopesSupported)
	tests := []struct {
		name    string
		method  string
		path    string
		headers [][2]string
	}{
		{"POST endpoint", http.MethodPost, "/mcp", nil},
		{"GET endpoint", http.MethodGet, "/mcp", nil},
		{"below endpoint", http.MethodGet, "/mcp/sub", nil},
		// The metadata URL comes from configuration, never from headers a
		// client controls (challenge URL poisoning).
		{"forwarded headers", http.MethodPost, "/mcp", [][2]string{
			{"X-Forwarded-Host", "evil.example"}, {"X-Forwarded-Proto", "https"}, {"Forwarded", "host=evil.example;proto=https"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, newRequest(t, tc.method, e.base+tc.path, "", tc.headers))
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", r.status)
			}
			if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != want {
				t.Errorf("WWW-Authenticate %q\nwant           %q", got, want)
			}
		})
	}
	if n := e.upstreamCalls(); n != 0 {
		t.Errorf("upstream saw %d requests, want 0", n)
	}
}

// checkInvalidToken asserts a 401 invalid_token challenge that does not echo
// the token.
func checkInvalidToken(t *testing.T, e *env, r response, tok string, reasonWords ...string) {
	t.Helper()
	if r.status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401; body %s", r.status, r.body)
	}
	ch := r.header.Get("WWW-Authenticate")
	params := parseChallenge(t, ch)
	if params["error"] != "invalid_token" {
		t.Errorf("challenge %q: error %q, want invalid_token", ch, params["error"])
	}
	if params["resource_metadata"] != e.base+"/.well-known/oauth-protected-resource/mcp" {
		t.Errorf("challenge %q: wrong resource_metadata", ch)
	}
	t.Logf("error_description: %q", params["error_description"])
	desc := strings.ToLower(params["error_description"])
	if desc == "" {
		t.Errorf("challenge %q has no error_description", ch)
	}
	if len(reasonWords) > 0 && !slices.ContainsFunc(reasonWords, func(w string) bool { return strings.Contains(desc, w) }) {
		t.Errorf("error_description %q names none of %q", desc, reasonWords)
	}
	for _, part := range tokenParts(tok) {
		if strings.Contains(ch, part) || strings.Contains(r.body, part) {
			t.Errorf("response echoes the token (part %q): challenge %q, body %q", part, ch, r.body)
		}
	}
}

// tokenParts are the pieces of a token long enough that seeing one in a
// response or log means the token leaked.
func tokenParts(tok string) []string {
	var parts []string
	for _, p := range strings.Split(tok, ".") {
		if len(p) >= 16 {
			parts = append(parts, p)
		}
	}
	return parts
}

// parseChallenge splits `Bearer k="v", k="v"` into its parameters.
func parseChallenge(t *testing.T, h string) map[string]string {
	t.Helper()
	rest, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		t.Fatalf("challenge %q does not start with \"Bearer \"", h)
	}
	params := map[string]string{}
	for rest != "" {
		name, after, ok := strings.Cut(rest, `="`)
		if !ok {
			t.Fatalf("challenge %q: malformed near %q", h, rest)
		}
		value, after, ok := strings.Cut(after, `"`)
		if !ok {
			t.Fatalf("challenge %q: unterminated value", h)
		}
		params[strings.TrimSpace(name)] = value
		rest = strings.TrimPrefix(strings.TrimSpace(after), ",")
		rest = strings.TrimSpace(rest)
	}
	return params
}

// TestInvalidTokens: every kind of bad token → 401 invalid_token, never
// forwarded. The minted valid token is the control: it differs from each bad
// token by one defect only.
func TestInvalidTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	mint := oidctest.MintRequest{Audience: []string{e.resource}, Scopes: []string{"notes:read"}}

	if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.provider.MintJWT(t, mint))); r.status != http.StatusOK {
		t.Fatalf("control: valid minted token got %d, want 200; body %s", r.status, r.body)
	}

	// reasons are words of which the error_description must contain one, so
	// a token rejected for the wrong reason fails; nil accepts any reason.
	type badToken struct {
		token   string
		reasons []string
	}
	tokens := map[string]badToken{
		"random opaque": {"opaque-" + strings.Repeat("x", 40), nil},
		"provider token for another resource": {e.provider.Token(t, oidctest.TokenRequest{
			Scopes: []string{"notes:read"}, Audience: []string{"http://127.0.0.1:1/other"},
		}), []string{"audience"}},
		"opaque provider token for another resource": {e.provider.Token(t, oidctest.TokenRequest{
			Opaque: true, Scopes: []string{"notes:read"}, Audience: []string{"http://127.0.0.1:1/other"},
		}), []string{"audience"}},
	}
	reasons := map[oidctest.BadKind][]string{
		oidctest.Expired:        {"expire"},
		oidctest.NotYetValid:    {"future", "not yet", "nbf"},
		oidctest.WrongIssuer:    {"issuer"},
		oidctest.WrongAudience:  {"audience"},
		oidctest.EmptyAudience:  {"audience"},
		oidctest.UnknownKey:     {"key"},
		oidctest.AlgNone:        {"algorithm"},
		oidctest.HS256PublicKey: {"algorithm"},
		oidctest.NoExp:          {"exp"},
		oidctest.BadSignature:   {"signature"},
		// Validly signed: blaming the signature would mislead an operator.
		oidctest.MalformedPayload: {"malformed", "payload", "claims", "json", "parse"},
		oidctest.UnknownCritical:  {"crit"},
		oidctest.AlgMismatchPS256: {"algorithm", "signature"},
		oidctest.AlgMismatchRS384: {"algorithm", "signature"},
	}
	for _, kind := range oidctest.BadKinds() {
		tokens[string(kind)] = badToken{e.provider.BadToken(t, kind, mint), reasons[kind]}
	}
	before := e.upstreamCalls()
	for name, bt := range tokens {
		t.Run(name, func(t *testing.T) {
			checkInvalidToken(t, e, e.callTool(t, mcptestserver.ToolEchoRead, bearer(bt.token)), bt.token, bt.reasons...)
		})
	}
	if n := e.upstreamCalls() - before; n != 0 {
		t.Errorf("upstream saw %d requests with invalid tokens, want 0", n)
	}
}

// TestTokenPlacement: tokens only in one Authorization header; the query
// string and form bodies are refused with 400 and never used. A form body
// is looked at only once the header authenticated the client (issue 9,
// finding 5): without a header the answer is 401.
func TestTokenPlacement(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.token(t, false, "notes:read")
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name    string
		method  string
		target  string
		body    string
		headers [][2]string
		want    int
	}{
		{"query only", http.MethodGet, "/mcp?access_token=" + url.QueryEscape(tok), "", nil, http.StatusBadRequest},
		{"query and header", http.MethodGet, "/mcp?access_token=" + url.QueryEscape(tok), "", bearer(tok), http.StatusBadRequest},
		{"form body", http.MethodPost, "/mcp", "access_token=" + url.QueryEscape(tok), [][2]string{{"Content-Type", form}}, http.StatusUnauthorized},
		{"form body with charset", http.MethodPost, "/mcp", "a=1&access_token=" + url.QueryEscape(tok), [][2]string{{"Content-Type", form + "; charset=utf-8"}}, http.StatusUnauthorized},
		{"form body with charset and header", http.MethodPost, "/mcp", "a=1&access_token=" + url.QueryEscape(tok), append(bearer(tok), [2]string{"Content-Type", form + "; charset=utf-8"}), http.StatusBadRequest},
		{"form body and header", http.MethodPost, "/mcp", "access_token=" + url.QueryEscape(tok), append(bearer(tok), [2]string{"Content-Type", form}), http.StatusBadRequest},
		{"two Authorization headers", http.MethodPost, "/mcp", "{}", [][2]string{{"Authorization", "Bearer " + tok}, {"Authorization", "Bearer " + tok}}, http.StatusBadRequest},
	}
	before := e.upstreamCalls()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, newRequest(t, tc.method, e.base+tc.target, tc.body, tc.headers))
			if r.status != tc.want {
				t.Errorf("status %d, want %d; body %s", r.status, tc.want, r.body)
			}
			for _, part := range tokenParts(tok) {
				if strings.Contains(r.body, part) || strings.Contains(r.header.Get("WWW-Authenticate"), part) {
					t.Errorf("response echoes the token")
				}
			}
		})
	}
	t.Run("chunked form body", func(t *testing.T) {
		// No Content-Length: the gateway must still look into the body.
		req := newRequest(t, http.MethodPost, e.resource, "", append(bearer(tok), [2]string{"Content-Type", form}))
		req.Body = io.NopCloser(strings.NewReader("access_token=" + url.QueryEscape(tok)))
		req.ContentLength = -1
		if r := do(t, req); r.status != http.StatusBadRequest {
			t.Errorf("status %d, want 400; body %s", r.status, r.body)
		}
	})
	if n := e.upstreamCalls() - before; n != 0 {
		t.Errorf("upstream saw %d misplaced-token requests, want 0", n)
	}

	// The scheme is case-insensitive (RFC 9110 §11.1).
	for _, scheme := range []string{"bearer", "BEARER", "Bearer"} {
		r := e.callTool(t, mcptestserver.ToolEchoRead, [][2]string{{"Authorization", scheme + " " + tok}})
		if r.status != http.StatusOK {
			t.Errorf("scheme %q: status %d, want 200; body %s", scheme, r.status, r.body)
		}
	}
}

// TestOrigin: a present Origin that is neither the resource's own nor
// configured → 403 (MCP transports, DNS rebinding).
func TestOrigin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{gatewayExtra: "allowed_origins https://app.example"})
	tok := e.token(t, false, "notes:read")
	tests := []struct {
		origin string
		token  bool
		want   int
	}{
		{"https://evil.example", true, http.StatusForbidden},
		{"https://evil.example", false, http.StatusForbidden},
		{"http://127.0.0.1:1", true, http.StatusForbidden},
		{"null", true, http.StatusForbidden},
		{e.base, true, http.StatusOK},
		{"https://app.example", true, http.StatusOK},
		{"", true, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s token=%v", tc.origin, tc.token), func(t *testing.T) {
			var headers [][2]string
			if tc.token {
				headers = bearer(tok)
			}
			if tc.origin != "" {
				headers = append(headers, [2]string{"Origin", tc.origin})
			}
			r := e.callTool(t, mcptestserver.ToolEchoRead, headers)
			if r.status != tc.want {
				t.Errorf("status %d, want %d; body %s", r.status, tc.want, r.body)
			}
		})
	}
}

// TestIdentityForwarded: valid JWT and opaque tokens reach the MCP server,
// which sees the verified identity, not the client's X-Scopegate-* spoofs,
// and the Authorization header.
func TestIdentityForwarded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, tc := range []struct {
		name     string
		opaque   bool
		clientID string
	}{
		{"jwt", false, oidctest.JWTClientID},
		{"opaque", true, oidctest.OpaqueClientID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := e.token(t, tc.opaque, "notes:read", "files:read")
			headers := append(bearer(tok),
				[2]string{"X-Scopegate-Subject", "admin"},
				[2]string{"X-Scopegate-Scopes", "notes:write"},
				[2]string{"x-scopegate-client-id", "evil"},
				[2]string{"X-Scopegate-Extra", "spoof"},
				// Some backends (CGI, PHP) read '_' as '-'.
				[2]string{"X_Scopegate_Subject", "admin"},
			)
			r := e.callTool(t, mcptestserver.ToolEchoRead, headers)
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want 200; body %s", r.status, r.body)
			}
			got := e.mcp.Requests()
			h := got[len(got)-1].Header
			want := map[string][]string{
				"X-Scopegate-Subject":   {"sub-" + tc.clientID},
				"X-Scopegate-Client-Id": {tc.clientID},
				"X-Scopegate-Scopes":    {"notes:read files:read"},
				"X-Scopegate-Extra":     nil,
				"Authorization":         {"Bearer " + tok},
				// Caddy placeholders set by the gateway, sent by header_up.
				"X-Test-Auth-User":   {"sub-" + tc.clientID},
				"X-Test-Auth-Client": {tc.clientID},
				"X-Test-Auth-Scopes": {"notes:read files:read"},
			}
			for name, v := range want {
				if !slices.Equal(h.Values(name), v) {
					t.Errorf("upstream %s = %q, want %q", name, h.Values(name), v)
				}
			}
			for name := range h {
				norm := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
				if strings.HasPrefix(norm, "x-scopegate-") && want[name] == nil {
					t.Errorf("upstream got client-sent header %s: %q", name, h[name])
				}
			}
			// The tool saw the same headers the HTTP layer recorded.
			if !strings.Contains(r.body, `\"X-Scopegate-Subject\":[\"sub-`+tc.clientID+`\"]`) {
				t.Errorf("tool echo lacks the verified subject: %s", r.body)
			}
		})
	}
}

// TestForwardTokenOff: with `forward_token off` the upstream gets the
// identity headers but not the token.
func TestForwardTokenOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{gatewayExtra: "forward_token off"})
	r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, false, "notes:read")))
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", r.status, r.body)
	}
	got := e.mcp.Requests()
	h := got[len(got)-1].Header
	if v := h.Values("Authorization"); v != nil {
		t.Errorf("upstream got Authorization %q, want none", v)
	}
	if h.Get("X-Scopegate-Subject") != "sub-"+oidctest.JWTClientID {
		t.Errorf("upstream subject %q", h.Get("X-Scopegate-Subject"))
	}
}

// TestStreamingResponse: an SSE answer passes through the gateway as SSE.
func TestStreamingResponse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r := e.callTool(t, mcptestserver.ToolEchoStream, bearer(e.token(t, false, "notes:read")))
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, Content-Type %q, want 200 text/event-stream; body %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if !strings.Contains(r.body, "notifications/progress") || !strings.Contains(r.body, `\"tool\":\"echo_stream\"`) {
		t.Errorf("SSE body lacks the progress event or the result: %s", r.body)
	}
}

// TestForgedKeyReferences: a token signed by an attacker key that it
// references itself (an embedded `jwk`, a `jku` URL) is rejected, and the
// gateway never fetches the attacker's JWKS.
func TestForgedKeyReferences(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	var fetches atomic.Int64
	var jwksDoc atomic.Value
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if b, ok := jwksDoc.Load().([]byte); ok {
			w.Write(b)
		}
	}))
	defer attacker.Close()

	mint := oidctest.MintRequest{Audience: []string{e.resource}, Scopes: []string{"notes:read"}}
	tests := map[string]oidctest.Forgery{
		"embedded jwk":  {EmbedJWK: true},
		"jku":           {JKU: attacker.URL + "/jwks.json"},
		"jwk and jku":   {EmbedJWK: true, JKU: attacker.URL + "/jwks.json"},
		"no references": {},
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			tok, doc := e.provider.Forge(t, mint, f)
			jwksDoc.Store(doc)
			checkInvalidToken(t, e, e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok)), tok, "key", "signature")
		})
	}
	if n := fetches.Load(); n != 0 {
		t.Errorf("the gateway fetched the attacker's JWKS %d times", n)
	}
}
