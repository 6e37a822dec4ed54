package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/mcptestserver"
)

// The provider's faults that resilience_test.go and lifecycle_test.go do
// not already hold (those cover the provider down at startup and during
// a run, refused introspection credentials, and rotation with the
// provider well): its endpoints answering 500 or garbage, answering
// beyond the gateway's timeout, and a rotation while the key set cannot
// be fetched. The gateway reaches the JWKS and introspection endpoints
// through a front that injects the fault (jwks_uri and the introspection
// URL point at it); discovery goes to the provider itself.

// providerFront passes requests to the provider unless a fault is set
// for their path.
type providerFront struct {
	url    string
	target *url.URL

	mu     sync.Mutex
	faults map[string]http.HandlerFunc // by path
}

func newProviderFront(t *testing.T) *providerFront {
	f := &providerFront{faults: map[string]http.HandlerFunc{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *providerFront) set(path string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h == nil {
		delete(f.faults, path)
		return
	}
	f.faults[path] = h
}

func (f *providerFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	h := f.faults[r.URL.Path]
	f.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	f.pass(w, r)
}

// pass serves r from the provider.
func (f *providerFront) pass(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	target := f.target
	f.mu.Unlock()
	httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
}

// providerFaultEnv is a test site whose gateway reaches the provider's
// JWKS and introspection endpoints through a front.
func providerFaultEnv(t *testing.T) (*env, *providerFront) {
	front := newProviderFront(t)
	e := newEnv(t, envOptions{noIntrospection: true, gatewayExtra: "jwks_uri " + front.url + "/keys\n" +
		"introspection " + front.url + "/oauth/introspect {\nclient_id {env.MCP_CLIENT_ID}\nclient_secret {env.MCP_CLIENT_SECRET}\n}"})
	target, err := url.Parse(e.provider.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	front.mu.Lock()
	front.target = target
	front.mu.Unlock()
	return e, front
}

// status answers code with body.
func status(code int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// slow answers after d (or when the caller gives up) what the provider
// would have. It reads the body first: Go's server notices a caller that
// went away only once the body is read.
func slow(d time.Duration, next http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		next.ServeHTTP(w, r)
	}
}

// checkUnavailable asserts the documented answer to a token the gateway
// could not judge: 503, Retry-After, the JSON-RPC message, and the
// upstream untouched.
func checkUnavailable(t *testing.T, e *env, what string, r response, upstreamBefore int) {
	t.Helper()
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" ||
		!strings.Contains(r.body, "authorization server unavailable, retry later") {
		t.Errorf("%s: %s (Retry-After %q), want 503 \"authorization server unavailable, retry later\" with Retry-After", what, statusOf(r), r.header.Get("Retry-After"))
	}
	if n := e.upstreamCalls(); n != upstreamBefore {
		t.Errorf("%s: the upstream saw %d requests, want none: a token nobody judged passed", what, n-upstreamBefore)
	}
}

// TestFaultProviderIntrospection: the introspection endpoint answering
// 500, or garbage with 200, leaves opaque tokens unjudged: 503, never a
// pass and never a 401 (the token is not known bad); JWTs, verified with
// the key set, are not affected. Once the endpoint answers again, the
// same tokens work (the failures were not cached as rejections).
func TestFaultProviderIntrospection(t *testing.T) {
	t.Parallel()
	e, front := providerFaultEnv(t)
	answers := []struct {
		name string
		h    http.HandlerFunc
	}{
		{"500", status(500, "application/json", `{"error":"server_error"}`)},
		{"503 HTML", status(503, "text/html", "<html><body>Service Unavailable</body></html>")},
		{"HTML 200", status(200, "text/html", "<html><body>Please sign in</body></html>")},
		{"empty 200", status(200, "application/json", "")},
		{"truncated JSON", status(200, "application/json", `{"active":true,"scope":"notes:read","sub":"x"`)},
		{"two objects", status(200, "application/json", `{"active":true,"scope":"notes:read"}{"active":false}`)},
		{"active as a string", status(200, "application/json", `{"active":"true","scope":"notes:read","sub":"x"}`)},
		{"array", status(200, "application/json", `[{"active":true}]`)},
	}
	var held []string
	for _, a := range answers {
		front.set("/oauth/introspect", a.h)
		tok := e.token(t, true, "notes:read")
		held = append(held, tok)
		checkUnavailable(t, e, "introspection "+a.name, e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok)), e.upstreamCalls())
		if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, false, "notes:read"))); r.status != http.StatusOK {
			t.Errorf("introspection %s: a JWT: %s, want 200", a.name, statusOf(r))
		}
	}
	if logs := e.caddy.Logs(); !strings.Contains(logs, "cannot validate token: authorization server unavailable") || !strings.Contains(logs, "HTTP 500") {
		t.Error("the log does not say why the tokens were not judged (introspection HTTP 500)")
	}
	front.set("/oauth/introspect", nil)
	for i, tok := range held {
		if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok)); r.status != http.StatusOK {
			t.Errorf("token %d after the introspection endpoint recovered: %s, want 200", i, statusOf(r))
		}
	}
}

// TestFaultProviderSlow: a provider that answers beyond the gateway's
// timeout (10 s per call) leaves tokens unjudged: the client gets 503
// when the gateway gives up, not a request held for as long as the
// provider takes, and never a pass. Both kinds at once, on a gateway that
// has fetched nothing yet: an opaque token (introspection) and a JWT (the
// key set).
func TestFaultProviderSlow(t *testing.T) {
	t.Parallel()
	e, front := providerFaultEnv(t)
	front.set("/oauth/introspect", slow(time.Minute, http.HandlerFunc(front.pass)))
	front.set("/keys", slow(time.Minute, http.HandlerFunc(front.pass)))
	toks := []string{e.token(t, true, "notes:read"), e.token(t, false, "notes:read")}
	var wg sync.WaitGroup
	results := make([]response, len(toks))
	for i, tok := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = slowCall(e, tok)
		}()
	}
	start := time.Now()
	wg.Wait()
	t.Logf("both answered after %v", time.Since(start).Round(100*time.Millisecond))
	checkUnavailable(t, e, "opaque token, introspection beyond the timeout", results[0], 0)
	checkUnavailable(t, e, "JWT, key set beyond the timeout", results[1], 0)
	// The provider answers in time again: the same tokens pass.
	front.set("/oauth/introspect", nil)
	front.set("/keys", nil)
	for i, tok := range toks {
		eventually(t, "token accepted once the provider answers in time", func() (bool, string) {
			r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
			if r.status != http.StatusOK && r.status != http.StatusServiceUnavailable {
				t.Fatalf("token %d while the gateway recovers: %s, want 503 or 200", i, statusOf(r))
			}
			return r.status == http.StatusOK, statusOf(r)
		})
	}
}

// slowCall is callTool with room for the gateway's own timeout: it fails
// (status 0) only if the gateway holds the request for over 40 s.
func slowCall(e *env, tok string) response {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	req, err := mcptestserver.NewToolCallRequest(ctx, e.resource, mcptestserver.ToolEchoRead, nil)
	if err != nil {
		return response{}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{body: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// TestFaultProviderRotationWhileKeysFail: the provider rotates its key
// while its key set cannot be fetched (500, then garbage). A token of the
// new key is valid, so once the gateway has tried to fetch the key set and
// failed it must not get 401 (a client would throw the token away and ask
// the user to sign in again, to the same failure), and cannot be verified,
// so it must never pass: 503 every time, until the key set can be fetched
// again, then 200. Before that first attempt (the gateway fetches at most
// every 10 s) it is refused as of an unknown key, as TestKeyRotation holds.
func TestFaultProviderRotationWhileKeysFail(t *testing.T) {
	t.Parallel()
	e, front := providerFaultEnv(t)
	if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, false, "notes:read"))); r.status != http.StatusOK {
		t.Fatalf("before the rotation: %s", statusOf(r))
	}
	front.set("/keys", status(500, "text/html", "<html>Internal Server Error</html>"))
	e.provider.Rotate(t)
	tok := e.token(t, false, "notes:read")
	call := func() response {
		r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
		if r.status == http.StatusOK {
			t.Fatalf("a new-key token passed while the key set could not be fetched: %s", statusOf(r))
		}
		return r
	}
	eventually(t, "the gateway tried to fetch the key set", func() (bool, string) {
		r := call()
		if r.status == http.StatusUnauthorized && !strings.Contains(r.body, "unknown signing key") {
			t.Fatalf("before the fetch: %s, want 401 unknown signing key or 503", statusOf(r))
		}
		return r.status == http.StatusServiceUnavailable, statusOf(r)
	})
	// From the failed fetch on, through the refetch interval and a second
	// failed fetch (garbage this time): 503 every time.
	before := e.upstreamCalls()
	deadline := time.Now().Add(12 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		if i == 4 {
			front.set("/keys", status(200, "application/json", `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"x"}]}`))
		}
		checkUnavailable(t, e, "new-key token after a failed key set fetch", call(), before)
		time.Sleep(500 * time.Millisecond)
	}
	front.set("/keys", nil)
	eventually(t, "the new-key token accepted once the key set is back", func() (bool, string) {
		r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
		if r.status != http.StatusOK && r.status != http.StatusServiceUnavailable {
			t.Fatalf("while the gateway recovers: %s, want 503 or 200", statusOf(r))
		}
		return r.status == http.StatusOK, statusOf(r)
	})
}
