package oidctest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

// DefaultAccessTokenTyp is the JWS typ of the JWT access tokens the token
// endpoint issues, as Nextcloud's oidc app 2.0.9 writes it (RFC 9068 names
// the type at+jwt; media types compare case-insensitively).
const DefaultAccessTokenTyp = "at+JWT"

// retypeAccessTokens re-signs the JWT access tokens of token endpoint
// answers with typ set to typ. zitadel's op always writes "JWT"; a
// provider that follows RFC 9068 writes at+jwt, and the gateway's
// require_typ option is tested against that.
func (p *Provider) retypeAccessTokens(next http.Handler, typ string) http.Handler {
	return rewriteJSONAnswer(next, "/oauth/token", func(resp map[string]any) {
		if tok, ok := resp["access_token"].(string); ok {
			if retyped, ok := p.retype(tok, typ); ok {
				resp["access_token"] = retyped
			}
		}
	})
}

// retype returns tok with its header's typ replaced and signed anew by the
// published key it names; ok is false for anything that is not such a JWT.
func (p *Provider) retype(tok, typ string) (string, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", false
	}
	var header map[string]any
	if json.Unmarshal(raw, &header) != nil || header["alg"] != "RS256" {
		return "", false
	}
	kid, _ := header["kid"].(string)
	p.store.mu.Lock()
	var key *signingKey
	for _, k := range p.store.published {
		if k.id == kid {
			key = k
		}
	}
	p.store.mu.Unlock()
	if key == nil {
		return "", false
	}
	header["typ"] = typ
	hb, err := json.Marshal(header)
	if err != nil {
		return "", false
	}
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + parts[1]
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, key.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", false
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), true
}
