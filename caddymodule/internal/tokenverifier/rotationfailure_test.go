package tokenverifier

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestRotationWhileKeySetFails (issue 12, fault matrix): the provider
// rotated its key and its key set cannot be fetched. A token of the new
// key is not known bad, so it must not be rejected as invalid (a client
// would discard it and sign the user in again, to the same failure): it
// is unjudged (ErrUnavailable, 503) as long as the latest fetch failed,
// inside the refetch interval as well as at the fetch itself. Tokens of
// the held key keep working; once a fetch succeeds the new key does.
func TestRotationWhileKeySetFails(t *testing.T) {
	p := newTestProvider(t)
	var mu sync.Mutex
	clock := time.Now()
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	cfg := p.config()
	cfg.JWKSRefetchInterval = 10 * time.Second
	cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	v := newVerifier(t, cfg)
	ctx := context.Background()
	if _, err := v.Verify(ctx, p.sign(p.claims(), "k1")); err != nil {
		t.Fatal(err)
	}
	advance(11 * time.Second)
	p.setJWKSStatus(http.StatusInternalServerError)
	p.addKey("k2")
	newKey := distinctTokens(p, 3, "k2")
	if _, err := v.Verify(ctx, newKey[0]); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("new-key token at the failing fetch: %v, want ErrUnavailable", err)
	}
	advance(time.Second)
	if _, err := v.Verify(ctx, newKey[1]); !errors.Is(err, ErrUnavailable) {
		t.Errorf("new-key token inside the refetch interval after a failed fetch: %v, want ErrUnavailable", err)
	}
	if _, err := v.Verify(ctx, p.sign(p.claims(), "k1")); err != nil {
		t.Errorf("token of the held key while the key set fails: %v", err)
	}
	p.setJWKSStatus(0)
	advance(11 * time.Second)
	if _, err := v.Verify(ctx, newKey[2]); err != nil {
		t.Errorf("new-key token once the key set is back: %v", err)
	}
	// A fetch succeeded: an unknown kid inside the interval is rejected
	// again (transiently), as before.
	advance(time.Second)
	p.addKey("k9")
	var inv *InvalidTokenError
	if _, err := v.Verify(ctx, p.sign(p.claims(), "k9")); !errors.As(err, &inv) {
		t.Errorf("unknown kid after a successful fetch: %v, want an invalid token", err)
	}
}
