package caddymodule

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/caddymodule/internal/tokenverifier"
)

// fenceVerifier is stubVerifier with provider metadata, counting calls.
type fenceVerifier struct {
	stubVerifier
	md     *tokenverifier.ProviderMetadata
	mdErr  error
	verify atomic.Int32
}

func (f *fenceVerifier) VerifyCached(ctx context.Context, token string) (tokenverifier.Identity, bool, error) {
	f.verify.Add(1)
	return f.stubVerifier.VerifyCached(ctx, token)
}

func (f *fenceVerifier) Metadata(context.Context) (*tokenverifier.ProviderMetadata, error) {
	return f.md, f.mdErr
}

// unsignedJWT builds a compact JWS with the given payload and a junk
// signature: the fence never verifies.
func unsignedJWT(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"at+jwt"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func jwtFor(aud any) string {
	b, _ := json.Marshal(map[string]any{"iss": "https://cloud.example.com", "sub": "alice", "aud": aud, "scope": "notes:read", "client_id": "mcp-app"})
	return unsignedJWT(string(b))
}

func fenceGateway(t *testing.T, mutate ...func(*Gateway)) (*Gateway, *fenceVerifier) {
	t.Helper()
	g := testGateway(t, mutate...)
	v := &fenceVerifier{stubVerifier: stubVerifier{
		"opaque-mcp":   tokenverifier.Identity{Subject: "alice", ClientID: "mcp-app", Kind: tokenverifier.KindIntrospection},
		"opaque-other": &tokenverifier.InvalidTokenError{Reason: "token is not active"},
		"opaque-later": &tokenverifier.InvalidTokenError{Reason: "token not yet valid"},
		"opaque-ui":    tokenverifier.Identity{Subject: "alice", Kind: tokenverifier.KindUserinfo},
		"opaque-down":  fmt.Errorf("introspect: %w", tokenverifier.ErrUnavailable),
	}, md: &tokenverifier.ProviderMetadata{
		Issuer:                "https://cloud.example.com",
		AuthorizationEndpoint: "https://cloud.example.com/index.php/apps/oidc/authorize",
		TokenEndpoint:         "https://cloud.example.com/index.php/apps/oidc/token",
		UserinfoEndpoint:      "https://public.example.com/index.php/apps/oidc/userinfo",
		IntrospectionEndpoint: "https://cloud.example.com/index.php/apps/oidc/introspect",
		RevocationEndpoint:    "https://cloud.example.com/index.php/apps/oidc/revoke",
		JWKSURI:               "https://cloud.example.com/index.php/apps/oidc/jwks",
		EndSessionEndpoint:    "https://cloud.example.com/index.php/apps/oidc/logout",
	}}
	g.verifier = v
	if err := g.setupFence(nil); err != nil {
		t.Fatal(err)
	}
	return g, v
}

func TestFence(t *testing.T) {
	bound := jwtFor("https://cloud.example.com/mcp")
	cases := []struct {
		name    string
		method  string
		target  string
		headers map[string][]string
		code    int // 299: forwarded
	}{
		{"replay: WebDAV DELETE with a bound JWT", "DELETE", "/remote.php/dav/files/alice/important.txt", map[string][]string{"Authorization": {"Bearer " + bound}}, 401},
		{"replay: OCS share with a bound JWT", "POST", "/ocs/v2.php/apps/files_sharing/api/v1/shares", map[string][]string{"Authorization": {"Bearer " + bound}, "OCS-APIRequest": {"true"}}, 401},
		{"replay: bound opaque token", "DELETE", "/remote.php/dav/files/alice/x", map[string][]string{"Authorization": {"Bearer opaque-mcp"}}, 401},
		{"bound JWT, aud array", "GET", "/ocs/v2.php/cloud/user", map[string][]string{"Authorization": {"Bearer " + jwtFor([]string{"https://other.example", "https://cloud.example.com/mcp"})}}, 401},
		{"bound JWT, aud with a trailing slash and capitals", "GET", "/ocs/v2.php/cloud/user", map[string][]string{"Authorization": {"Bearer " + jwtFor("HTTPS://cloud.example.com/mcp/")}}, 401},
		{"bound JWT, duplicate aud key", "GET", "/x", map[string][]string{"Authorization": {"Bearer " + unsignedJWT(`{"aud":"https://cloud.example.com/mcp","aud":"https://other.example"}`)}}, 401},
		{"bound JWT, escaped aud", "GET", "/x", map[string][]string{"Authorization": {"Bearer " + unsignedJWT(`{"aud":"https:\/\/cloud.example.com\/mcp"}`)}}, 401},
		{"JWT-shaped, unreadable payload", "GET", "/x", map[string][]string{"Authorization": {"Bearer " + unsignedJWT(`{"aud":`)}}, 401},
		{"bearer scheme in lower case", "GET", "/x", map[string][]string{"Authorization": {"bearer " + bound}}, 401},
		{"second Authorization header", "GET", "/x", map[string][]string{"Authorization": {"Basic YTpi", "Bearer " + bound}}, 401},
		{"token in the query", "GET", "/x?access_token=" + bound, nil, 401},
		{"token in the query, key in capitals", "GET", "/x?ACCESS_TOKEN=" + bound, nil, 401},
		{"exempt path with dot segments is not exempt", "GET", "/index.php/apps/oidc/userinfo/../../../../ocs/v2.php/cloud/user", map[string][]string{"Authorization": {"Bearer " + bound}}, 401},
		{"prefix exemption needs a clean path", "GET", "/apps/public/../../ocs/v2.php/cloud/user", map[string][]string{"Authorization": {"Bearer " + bound}}, 401},

		{"other audience JWT", "DELETE", "/remote.php/dav/files/alice/x", map[string][]string{"Authorization": {"Bearer " + jwtFor("https://cloud.example.com/other")}}, 299},
		{"JWT without aud", "GET", "/x", map[string][]string{"Authorization": {"Bearer " + unsignedJWT(`{"sub":"alice"}`)}}, 299},
		{"other opaque token", "GET", "/x", map[string][]string{"Authorization": {"Bearer opaque-other"}}, 299},
		{"opaque token only userinfo knows", "GET", "/x", map[string][]string{"Authorization": {"Bearer opaque-ui"}}, 299},
		{"basic", "PROPFIND", "/remote.php/dav/files/alice/", map[string][]string{"Authorization": {"Basic YWxpY2U6YXBwLXBhc3N3b3Jk"}}, 299},
		{"cookie", "GET", "/index.php/apps/files", map[string][]string{"Cookie": {"oc_sessionPassphrase=x; nc_session_id=y"}}, 299},
		{"anonymous", "GET", "/status.php", nil, 299},
		{"query without a token", "GET", "/x?tokenize=1&a=b", nil, 299},

		{"userinfo is exempt (by path, whatever the host)", "GET", "/index.php/apps/oidc/userinfo", map[string][]string{"Authorization": {"Bearer " + bound}}, 299},
		{"revocation is exempt", "POST", "/index.php/apps/oidc/revoke", map[string][]string{"Authorization": {"Bearer opaque-mcp"}}, 299},
		{"token endpoint is exempt", "POST", "/index.php/apps/oidc/token", map[string][]string{"Authorization": {"Bearer " + bound}}, 299},
		{"openid configuration is exempt", "GET", "/.well-known/openid-configuration", map[string][]string{"Authorization": {"Bearer " + bound}}, 299},
		{"oauth metadata is exempt", "GET", "/.well-known/oauth-authorization-server", map[string][]string{"Authorization": {"Bearer " + bound}}, 299},
		{"fence_exempt prefix", "GET", "/apps/public/page", map[string][]string{"Authorization": {"Bearer " + bound}}, 299},

		{"provider down, unseen opaque token", "GET", "/x", map[string][]string{"Authorization": {"Bearer opaque-down"}}, 503},
	}
	g, _ := fenceGateway(t, func(g *Gateway) { g.FenceExempt = []string{"/apps/public/"} })
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			for k, vs := range tc.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			res := serve(t, g, r)
			if res.code != tc.code {
				t.Fatalf("status %d, want %d; body %s", res.code, tc.code, res.body)
			}
			switch tc.code {
			case 401:
				if got, want := res.header.Get("WWW-Authenticate"), `Bearer error="invalid_token", error_description="token is for the MCP resource"`; got != want {
					t.Errorf("WWW-Authenticate %q, want %q", got, want)
				}
				if res.reached != nil {
					t.Error("a fenced request reached the next handler")
				}
			case 299:
				if res.reached == nil || res.reached.Header.Get("Authorization") != r.Header.Get("Authorization") {
					t.Error("request not forwarded untouched")
				}
			case 503:
				if res.header.Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
			}
		})
	}
}

func TestFenceOff(t *testing.T) {
	g, _ := fenceGateway(t, func(g *Gateway) { g.FenceOff = true })
	r := httptest.NewRequest("DELETE", "/remote.php/dav/files/alice/x", nil)
	r.Header.Set("Authorization", "Bearer "+jwtFor("https://cloud.example.com/mcp"))
	if res := serve(t, g, r); res.code != 299 {
		t.Fatalf("fence off: status %d, want the request forwarded", res.code)
	}
}

// TestFenceNotBoundCache: an opaque token judged not bound is not
// introspected again; a bound one goes to the verifier (which caches).
func TestFenceNotBoundCache(t *testing.T) {
	g, v := fenceGateway(t)
	for range 5 {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Header.Set("Authorization", "Bearer opaque-other")
		if res := serve(t, g, r); res.code != 299 {
			t.Fatalf("status %d", res.code)
		}
	}
	if n := v.verify.Load(); n != 1 {
		t.Errorf("not-bound token verified %d times, want 1", n)
	}
	v.verify.Store(0)
	for range 3 {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Header.Set("Authorization", "Bearer opaque-later")
		serve(t, g, r)
	}
	if n := v.verify.Load(); n != 3 {
		t.Errorf("a not-yet-valid token was remembered as not bound (%d verifications, want 3)", n)
	}
	if g.fence.notBound.Len() != 1 {
		t.Errorf("not-bound cache holds %d entries, want 1", g.fence.notBound.Len())
	}
}

// TestFenceMetadataDown: a bound token on a path that might be the
// provider's cannot be judged exempt without the metadata: 503, not a
// pass. Tokens that are not bound still pass.
func TestFenceMetadataDown(t *testing.T) {
	g, v := fenceGateway(t)
	v.md, v.mdErr = nil, fmt.Errorf("discovering: %w", tokenverifier.ErrUnavailable)
	r := httptest.NewRequest("GET", "/index.php/apps/oidc/userinfo", nil)
	r.Header.Set("Authorization", "Bearer "+jwtFor("https://cloud.example.com/mcp"))
	if res := serve(t, g, r); res.code != http.StatusServiceUnavailable {
		t.Fatalf("bound token, metadata unavailable: %d, want 503", res.code)
	}
	r = httptest.NewRequest("GET", "/index.php/apps/oidc/userinfo", nil)
	r.Header.Set("Authorization", "Bearer "+jwtFor("https://other.example"))
	if res := serve(t, g, r); res.code != 299 {
		t.Fatalf("foreign token, metadata unavailable: %d, want it forwarded", res.code)
	}
}

// FuzzUnverifiedClaims: the unverified payload reader never panics, and
// a payload it reads is one encoding/json reads as an object too.
func FuzzUnverifiedClaims(f *testing.F) {
	for _, s := range []string{`{"aud":"x"}`, `{"aud":["a","b"],"aud":"c"}`, `{"aud":1}`, `[]`, `{"a":{"aud":"x"}}`, `{"aud":"\u0061"}`} {
		f.Add(unsignedJWT(s))
	}
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		if _, ok := unverifiedClaims(tok); ok {
			_, rest, _ := strings.Cut(tok, ".")
			seg, _, _ := strings.Cut(rest, ".")
			payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
			var obj map[string]any
			if err != nil || json.Unmarshal(payload, &obj) != nil {
				t.Fatalf("read a payload encoding/json refuses: %q", payload)
			}
		}
	})
}

// discardWriter is a ResponseWriter that keeps nothing, for benchmarks.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkFence is the gateway's own CPU per request outside the MCP
// endpoint, fence on beside fence off, for a Basic request, a JWT of
// another audience (both forwarded) and a JWT of the MCP resource
// (refused when on, including the audit check and the 401 body).
//
//	go test -run '^$' -bench BenchmarkFence -benchmem ./caddymodule
func BenchmarkFence(b *testing.B) {
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
		w.WriteHeader(http.StatusOK)
		return nil
	})
	for _, kind := range []struct{ name, auth string }{
		{"basic", "Basic YWxpY2U6YXBwLXBhc3N3b3Jk"},
		{"foreign_jwt", "Bearer " + jwtFor("https://desktop.example/app")},
		{"bound_jwt", "Bearer " + jwtFor("https://cloud.example.com/mcp")},
	} {
		for _, off := range []bool{true, false} {
			name := kind.name + "/fence_on"
			if off {
				name = kind.name + "/fence_off"
			}
			b.Run(name, func(b *testing.B) {
				g, _ := fenceGateway(&testing.T{}, func(g *Gateway) { g.FenceOff = off })
				r := httptest.NewRequest(http.MethodGet, "/remote.php/dav/files/alice/important.txt", nil)
				r.Header.Set("Authorization", kind.auth)
				r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
				w := &discardWriter{h: http.Header{}}
				b.ReportAllocs()
				// Wall time on a shared machine says little: the process's
				// CPU time per request is reported too (cpu-ns/op).
				cpu0 := processCPU(b)
				for b.Loop() {
					clear(w.h)
					if err := g.ServeHTTP(w, r, next); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// processCPU is the user and system CPU time of this process so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
