package tokenverifier

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// userinfoClient validates an opaque token by calling the OpenID userinfo
// endpoint with it. That proves only that the provider knows the token: it
// says nothing about audience or scopes, so the identity carries no scopes
// and can reach only what needs none. It is off unless configured.
type userinfoClient struct {
	cfg  Config
	meta *metadataSource
}

func (u *userinfoClient) lookup(ctx context.Context, token string) (Identity, error) {
	ep := u.cfg.UserinfoURL
	if ep == "" {
		md, err := u.meta.get(ctx)
		if err != nil {
			return Identity{}, err
		}
		if md.UserinfoEndpoint == "" {
			return Identity{}, fmt.Errorf("userinfo: %w: the issuer advertises no userinfo_endpoint", ErrUnavailable)
		}
		ep = md.UserinfoEndpoint
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep, nil)
	if err != nil {
		return Identity{}, fmt.Errorf("userinfo: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := u.cfg.HTTPClient.Do(req)
	if err != nil {
		return Identity{}, fmt.Errorf("userinfo: %w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return Identity{}, invalid("token rejected by userinfo")
	case resp.StatusCode != http.StatusOK:
		return Identity{}, fmt.Errorf("userinfo: %w: HTTP %d", ErrUnavailable, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return Identity{}, fmt.Errorf("userinfo: %w: %w", ErrUnavailable, err)
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(body, &claims); err != nil {
		return Identity{}, fmt.Errorf("userinfo: %w: decoding response: %w", ErrUnavailable, err)
	}
	if claims.Sub == "" {
		return Identity{}, invalid("userinfo names no subject")
	}
	user, err := userClaim(u.cfg.UserClaim, body)
	if err != nil {
		return Identity{}, err
	}
	return Identity{Kind: KindUserinfo, Subject: claims.Sub, User: user}, nil
}
