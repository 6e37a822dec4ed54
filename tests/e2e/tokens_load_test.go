package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/mcptestserver"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// loadClient opens as many connections as the test asks for: the default
// client keeps two idle connections per host, which would turn a burst of
// concurrent requests into a trickle of new connections.
var loadClient = &http.Client{Transport: &http.Transport{MaxIdleConns: 2000, MaxIdleConnsPerHost: 2000}}

// callStatus sends one tools/call with tok and returns the status, or 0
// when the request failed in transport.
func (e *env) callStatus(tok string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := mcptestserver.NewToolCallRequest(ctx, e.resource, mcptestserver.ToolEchoRead, nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := loadClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// burst sends n concurrent tools/calls with tok, released at once, and
// counts the answers by status.
func (e *env) burst(n int, tok string) map[int]int {
	var mu sync.Mutex
	counts := map[int]int{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s := e.callStatus(tok)
			mu.Lock()
			counts[s]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return counts
}

func describe(counts map[int]int) string {
	keys := make([]int, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d×%d", counts[k], k))
	}
	return strings.Join(parts, " ")
}

// TestColdStartConcurrentRequests (issue 17): a fresh gateway process that
// receives 1,000 concurrent requests with one valid token it has never
// seen answers all of them 200, five rounds with a fresh process each: the
// requests that arrive while the first key set fetch is in flight wait for
// it. The provider sees one discovery and one JWKS fetch per process. An
// opaque token's first introspection is shared the same way.
func TestColdStartConcurrentRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	const n = 1000
	for round := range 5 {
		e := newEnv(t, envOptions{})
		tok := e.token(t, false, "notes:read")
		counts := e.burst(n, tok)
		t.Logf("round %d: %s; provider: %d discoveries, %d JWKS fetches", round+1, describe(counts),
			e.provider.Hits("/.well-known/openid-configuration"), e.provider.Hits("/keys"))
		if counts[http.StatusOK] != n {
			t.Errorf("round %d: %d of %d requests succeeded (%s)", round+1, counts[http.StatusOK], n, describe(counts))
		}
		if h := e.provider.Hits("/keys"); h != 1 {
			t.Errorf("round %d: %d JWKS fetches, want 1", round+1, h)
		}
		if logs := e.caddy.Logs(); strings.Contains(logs, "moments ago") {
			t.Errorf("round %d: the gateway reported a failed fetch that never happened", round+1)
		}
		if round == 0 {
			// The first introspection of an opaque token, in the same
			// process: one call to the provider for all.
			opaque := e.token(t, true, "notes:read")
			before := e.provider.Hits("/oauth/introspect")
			counts := e.burst(n, opaque)
			t.Logf("opaque: %s; %d introspections", describe(counts), e.provider.Hits("/oauth/introspect")-before)
			if counts[http.StatusOK] != n {
				t.Errorf("opaque: %d of %d requests succeeded (%s)", counts[http.StatusOK], n, describe(counts))
			}
			if h := e.provider.Hits("/oauth/introspect") - before; h != 1 {
				t.Errorf("opaque: %d introspection calls for one token, want 1", h)
			}
		}
		e.caddy.Stop()
	}
}

// TestRotationUnderLoad (issue 17): 200 clients call continuously while
// the provider switches to a new signing key, twice; each client presents
// tokens of the newest key as soon as it exists. No valid token is refused
// (no 401, no 503) and the gateway fetches the JWKS once per rotation.
//
// The gateway starts a fetch for an unknown kid at most every 10 s, so
// each rotation waits that long after the previous fetch; a kid rotated in
// sooner would rightly wait for the next allowed fetch.
func TestRotationUnderLoad(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	const clients = 200
	const refetchInterval = 10 * time.Second
	mint := func() []string {
		toks := make([]string, clients)
		for i := range toks {
			toks[i] = e.provider.MintJWT(t, oidctest.MintRequest{Audience: []string{e.resource}, Scopes: []string{"notes:read"}})
		}
		return toks
	}
	current := atomic.Pointer[[]string]{}
	first := mint()
	current.Store(&first)
	if s := e.callStatus(first[0]); s != http.StatusOK {
		t.Fatalf("before the load: status %d", s)
	}
	lastFetch := time.Now()
	fetchesBefore := e.provider.Hits("/keys")

	var mu sync.Mutex
	counts := map[int]int{}
	var calls atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := e.callStatus((*current.Load())[i])
				calls.Add(1)
				mu.Lock()
				counts[s]++
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	for r := range 2 {
		time.Sleep(time.Until(lastFetch.Add(refetchInterval + time.Second)))
		e.provider.Rotate(t)
		toks := mint()
		current.Store(&toks)
		before := calls.Load()
		// Every client has used its new token a few times.
		deadline := time.Now().Add(30 * time.Second)
		for calls.Load() < before+3*clients && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		// The refetch happened before those calls were answered.
		lastFetch = time.Now()
		t.Logf("rotation %d: %d calls since", r+1, calls.Load()-before)
	}
	close(stop)
	wg.Wait()
	t.Logf("answers: %s", describe(counts))
	if len(counts) != 1 || counts[http.StatusOK] == 0 {
		t.Errorf("valid tokens refused during rotation under load: %s", describe(counts))
	}
	if f := e.provider.Hits("/keys") - fetchesBefore; f != 2 {
		t.Errorf("%d JWKS fetches for 2 rotations, want 2", f)
	}
}

// TestRejectionFloodKeepsIdentities (issue 9, finding 2): with cache_size
// 1000, 3,000 random opaque tokens (each rejected by the provider) do not
// evict validated tokens: with the provider down afterwards, they still
// work from the cache.
func TestRejectionFloodKeepsIdentities(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{gatewayExtra: "cache_size 1000"})
	valid := []string{e.token(t, true, "notes:read"), e.token(t, false, "notes:read")}
	for _, tok := range valid {
		if s := e.callStatus(tok); s != http.StatusOK {
			t.Fatalf("valid token: status %d", s)
		}
	}
	tokens := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tok := range tokens {
				s := e.callStatus(tok)
				mu.Lock()
				counts[s]++
				mu.Unlock()
			}
		}()
	}
	for i := range 3000 {
		tokens <- fmt.Sprintf("flood-%d-%d", i, time.Now().UnixNano())
	}
	close(tokens)
	wg.Wait()
	if counts[http.StatusUnauthorized] != 3000 {
		t.Errorf("random tokens: %s, want 3000×401", describe(counts))
	}
	e.provider.Stop()
	for i, tok := range valid {
		if s := e.callStatus(tok); s != http.StatusOK {
			t.Errorf("validated token %d after the flood, provider down: status %d", i, s)
		}
	}
}

// TestRequireTyp (issue 9, finding 7): with require_typ at+jwt, the
// provider's access tokens (typ at+JWT) pass and a JWT typed "JWT" (an ID
// token, say) signed by the same key is refused.
func TestRequireTyp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{gatewayExtra: "require_typ at+jwt"})
	if s := e.callStatus(e.token(t, false, "notes:read")); s != http.StatusOK {
		t.Errorf("at+JWT access token: status %d, want 200", s)
	}
	other := e.provider.MintJWT(t, oidctest.MintRequest{Audience: []string{e.resource}, Scopes: []string{"notes:read"}})
	checkInvalidToken(t, e, e.callTool(t, mcptestserver.ToolEchoRead, bearer(other)), other, "typ")
}
