package tokenverifier

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// addEdKey publishes an Ed25519 key kid and returns its private half:
// signing is cheap enough to make a hundred thousand tokens in a test.
func (p *testProvider) addEdKey(kid string) ed25519.PrivateKey {
	p.t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	k, err := jwk.Import(priv)
	if err != nil {
		p.t.Fatal(err)
	}
	k.Set(jwk.KeyIDKey, kid)
	p.mu.Lock()
	p.keys = append(p.keys, k)
	p.mu.Unlock()
	return priv
}

// signEd makes a compact EdDSA JWS of claims, as a provider issues it.
func signEd(priv ed25519.PrivateKey, kid string, claims map[string]any) string {
	enc := base64.RawURLEncoding
	hdr, _ := json.Marshal(map[string]string{"alg": "EdDSA", "kid": kid, "typ": "at+jwt"})
	body, _ := json.Marshal(claims)
	input := enc.EncodeToString(hdr) + "." + enc.EncodeToString(body)
	return input + "." + enc.EncodeToString(ed25519.Sign(priv, []byte(input)))
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	var ms runtime.MemStats
	for range 2 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestCacheMemory100k fills the cache with 100,000 distinct verified JWTs
// carrying realistic claims and holds the heap growth to 64 MiB (issue
// 11), so the default cache_size fits a small machine.
func TestCacheMemory100k(t *testing.T) {
	if testing.Short() {
		t.Skip("verifies 100,000 tokens")
	}
	const n = 100_000
	const limit = 64 << 20
	p := newTestProvider(t)
	priv := p.addEdKey("ed1")
	v := newVerifier(t, p.config())
	scopeSets := []string{
		"openid profile notes:read files:read",
		"openid profile email notes:read notes:write calendar:read",
		"openid files:read files:write",
		"openid profile contacts:read calendar:read calendar:write notes:read",
	}
	now := time.Now()
	claims := func(i int) map[string]any {
		return map[string]any{
			"iss":       p.srv.URL,
			"sub":       fmt.Sprintf("f81d4fae-7dec-11d0-a765-%012d", i),
			"aud":       "https://mcp.example/mcp",
			"exp":       now.Add(time.Hour).Unix(),
			"iat":       now.Unix(),
			"jti":       fmt.Sprintf("jti-%d", i),
			"client_id": fmt.Sprintf("client-%d", i%20),
			"scope":     scopeSets[i%len(scopeSets)],
		}
	}
	// The key set and everything else verification builds once.
	if _, err := v.Verify(context.Background(), signEd(priv, "ed1", claims(n))); err != nil {
		t.Fatal(err)
	}
	before := heapInUse()
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if _, err := v.Verify(context.Background(), signEd(priv, "ed1", claims(i))); err != nil {
					errs <- fmt.Errorf("token %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	after := heapInUse()
	if got := v.CacheLen(); got != n {
		t.Fatalf("cache holds %d results, want %d", got, n)
	}
	growth := int64(after) - int64(before)
	t.Logf("heap growth for %d cached tokens: %.1f MiB (%d B per token)", n, float64(growth)/(1<<20), growth/n)
	if growth > limit {
		t.Fatalf("heap grew by %.1f MiB for %d cached tokens, want at most 64 MiB", float64(growth)/(1<<20), n)
	}
	runtime.KeepAlive(v)
}
