package tokenverifier

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
	var ir introspectionResponse
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&ir); err != nil {
		return Identity{}, fmt.Errorf("introspect: %w: decoding response: %w", ErrUnavailable, err)
	}
	if !ir.Active {
		return Identity{}, invalid("token is not active")
	}
	return in.identity(ir)
}

func (in *introspector) identity(ir introspectionResponse) (Identity, error) {
	now := in.cfg.Now()
	id := Identity{Kind: KindIntrospection, Subject: ir.Sub, ClientID: ir.ClientID}
	if ir.Iss != "" && ir.Iss != in.cfg.Issuer {
		return Identity{}, invalid("wrong issuer")
	}
	if len(ir.Aud) > 0 && string(ir.Aud) != "null" && !in.cfg.ProviderChecksAudience {
		var aud []string
		var one string
		if err := json.Unmarshal(ir.Aud, &one); err == nil {
			aud = []string{one}
		} else if err := json.Unmarshal(ir.Aud, &aud); err != nil {
			return Identity{}, invalid("malformed audience")
		}
		if !audienceOK(aud, in.cfg.Audiences) {
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
