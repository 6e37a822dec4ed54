package tokenverifier

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

const introspectionMaxBytes = 64 << 10

// introspector validates opaque tokens by RFC 7662 introspection,
// authenticating as the gateway's own client (client_secret_basic).
type introspector struct {
	cfg  Config
	meta *metadataSource
}

// introspectionResponse is RFC 7662 §2.2, with the scope claim accepted in
// either form.
type introspectionResponse struct {
	Active   bool            `json:"active"`
	Scope    json.RawMessage `json:"scope"`
	Scp      json.RawMessage `json:"scp"`
	ClientID string          `json:"client_id"`
	Sub      string          `json:"sub"`
	Exp      json.Number     `json:"exp"`
	Nbf      json.Number     `json:"nbf"`
	Iss      string          `json:"iss"`
	Aud      json.RawMessage `json:"aud"`
	// TokenType is RFC 7662's token_type; a pointer so that a present
	// but empty or non-string value is told from an absent one.
	TokenType *json.RawMessage `json:"token_type"`
}

func (in *introspector) endpoint(ctx context.Context) (string, error) {
	if in.cfg.IntrospectionURL != "" {
		return in.cfg.IntrospectionURL, nil
	}
	md, err := in.meta.get(ctx)
	if err != nil {
		return "", err
	}
	if md.IntrospectionEndpoint == "" {
		return "", fmt.Errorf("introspect: %w: the issuer advertises no introspection_endpoint and none is configured", ErrUnavailable)
	}
	return md.IntrospectionEndpoint, nil
}

func (in *introspector) introspect(ctx context.Context, token string) (Identity, error) {
	ep, err := in.endpoint(ctx)
	if err != nil {
		return Identity{}, err
	}
	clientID, secret, err := in.cfg.Client.Credentials(ctx)
	if err != nil {
		return Identity{}, fmt.Errorf("introspect: %w: no client credentials: %w", ErrUnavailable, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep, strings.NewReader(form.Encode()))
	if err != nil {
		return Identity{}, fmt.Errorf("introspect: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: credentials are form-urlencoded before Basic.
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := in.cfg.HTTPClient.Do(req)
	if err != nil {
		return Identity{}, fmt.Errorf("introspect: %w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, introspectionMaxBytes+1))
	if err != nil {
		return Identity{}, fmt.Errorf("introspect: %w: %w", ErrUnavailable, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		in.cfg.Client.Rejected(ctx, clientID)
	}
	if resp.StatusCode != http.StatusOK {
		// A 401/403 means the gateway's own client is not accepted:
		// that is a configuration fault, not the token's, so it must not
		// be cached as a rejection of the token.
		return Identity{}, fmt.Errorf("introspect: %w: HTTP %d", ErrUnavailable, resp.StatusCode)
	}
	if len(body) > introspectionMaxBytes {
		return Identity{}, fmt.Errorf("introspect: %w: response too large", ErrUnavailable)
	}
	return in.parse(body)
}

// parse reads an introspection answer strictly: exactly one JSON object
// and nothing after it. An answer that is not that is the provider's
// fault (or someone's between it and the gateway), so the token is not
// judged (503) rather than rejected or, worse, accepted from the first
// object of a concatenation.
func (in *introspector) parse(body []byte) (Identity, error) {
	var ir introspectionResponse
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&ir); err != nil {
		return Identity{}, fmt.Errorf("introspect: %w: decoding response: %w", ErrUnavailable, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Identity{}, fmt.Errorf("introspect: %w: data after the JSON object", ErrUnavailable)
	}
	if !ir.Active {
		return Identity{}, invalid("token is not active")
	}
	id, err := in.identity(ir)
	if err != nil {
		return Identity{}, err
	}
	if id.User, err = userClaim(in.cfg.UserClaim, body); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// accessTokenTypes are the token_type values that name an access token
// usable as a bearer token: RFC 7662 refers to RFC 6749 §7.1 ("Bearer",
// as Nextcloud's oidc app answers), and some providers use the RFC 8693
// token type identifiers or their short form.
var accessTokenTypes = []string{"bearer", "access_token", "urn:ietf:params:oauth:token-type:access_token"}

// tokenTypeOK reports whether an introspection answer's token_type, when
// present, names an access token: a refresh token or ID token the
// provider reports active must not open the resource.
func tokenTypeOK(raw *json.RawMessage) bool {
	if raw == nil {
		return true
	}
	var tt string
	if err := json.Unmarshal(*raw, &tt); err != nil {
		return false
	}
	return slices.Contains(accessTokenTypes, strings.ToLower(tt))
}

// isURL reports whether an aud value is an absolute URL rather than a
// client identifier.
func isURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && u.Host != ""
}

func (in *introspector) identity(ir introspectionResponse) (Identity, error) {
	now := in.cfg.Now()
	id := Identity{Kind: KindIntrospection, Subject: ir.Sub, ClientID: ir.ClientID}
	if ir.Iss != "" && ir.Iss != in.cfg.Issuer {
		return Identity{}, invalid("wrong issuer")
	}
	if !tokenTypeOK(ir.TokenType) {
		return Identity{}, invalid("not an access token (token_type)")
	}
	if len(ir.Aud) > 0 && string(ir.Aud) != "null" {
		var aud []string
		var one string
		if err := json.Unmarshal(ir.Aud, &one); err == nil {
			aud = []string{one}
		} else if err := json.Unmarshal(ir.Aud, &aud); err != nil {
			return Identity{}, invalid("malformed audience")
		}
		// With provider_checks_audience a client id in aud is expected
		// (Nextcloud's oidc app puts the owning client's there), but a
		// URL there is a resource, and it must be this one: the oidc app
		// reports the token's resource in aud when it has one.
		if (!in.cfg.ProviderChecksAudience || slices.ContainsFunc(aud, isURL)) && !audienceOK(aud, in.cfg.Audiences) {
			return Identity{}, invalid("wrong audience")
		}
	}
	if ir.Exp != "" {
		exp, err := ir.Exp.Float64()
		if err != nil {
			return Identity{}, invalid("malformed expiry")
		}
		id.Expiry = time.Unix(int64(exp), 0)
		if now.After(id.Expiry.Add(in.cfg.Leeway)) {
			return Identity{}, invalid("token expired")
		}
	}
	if ir.Nbf != "" {
		nbf, err := ir.Nbf.Float64()
		if err != nil {
			return Identity{}, invalid("malformed not-before")
		}
		if now.Add(in.cfg.Leeway).Before(time.Unix(int64(nbf), 0)) {
			return Identity{}, invalid("token not yet valid")
		}
	}
	for _, raw := range []json.RawMessage{ir.Scope, ir.Scp} {
		if len(raw) == 0 {
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err == nil {
			id.Scopes = scopesFrom(v)
			break
		}
	}
	if id.Subject == "" {
		return Identity{}, invalid("token has no subject")
	}
	return id, nil
}
