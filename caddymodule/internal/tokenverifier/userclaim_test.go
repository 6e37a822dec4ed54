package tokenverifier

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestUserClaim holds the configured user claim: read from a JWT's payload
// and from an introspection answer, and a token whose claim is missing or
// not a non-empty string is refused (fail closed), never passed on with
// no user or with the subject in its place.
func TestUserClaim(t *testing.T) {
	p := newTestProvider(t)
	cfg := p.config()
	cfg.UserClaim = "preferred_username"
	v := newVerifier(t, cfg)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).Unix()
	intro := func(extra map[string]any) map[string]any {
		c := map[string]any{"active": true, "sub": "bob-sub", "scope": "notes:read", "exp": exp, "iss": p.srv.URL, "aud": "https://mcp.example/mcp"}
		for k, val := range extra {
			c[k] = val
		}
		return c
	}
	jwtWith := func(extra map[string]any, del ...string) string {
		c := p.claims()
		for k, val := range extra {
			c[k] = val
		}
		for _, k := range del {
			delete(c, k)
		}
		return p.sign(c, "k1")
	}
	p.addOpaque("intro-ok", intro(map[string]any{"preferred_username": "bob"}))
	p.addOpaque("intro-missing", intro(nil))
	p.addOpaque("intro-empty", intro(map[string]any{"preferred_username": ""}))
	p.addOpaque("intro-number", intro(map[string]any{"preferred_username": 7}))
	p.addOpaque("intro-list", intro(map[string]any{"preferred_username": []string{"bob"}}))

	for name, tc := range map[string]struct {
		token, user, reason string
	}{
		"jwt":                   {token: jwtWith(map[string]any{"preferred_username": "alice-nc"}), user: "alice-nc"},
		"jwt missing":           {token: jwtWith(nil), reason: "token has no preferred_username claim"},
		"jwt null":              {token: jwtWith(map[string]any{"preferred_username": nil}), reason: "claim preferred_username is not a non-empty string"},
		"jwt empty":             {token: jwtWith(map[string]any{"preferred_username": ""}), reason: "claim preferred_username is not a non-empty string"},
		"jwt object":            {token: jwtWith(map[string]any{"preferred_username": map[string]any{"u": "x"}}), reason: "claim preferred_username is not a non-empty string"},
		"introspection":         {token: "intro-ok", user: "bob"},
		"introspection missing": {token: "intro-missing", reason: "token has no preferred_username claim"},
		"introspection empty":   {token: "intro-empty", reason: "claim preferred_username is not a non-empty string"},
		"introspection number":  {token: "intro-number", reason: "claim preferred_username is not a non-empty string"},
		"introspection list":    {token: "intro-list", reason: "claim preferred_username is not a non-empty string"},
	} {
		t.Run(name, func(t *testing.T) {
			id, err := v.Verify(ctx, tc.token)
			if tc.reason != "" {
				var inv *InvalidTokenError
				if !errors.As(err, &inv) || inv.Reason != tc.reason {
					t.Fatalf("err = %v, identity %+v; want invalid %q", err, id, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.User != tc.user {
				t.Errorf("User = %q, want %q", id.User, tc.user)
			}
			if id.Subject == id.User {
				t.Errorf("subject %q used as the user", id.Subject)
			}
		})
	}

	// Without the option nothing changes: User stays empty.
	plain := newVerifier(t, p.config())
	id, err := plain.Verify(ctx, jwtWith(map[string]any{"preferred_username": "alice-nc"}))
	if err != nil || id.User != "" {
		t.Errorf("without user_claim: identity %+v, err %v", id, err)
	}

	// Userinfo answers are held to the claim too: the test provider's
	// answer names only sub, so the token is refused.
	ucfg := p.config()
	ucfg.ClientID, ucfg.ClientSecret = "", ""
	ucfg.Userinfo, ucfg.UserClaim = true, "preferred_username"
	uv := newVerifier(t, ucfg)
	var inv *InvalidTokenError
	if _, err := uv.Verify(ctx, "intro-ok"); !errors.As(err, &inv) || inv.Reason != "token has no preferred_username claim" {
		t.Errorf("userinfo without the claim: err = %v", err)
	}
}

// FuzzUserClaim: whatever the provider's document, the claim is either a
// non-empty string taken from it or an InvalidTokenError, never a panic
// and never an empty user accepted.
func FuzzUserClaim(f *testing.F) {
	for _, s := range []string{`{"u":"alice"}`, `{"u":""}`, `{"u":null}`, `{"u":1}`, `{"u":["a"]}`, `{}`, `[]`, `"u"`, `{"u":"a","u":"b"}`, `{"u":"\u0000"}`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		got, err := userClaim("u", []byte(doc))
		var inv *InvalidTokenError
		switch {
		case err != nil && !errors.As(err, &inv):
			t.Fatalf("error of another kind: %v", err)
		case err == nil && got == "":
			t.Fatal("empty user accepted")
		}
	})
}
