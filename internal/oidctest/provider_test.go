package oidctest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

const testResource = "http://127.0.0.1:9/mcp"

func getJSON(t *testing.T, rawURL string, v any) {
	t.Helper()
	resp, err := http.Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: status %d: %s", rawURL, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decode: %v", rawURL, err)
	}
}

func TestDiscovery(t *testing.T) {
	p := Start(t, Options{})
	var doc map[string]any
	getJSON(t, p.Issuer()+"/.well-known/openid-configuration", &doc)
	want := map[string]string{
		"issuer":                 p.Issuer(),
		"jwks_uri":               p.JWKSURI(),
		"token_endpoint":         p.TokenEndpoint(),
		"introspection_endpoint": p.IntrospectionEndpoint(),
		"userinfo_endpoint":      p.UserinfoEndpoint(),
	}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("discovery %s = %v, want %s", k, doc[k], v)
		}
	}
	if !strings.HasPrefix(p.Issuer(), "http://127.0.0.1:") {
		t.Errorf("issuer %s is not a loopback http URL", p.Issuer())
	}
}

func TestOAuthMetadataOnly(t *testing.T) {
	p := Start(t, Options{OAuthMetadataOnly: true})
	var doc map[string]any
	getJSON(t, p.Issuer()+"/.well-known/oauth-authorization-server", &doc)
	if doc["issuer"] != p.Issuer() || doc["jwks_uri"] != p.JWKSURI() {
		t.Errorf("RFC 8414 document %v", doc)
	}
	resp, err := http.Get(p.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("openid-configuration status %d, want 404", resp.StatusCode)
	}
}

// verify checks a JWT with jwx against the provider's published JWKS, as the
// gateway will.
func verify(t *testing.T, p *Provider, token, audience string) (jwt.Token, error) {
	t.Helper()
	set, err := jwk.Fetch(context.Background(), p.JWKSURI())
	if err != nil {
		t.Fatalf("fetch JWKS: %v", err)
	}
	// jwt.Parse with a key set ignores "crit"; RFC 7515 §4.1.11 wants
	// unknown critical extensions rejected, which jws.Verify does on request.
	// The header's alg must be the one verified with (RFC 8725 §3.1);
	// jws.Verify would otherwise use the alg the published key names.
	if _, err := jws.Verify([]byte(token), jws.WithKeySet(set), jws.WithCritValidation(true), jws.WithAlgorithmMatch(true)); err != nil {
		return nil, err
	}
	return jwt.ParseString(token, jwt.WithKeySet(set), jwt.WithValidate(true),
		jwt.WithIssuer(p.Issuer()), jwt.WithAudience(audience), jwt.WithRequiredClaim("exp"))
}

func TestJWTAccessToken(t *testing.T) {
	p := Start(t, Options{})
	tok := p.Token(t, TokenRequest{Scopes: []string{"notes:read", "files:read"}, Audience: []string{testResource}})
	parsed, err := verify(t, p, tok, testResource)
	if err != nil {
		t.Fatalf("verify token endpoint JWT: %v", err)
	}
	if sub, _ := parsed.Subject(); sub != "sub-"+JWTClientID {
		t.Errorf("sub = %q, want %q", sub, "sub-"+JWTClientID)
	}
	var scope, clientID string
	if err := parsed.Get("scope", &scope); err != nil || scope != "notes:read files:read" {
		t.Errorf("scope = %q (%v), want %q", scope, err, "notes:read files:read")
	}
	if err := parsed.Get("client_id", &clientID); err != nil || clientID != JWTClientID {
		t.Errorf("client_id = %q (%v), want %q", clientID, err, JWTClientID)
	}
	if _, err := verify(t, p, tok, "http://127.0.0.1:9/elsewhere"); err == nil {
		t.Error("token verified for an audience it was not issued for")
	}
}

// TestAccessTokenTyp: JWT access tokens say typ at+JWT (RFC 9068, as
// Nextcloud's oidc app writes it) unless Options say otherwise, stay
// verifiable, and introspect as active.
func TestAccessTokenTyp(t *testing.T) {
	for _, tc := range []struct{ opt, want string }{{"", "at+JWT"}, {"JWT", "JWT"}} {
		p := Start(t, Options{AccessTokenTyp: tc.opt})
		tok := p.Token(t, TokenRequest{Scopes: []string{"notes:read"}, Audience: []string{testResource}})
		msg, err := jws.ParseString(tok)
		if err != nil {
			t.Fatal(err)
		}
		if typ, _ := msg.Signatures()[0].ProtectedHeaders().Type(); typ != tc.want {
			t.Errorf("option %q: typ = %q, want %q", tc.opt, typ, tc.want)
		}
		if _, err := verify(t, p, tok, testResource); err != nil {
			t.Errorf("option %q: retyped token does not verify: %v", tc.opt, err)
		}
		if code, in := introspect(t, p, ResourceServerID, ClientSecret, tok); code != http.StatusOK || !in.Active {
			t.Errorf("option %q: retyped token introspects inactive", tc.opt)
		}
	}
}

func TestDefaultAudience(t *testing.T) {
	p := Start(t, Options{Audience: []string{testResource}})
	tok := p.Token(t, TokenRequest{Scopes: []string{"notes:read"}})
	if _, err := verify(t, p, tok, testResource); err != nil {
		t.Fatalf("default audience not applied: %v", err)
	}
}

func TestOpaqueTokenIsNotJWT(t *testing.T) {
	p := Start(t, Options{})
	tok := p.Token(t, TokenRequest{Opaque: true, Audience: []string{testResource}})
	if strings.Count(tok, ".") == 2 {
		t.Fatalf("opaque token looks like a JWT: %s", tok)
	}
	if _, err := jwt.ParseString(tok, jwt.WithVerify(false)); err == nil {
		t.Fatal("opaque token parsed as JWT")
	}
}

type introspection struct {
	Active   bool     `json:"active"`
	Scope    string   `json:"scope"`
	ClientID string   `json:"client_id"`
	Subject  string   `json:"sub"`
	Issuer   string   `json:"iss"`
	Exp      int64    `json:"exp"`
	Audience []string `json:"aud"`
}

func introspect(t *testing.T, p *Provider, id, secret, token string) (int, introspection) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.IntrospectionEndpoint(), strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("introspect: %v", err)
	}
	defer resp.Body.Close()
	var out introspection
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("decode introspection: %v", err)
		}
	}
	return resp.StatusCode, out
}

func TestIntrospection(t *testing.T) {
	p := Start(t, Options{})
	scopes := []string{"notes:read", "notes:write"}
	opaque := p.Token(t, TokenRequest{Opaque: true, Scopes: scopes, Audience: []string{testResource}})
	jwtTok := p.Token(t, TokenRequest{Scopes: scopes, Audience: []string{testResource}})

	tests := []struct {
		name       string
		client     string
		secret     string
		token      string
		wantStatus int
		wantActive bool
		wantClient string
	}{
		{"opaque", ResourceServerID, ClientSecret, opaque, http.StatusOK, true, OpaqueClientID},
		{"jwt", ResourceServerID, ClientSecret, jwtTok, http.StatusOK, true, JWTClientID},
		{"garbage", ResourceServerID, ClientSecret, "not-a-token", http.StatusOK, false, ""},
		{"minted jwt unknown to provider", ResourceServerID, ClientSecret, p.MintJWT(t, MintRequest{Audience: []string{testResource}}), http.StatusOK, false, ""},
		{"client not allowed to introspect", JWTClientID, ClientSecret, opaque, http.StatusOK, false, ""},
		{"wrong secret", ResourceServerID, "wrong", opaque, http.StatusUnauthorized, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, got := introspect(t, p, tc.client, tc.secret, tc.token)
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d", status, tc.wantStatus)
			}
			if got.Active != tc.wantActive {
				t.Fatalf("active = %v, want %v", got.Active, tc.wantActive)
			}
			if !tc.wantActive {
				return
			}
			if got.ClientID != tc.wantClient || got.Subject != "sub-"+tc.wantClient {
				t.Errorf("client_id/sub = %q/%q, want %q/%q", got.ClientID, got.Subject, tc.wantClient, "sub-"+tc.wantClient)
			}
			if got.Scope != "notes:read notes:write" || got.Issuer != p.Issuer() || !slices.Equal(got.Audience, []string{testResource}) {
				t.Errorf("introspection = %+v", got)
			}
			if remaining := time.Until(time.Unix(got.Exp, 0)); remaining <= 0 || remaining > 6*time.Minute {
				t.Errorf("exp %d is not within the token lifetime", got.Exp)
			}
		})
	}

	p.RevokeAll()
	if _, got := introspect(t, p, ResourceServerID, ClientSecret, opaque); got.Active {
		t.Error("revoked token still active")
	}
}

func TestIntrospectionRewrite(t *testing.T) {
	p := Start(t, Options{IntrospectionRewrite: func(resp map[string]any) {
		if resp["active"] == true {
			delete(resp, "aud")
			resp["iss"] = "http://127.0.0.2:1"
		}
	}})
	tok := p.Token(t, TokenRequest{Opaque: true, Audience: []string{testResource}})
	status, got := introspect(t, p, ResourceServerID, ClientSecret, tok)
	if status != http.StatusOK || !got.Active || got.Audience != nil || got.Issuer != "http://127.0.0.2:1" || got.ClientID != OpaqueClientID {
		t.Errorf("rewritten introspection: %d %+v", status, got)
	}
	if status, got := introspect(t, p, ResourceServerID, "wrong", tok); status != http.StatusUnauthorized || got.Active {
		t.Errorf("failed introspection rewritten: %d %+v", status, got)
	}
}

func TestUserinfo(t *testing.T) {
	p := Start(t, Options{})
	for _, opaque := range []bool{false, true} {
		tok := p.Token(t, TokenRequest{Opaque: opaque, Scopes: []string{"openid"}, Audience: []string{testResource}})
		req, _ := http.NewRequest(http.MethodGet, p.UserinfoEndpoint(), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var info struct {
			Sub string `json:"sub"`
		}
		err = json.NewDecoder(resp.Body).Decode(&info)
		resp.Body.Close()
		want := "sub-" + JWTClientID
		if opaque {
			want = "sub-" + OpaqueClientID
		}
		if resp.StatusCode != http.StatusOK || err != nil || info.Sub != want {
			t.Errorf("opaque=%v: userinfo status %d, sub %q (%v), want %q", opaque, resp.StatusCode, info.Sub, err, want)
		}
	}
}

func TestRotation(t *testing.T) {
	p := Start(t, Options{})
	oldKID := p.ActiveKeyID()
	oldTok := p.Token(t, TokenRequest{Audience: []string{testResource}})

	newKID := p.Rotate(t)
	if newKID == oldKID || p.ActiveKeyID() != newKID {
		t.Fatalf("rotate: active %s, old %s, new %s", p.ActiveKeyID(), oldKID, newKID)
	}
	newTok := p.Token(t, TokenRequest{Audience: []string{testResource}})
	if kid := headerKID(t, newTok); kid != newKID {
		t.Fatalf("new token kid = %s, want %s", kid, newKID)
	}
	// Old key still published: both tokens verify.
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if _, err := verify(t, p, tok, testResource); err != nil {
			t.Errorf("%s token after rotation: %v", name, err)
		}
	}

	p.RetireKey(t, oldKID)
	if got := p.PublishedKeyIDs(); !slices.Equal(got, []string{newKID}) {
		t.Fatalf("published keys = %v, want [%s]", got, newKID)
	}
	if _, err := verify(t, p, oldTok, testResource); err == nil {
		t.Error("token of a retired key still verifies")
	}
	if _, err := verify(t, p, newTok, testResource); err != nil {
		t.Errorf("new token after retiring old key: %v", err)
	}
}

func headerKID(t *testing.T, tok string) string {
	t.Helper()
	var h struct {
		KID string `json:"kid"`
	}
	seg, _, _ := strings.Cut(tok, ".")
	if err := decodeSegment(seg, &h); err != nil {
		t.Fatalf("decode header: %v", err)
	}
	return h.KID
}

func TestStopRestart(t *testing.T) {
	p := Start(t, Options{})
	opaque := p.Token(t, TokenRequest{Opaque: true, Audience: []string{testResource}})
	p.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.RequestToken(ctx, TokenRequest{}); err == nil {
		t.Fatal("token endpoint answered while stopped")
	}
	p.Restart(t)
	if _, got := introspect(t, p, ResourceServerID, ClientSecret, opaque); !got.Active {
		t.Error("token issued before the outage is inactive after restart")
	}
	p.Token(t, TokenRequest{})
}

func TestMintJWT(t *testing.T) {
	p := Start(t, Options{})
	tok := p.MintJWT(t, MintRequest{Audience: []string{testResource}, Scopes: []string{"notes:read"}})
	if _, err := verify(t, p, tok, testResource); err != nil {
		t.Fatalf("minted valid token rejected: %v", err)
	}

	iat := time.Now().Add(-time.Hour).Truncate(time.Second)
	tok = p.MintJWT(t, MintRequest{
		Audience:  []string{testResource},
		IssuedAt:  iat,
		ExpiresAt: iat.Add(time.Minute),
		Claims:    map[string]any{"scp": []string{"a", "b"}, "client_id": nil, "azp": "x"},
	})
	parsed, err := jwt.ParseString(tok, jwt.WithVerify(false), jwt.WithValidate(false))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := parsed.IssuedAt(); !got.Equal(iat) {
		t.Errorf("iat %v, want %v", got, iat)
	}
	if got, _ := parsed.Expiration(); !got.Equal(iat.Add(time.Minute)) {
		t.Errorf("exp %v, want %v", got, iat.Add(time.Minute))
	}
	var scp []any
	var azp string
	if err := parsed.Get("scp", &scp); err != nil || !slices.Equal(scp, []any{"a", "b"}) {
		t.Errorf("scp %v (%v)", scp, err)
	}
	if err := parsed.Get("azp", &azp); err != nil || azp != "x" {
		t.Errorf("azp %q (%v)", azp, err)
	}
	if parsed.Has("client_id") {
		t.Error("client_id not removed")
	}
}

func TestBadTokensFailVerification(t *testing.T) {
	p := Start(t, Options{})
	for _, kind := range BadKinds() {
		t.Run(string(kind), func(t *testing.T) {
			tok := p.BadToken(t, kind, MintRequest{Audience: []string{testResource}, Scopes: []string{"notes:read"}})
			_, err := verify(t, p, tok, testResource)
			if err == nil {
				t.Fatalf("bad token %s verified", kind)
			}
			t.Logf("rejected: %v", err)
		})
	}
}

var errSegment = errors.New("bad segment")

func decodeSegment(seg string, v any) error {
	b, err := base64URL(seg)
	if err != nil {
		return errors.Join(errSegment, err)
	}
	return json.Unmarshal(b, v)
}

func base64URL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func TestForge(t *testing.T) {
	p := Start(t, Options{})
	tok, jwksDoc := p.Forge(t, MintRequest{Audience: []string{testResource}}, Forgery{EmbedJWK: true, JKU: "http://127.0.0.1:1/jwks"})
	// Against the provider's JWKS the forgery fails...
	if _, err := verify(t, p, tok, testResource); err == nil {
		t.Fatal("forged token verified against the provider's JWKS")
	}
	if n := p.Hits("/keys"); n != 1 {
		t.Errorf("JWKS hits %d, want 1", n)
	}
	// ...against the attacker's own key it is valid, so a verifier that
	// trusted the token's key references would accept it.
	set, err := jwk.Parse(jwksDoc)
	if err != nil {
		t.Fatalf("parse attacker JWKS: %v", err)
	}
	if _, err := jwt.ParseString(tok, jwt.WithKeySet(set), jwt.WithValidate(true), jwt.WithIssuer(p.Issuer()), jwt.WithAudience(testResource)); err != nil {
		t.Fatalf("forged token does not verify with the attacker key: %v", err)
	}
	var h map[string]any
	seg, _, _ := strings.Cut(tok, ".")
	if err := decodeSegment(seg, &h); err != nil {
		t.Fatal(err)
	}
	if h["jku"] != "http://127.0.0.1:1/jwks" || h["jwk"] == nil {
		t.Errorf("header %v lacks jku or jwk", h)
	}
}
