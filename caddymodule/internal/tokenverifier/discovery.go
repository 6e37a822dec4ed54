package tokenverifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ProviderMetadata is the part of OpenID Connect Discovery / RFC 8414
// metadata the gateway uses.
type ProviderMetadata struct {
	Issuer                string   `json:"issuer"`
	JWKSURI               string   `json:"jwks_uri"`
	IntrospectionEndpoint string   `json:"introspection_endpoint"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint"`
	RegistrationEndpoint  string   `json:"registration_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	ScopesSupported       []string `json:"scopes_supported"`

	// The endpoints below are read only by the gateway's token fence,
	// which lets MCP tokens reach the provider's own endpoints.
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	EndSessionEndpoint    string `json:"end_session_endpoint"`
}

const (
	metadataMaxBytes   = 1 << 20
	metadataRefresh    = time.Hour
	metadataRetryAfter = 2 * time.Second
)

// metadataSource discovers the issuer's metadata on first use and keeps
// it; it is refreshed hourly in the background and a failed refresh keeps
// the old document. There is one discovery at a time: whoever needs the
// document while one runs joins it. Only after a discovery that really
// failed are requests refused without asking again, for
// metadataRetryAfter, so a dead provider is not hammered by every request.
type metadataSource struct {
	issuer string
	client *http.Client
	now    func() time.Time
	ctx    context.Context // the Verifier's lifetime; discoveries run under it

	mu       sync.Mutex
	inflight *flight[*ProviderMetadata]
	doc      *ProviderMetadata
	at       time.Time
	err      error
	errAt    time.Time
}

func newMetadataSource(ctx context.Context, issuer string, client *http.Client, now func() time.Time) *metadataSource {
	return &metadataSource{issuer: issuer, client: client, now: now, ctx: ctx}
}

// get returns the metadata, discovering it if needed.
func (m *metadataSource) get(ctx context.Context) (*ProviderMetadata, error) {
	m.mu.Lock()
	now := m.now()
	if m.doc != nil {
		doc := m.doc
		if now.Sub(m.at) >= metadataRefresh && m.inflight == nil && now.Sub(m.errAt) >= metadataRetryAfter {
			m.startLocked()
		}
		m.mu.Unlock()
		return doc, nil
	}
	f := m.inflight
	if f == nil {
		if m.err != nil && now.Sub(m.errAt) < metadataRetryAfter {
			cause := m.err
			m.mu.Unlock()
			return nil, fmt.Errorf("discovery failed moments ago, retrying after %v: %w", metadataRetryAfter, cause)
		}
		f = m.startLocked()
	}
	m.mu.Unlock()
	return f.wait(ctx, "discovery")
}

// startLocked starts a discovery; m.mu must be held.
func (m *metadataSource) startLocked() *flight[*ProviderMetadata] {
	f := newFlight[*ProviderMetadata]()
	m.inflight = f
	go func() {
		d, err := m.fetch(m.ctx)
		m.mu.Lock()
		if err != nil {
			m.err, m.errAt = err, m.now()
		} else {
			m.doc, m.at, m.err = d, m.now(), nil
		}
		if m.doc != nil {
			d, err = m.doc, nil // a failed refresh keeps the last good document
		}
		m.inflight = nil
		m.mu.Unlock()
		f.finish(d, err)
	}()
	return f
}

// fetch tries OpenID Connect Discovery, then RFC 8414.
func (m *metadataSource) fetch(ctx context.Context) (*ProviderMetadata, error) {
	var errs []error
	for _, u := range discoveryURLs(m.issuer) {
		doc, err := m.fetchOne(ctx, u)
		if err == nil {
			return doc, nil
		}
		errs = append(errs, err)
		var inv *InvalidTokenError
		if errors.As(err, &inv) {
			break
		}
	}
	return nil, fmt.Errorf("discovering %s: %w: %w", m.issuer, ErrUnavailable, errors.Join(errs...))
}

func (m *metadataSource) fetchOne(ctx context.Context, u string) (*ProviderMetadata, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, metadataMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(body) > metadataMaxBytes {
		return nil, fmt.Errorf("GET %s: metadata larger than %d bytes", u, metadataMaxBytes)
	}
	var doc ProviderMetadata
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("GET %s: decoding metadata: %w", u, err)
	}
	// RFC 8414 §3.3 / OIDC Discovery §4.3: the document must be about the
	// configured issuer, or a rogue document could redirect key fetching.
	if doc.Issuer != m.issuer {
		return nil, fmt.Errorf("GET %s: metadata issuer %q does not match configured issuer %q", u, doc.Issuer, m.issuer)
	}
	for name, ep := range map[string]string{"jwks_uri": doc.JWKSURI, "introspection_endpoint": doc.IntrospectionEndpoint, "userinfo_endpoint": doc.UserinfoEndpoint} {
		if ep == "" {
			continue
		}
		if err := CheckURL(ep); err != nil {
			return nil, fmt.Errorf("GET %s: %s: %w", u, name, err)
		}
	}
	return &doc, nil
}

// discoveryURLs lists the metadata URLs for an issuer: OIDC Discovery
// appends to the issuer's path, RFC 8414 inserts the well-known segment
// before it.
func discoveryURLs(issuer string) []string {
	trimmed := strings.TrimSuffix(issuer, "/")
	out := []string{trimmed + "/.well-known/openid-configuration"}
	if u, err := url.Parse(trimmed); err == nil {
		path := u.Path
		u.Path = "/.well-known/oauth-authorization-server" + path
		u.RawPath = ""
		out = append(out, u.String())
	}
	return out
}

// Metadata returns the provider's metadata (discovering it if needed).
func (v *Verifier) Metadata(ctx context.Context) (*ProviderMetadata, error) {
	return v.meta.get(ctx)
}
