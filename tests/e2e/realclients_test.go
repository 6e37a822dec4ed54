package e2e

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/internal/oidctest"
	"github.com/scopegate/scopegate/mcpbackend"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

// The real-client tests: official MCP SDKs drive the whole interactive
// OAuth flow against the built binary — mcp_gateway in front of
// nextcloud_mcp with all its tools, which reaches the Nextcloud contract
// fake — and the in-process provider with public-client registration,
// PKCE and a login the test approves. Each test records the client's HTTP
// requests (a logging front in the client's transport) and the provider's
// own request log, and checks the order of the flow.

// Tools the flows use: a read the first login allows, and a write that
// needs a step-up. The contract fake has recordings of both.
const (
	readTool  = "nc_notes_get_note"
	writeTool = "nc_notes_create_note"
)

var (
	readArgs  = map[string]any{"note_id": 359}
	writeArgs = map[string]any{"title": "Fixture shopping list", "content": "# Fixture shopping list\n\n- milk\n- eggs\n- bread", "category": "Personal"}
)

// ncTool is one tool of the backend's inventory.
type ncTool struct {
	scopes   []string
	readOnly bool
}

// ncInventory is the backend's tool inventory as the code declares it.
func ncInventory(t *testing.T) map[string]ncTool {
	t.Helper()
	c, err := nextcloud.New(nextcloud.Options{BaseURL: "http://nextcloud.invalid"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]ncTool{}
	for _, tools := range mcpbackend.DefaultFamilies() {
		for _, tl := range tools(c) {
			ro := tl.Def.Annotations.ReadOnlyHint != nil && *tl.Def.Annotations.ReadOnlyHint
			out[tl.Def.Name] = ncTool{scopes: tl.Scopes, readOnly: ro}
		}
	}
	return out
}

// visible returns, sorted, the tools a token holding scopes may use.
func visible(inv map[string]ncTool, scopes []string) []string {
	var out []string
	for name, tl := range inv {
		if !slices.ContainsFunc(tl.scopes, func(s string) bool { return !slices.Contains(scopes, s) }) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// ncSite is the binary serving mcp_gateway and nextcloud_mcp, with the
// provider and the fake behind it.
type ncSite struct {
	provider *oidctest.Provider
	fake     *nextcloudfake.Fake
	base     string
	resource string
}

func newNextcloudSite(t *testing.T, popts oidctest.Options) *ncSite {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	popts.Registration, popts.PublicClients = true, true
	s := &ncSite{provider: oidctest.Start(t, popts)}
	fake, fakeSrv := nextcloudfake.Start(t, nextcloudfake.Options{})
	s.fake = fake
	// Nextcloud's user_oidc stands in front of the fake: the gateway has
	// judged the user's token; Nextcloud knows it as the recorded one.
	target, _ := url.Parse(fakeSrv.URL)
	front := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		if strings.HasPrefix(pr.In.Header.Get("Authorization"), "Bearer ") {
			pr.Out.Header.Set("Authorization", "Bearer "+nextcloudfake.AccessToken)
		}
	}})
	t.Cleanup(front.Close)
	for range 3 {
		port, adminPort, httpsPort := freePort(t), freePort(t), freePort(t)
		s.base = fmt.Sprintf("http://127.0.0.1:%d", port)
		s.resource = s.base + "/mcp"
		caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%[2]d
	auto_https off
	http_port %[1]d
	https_port %[3]d
	persist_config off
}

http://127.0.0.1:%[1]d {
	mcp_gateway {
		resource %[4]s
		issuer %[5]s
	}
	handle /mcp* {
		nextcloud_mcp {
			nextcloud %[6]s
			credentials bearer
			allowed_hosts 127.0.0.1
		}
	}
	respond /other "passthrough" 200
}
`, port, adminPort, httpsPort, s.resource, s.provider.Issuer(), front.URL)
		_, err := startCaddy(t, caddyfile, nil, fmt.Sprintf("127.0.0.1:%d", adminPort), s.base+"/other")
		if err == nil {
			return s
		}
		if !errors.Is(err, errAddressInUse) {
			t.Fatal(err)
		}
	}
	t.Fatal("caddy: no free ports after 3 attempts")
	return nil
}

// wireEntry is one HTTP exchange a client made, as its logging front saw it.
type wireEntry struct {
	Method string `json:"method"`
	URL    string `json:"url"` // without query
	Status int    `json:"status"`
	// Kind classifies the exchange for order checks: mcp, prm, asm,
	// register, authorize, token, login, callback, other.
	Kind string `json:"kind"`
	// Params: for token requests the form's grant_type, resource and
	// scope; for authorize the query's scope, resource and
	// code_challenge_method.
	Params url.Values `json:"params"`
	// RPC is the JSON-RPC method of an MCP POST, Challenge the
	// WWW-Authenticate of a 401 or 403.
	RPC       string `json:"rpc"`
	Challenge string `json:"challenge"`
}

// wireLog is a logging front in a client's transport.
type wireLog struct {
	mu      sync.Mutex
	entries []wireEntry
	site    *ncSite
	next    http.RoundTripper
}

func (l *wireLog) RoundTrip(r *http.Request) (*http.Response, error) {
	e := wireEntry{Method: r.Method, URL: r.URL.Scheme + "://" + r.URL.Host + r.URL.Path, Params: url.Values{}}
	e.Kind = l.site.kind(r.Method, e.URL)
	switch e.Kind {
	case "token":
		if r.Body != nil {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			form, _ := url.ParseQuery(string(body))
			for _, k := range []string{"grant_type", "resource", "scope"} {
				if v, ok := form[k]; ok {
					e.Params[k] = v
				}
			}
		}
	case "authorize":
		for _, k := range []string{"scope", "resource", "code_challenge_method"} {
			if v, ok := r.URL.Query()[k]; ok {
				e.Params[k] = v
			}
		}
	case "mcp":
		e.RPC = r.Header.Get("Mcp-Method")
		if r.Method == http.MethodPost && e.RPC == "" && r.Body != nil {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			_, rest, _ := strings.Cut(string(body), `"method":"`)
			e.RPC, _, _ = strings.Cut(rest, `"`)
		}
	}
	resp, err := l.next.RoundTrip(r)
	if err == nil {
		e.Status = resp.StatusCode
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			e.Challenge = resp.Header.Get("WWW-Authenticate")
		}
	}
	l.mu.Lock()
	l.entries = append(l.entries, e)
	l.mu.Unlock()
	return resp, err
}

func (l *wireLog) all() []wireEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries)
}

// kind classifies a URL of the flow.
func (s *ncSite) kind(method, u string) string {
	iss := s.provider.Issuer()
	switch {
	case u == s.resource:
		return "mcp"
	case strings.HasPrefix(u, s.base+"/.well-known/oauth-protected-resource"):
		return "prm"
	case strings.HasPrefix(u, iss+"/.well-known/"):
		return "asm"
	case u == s.provider.RegistrationEndpoint():
		return "register"
	case u == iss+"/authorize/callback":
		return "callback"
	case u == iss+"/authorize":
		return "authorize"
	case u == s.provider.TokenEndpoint() && method == http.MethodPost:
		return "token"
	case u == iss+"/login":
		return "login"
	}
	return "other"
}

// checkProviderLog holds the provider's own record of the flow to the
// rules: no authorization request without S256 PKCE or without the
// resource, no token request without the resource. It returns the
// authorization requests' scopes, in order.
func (s *ncSite) checkProviderLog(t *testing.T) (authorizeScopes []string) {
	t.Helper()
	var tokens int
	for _, r := range s.provider.Requests() {
		switch {
		case r.Path == "/authorize":
			if r.Params.Get("code_challenge_method") != "S256" || r.Params.Get("code_challenge") == "" {
				t.Errorf("authorization request without S256 PKCE: %v", r.Params)
			}
			if !slices.Equal(r.Params["resource"], []string{s.resource}) {
				t.Errorf("authorization request with resource %q, want [%s]", r.Params["resource"], s.resource)
			}
			authorizeScopes = append(authorizeScopes, r.Params.Get("scope"))
		case r.Path == "/oauth/token" && r.Method == http.MethodPost:
			tokens++
			if !slices.Equal(r.Params["resource"], []string{s.resource}) {
				t.Errorf("token request (%s) with resource %q, want [%s]", r.Params.Get("grant_type"), r.Params["resource"], s.resource)
			}
		}
	}
	if tokens == 0 {
		t.Errorf("the provider saw no token request")
	}
	return authorizeScopes
}

// kinds returns the sequence of kinds of the log, with consecutive MCP
// exchanges of the same status folded, for order checks and the record.
func kinds(entries []wireEntry) []string {
	var out []string
	for _, e := range entries {
		k := e.Kind
		if k == "mcp" {
			k = fmt.Sprintf("mcp:%d", e.Status)
		}
		if len(out) > 0 && out[len(out)-1] == k && strings.HasPrefix(k, "mcp:") {
			continue
		}
		out = append(out, k)
	}
	return out
}

// before reports whether the first a in seq comes before the first b
// after it, starting at from; it returns the index of b.
func indexFrom(seq []string, from int, k string) int {
	for i := from; i < len(seq); i++ {
		if seq[i] == k {
			return i
		}
	}
	return -1
}

// checkOrder checks that want occurs in seq in order (not necessarily
// adjacent).
func checkOrder(t *testing.T, seq, want []string) {
	t.Helper()
	at := 0
	for _, k := range want {
		i := indexFrom(seq, at, k)
		if i < 0 {
			t.Errorf("request sequence %v lacks %q after position %d (want the order %v)", seq, k, at, want)
			return
		}
		at = i + 1
	}
}
