package caddymodule

import (
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBearerToken(t *testing.T) {
	cases := []struct {
		name    string
		target  string
		headers []string
		ctype   string
		body    string
		token   string
		status  int
	}{
		{name: "bearer", target: "/mcp", headers: []string{"Bearer abc.def-ghi_"}, token: "abc.def-ghi_"},
		{name: "scheme case-insensitive", target: "/mcp", headers: []string{"bEaReR tok"}, token: "tok"},
		{name: "padding", target: "/mcp", headers: []string{"Bearer dG9r=="}, token: "dG9r=="},
		{name: "extra spaces before token", target: "/mcp", headers: []string{"Bearer   tok"}, token: "tok"},
		{name: "none", target: "/mcp", status: 401},
		{name: "basic scheme", target: "/mcp", headers: []string{"Basic dXNlcjpwYXNz"}, status: 401},
		{name: "Bearerxyz is not bearer", target: "/mcp", headers: []string{"Bearerxyz"}, status: 401},
		{name: "empty token", target: "/mcp", headers: []string{"Bearer "}, status: 401},
		{name: "token with space", target: "/mcp", headers: []string{"Bearer a b"}, status: 401},
		{name: "two tokens in one header", target: "/mcp", headers: []string{"Bearer a, Bearer b"}, status: 401},
		{name: "padding in the middle", target: "/mcp", headers: []string{"Bearer a=b"}, status: 401},
		{name: "control character", target: "/mcp", headers: []string{"Bearer a\x01"}, status: 401},
		{name: "duplicate headers", target: "/mcp", headers: []string{"Bearer a", "Bearer b"}, status: 400},
		{name: "query token", target: "/mcp?access_token=abc", headers: []string{"Bearer a"}, status: 400},
		{name: "query token case variant", target: "/mcp?ACCESS_TOKEN=abc", status: 400},
		{name: "unparsable query with token", target: "/mcp?a=%zz&access_token=x", status: 400},
		// The body is judged only after authentication (readMessage).
		{name: "form body is not read", target: "/mcp", ctype: "application/x-www-form-urlencoded", body: "access_token=abc", headers: []string{"Bearer a"}, token: "a"},
		{name: "form body without header", target: "/mcp", ctype: "application/x-www-form-urlencoded", body: "access_token=abc", status: 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tc.target, strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			token, status, _ := bearerToken(r)
			if status != tc.status || token != tc.token {
				t.Errorf("got (%q, %d), want (%q, %d)", token, status, tc.token, tc.status)
			}
			if tc.body != "" {
				rest, err := io.ReadAll(r.Body)
				if err != nil || string(rest) != tc.body {
					t.Errorf("body touched: %q, %v", rest, err)
				}
			}
		})
	}
}

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "Bearer ", "Basic x", "Bearer a b", "Bearer a==", "Bearer =", "BEARER\ttok", "Bearer \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		token, status, msg := parseAuthorization(h)
		if status == 0 {
			if token == "" || !isB64Token(token) {
				t.Fatalf("accepted %q as token %q", h, token)
			}
			if !strings.HasSuffix(h, token) || !strings.EqualFold(h[:6], "bearer") {
				t.Fatalf("token %q not taken from the end of a bearer header %q", token, h)
			}
			if strings.ContainsAny(token, " \t\r\n,\"") {
				t.Fatalf("token %q has separators", token)
			}
		} else if token != "" || msg == "" || status != http.StatusUnauthorized {
			t.Fatalf("rejection of %q returned token %q status %d msg %q", h, token, status, msg)
		}
	})
}

// TestFormCarriesTokenContentTypes: the shortcut that skips parsing the
// Content-Type decides as mime.ParseMediaType would, including for
// headers that only Unicode lower-casing turns into the form type.
func TestFormCarriesTokenContentTypes(t *testing.T) {
	body := []byte("access_token=abc")
	for ctype, want := range map[string]bool{
		"application/x-www-form-urlencoded":                  true,
		"APPLICATION/X-WWW-FORM-URLENCODED; charset=utf-8":   true,
		"  application/x-www-form-urlencoded ;q=1":           true,
		"appl\u0130cation/x-www-form-urlencoded":             true, // "İ" lowers to "i"
		"application/json":                                   false,
		"":                                                   false,
		"application/x-www-form-urlencodedx":                 false,
		"text/plain; note=application/x-www-form-urlencoded": false,
	} {
		h := http.Header{}
		if ctype != "" {
			h.Set("Content-Type", ctype)
		}
		mt, _, _ := mime.ParseMediaType(ctype)
		if reference := mt == "application/x-www-form-urlencoded"; reference != want {
			t.Fatalf("%q: the table says %v, mime says %v", ctype, want, reference)
		}
		if got := formCarriesToken(h, body); got != want {
			t.Errorf("formCarriesToken(%q) = %v, want %v", ctype, got, want)
		}
	}
}

// TestIdentityHeaderNamesCanonical: setIdentity writes its headers into
// the map directly, which only works under the canonical names.
func TestIdentityHeaderNamesCanonical(t *testing.T) {
	for _, name := range []string{headerSubject, headerClientID, headerScopes} {
		if c := http.CanonicalHeaderKey(name); c != name {
			t.Errorf("%q is not canonical (%q)", name, c)
		}
	}
}
