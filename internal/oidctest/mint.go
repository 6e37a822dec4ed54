package oidctest

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// MintRequest describes a JWT signed directly by the test, bypassing the
// token endpoint. Zero fields get the values a real token would have.
type MintRequest struct {
	Audience []string
	Scopes   []string
	Subject  string // default "sub-" + ClientID
	ClientID string // default JWTClientID
	// IssuedAt (also nbf) defaults to now, ExpiresAt to five minutes later.
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Claims are set last, replacing defaults; a nil value removes the
	// claim. Use them for claim variants such as `scp` or `azp`.
	Claims map[string]any
}

// BadKind names one defect of a deliberately invalid token. Each kind
// differs from MintJWT's valid token in that one defect only, so a gateway
// that accepts MintJWT and rejects the bad token rejected it for that reason.
type BadKind string

const (
	Expired          BadKind = "expired"          // exp ten minutes ago
	NotYetValid      BadKind = "not_yet_valid"    // nbf and iat ten minutes ahead
	WrongIssuer      BadKind = "wrong_issuer"     // iss of another loopback provider
	WrongAudience    BadKind = "wrong_audience"   // aud of another resource
	UnknownKey       BadKind = "unknown_key"      // signed by a key whose kid is not in the JWKS
	AlgNone          BadKind = "alg_none"         // unsigned, alg "none"
	HS256PublicKey   BadKind = "hs256_public_key" // HMAC keyed with the provider's public key (PEM)
	NoExp            BadKind = "no_exp"           // no exp claim
	BadSignature     BadKind = "bad_signature"    // right kid, signature of other content
	MalformedPayload BadKind = "malformed"        // validly signed, but the payload is not JSON
	EmptyAudience    BadKind = "no_aud"           // no aud claim
	UnknownCritical  BadKind = "unknown_crit"     // validly signed, header marks an unknown extension critical
	// The right key's RS256 signature under a header naming another
	// algorithm: a verifier that takes the algorithm from the key (the
	// published JWK says RS256) instead of the header accepts it
	// (RFC 8725 §3.1).
	AlgMismatchPS256 BadKind = "alg_mismatch_ps256"
	AlgMismatchRS384 BadKind = "alg_mismatch_rs384"
)

// BadKinds lists every BadKind, for table-driven tests.
func BadKinds() []BadKind {
	return []BadKind{Expired, NotYetValid, WrongIssuer, WrongAudience, UnknownKey, AlgNone,
		HS256PublicKey, NoExp, BadSignature, MalformedPayload, EmptyAudience, UnknownCritical,
		AlgMismatchPS256, AlgMismatchRS384}
}

func (p *Provider) claims(req MintRequest) map[string]any {
	clientID := req.ClientID
	if clientID == "" {
		clientID = JWTClientID
	}
	sub := req.Subject
	if sub == "" {
		sub = "sub-" + clientID
	}
	iat := req.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	exp := req.ExpiresAt
	if exp.IsZero() {
		exp = iat.Add(5 * time.Minute)
	}
	c := map[string]any{
		"iss":       p.issuer,
		"sub":       sub,
		"client_id": clientID,
		"iat":       iat.Unix(),
		"nbf":       iat.Unix(),
		"exp":       exp.Unix(),
		"jti":       randomID("minted-"),
	}
	if len(req.Audience) > 0 {
		c["aud"] = req.Audience
	}
	if len(req.Scopes) > 0 {
		c["scope"] = strings.Join(req.Scopes, " ")
	}
	for k, v := range req.Claims {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// MintJWT signs a valid access token with the active key. The provider does
// not know its jti, so introspection reports it inactive; signature-based
// validation accepts it.
func (p *Provider) MintJWT(t testing.TB, req MintRequest) string {
	t.Helper()
	p.store.mu.Lock()
	key := p.store.active
	p.store.mu.Unlock()
	return signRS256(t, key, p.claims(req))
}

// BadToken mints a token with exactly the given defect; see BadKind.
func (p *Provider) BadToken(t testing.TB, kind BadKind, req MintRequest) string {
	t.Helper()
	p.store.mu.Lock()
	key := p.store.active
	p.store.mu.Unlock()
	c := p.claims(req)
	now := time.Now()
	switch kind {
	case Expired:
		c["iat"] = now.Add(-20 * time.Minute).Unix()
		c["nbf"] = now.Add(-20 * time.Minute).Unix()
		c["exp"] = now.Add(-10 * time.Minute).Unix()
	case NotYetValid:
		c["iat"] = now.Add(10 * time.Minute).Unix()
		c["nbf"] = now.Add(10 * time.Minute).Unix()
		c["exp"] = now.Add(20 * time.Minute).Unix()
	case WrongIssuer:
		c["iss"] = "http://127.0.0.2:1"
	case WrongAudience:
		c["aud"] = []string{"http://127.0.0.1:1/other-mcp"}
	case UnknownKey:
		other, err := newSigningKey()
		if err != nil {
			t.Fatalf("oidctest: %v", err)
		}
		return signRS256(t, other, c)
	case AlgNone:
		return encodeSegment(t, map[string]any{"alg": "none", "typ": "JWT"}) + "." + encodeSegment(t, c) + "."
	case HS256PublicKey:
		der, err := x509.MarshalPKIXPublicKey(&key.key.PublicKey)
		if err != nil {
			t.Fatalf("oidctest: marshal public key: %v", err)
		}
		secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		input := encodeSegment(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": key.id}) + "." + encodeSegment(t, c)
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	case NoExp:
		delete(c, "exp")
	case BadSignature:
		good := signRS256(t, key, c)
		c["scope"] = "notes:read notes:write files:read openid"
		forged := signRS256(t, key, c)
		// The payload claims more scopes than the signature covers.
		return forged[:strings.LastIndex(forged, ".")] + good[strings.LastIndex(good, "."):]
	case MalformedPayload:
		input := encodeSegment(t, map[string]any{"alg": "RS256", "typ": "JWT", "kid": key.id}) + "." +
			base64.RawURLEncoding.EncodeToString([]byte("{not json"))
		return input + "." + signInput(t, key, input)
	case EmptyAudience:
		delete(c, "aud")
	case UnknownCritical:
		// RFC 7515 §4.1.11: a verifier must reject a JWS with a critical
		// header parameter it does not understand.
		input := encodeSegment(t, map[string]any{
			"alg": "RS256", "typ": "JWT", "kid": key.id,
			"crit": []string{"urn:example:must-understand"}, "urn:example:must-understand": true,
		}) + "." + encodeSegment(t, c)
		return input + "." + signInput(t, key, input)
	case AlgMismatchPS256, AlgMismatchRS384:
		alg := map[BadKind]string{AlgMismatchPS256: "PS256", AlgMismatchRS384: "RS384"}[kind]
		input := encodeSegment(t, map[string]any{"alg": alg, "typ": "JWT", "kid": key.id}) + "." + encodeSegment(t, c)
		return input + "." + signInput(t, key, input)
	default:
		t.Fatalf("oidctest: unknown bad token kind %q", kind)
	}
	return signRS256(t, key, c)
}

func encodeSegment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("oidctest: encode JWT segment: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signRS256 signs by hand rather than through a JOSE library, so the tokens
// are an independent check of the gateway's JOSE library.
func signRS256(t testing.TB, k *signingKey, claims map[string]any) string {
	t.Helper()
	input := encodeSegment(t, map[string]any{"alg": "RS256", "typ": "JWT", "kid": k.id}) + "." + encodeSegment(t, claims)
	return input + "." + signInput(t, k, input)
}

// signInput returns the RS256 signature segment for a JWS signing input.
func signInput(t testing.TB, k *signingKey, input string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, k.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatalf("oidctest: sign: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(sig)
}

// Forgery names header fields that try to make a verifier trust a key the
// token brings along instead of the provider's JWKS.
type Forgery struct {
	// EmbedJWK puts the attacker's public key in the `jwk` header.
	EmbedJWK bool
	// JKU points the `jku` header at a JWKS URL, where the test can serve
	// the returned attacker JWKS and count fetches.
	JKU string
}

// Forge signs a token that is valid in every claim with a fresh attacker
// key, adding the Forgery's header fields. It returns the token and the
// attacker's JWKS document. A verifier that honours the token's own key
// references accepts it; a correct one rejects it as an unknown key.
func (p *Provider) Forge(t testing.TB, req MintRequest, f Forgery) (token string, jwks []byte) {
	t.Helper()
	attacker, err := newSigningKey()
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	pub := map[string]any{
		"kty": "RSA",
		"kid": attacker.id,
		"alg": "RS256",
		"use": "sig",
		"n":   base64.RawURLEncoding.EncodeToString(attacker.key.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(attacker.key.E)).Bytes()),
	}
	header := map[string]any{"alg": "RS256", "typ": "JWT", "kid": attacker.id}
	if f.EmbedJWK {
		header["jwk"] = pub
	}
	if f.JKU != "" {
		header["jku"] = f.JKU
	}
	input := encodeSegment(t, header) + "." + encodeSegment(t, p.claims(req))
	jwks, err = json.Marshal(map[string]any{"keys": []any{pub}})
	if err != nil {
		t.Fatalf("oidctest: encode attacker JWKS: %v", err)
	}
	return input + "." + signInput(t, attacker, input), jwks
}
