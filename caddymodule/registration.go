package caddymodule

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/caddymodule/internal/tokenverifier"
)

// registration obtains the gateway's own OAuth client by RFC 7591 dynamic
// registration, for introspection when no client was configured. The
// credentials live in Caddy's configured storage, so instances that share
// storage share one client and restarts and reloads reuse it; a client the
// provider rejects or that has expired is registered anew (Nextcloud's
// oidc app deletes self-registered clients after a while). While there is
// no client, opaque tokens are not judged (503), never let through.
type registration struct {
	issuer   string
	resource string
	storage  certmagic.Storage
	metadata func(context.Context) (*tokenverifier.ProviderMetadata, error)
	client   *http.Client
	logger   *zap.Logger
	now      func() time.Time

	mu       sync.Mutex
	current  *registeredClient
	failures int
	nextTry  time.Time
}

// registeredClient is what is kept in storage.
type registeredClient struct {
	Issuer                  string `json:"issuer"`
	Resource                string `json:"resource"`
	ClientID                string `json:"client_id"`
	ClientSecret            string `json:"client_secret"`
	ClientSecretExpiresAt   int64  `json:"client_secret_expires_at,omitempty"`
	RegistrationClientURI   string `json:"registration_client_uri,omitempty"`
	RegistrationAccessToken string `json:"registration_access_token,omitempty"`
}

// expired reports whether the secret is past (or within a minute of) its
// expiry; 0 means it does not expire (RFC 7591 §3.2.1).
func (c *registeredClient) expired(now time.Time) bool {
	return c.ClientSecretExpiresAt != 0 && !now.Add(time.Minute).Before(time.Unix(c.ClientSecretExpiresAt, 0))
}

const (
	registrationMinBackoff = time.Second
	registrationMaxBackoff = 5 * time.Minute
	registrationMaxBytes   = 64 << 10
)

func (r *registration) storageKey() string {
	sum := sha256.Sum256([]byte(r.issuer + "\n" + r.resource))
	return "mcp_gateway/oauth_clients/" + hex.EncodeToString(sum[:16]) + ".json"
}

// Credentials implements tokenverifier.ClientSource.
func (r *registration) Credentials(ctx context.Context) (string, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if c := r.current; c != nil && !c.expired(now) {
		return c.ClientID, c.ClientSecret, nil
	}
	if c, err := r.load(ctx); err == nil && !c.expired(now) {
		r.current = c
		return c.ClientID, c.ClientSecret, nil
	}
	if now.Before(r.nextTry) {
		return "", "", fmt.Errorf("client registration failed recently; next attempt at %s", r.nextTry.Format(time.RFC3339))
	}
	c, err := r.register(ctx)
	if err != nil {
		r.failures++
		backoff := registrationMinBackoff << min(r.failures-1, 16)
		r.nextTry = now.Add(min(backoff, registrationMaxBackoff))
		r.logger.Error("registering the gateway's OAuth client failed; opaque tokens get 503 until it works",
			zap.Error(err), zap.Time("next_attempt", r.nextTry))
		return "", "", err
	}
	r.failures, r.nextTry, r.current = 0, time.Time{}, c
	r.logger.Info("registered the gateway's OAuth client", zap.String("client_id", c.ClientID), zap.String("resource_url", r.resource))
	return c.ClientID, c.ClientSecret, nil
}

// Rejected implements tokenverifier.ClientSource: the provider refused
// the client, so it is forgotten here and in storage, and the next token
// registers a new one.
func (r *registration) Rejected(ctx context.Context, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.current != nil && r.current.ClientID == id {
		r.current = nil
	}
	if c, err := r.load(ctx); err == nil && c.ClientID == id {
		if err := r.storage.Delete(ctx, r.storageKey()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			r.logger.Warn("forgetting the rejected OAuth client in storage", zap.Error(err))
		}
	}
	r.logger.Warn("the provider rejected the gateway's OAuth client; it will register again", zap.String("client_id", id))
}

func (r *registration) load(ctx context.Context) (*registeredClient, error) {
	raw, err := r.storage.Load(ctx, r.storageKey())
	if err != nil {
		return nil, err
	}
	var c registeredClient
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("stored OAuth client: %w", err)
	}
	if c.ClientID == "" || c.ClientSecret == "" || c.Issuer != r.issuer || c.Resource != r.resource {
		return nil, errors.New("stored OAuth client is incomplete or for another issuer")
	}
	return &c, nil
}

// register runs RFC 7591 registration under a storage lock, so Caddy
// instances sharing storage register once; after taking the lock it looks
// again, in case another instance just did.
func (r *registration) register(ctx context.Context) (*registeredClient, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	lock := r.storageKey() + ".lock"
	if err := r.storage.Lock(ctx, lock); err != nil {
		return nil, fmt.Errorf("locking storage: %w", err)
	}
	defer r.storage.Unlock(context.WithoutCancel(ctx), lock)
	if c, err := r.load(ctx); err == nil && !c.expired(r.now()) {
		return c, nil
	}

	md, err := r.metadata(ctx)
	if err != nil {
		return nil, err
	}
	if md.RegistrationEndpoint == "" {
		return nil, errors.New("introspection has no client credentials and the issuer advertises no registration_endpoint")
	}
	if err := tokenverifier.CheckURL(md.RegistrationEndpoint); err != nil {
		return nil, fmt.Errorf("registration_endpoint: %w", err)
	}
	body, _ := json.Marshal(map[string]any{
		"client_name": "Scopegate MCP gateway",
		// The gateway never runs an authorization flow, but providers
		// require a redirect URI; this one is under the resource.
		"redirect_uris":              []string{r.resource + "/oauth/callback"},
		"token_endpoint_auth_method": "client_secret_basic",
		"grant_types":                []string{"authorization_code"},
		"response_types":             []string{"code"},
		"scope":                      "openid",
		// Nextcloud's oidc app answers introspection for a token only to a
		// client whose resource_url is the token's resource.
		"resource_url": r.resource,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, md.RegistrationEndpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, registrationMaxBytes))
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		json.Unmarshal(raw, &e)
		return nil, fmt.Errorf("register: HTTP %d: %s %s", resp.StatusCode, e.Error, e.Description)
	}
	var c registeredClient
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("register: decoding response: %w", err)
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		return nil, errors.New("register: the response has no client_id or client_secret")
	}
	c.Issuer, c.Resource = r.issuer, r.resource
	stored, _ := json.Marshal(c)
	if err := r.storage.Store(ctx, r.storageKey(), stored); err != nil {
		// The client works for this process; other instances will
		// register their own.
		r.logger.Warn("storing the registered OAuth client", zap.Error(err))
	}
	return &c, nil
}

var _ tokenverifier.ClientSource = (*registration)(nil)
