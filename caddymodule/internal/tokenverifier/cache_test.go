package tokenverifier

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestCacheSharesScopeLists: identities with the same scopes and client
// share one copy, lists that join alike stay apart, and the identity read
// back is the one stored.
func TestCacheSharesScopeLists(t *testing.T) {
	c, err := newResultCache(10, 10)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	exp := now.Add(time.Hour).Truncate(time.Second)
	put := func(k byte, sub string, scopes []string) Identity {
		c.put([32]byte{k}, cacheEntry{id: Identity{Subject: sub, ClientID: "app", Scopes: scopes, User: "u-" + sub, Expiry: exp, Kind: KindJWT}, until: exp})
		e, ok := c.get([32]byte{k}, now)
		if !ok {
			t.Fatalf("entry %d not found", k)
		}
		return e.id
	}
	a := put(1, "alice", []string{"notes:read", "files:read"})
	b := put(2, "bob", []string{"notes:read", "files:read"})
	if &a.Scopes[0] != &b.Scopes[0] || a.Subject != "alice" || b.Subject != "bob" || b.User != "u-bob" || b.Kind != KindJWT || !b.Expiry.Equal(exp) {
		t.Fatalf("identities %+v and %+v: scope lists not shared or fields lost", a, b)
	}
	if !slices.Equal(a.Scopes, []string{"notes:read", "files:read"}) {
		t.Fatalf("scopes %q", a.Scopes)
	}
	joined := put(3, "carol", []string{"notes:read files:read"})
	if len(joined.Scopes) != 1 || joined.Scopes[0] != "notes:read files:read" {
		t.Fatalf("a one-element list read back as %q", joined.Scopes)
	}
	if again := put(4, "dave", []string{"notes:read", "files:read"}); !slices.Equal(again.Scopes, a.Scopes) {
		t.Fatalf("scopes %q after a colliding list, want %q", again.Scopes, a.Scopes)
	}
	if e, ok := c.get([32]byte{1}, exp); ok {
		t.Fatalf("entry returned at its end: %+v", e)
	}
	noExp := put(5, "erin", nil)
	noExp.Expiry = time.Time{}
	c.put([32]byte{5}, cacheEntry{id: noExp, until: exp})
	if e, _ := c.get([32]byte{5}, now); !e.id.Expiry.IsZero() || e.id.Scopes != nil {
		t.Fatalf("identity without expiry or scopes read back as %+v", e.id)
	}
}

// TestInternerBounded: past maxShared distinct values, nothing more is
// kept, and values pass through unchanged.
func TestInternerBounded(t *testing.T) {
	var in interner
	for i := range maxShared + 100 {
		s := fmt.Sprintf("scope-%d", i)
		if got := in.scopes([]string{s}); len(got) != 1 || got[0] != s {
			t.Fatalf("scopes(%q) = %q", s, got)
		}
		if got := in.str(s); got != s {
			t.Fatalf("str(%q) = %q", s, got)
		}
	}
	if len(in.scopeOf) > maxShared || len(in.strs) > maxShared {
		t.Fatalf("interner holds %d lists and %d strings, bound %d", len(in.scopeOf), len(in.strs), maxShared)
	}
}

func TestLooksLikeJWT(t *testing.T) {
	for tok, want := range map[string]bool{
		"eyJh.eyJz.c2ln":   true,
		"a-_.b.C9":         true,
		"..":               true, // shape only; parsing refuses it
		"a.b":              false,
		"a.b.c.d":          false,
		"a.b.c=":           false,
		"a.b.c+/":          false,
		"\u00e4.b.c":       false,
		"a.b.c\x00":        false,
		"opaque-token-123": false,
	} {
		if got := looksLikeJWT(tok); got != want {
			t.Errorf("looksLikeJWT(%q) = %v, want %v", tok, got, want)
		}
	}
}
