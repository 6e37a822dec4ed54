package tokenverifier

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// signHeader signs header.claims by hand with the private key kid, using
// RS256 (PKCS #1 v1.5 over SHA-256) whatever the header says, so a test can
// present a signature of one algorithm under a header naming another.
func (p *testProvider) signHeader(header, claims map[string]any, kid string) string {
	p.t.Helper()
	var raw rsa.PrivateKey
	if err := jwk.Export(p.key(kid), &raw); err != nil {
		p.t.Fatal(err)
	}
	input := b64(header) + "." + b64(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, &raw, crypto.SHA256, sum[:])
	if err != nil {
		p.t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestAlgorithmBoundToHeader: a token is verified with exactly the
// algorithm its header names (RFC 8725 §3.1). An RS256 signature under a
// header saying PS256 or RS384 is refused, also when the published key says
// alg RS256 (as most providers' JWKS do), which used to make the verifier
// ignore the header's alg.
func TestAlgorithmBoundToHeader(t *testing.T) {
	p := newTestProvider(t)
	ka := p.addKey("ka")
	if err := ka.Set(jwk.AlgorithmKey, jwa.RS256()); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, p.config())
	ctx := context.Background()
	for _, kid := range []string{"ka", "k1"} {
		if _, err := v.Verify(ctx, p.signHeader(map[string]any{"alg": "RS256", "kid": kid, "typ": "JWT"}, p.claims(), kid)); err != nil {
			t.Fatalf("honest RS256 token of %s: %v", kid, err)
		}
		for _, alg := range []string{"PS256", "RS384", "RS512", "PS512"} {
			c := p.claims()
			c["jti"] = kid + alg
			_, err := v.Verify(ctx, p.signHeader(map[string]any{"alg": alg, "kid": kid, "typ": "JWT"}, c, kid))
			var inv *InvalidTokenError
			if !errors.As(err, &inv) {
				t.Errorf("key %s: RS256 signature under alg %s: err = %v, want refused", kid, alg, err)
			}
		}
	}
	// A key whose JWK names its algorithm is used with no other.
	c := p.claims()
	c["jti"] = "rs384-by-rs256-key"
	if _, err := v.Verify(ctx, p.signWithAlg(c, "ka", jwa.RS384())); err == nil {
		t.Error("RS384 token signed by a key published for RS256 accepted")
	}
	// A key without alg verifies any allowed algorithm of its type, but
	// only the one in the header.
	if _, err := v.Verify(ctx, p.signWithAlg(p.claims(), "k1", jwa.PS384())); err != nil {
		t.Errorf("honest PS384 token of an alg-less RSA key: %v", err)
	}
}

// TestRequireTyp: with RequireTyp "at+jwt" (RFC 9068) only access tokens
// typed so pass, compared case-insensitively and with or without the
// "application/" prefix; off by default.
func TestRequireTyp(t *testing.T) {
	p := newTestProvider(t)
	cfg := p.config()
	cfg.RequireTyp = "at+jwt"
	strict := newVerifier(t, cfg)
	lenient := newVerifier(t, p.config())
	ctx := context.Background()
	cases := []struct {
		typ    any // nil: no typ header
		strict bool
	}{
		{"at+jwt", true},
		{"at+JWT", true},
		{"application/at+jwt", true},
		{"AT+JWT", true},
		{"JWT", false},
		{nil, false},
		{"", false},
		{"at+jwt;x", false},
		{"id+jwt", false},
		{42, false},
	}
	for i, tc := range cases {
		hdr := map[string]any{"alg": "RS256", "kid": "k1"}
		if tc.typ != nil {
			hdr["typ"] = tc.typ
		}
		c := p.claims()
		c["jti"] = string(rune('a' + i))
		tok := p.signHeader(hdr, c, "k1")
		_, err := strict.Verify(ctx, tok)
		if (err == nil) != tc.strict {
			t.Errorf("typ %v with require_typ at+jwt: err = %v, want accepted=%v", tc.typ, err, tc.strict)
		}
		var inv *InvalidTokenError
		if err != nil && !errors.As(err, &inv) {
			t.Errorf("typ %v: err = %v, want InvalidTokenError", tc.typ, err)
		}
		if _, ok := tc.typ.(int); ok {
			continue // not a valid JWS header at all
		}
		if _, err := lenient.Verify(ctx, tok); err != nil {
			t.Errorf("typ %v without require_typ: %v", tc.typ, err)
		}
	}
}

// TestIntrospectionStrict: token_type other than an access token, trailing
// data after the JSON object, and an aud URL of another resource are
// refused, the last also under ProviderChecksAudience.
func TestIntrospectionStrict(t *testing.T) {
	p := newTestProvider(t)
	exp := time.Now().Add(time.Hour).Unix()
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"active": true, "sub": "bob", "exp": exp}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	p.addOpaque("bearer", base(map[string]any{"token_type": "Bearer"}))
	p.addOpaque("bearer-lower", base(map[string]any{"token_type": "bearer"}))
	p.addOpaque("access_token", base(map[string]any{"token_type": "access_token"}))
	p.addOpaque("urn-access", base(map[string]any{"token_type": "urn:ietf:params:oauth:token-type:access_token"}))
	p.addOpaque("refresh", base(map[string]any{"token_type": "refresh_token"}))
	p.addOpaque("refresh-kc", base(map[string]any{"token_type": "Refresh"}))
	p.addOpaque("id-token", base(map[string]any{"token_type": "urn:ietf:params:oauth:token-type:id_token"}))
	p.addOpaque("typed-number", base(map[string]any{"token_type": 1}))
	p.addOpaque("nc-client-aud", base(map[string]any{"aud": "KoXDZzbW", "client_id": "KoXDZzbW", "token_type": "Bearer"}))
	p.addOpaque("own-url-aud", base(map[string]any{"aud": "https://mcp.example/mcp"}))
	p.addOpaque("other-url-aud", base(map[string]any{"aud": "https://other.example/mcp"}))
	p.addOpaque("other-url-aud-list", base(map[string]any{"aud": []string{"KoXDZzbW", "https://other.example/mcp"}}))
	p.addRawIntrospection("trailing", `{"active":true,"sub":"bob"}{"active":false}`)
	p.addRawIntrospection("trailing-garbage", `{"active":true,"sub":"bob"} x`)
	p.addRawIntrospection("trailing-space", "{\"active\":true,\"sub\":\"bob\"}\n  \n")
	p.addRawIntrospection("listbody", `[{"active":true,"sub":"bob"}]`)

	cfg := p.config()
	cfg.ProviderChecksAudience = true
	v := newVerifier(t, cfg)
	ctx := context.Background()
	for tok, ok := range map[string]bool{
		"bearer": true, "bearer-lower": true, "access_token": true, "urn-access": true,
		"refresh": false, "refresh-kc": false, "id-token": false, "typed-number": false,
		"nc-client-aud": true, "own-url-aud": true, "other-url-aud": false, "other-url-aud-list": false,
		"trailing": false, "trailing-garbage": false, "trailing-space": true, "listbody": false,
	} {
		_, err := v.Verify(ctx, tok)
		if (err == nil) != ok {
			t.Errorf("%s: err = %v, want accepted=%v", tok, err, ok)
		}
		if err != nil && strings.Contains(err.Error(), tok) {
			t.Errorf("%s: error echoes the token", tok)
		}
	}
}

// signWithAlg signs claims with the private key kid under alg, through
// the JOSE library.
func (p *testProvider) signWithAlg(claims map[string]any, kid string, alg jwa.SignatureAlgorithm) string {
	p.t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			p.t.Fatal(err)
		}
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(alg, p.key(kid)))
	if err != nil {
		p.t.Fatal(err)
	}
	return string(signed)
}
