package oidctest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"
)

// registrationPath is the RFC 7591 endpoint served when
// Options.Registration is set.
const registrationPath = "/register"

// RegistrationEndpoint is the RFC 7591 dynamic client registration URL; it
// answers only when Options.Registration is set.
func (p *Provider) RegistrationEndpoint() string { return p.issuer + registrationPath }

// withRegistration serves RFC 7591 registration and advertises it in the
// discovery documents, which zitadel's op package does not do.
func (p *Provider) withRegistration(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case registrationPath:
			p.register(w, r)
		case oidcDiscoveryPath, oauthMetadataPath:
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var doc map[string]any
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &doc) != nil {
				copyResponse(w, rec)
				return
			}
			doc["registration_endpoint"] = p.RegistrationEndpoint()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(doc)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// registrationRequest is the part of RFC 7591 §2 client metadata the
// provider looks at.
type registrationRequest struct {
	ClientName              string   `json:"client_name"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
}

// register creates a confidential client that may introspect, the role a
// resource server registers for.
func (p *Provider) register(w http.ResponseWriter, r *http.Request) {
	writeError := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(http.StatusMethodNotAllowed, "invalid_request", "POST only")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		writeError(http.StatusBadRequest, "invalid_request", "cannot read body")
		return
	}
	var req registrationRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(http.StatusBadRequest, "invalid_client_metadata", "body is not client metadata JSON")
		return
	}
	if req.TokenEndpointAuthMethod == "none" {
		p.registerPublic(w, req, writeError)
		return
	}
	now := time.Now()
	c := &client{
		id:           randomID("dcr-"),
		secret:       randomID("secret-"),
		introspector: true,
		registered:   true,
	}
	c.subject = "sub-" + c.id
	if p.secretLifetime > 0 {
		c.expiresAt = now.Add(p.secretLifetime)
	}
	p.store.mu.Lock()
	p.store.clients[c.id] = c
	p.store.mu.Unlock()

	var expiresAt int64
	if !c.expiresAt.IsZero() {
		expiresAt = c.expiresAt.Unix()
	}
	authMethod := req.TokenEndpointAuthMethod
	if authMethod == "" {
		authMethod = "client_secret_basic"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"client_id":                  c.id,
		"client_secret":              c.secret,
		"client_id_issued_at":        now.Unix(),
		"client_secret_expires_at":   expiresAt,
		"client_name":                req.ClientName,
		"redirect_uris":              req.RedirectURIs,
		"grant_types":                req.GrantTypes,
		"token_endpoint_auth_method": authMethod,
	})
}

// registerPublic creates a public client of the authorization code grant
// (Options.PublicClients), as MCP clients register themselves: no secret,
// PKCE instead, and redirect URIs that must match exactly.
func (p *Provider) registerPublic(w http.ResponseWriter, req registrationRequest, writeError func(int, string, string)) {
	if !p.publicClients {
		writeError(http.StatusBadRequest, "invalid_client_metadata", "only confidential clients are registered")
		return
	}
	if len(req.RedirectURIs) == 0 {
		writeError(http.StatusBadRequest, "invalid_redirect_uri", "a public client needs redirect_uris")
		return
	}
	for _, u := range req.RedirectURIs {
		if pu, err := url.Parse(u); err != nil || pu.Fragment != "" || (pu.Scheme != "http" && pu.Scheme != "https") {
			writeError(http.StatusBadRequest, "invalid_redirect_uri", "redirect_uris must be absolute http(s) URLs without fragment")
			return
		}
	}
	now := time.Now()
	c := &client{id: randomID("pub-"), public: true, registered: true, redirectURIs: slices.Clone(req.RedirectURIs)}
	p.store.mu.Lock()
	p.store.clients[c.id] = c
	p.store.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"client_id":                  c.id,
		"client_id_issued_at":        now.Unix(),
		"client_name":                req.ClientName,
		"redirect_uris":              req.RedirectURIs,
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
	})
}

// RegisteredClientIDs lists the clients created by dynamic registration and
// not deleted.
func (p *Provider) RegisteredClientIDs() []string {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	var ids []string
	for id, c := range p.store.clients {
		if c.registered {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// ClientSecret returns a client's current secret, for instance to check
// that a self-registered client's secret is not logged.
func (p *Provider) ClientSecret(t testing.TB, id string) string {
	t.Helper()
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	c, ok := p.store.clients[id]
	if !ok {
		t.Fatalf("oidctest: no client %q", id)
	}
	return c.secret
}

// DeleteClient removes a client, as providers do with stale self-registered
// clients; its credentials stop working at once.
func (p *Provider) DeleteClient(t testing.TB, id string) {
	t.Helper()
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	if _, ok := p.store.clients[id]; !ok {
		t.Fatalf("oidctest: no client %q", id)
	}
	delete(p.store.clients, id)
}
