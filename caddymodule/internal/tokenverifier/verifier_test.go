package tokenverifier

import (
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

func newVerifier(t *testing.T, cfg Config) *Verifier {
	t.Helper()
	v, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func b64(v any) string {
	raw, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func TestVerifyJWT(t *testing.T) {
	p := newTestProvider(t)
	v := newVerifier(t, p.config())

	id, err := v.Verify(context.Background(), p.sign(p.claims(), "k1"))
	if err != nil {
		t.Fatalf("good token rejected: %v", err)
	}
	if id.Subject != "alice" || id.ClientID != "client-1" || id.Kind != KindJWT {
		t.Errorf("identity = %+v", id)
	}
	if got := strings.Join(id.Scopes, " "); got != "notes:read files:read" {
		t.Errorf("scopes = %q", got)
	}
}

func TestVerifyJWTScopeClaims(t *testing.T) {
	p := newTestProvider(t)
	v := newVerifier(t, p.config())
	for name, tc := range map[string]struct {
		set  map[string]any
		del  []string
		want string
	}{
		"scp array":       {set: map[string]any{"scp": []string{"a:read", "b:write"}}, del: []string{"scope"}, want: "a:read b:write"},
		"scp string":      {set: map[string]any{"scp": "a:read b:write"}, del: []string{"scope"}, want: "a:read b:write"},
		"scope wins":      {set: map[string]any{"scp": []string{"x"}}, want: "notes:read files:read"},
		"no scope":        {del: []string{"scope"}, want: ""},
		"azp as client":   {set: map[string]any{"azp": "client-2"}, del: []string{"client_id"}, want: "notes:read files:read"},
		"aud in an array": {set: map[string]any{"aud": []string{"other", "https://mcp.example/mcp"}}, want: "notes:read files:read"},
	} {
		t.Run(name, func(t *testing.T) {
			c := p.claims()
			for k, val := range tc.set {
				c[k] = val
			}
			for _, k := range tc.del {
				delete(c, k)
			}
			id, err := v.Verify(context.Background(), p.sign(c, "k1"))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(id.Scopes, " "); got != tc.want {
				t.Errorf("scopes = %q, want %q", got, tc.want)
			}
			if name == "azp as client" && id.ClientID != "client-2" {
				t.Errorf("client = %q", id.ClientID)
			}
		})
	}
}

func TestVerifyJWTRejections(t *testing.T) {
	p := newTestProvider(t)
	v := newVerifier(t, p.config())
	now := time.Now()

	hsToken := func() string {
		var raw rsa.PrivateKey
		if err := jwk.Export(p.key("k1"), &raw); err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKIXPublicKey(&raw.PublicKey)
		head := b64(map[string]any{"alg": "HS256", "kid": "k1", "typ": "JWT"}) + "." + b64(p.claims())
		mac := hmac.New(sha256.New, der)
		mac.Write([]byte(head))
		return head + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	foreign := func() string {
		tok := jwt.New()
		for k, val := range p.claims() {
			tok.Set(k, val)
		}
		signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), foreignECKey(t, "evil")))
		if err != nil {
			t.Fatal(err)
		}
		return string(signed)
	}
	with := func(k string, val any) string {
		c := p.claims()
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return p.sign(c, "k1")
	}
	tamper := func() string {
		parts := strings.Split(p.sign(p.claims(), "k1"), ".")
		c := p.claims()
		c["scope"] = "notes:read notes:write files:write"
		parts[1] = b64(c)
		return strings.Join(parts, ".")
	}

	signRaw := func(payload []byte, extra map[string]any) string {
		hdrs := jws.NewHeaders()
		hdrs.Set(jws.KeyIDKey, "k1")
		for k, v := range extra {
			if err := hdrs.Set(k, v); err != nil {
				t.Fatal(err)
			}
		}
		signed, err := jws.Sign(payload, jws.WithKey(jwa.RS256(), p.key("k1"), jws.WithProtectedHeaders(hdrs)))
		if err != nil {
			t.Fatal(err)
		}
		return string(signed)
	}
	claimsJSON, _ := json.Marshal(p.claims())

	cases := []struct {
		name, token, reason string
	}{
		{"unknown critical header", signRaw(claimsJSON, map[string]any{"crit": []string{"urn:example:must-check"}, "urn:example:must-check": true}), "unsupported critical header"},
		{"signed but not JSON", signRaw([]byte("not json at all"), nil), "malformed claims"},
		{"alg none", b64(map[string]any{"alg": "none", "kid": "k1"}) + "." + b64(p.claims()) + ".", "signing algorithm not allowed"},
		{"HS256 with the public key", hsToken(), "signing algorithm not allowed"},
		{"unknown key", foreign(), "unknown signing key"},
		{"tampered claims", tamper(), "signature verification failed"},
		{"expired", with("exp", now.Add(-time.Hour).Unix()), "token expired"},
		{"not yet valid", with("nbf", now.Add(time.Hour).Unix()), "token not yet valid"},
		{"wrong issuer", with("iss", "https://evil.example"), "wrong issuer"},
		{"wrong audience", with("aud", "https://other.example/mcp"), "wrong audience"},
		{"no audience", with("aud", nil), "wrong audience"},
		{"no exp", with("exp", nil), "token has no expiry"},
		{"no subject", with("sub", nil), "token has no subject"},
		{"garbage", "abc.def.ghi", "malformed token"},
		{"opaque-looking but not introspectable", "not-a-known-token", "token is not active"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.token)
			var inv *InvalidTokenError
			if !errors.As(err, &inv) {
				t.Fatalf("err = %v, want InvalidTokenError", err)
			}
			if inv.Reason != tc.reason {
				t.Errorf("reason = %q, want %q", inv.Reason, tc.reason)
			}
			if strings.Contains(err.Error(), tc.token) {
				t.Errorf("error echoes the token")
			}
		})
	}
}

func TestJWKSRotationAndRefetchLimit(t *testing.T) {
	p := newTestProvider(t)
	clock := time.Now()
	cfg := p.config()
	cfg.JWKSRefetchInterval = 10 * time.Second
	cfg.Now = func() time.Time { return clock }
	v := newVerifier(t, cfg)
	ctx := context.Background()

	if _, err := v.Verify(ctx, p.sign(p.claims(), "k1")); err != nil {
		t.Fatal(err)
	}
	if n := p.jwksFetches.Load(); n != 1 {
		t.Fatalf("jwks fetches = %d, want 1", n)
	}
	// The provider rotates; a token with the new kid arrives after the
	// refetch interval: one refetch, then accepted.
	p.addKey("k2")
	clock = clock.Add(11 * time.Second)
	if _, err := v.Verify(ctx, p.sign(p.claims(), "k2")); err != nil {
		t.Fatalf("token from rotated key rejected: %v", err)
	}
	if n := p.jwksFetches.Load(); n != 2 {
		t.Fatalf("jwks fetches = %d, want 2", n)
	}
	// A token of a key rotated in inside the interval is refused, but the
	// refusal is not remembered: after the interval the same token works.
	p.addKey("k3")
	early := p.sign(p.claims(), "k3")
	if _, err := v.Verify(ctx, early); err == nil {
		t.Fatal("token of a not-yet-fetched key accepted without a fetch")
	}
	clock = clock.Add(11 * time.Second)
	if _, err := v.Verify(ctx, early); err != nil {
		t.Fatalf("same token after the refetch interval: %v", err)
	}
	if n := p.jwksFetches.Load(); n != 3 {
		t.Fatalf("jwks fetches = %d, want 3", n)
	}
	// A flood of random kids inside the interval costs the provider
	// nothing more.
	for i := range 200 {
		tok := p.claims()
		tok["jti"] = fmt.Sprint(i)
		k := foreignECKey(t, fmt.Sprintf("random-%d", i))
		signed := signWith(t, tok, k)
		if _, err := v.Verify(ctx, signed); err == nil {
			t.Fatal("foreign token accepted")
		}
		if i == 10 {
			break // key generation is slow; 10 suffice to show the limit
		}
	}
	if n := p.jwksFetches.Load(); n != 3 {
		t.Errorf("jwks fetches after flood = %d, want 3", n)
	}
}

func signWith(t *testing.T, claims map[string]any, key interface{}) string {
	t.Helper()
	tok := jwt.New()
	for k, val := range claims {
		tok.Set(k, val)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), key))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func TestOpaqueIntrospection(t *testing.T) {
	p := newTestProvider(t)
	v := newVerifier(t, p.config())
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).Unix()
	p.addOpaque("good", map[string]any{"active": true, "sub": "bob", "client_id": "c", "scope": "notes:read", "exp": exp, "iss": p.srv.URL, "aud": []string{"https://mcp.example/mcp"}})
	p.addOpaque("wrong-aud", map[string]any{"active": true, "sub": "bob", "aud": "https://elsewhere", "exp": exp})
	p.addOpaque("wrong-iss", map[string]any{"active": true, "sub": "bob", "iss": "https://elsewhere", "exp": exp})
	p.addOpaque("expired", map[string]any{"active": true, "sub": "bob", "exp": time.Now().Add(-time.Hour).Unix()})
	p.addOpaque("inactive", map[string]any{"active": false, "sub": "bob"})

	id, err := v.Verify(ctx, "good")
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "bob" || id.Kind != KindIntrospection || !id.HasScope("notes:read") {
		t.Errorf("identity = %+v", id)
	}
	for tok, reason := range map[string]string{"wrong-aud": "wrong audience", "wrong-iss": "wrong issuer", "expired": "token expired", "inactive": "token is not active"} {
		_, err := v.Verify(ctx, tok)
		var inv *InvalidTokenError
		if !errors.As(err, &inv) || inv.Reason != reason {
			t.Errorf("%s: err = %v, want %q", tok, err, reason)
		}
	}
	// Cached: a second use does not introspect again.
	before := p.introspecting.Load()
	if _, err := v.Verify(ctx, "good"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, "inactive"); err == nil {
		t.Fatal("inactive accepted from cache")
	}
	if p.introspecting.Load() != before {
		t.Errorf("cached results were introspected again")
	}
}

func TestIntrospectionClientRejectedIsUnavailable(t *testing.T) {
	p := newTestProvider(t)
	cfg := p.config()
	cfg.ClientSecret = "wrong"
	v := newVerifier(t, cfg)
	_, err := v.Verify(context.Background(), "whatever")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable (a misconfigured gateway client is not the token's fault)", err)
	}
}

func TestProviderDown(t *testing.T) {
	p := newTestProvider(t)
	v := newVerifier(t, p.config())
	ctx := context.Background()
	known := p.sign(p.claims(), "k1")
	if _, err := v.Verify(ctx, known); err != nil {
		t.Fatal(err)
	}
	p.addOpaque("op", map[string]any{"active": true, "sub": "bob", "exp": time.Now().Add(time.Hour).Unix()})
	p.setDown(true)
	if _, err := v.Verify(ctx, known); err != nil {
		t.Errorf("validated token stopped working while the provider is down: %v", err)
	}
	// A JWT signed by a known key still verifies offline: the key set
	// is held. An opaque token needs the provider: unavailable.
	c := p.claims()
	c["jti"] = "new"
	if _, err := v.Verify(ctx, p.sign(c, "k1")); err != nil {
		t.Errorf("new JWT with a held key rejected: %v", err)
	}
	if _, err := v.Verify(ctx, "op"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("opaque token with provider down: err = %v, want ErrUnavailable", err)
	}
}

func TestProviderDownFromStart(t *testing.T) {
	p := newTestProvider(t)
	p.setDown(true)
	v := newVerifier(t, p.config())
	_, err := v.Verify(context.Background(), p.sign(p.claims(), "k1"))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	var inv *InvalidTokenError
	if errors.As(err, &inv) {
		t.Fatal("an unavailable provider must not make a token invalid (it would be cached as rejected)")
	}
}

func TestCacheBounded(t *testing.T) {
	p := newTestProvider(t)
	cfg := p.config()
	cfg.CacheSize = 50
	v := newVerifier(t, cfg)
	for i := range 1000 {
		v.Verify(context.Background(), fmt.Sprintf("bogus-%d", i))
	}
	if n := v.CacheLen(); n > 50 {
		t.Errorf("cache holds %d entries, bound is 50", n)
	}
}

func TestCacheNeverPastExpiry(t *testing.T) {
	p := newTestProvider(t)
	clock := time.Now()
	cfg := p.config()
	cfg.Now = func() time.Time { return clock }
	cfg.CacheTTL = time.Hour
	v := newVerifier(t, cfg)
	c := p.claims()
	c["exp"] = clock.Add(2 * time.Minute).Unix()
	tok := p.sign(c, "k1")
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(3 * time.Minute) // past exp, within leeway? no: 60s past
	if _, err := v.Verify(context.Background(), tok); err == nil {
		t.Fatal("token accepted past its expiry from the cache")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no issuer":          {Audiences: []string{"a"}},
		"http issuer":        {Issuer: "http://idp.example", Audiences: []string{"a"}},
		"no audience":        {Issuer: "https://idp.example"},
		"half client":        {Issuer: "https://idp.example", Audiences: []string{"a"}, ClientID: "x"},
		"hmac allowed":       {Issuer: "https://idp.example", Audiences: []string{"a"}, AllowedAlgorithms: []string{"HS256"}},
		"http introspection": {Issuer: "https://idp.example", Audiences: []string{"a"}, IntrospectionURL: "http://idp.example/i"},
	} {
		if _, err := New(context.Background(), cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for u, ok := range map[string]bool{
		"https://idp.example":           true,
		"http://127.0.0.1:8080/x":       true,
		"http://[::1]:9/":               true,
		"http://localhost/":             true,
		"http://idp.example":            false,
		"ftp://idp.example":             false,
		"/relative":                     false,
		"https://u:p@idp.example":       false,
		"https://idp.example/#frag":     false,
		"http://127.0.0.1.evil.example": false,
	} {
		if err := CheckURL(u); (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%v", u, err, ok)
		}
	}
}

// recordingClient is a ClientSource that counts refusals.
type recordingClient struct {
	id, secret string
	rejected   []string
}

func (c *recordingClient) Credentials(context.Context) (string, string, error) {
	if c.id == "" {
		return "", "", errors.New("not registered yet")
	}
	return c.id, c.secret, nil
}
func (c *recordingClient) Rejected(_ context.Context, id string) { c.rejected = append(c.rejected, id) }

func TestIntrospectionClientSource(t *testing.T) {
	p := newTestProvider(t)
	p.addOpaque("good", map[string]any{"active": true, "sub": "bob", "exp": time.Now().Add(time.Hour).Unix()})
	src := &recordingClient{}
	cfg := p.config()
	cfg.ClientID, cfg.ClientSecret, cfg.Client = "", "", src
	v := newVerifier(t, cfg)
	ctx := context.Background()

	if _, err := v.Verify(ctx, "good"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("without credentials: err = %v, want ErrUnavailable", err)
	}
	src.id, src.secret = "gateway", "expired-secret"
	if _, err := v.Verify(ctx, "good"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("refused credentials: err = %v, want ErrUnavailable", err)
	}
	if len(src.rejected) != 1 || src.rejected[0] != "gateway" {
		t.Fatalf("rejections reported = %v", src.rejected)
	}
	src.secret = p.clientS
	if _, err := v.Verify(ctx, "good"); err != nil {
		t.Fatalf("renewed credentials: %v", err)
	}
}

func TestProviderChecksAudience(t *testing.T) {
	p := newTestProvider(t)
	// Nextcloud's oidc app reports the owning client's id in aud.
	p.addOpaque("nc", map[string]any{"active": true, "sub": "admin", "aud": "KoXDZzbW", "client_id": "KoXDZzbW", "exp": time.Now().Add(time.Hour).Unix()})
	strict := newVerifier(t, p.config())
	if _, err := strict.Verify(context.Background(), "nc"); err == nil {
		t.Fatal("foreign aud accepted by default")
	}
	cfg := p.config()
	cfg.ProviderChecksAudience = true
	lenient := newVerifier(t, cfg)
	if _, err := lenient.Verify(context.Background(), "nc"); err != nil {
		t.Fatalf("provider-checked audience: %v", err)
	}
	// JWTs are checked whatever the option.
	c := p.claims()
	c["aud"] = "https://other.example/mcp"
	if _, err := lenient.Verify(context.Background(), p.sign(c, "k1")); err == nil {
		t.Fatal("JWT with a foreign aud accepted")
	}
}
