package caddymodule

import (
	"strings"
	"testing"
)

func TestChallengeString(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    challenge
		want string
	}{
		{
			name: "no credentials: no error code",
			c:    challenge{ResourceMetadata: "https://h/.well-known/oauth-protected-resource/mcp", Scope: []string{"openid", "notes:read"}},
			want: `Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp", scope="openid notes:read"`,
		},
		{
			name: "invalid token",
			c:    challenge{Error: "invalid_token", Description: "token expired", ResourceMetadata: "https://h/m", Scope: []string{"openid"}},
			want: `Bearer error="invalid_token", scope="openid", resource_metadata="https://h/m", error_description="token expired"`,
		},
		{
			name: "insufficient scope",
			c:    challenge{Error: "insufficient_scope", Description: "nc_notes_create_note requires notes:write", ResourceMetadata: "https://h/m", Scope: []string{"notes:read", "notes:write"}},
			want: `Bearer error="insufficient_scope", scope="notes:read notes:write", resource_metadata="https://h/m", error_description="nc_notes_create_note requires notes:write"`,
		},
		{
			name: "quotes and backslashes cannot break out",
			c:    challenge{Error: "invalid_token", Description: `bad "x\" y` + "\r\nSet-Cookie: a", ResourceMetadata: "https://h/m"},
			want: `Bearer error="invalid_token", resource_metadata="https://h/m", error_description="bad x y` + `Set-Cookie: a"`,
		},
		{
			name: "scope tokens that need escaping are dropped",
			c:    challenge{ResourceMetadata: "https://h/m", Scope: []string{"ok", `bad"`, "sp ace", "", "a\\b"}},
			want: `Bearer resource_metadata="https://h/m", scope="ok"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.String(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// parseChallenge reads back auth-params of a Bearer challenge whose
// values are quoted strings without escapes, as String produces them.
func parseChallenge(t *testing.T, s string) map[string]string {
	t.Helper()
	rest, ok := strings.CutPrefix(s, "Bearer ")
	if !ok {
		t.Fatalf("not a Bearer challenge: %q", s)
	}
	out := map[string]string{}
	for rest != "" {
		name, after, ok := strings.Cut(rest, `="`)
		if !ok {
			t.Fatalf("malformed params %q in %q", rest, s)
		}
		val, tail, ok := strings.Cut(after, `"`)
		if !ok {
			t.Fatalf("unterminated value in %q", s)
		}
		if _, dup := out[name]; dup {
			t.Fatalf("duplicate param %q in %q", name, s)
		}
		out[name] = val
		rest = strings.TrimPrefix(tail, ", ")
		if rest == tail && tail != "" {
			t.Fatalf("missing separator in %q", s)
		}
	}
	return out
}

func FuzzChallenge(f *testing.F) {
	f.Add("invalid_token", "token expired", "https://h/m", "openid notes:read")
	f.Add("", "", "https://h/.well-known/oauth-protected-resource/mcp", "a b c")
	f.Add("insufficient_scope", `x" , error="none`, "https://h/m", `q" z`)
	f.Fuzz(func(t *testing.T, errCode, desc, meta, scopes string) {
		c := challenge{Error: errCode, Description: desc, ResourceMetadata: meta, Scope: strings.Fields(scopes)}
		s := c.String()
		for _, r := range s {
			if r < 0x20 || r > 0x7e {
				t.Fatalf("challenge has byte %q: %q", r, s)
			}
		}
		params := parseChallenge(t, s)
		if _, ok := params["resource_metadata"]; !ok {
			t.Fatalf("no resource_metadata in %q", s)
		}
		if e := sanitize(errCode); e == "" {
			if _, has := params["error"]; has && errCode == "" {
				t.Fatalf("error param without an error code: %q", s)
			}
		}
		for name := range params {
			switch name {
			case "error", "scope", "resource_metadata", "error_description":
			default:
				t.Fatalf("injected param %q in %q", name, s)
			}
		}
	})
}
