package tokenverifier

import (
	"context"
	"testing"
)

// cachedVerifier returns a verifier that has verified a JWT and
// introspected an opaque token once, so that both are in its cache.
func cachedVerifier(tb testing.TB) (v *Verifier, jwtToken, opaque string) {
	tb.Helper()
	p := newTestProvider(tb)
	v, err := New(context.Background(), p.config())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { v.Close() })
	jwtToken = p.sign(p.claims(), "k1")
	opaque = "opaque-token-0123456789abcdefghijklmnopqrstuvwxyz"
	p.addOpaque(opaque, map[string]any{"active": true, "sub": "bob", "client_id": "client-1",
		"aud": "https://mcp.example/mcp", "scope": "notes:read notes:write files:read", "exp": p.claims()["exp"]})
	for _, tok := range []string{jwtToken, opaque} {
		if _, cached, err := v.VerifyCached(context.Background(), tok); err != nil || cached {
			tb.Fatalf("first verification: cached=%v, %v", cached, err)
		}
		if _, cached, err := v.VerifyCached(context.Background(), tok); err != nil || !cached {
			tb.Fatalf("second verification: cached=%v, %v", cached, err)
		}
	}
	return v, jwtToken, opaque
}

func benchCached(b *testing.B, v *Verifier, token string) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		id, cached, err := v.VerifyCached(ctx, token)
		if err != nil || !cached || id.Subject == "" {
			b.Fatalf("cached=%v, %v", cached, err)
		}
	}
}

// BenchmarkCachedJWT is the cost of authenticating a request whose JWT
// was verified before: what every request but a token's first pays.
func BenchmarkCachedJWT(b *testing.B) {
	v, tok, _ := cachedVerifier(b)
	benchCached(b, v, tok)
}

// BenchmarkCachedOpaque is the same for an opaque token introspected
// before.
func BenchmarkCachedOpaque(b *testing.B) {
	v, _, tok := cachedVerifier(b)
	benchCached(b, v, tok)
}

// TestCachedAllocations holds authentication from the cache to at most
// three allocations per request (issue 11), for both kinds of token.
func TestCachedAllocations(t *testing.T) {
	v, jwtToken, opaque := cachedVerifier(t)
	ctx := context.Background()
	for name, tok := range map[string]string{"jwt": jwtToken, "opaque": opaque} {
		allocs := testing.AllocsPerRun(200, func() {
			if _, cached, err := v.VerifyCached(ctx, tok); err != nil || !cached {
				t.Fatalf("cached=%v, %v", cached, err)
			}
		})
		t.Logf("%s: %.0f allocations", name, allocs)
		if allocs > 3 {
			t.Errorf("%s from the cache: %.0f allocations, want at most 3", name, allocs)
		}
	}
}
