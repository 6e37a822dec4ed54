package tokenverifier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// verifyAll verifies each token on its own goroutine and returns the
// errors in order.
func verifyAll(ctx context.Context, v *Verifier, tokens []string) []error {
	errs := make([]error, len(tokens))
	var wg sync.WaitGroup
	for i, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = v.Verify(ctx, tok)
		}()
	}
	wg.Wait()
	return errs
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runHeld starts one Verify per token while the provider's JWKS answer is
// held, waits until the first fetch reached the provider and the others
// had time to pile up, counts how many returned meanwhile, then releases
// the answer and waits for all.
func runHeld(t *testing.T, p *testProvider, v *Verifier, tokens []string, fetchesBefore int64) (errs []error, decidedEarly int) {
	t.Helper()
	release := p.holdJWKS()
	defer release()
	errs = make([]error, len(tokens))
	var returned atomic.Int64
	var wg sync.WaitGroup
	for i, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = v.Verify(context.Background(), tok)
			returned.Add(1)
		}()
	}
	waitFor(t, "the JWKS fetch to reach the provider", func() bool { return p.jwksFetches.Load() > fetchesBefore })
	// Give every other goroutine time to reach the key source; they
	// must all be waiting for the held fetch.
	time.Sleep(300 * time.Millisecond)
	decidedEarly = int(returned.Load())
	release()
	wg.Wait()
	return errs, decidedEarly
}

func distinctTokens(p *testProvider, n int, kid string) []string {
	out := make([]string, n)
	for i := range out {
		c := p.claims()
		c["jti"] = fmt.Sprint("t-", i)
		out[i] = p.sign(c, kid)
	}
	return out
}

// TestColdStartJoinsFetchInFlight: on a fresh verifier, every request that
// arrives while the first JWKS fetch is in flight waits for it and is
// verified with its result; the provider sees one fetch (issue 17).
func TestColdStartJoinsFetchInFlight(t *testing.T) {
	p := newTestProvider(t)
	v := newVerifier(t, p.config())
	tok := p.sign(p.claims(), "k1")
	tokens := make([]string, 100)
	for i := range tokens {
		tokens[i] = tok
	}
	errs, early := runHeld(t, p, v, tokens, 0)
	if early != 0 {
		t.Errorf("%d requests were answered while the first key set fetch was still in flight", early)
	}
	failed := 0
	for _, err := range errs {
		if err != nil {
			if failed == 0 {
				t.Errorf("first failure: %v", err)
			}
			failed++
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d requests refused during the cold start", failed, len(tokens))
	}
	if n := p.jwksFetches.Load(); n != 1 {
		t.Errorf("jwks fetches = %d, want 1", n)
	}
	if n := p.discoveries.Load(); n != 1 {
		t.Errorf("discoveries = %d, want 1", n)
	}
}

// TestRotationJoinsRefetchInFlight: after the provider rotates, requests
// with the new kid that arrive while the refetch is in flight wait for it
// and are verified; a kid known after the refetch is verified whatever the
// rate limit says; one fetch per rotation.
func TestRotationJoinsRefetchInFlight(t *testing.T) {
	p := newTestProvider(t)
	var mu sync.Mutex
	clock := time.Now()
	cfg := p.config()
	cfg.JWKSRefetchInterval = 10 * time.Second
	cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	v := newVerifier(t, cfg)
	if _, err := v.Verify(context.Background(), p.sign(p.claims(), "k1")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	clock = clock.Add(11 * time.Second)
	mu.Unlock()
	p.addKey("k2")
	errs, early := runHeld(t, p, v, distinctTokens(p, 100, "k2"), 1)
	if early != 0 {
		t.Errorf("%d requests with the new kid were answered while the refetch was in flight", early)
	}
	failed := 0
	for _, err := range errs {
		if err != nil {
			if failed == 0 {
				t.Errorf("first failure: %v", err)
			}
			failed++
		}
	}
	if failed > 0 {
		t.Errorf("%d of 100 tokens of the rotated key refused", failed)
	}
	if n := p.jwksFetches.Load(); n != 2 {
		t.Errorf("jwks fetches = %d, want 2 (one per rotation)", n)
	}
	// Inside the refetch interval, more new-kid tokens are verified with
	// the fetched set: the limit stops fetches, not verification.
	for _, tok := range distinctTokens(p, 5, "k2") {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("token of the fetched key refused inside the refetch interval: %v", err)
		}
	}
	if n := p.jwksFetches.Load(); n != 2 {
		t.Errorf("jwks fetches = %d, want 2", n)
	}
}

// TestKeyFetchRealFailure: requests joined to a fetch that fails get 503
// with that failure's cause; a request right after gets "failed moments
// ago" with the same cause (and no new fetch); the log names the cause.
func TestKeyFetchRealFailure(t *testing.T) {
	p := newTestProvider(t)
	core, logs := observer.New(zapcore.DebugLevel)
	var mu sync.Mutex
	clock := time.Now()
	cfg := p.config()
	cfg.Logger = zap.New(core)
	cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	v := newVerifier(t, cfg)
	p.setJWKSStatus(http.StatusInternalServerError)
	tok := p.sign(p.claims(), "k1")
	tokens := make([]string, 20)
	for i := range tokens {
		tokens[i] = tok
	}
	errs, early := runHeld(t, p, v, tokens, 0)
	if early != 0 {
		t.Errorf("%d requests were answered before the failing fetch ended", early)
	}
	for i, err := range errs {
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "500") {
			t.Fatalf("request %d: err = %v, want ErrUnavailable naming the HTTP 500", i, err)
		}
	}
	_, err := v.Verify(context.Background(), tok)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "moments ago") || !strings.Contains(err.Error(), "500") {
		t.Errorf("right after the failure: err = %v, want 'failed moments ago' with the cause", err)
	}
	if n := p.jwksFetches.Load(); n != 1 {
		t.Errorf("jwks fetches = %d, want 1 (no retry right after a failure)", n)
	}
	found := false
	for _, e := range logs.All() {
		for _, f := range e.Context {
			if f.Key == "error" && strings.Contains(fmt.Sprint(f.Interface), "500") {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no log line names the fetch failure's cause; logged: %v", logs.All())
	}
	// Once the provider is back and the retry pause is over, it works.
	p.setJWKSStatus(0)
	mu.Lock()
	clock = clock.Add(3 * time.Second)
	mu.Unlock()
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("after the provider recovered: %v", err)
	}
}

// TestJoinBoundedByContext: a request waiting for a fetch in flight gives up
// when its own context ends, as unavailable (never invalid).
func TestJoinBoundedByContext(t *testing.T) {
	p := newTestProvider(t)
	v := newVerifier(t, p.config())
	release := p.holdJWKS()
	defer release()
	tok := p.sign(p.claims(), "k1")
	first := make(chan error, 1)
	go func() {
		_, err := v.Verify(context.Background(), tok)
		first <- err
	}()
	waitFor(t, "the first fetch", func() bool { return p.jwksFetches.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := v.Verify(ctx, tok)
	var inv *InvalidTokenError
	if err == nil || errors.As(err, &inv) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable after the request's context ended", err)
	}
	release()
	if err := <-first; err != nil {
		t.Errorf("the first request: %v", err)
	}
}

// TestIntrospectionSingleFlight: concurrent first uses of one opaque token
// cost the provider one introspection call, and all succeed.
func TestIntrospectionSingleFlight(t *testing.T) {
	p := newTestProvider(t)
	p.addOpaque("good", map[string]any{"active": true, "sub": "bob", "exp": time.Now().Add(time.Hour).Unix()})
	p.setIntrospectionDelay(300 * time.Millisecond)
	v := newVerifier(t, p.config())
	tokens := make([]string, 50)
	for i := range tokens {
		tokens[i] = "good"
	}
	for i, err := range verifyAll(context.Background(), v, tokens) {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if n := p.introspecting.Load(); n != 1 {
		t.Errorf("introspection calls = %d, want 1", n)
	}
	if n := p.discoveries.Load(); n != 1 {
		t.Errorf("discoveries = %d, want 1", n)
	}
}

// TestIntrospectionConcurrencyCap: a flood of distinct random opaque tokens
// against a slow provider never has more introspection calls in flight
// than the cap (default 8, configurable).
func TestIntrospectionConcurrencyCap(t *testing.T) {
	for _, tc := range []struct {
		cap, want int
	}{{0, 8}, {3, 3}} {
		t.Run(fmt.Sprint("cap ", tc.want), func(t *testing.T) {
			p := newTestProvider(t)
			p.setIntrospectionDelay(20 * time.Millisecond)
			cfg := p.config()
			cfg.MaxConcurrentIntrospections = tc.cap
			v := newVerifier(t, cfg)
			tokens := make([]string, 300)
			for i := range tokens {
				tokens[i] = fmt.Sprintf("random-%d", i)
			}
			for i, err := range verifyAll(context.Background(), v, tokens) {
				var inv *InvalidTokenError
				if !errors.As(err, &inv) {
					t.Fatalf("token %d: err = %v, want invalid", i, err)
				}
			}
			if n := p.introspecting.Load(); n != 300 {
				t.Errorf("introspection calls = %d, want 300", n)
			}
			if m := p.introMax.Load(); m > int64(tc.want) {
				t.Errorf("%d introspection calls in flight at once, cap %d", m, tc.want)
			}
		})
	}
}

// TestRejectionsNeverEvictIdentities: with cache_size 1000, 3,000 random
// tokens rejected by the provider do not push a validated token out of the
// cache: it keeps working with the provider down.
func TestRejectionsNeverEvictIdentities(t *testing.T) {
	p := newTestProvider(t)
	p.addOpaque("good", map[string]any{"active": true, "sub": "bob", "exp": time.Now().Add(time.Hour).Unix()})
	cfg := p.config()
	cfg.CacheSize = 1000
	v := newVerifier(t, cfg)
	ctx := context.Background()
	if _, err := v.Verify(ctx, "good"); err != nil {
		t.Fatal(err)
	}
	good := p.sign(p.claims(), "k1")
	if _, err := v.Verify(ctx, good); err != nil {
		t.Fatal(err)
	}
	tokens := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tok := range tokens {
				if _, err := v.Verify(ctx, tok); err == nil {
					t.Errorf("random token accepted")
				}
			}
		}()
	}
	for i := range 3000 {
		tokens <- fmt.Sprintf("random-%d", i)
	}
	close(tokens)
	wg.Wait()
	p.setDown(true)
	for _, tok := range []string{"good", good} {
		if _, cached, err := v.VerifyCached(ctx, tok); err != nil || !cached {
			t.Errorf("validated token after the flood, provider down: cached=%v err=%v", cached, err)
		}
	}
	// Rejections are bounded too.
	if n := v.CacheLen(); n > 2*1000 {
		t.Errorf("cache holds %d entries", n)
	}
}

// TestDiscoveryRealFailure: a discovery that failed makes the next requests
// within the retry pause unavailable with that failure's cause; after the
// pause the provider is asked again.
func TestDiscoveryRealFailure(t *testing.T) {
	p := newTestProvider(t)
	p.addOpaque("good", map[string]any{"active": true, "sub": "bob", "exp": time.Now().Add(time.Hour).Unix()})
	var mu sync.Mutex
	clock := time.Now()
	cfg := p.config()
	cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	v := newVerifier(t, cfg)
	p.setDown(true)
	ctx := context.Background()
	if _, err := v.Verify(ctx, "good"); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("provider down: err = %v, want ErrUnavailable naming the HTTP 503", err)
	}
	p.setDown(false)
	_, err := v.Verify(ctx, "good")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "moments ago") || !strings.Contains(err.Error(), "503") {
		t.Errorf("right after the failure: err = %v, want 'failed moments ago' with the cause", err)
	}
	if n := p.discoveries.Load(); n != 0 {
		t.Errorf("discoveries answered = %d, want 0 (no retry inside the pause)", n)
	}
	mu.Lock()
	clock = clock.Add(3 * time.Second)
	mu.Unlock()
	if _, err := v.Verify(ctx, "good"); err != nil {
		t.Errorf("after the pause: %v", err)
	}
}
