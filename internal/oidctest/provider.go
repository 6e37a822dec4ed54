// Package oidctest runs a real OpenID provider in-process for tests.
//
// The provider is zitadel/oidc's certified op package over a small in-memory
// storage. It listens on plain HTTP on a loopback port and supports
// discovery, JWKS with key rotation, the client_credentials grant with
// RFC 8707 resource indicators (which set the access token's audience), JWT
// and opaque access tokens, RFC 7662 introspection with client
// authentication, and userinfo; optionally RFC 7591 dynamic registration,
// RFC 8414-only discovery and doctored introspection answers (Options); and
// the interactive flow real MCP clients use (interactive.go): public-client
// registration, the authorization code grant with PKCE S256, `resource` →
// `aud`, refresh tokens, a login page the test answers (Options.Login), a
// browser stand-in (FollowAuthorization) and a request log (Requests). It
// can be stopped and restarted on the same port to simulate an outage, counts
// the requests it serves (Hits), and mints deliberately broken or forged
// JWTs for negative tests (BadToken, Forge).
//
// Typical use:
//
//	p := oidctest.Start(t, oidctest.Options{})
//	tok := p.Token(t, oidctest.TokenRequest{Scopes: []string{"notes:read"}, Audience: []string{resource}})
//	bad := p.BadToken(t, oidctest.Expired, oidctest.MintRequest{Audience: []string{resource}})
//	p.Rotate(t)
//	p.Stop()
//	p.Restart(t)
package oidctest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// Default client credentials created by Start.
const (
	// JWTClientID gets RS256-signed JWT access tokens.
	JWTClientID = "mcp-client"
	// OpaqueClientID gets opaque access tokens that only introspection can
	// resolve.
	OpaqueClientID = "mcp-client-opaque"
	// ResourceServerID is the confidential client a resource server (the
	// gateway) uses to call the introspection endpoint. It may introspect
	// every token.
	ResourceServerID = "scopegate-gateway"

	// ClientSecret is the secret of the default clients. It contains only
	// characters that need no form encoding in HTTP Basic credentials.
	ClientSecret = "test-secret-0123456789"
)

// Options configure a Provider. The zero value is usable.
type Options struct {
	// Audience is the `aud` of access tokens whose token request names no
	// resource. Empty means the client ID, as zitadel does.
	Audience []string
	// TokenLifetime of access tokens; default 5 minutes.
	TokenLifetime time.Duration
	// Clients are registered in addition to the three default clients.
	Clients []Client
	// OAuthMetadataOnly serves the discovery document only at the RFC 8414
	// location, /.well-known/oauth-authorization-server, and answers 404 at
	// /.well-known/openid-configuration, like a plain OAuth server.
	OAuthMetadataOnly bool
	// Registration serves RFC 7591 dynamic client registration at
	// /register and advertises it as registration_endpoint. Registered
	// clients are confidential and may introspect every token.
	Registration bool
	// RegisteredSecretLifetime sets client_secret_expires_at of registered
	// clients; zero means their secrets never expire.
	RegisteredSecretLifetime time.Duration
	// PublicClients lets RFC 7591 registration (with Registration) create
	// public clients (token_endpoint_auth_method "none") for the
	// authorization code grant with PKCE; see interactive.go.
	PublicClients bool
	// Login answers the login page of the authorization code flow in the
	// user's stead; nil approves every request as DefaultUser.
	Login func(LoginRequest) LoginAnswer
	// AlwaysRefresh issues refresh tokens to public clients whether or not
	// they ask for offline_access, as many providers do.
	AlwaysRefresh bool
	// IntrospectionRewrite, when set, edits every 200 introspection answer
	// (active or not) before it is sent, to imitate providers that omit or
	// get fields wrong. Keys are the RFC 7662 member names; delete to omit.
	IntrospectionRewrite func(resp map[string]any)
	// AccessTokenTyp is the JWS typ of JWT access tokens from the token
	// endpoint; default DefaultAccessTokenTyp ("at+JWT", as Nextcloud's
	// oidc app). Set "JWT" to imitate providers that do not follow
	// RFC 9068. Tokens from MintJWT and BadToken always say "JWT".
	AccessTokenTyp string
}

// Client is a confidential client that may use the client_credentials grant.
type Client struct {
	ID     string
	Secret string
	// Subject is the `sub` of its tokens; default "sub-" + ID, so tests can
	// tell subject and client apart.
	Subject string
	// Audience overrides Options.Audience for this client.
	Audience []string
	// Opaque selects opaque access tokens instead of JWTs.
	Opaque bool
	// Introspector lets the client introspect every token, as a resource
	// server does.
	Introspector bool
}

// Provider is a running OpenID provider.
type Provider struct {
	issuer  string
	addr    string
	handler http.Handler
	store   *storage
	// secretLifetime of dynamically registered clients; zero is forever.
	secretLifetime time.Duration

	// publicClients and loginFunc: Options.PublicClients and Login.
	publicClients bool
	loginFunc     func(LoginRequest) LoginAnswer

	mu       sync.Mutex
	server   *http.Server
	done     chan struct{}
	hits     map[string]int
	requests []Request
	logins   []LoginRequest
}

// Start runs a provider on a free loopback port until the test ends.
func Start(t testing.TB, opts Options) *Provider {
	t.Helper()
	p, err := start(opts)
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	t.Cleanup(p.Stop)
	return p
}

func start(opts Options) (*Provider, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	p := &Provider{addr: ln.Addr().String(), hits: map[string]int{}, publicClients: opts.PublicClients, loginFunc: opts.Login}
	p.issuer = "http://" + p.addr

	lifetime := opts.TokenLifetime
	if lifetime <= 0 {
		lifetime = 5 * time.Minute
	}
	key, err := newSigningKey()
	if err != nil {
		ln.Close()
		return nil, err
	}
	p.store = &storage{
		issuer:    p.Issuer,
		lifetime:  lifetime,
		clients:   map[string]*client{},
		active:    key,
		published: []*signingKey{key},
		tokens:    map[string]*issuedToken{},
		ia: interactiveState{
			alwaysRefresh: opts.AlwaysRefresh,
			requests:      map[string]*authRequest{},
			codes:         map[string]string{},
			refresh:       map[string]*refreshToken{},
		},
	}
	defaults := []Client{
		{ID: JWTClientID, Secret: ClientSecret},
		{ID: OpaqueClientID, Secret: ClientSecret, Opaque: true},
		{ID: ResourceServerID, Secret: ClientSecret, Introspector: true},
	}
	for _, c := range append(defaults, opts.Clients...) {
		if c.ID == "" || c.Secret == "" {
			ln.Close()
			return nil, errors.New("client needs an ID and a secret")
		}
		sub := c.Subject
		if sub == "" {
			sub = "sub-" + c.ID
		}
		aud := c.Audience
		if len(aud) == 0 {
			aud = opts.Audience
		}
		p.store.clients[c.ID] = &client{
			id: c.ID, secret: c.Secret, subject: sub, audience: slices.Clone(aud),
			opaque: c.Opaque, introspector: c.Introspector,
		}
	}

	var cryptoKey [32]byte
	_, _ = rand.Read(cryptoKey[:])
	cfg := &op.Config{
		CryptoKey:             cryptoKey,
		AuthMethodPost:        true,
		CodeMethodS256:        true,
		GrantTypeRefreshToken: true,
		SupportedScopes:       []string{"openid", "notes:read", "notes:write", "files:read"},
	}
	provider, err := op.NewProvider(cfg, p.store, op.StaticIssuer(p.issuer),
		op.WithAllowInsecure(),
		op.WithHttpInterceptors(resourceInterceptor),
	)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("create provider: %w", err)
	}
	typ := opts.AccessTokenTyp
	if typ == "" {
		typ = DefaultAccessTokenTyp
	}
	p.handler = p.withLogin(p.retypeAccessTokens(provider, typ))
	if opts.IntrospectionRewrite != nil {
		p.handler = rewriteIntrospection(p.handler, opts.IntrospectionRewrite)
	}
	if opts.Registration {
		p.secretLifetime = opts.RegisteredSecretLifetime
		p.handler = p.withRegistration(p.handler)
	}
	if opts.OAuthMetadataOnly {
		p.handler = oauthMetadataOnly(p.handler)
	}
	p.serve(ln)
	return p, nil
}

// resourceInterceptor reads RFC 8707 `resource` (and the older `audience`)
// parameters of token and authorization requests, so the storage can put
// them into `aud`.
func resourceInterceptor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodPost && r.URL.Path == "/oauth/token") || r.URL.Path == "/authorize" {
			if err := r.ParseForm(); err == nil {
				aud := append(slices.Clone(r.Form["resource"]), r.Form["audience"]...)
				if len(aud) > 0 {
					r = r.WithContext(withRequestAudience(r.Context(), aud))
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// withLogin serves the login page beside the provider.
func (p *Provider) withLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == loginPath {
			p.login(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

const (
	oidcDiscoveryPath = "/.well-known/openid-configuration"
	oauthMetadataPath = "/.well-known/oauth-authorization-server"
)

// oauthMetadataOnly moves the discovery document to the RFC 8414 path. The
// OpenID document has every field RFC 8414 defines, so it serves as is.
func oauthMetadataOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case oidcDiscoveryPath:
			http.NotFound(w, r)
			return
		case oauthMetadataPath:
			r = r.Clone(r.Context())
			r.URL.Path = oidcDiscoveryPath
		}
		next.ServeHTTP(w, r)
	})
}

// rewriteIntrospection applies rewrite to 200 answers of the introspection
// endpoint.
func rewriteIntrospection(next http.Handler, rewrite func(map[string]any)) http.Handler {
	return rewriteJSONAnswer(next, "/oauth/introspect", rewrite)
}

// rewriteJSONAnswer applies rewrite to the JSON object of every 200 answer
// at path; other answers, and bodies that are no JSON object, pass as they
// were.
func rewriteJSONAnswer(next http.Handler, path string, rewrite func(map[string]any)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var resp map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &resp) != nil {
			copyResponse(w, rec)
			return
		}
		rewrite(resp)
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
}

func (p *Provider) serve(ln net.Listener) {
	count := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recordRequest(r)
		p.mu.Lock()
		p.hits[r.URL.Path]++
		p.requests = append(p.requests, rec)
		p.mu.Unlock()
		p.handler.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: count, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	p.mu.Lock()
	p.server, p.done = srv, done
	p.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // returns http.ErrServerClosed on Stop
	}()
}

// Issuer is the issuer URL, http://127.0.0.1:<port> with no trailing slash.
func (p *Provider) Issuer() string { return p.issuer }

// Addr is the host:port the provider listens on.
func (p *Provider) Addr() string { return p.addr }

// TokenEndpoint, IntrospectionEndpoint, UserinfoEndpoint and JWKSURI are the
// endpoints that discovery advertises.
func (p *Provider) TokenEndpoint() string         { return p.issuer + "/oauth/token" }
func (p *Provider) IntrospectionEndpoint() string { return p.issuer + "/oauth/introspect" }
func (p *Provider) UserinfoEndpoint() string      { return p.issuer + "/userinfo" }
func (p *Provider) JWKSURI() string               { return p.issuer + "/keys" }

// Hits counts the requests the provider received for a path (such as
// "/keys" or "/oauth/introspect"), so tests can check how hard a client
// leans on it.
func (p *Provider) Hits(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[path]
}

// Stop closes the listener and every open connection, so clients see
// connection refused until Restart. It is safe to call twice.
func (p *Provider) Stop() {
	p.mu.Lock()
	srv, done := p.server, p.done
	p.server = nil
	p.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	<-done
}

// Restart serves again on the same port with the same keys, clients and
// tokens, like a provider coming back after an outage.
func (p *Provider) Restart(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	running := p.server != nil
	p.mu.Unlock()
	if running {
		t.Fatal("oidctest: Restart while running")
	}
	var ln net.Listener
	var err error
	// The port was ours a moment ago; binding can still fail briefly while
	// the kernel finishes closing the old socket.
	for range 100 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("oidctest: relisten on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// Rotate makes a new signing key the active one and returns its kid. The old
// keys stay in the JWKS until RetireKey, so tokens they signed still verify.
func (p *Provider) Rotate(t testing.TB) string {
	t.Helper()
	k, err := newSigningKey()
	if err != nil {
		t.Fatalf("oidctest: rotate: %v", err)
	}
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.active = k
	p.store.published = append(p.store.published, k)
	return k.id
}

// RetireKey removes a key from the JWKS. Retiring the active key is refused:
// the provider would sign tokens nobody can verify.
func (p *Provider) RetireKey(t testing.TB, kid string) {
	t.Helper()
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	if p.store.active.id == kid {
		t.Fatalf("oidctest: cannot retire the active key %s", kid)
	}
	i := slices.IndexFunc(p.store.published, func(k *signingKey) bool { return k.id == kid })
	if i < 0 {
		t.Fatalf("oidctest: key %s is not published", kid)
	}
	p.store.published = slices.Delete(p.store.published, i, i+1)
}

// ActiveKeyID is the kid new JWTs are signed with.
func (p *Provider) ActiveKeyID() string {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	return p.store.active.id
}

// PublishedKeyIDs are the kids in the JWKS, oldest first.
func (p *Provider) PublishedKeyIDs() []string {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	ids := make([]string, 0, len(p.store.published))
	for _, k := range p.store.published {
		ids = append(ids, k.id)
	}
	return ids
}

// RevokeAll forgets every issued token, so introspection answers inactive.
func (p *Provider) RevokeAll() {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	clear(p.store.tokens)
}

// TokenRequest describes a client_credentials token request.
type TokenRequest struct {
	// ClientID and Secret of the requesting client; default JWTClientID, or
	// OpaqueClientID when Opaque is set.
	ClientID string
	Secret   string
	// Opaque asks for an opaque token by using the default opaque client.
	Opaque bool
	Scopes []string
	// Audience values are sent as RFC 8707 `resource` parameters and become
	// the token's `aud`.
	Audience []string
}

// TokenResponse is the token endpoint's answer.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// Token gets an access token from the token endpoint or fails the test.
func (p *Provider) Token(t testing.TB, req TokenRequest) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := p.RequestToken(ctx, req)
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	return resp.AccessToken
}

// RequestToken performs the client_credentials grant over HTTP.
func (p *Provider) RequestToken(ctx context.Context, req TokenRequest) (*TokenResponse, error) {
	id, secret := req.ClientID, req.Secret
	if id == "" {
		id = JWTClientID
		if req.Opaque {
			id = OpaqueClientID
		}
	}
	if secret == "" {
		secret = ClientSecret
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(req.Scopes) > 0 {
		form.Set("scope", strings.Join(req.Scopes, " "))
	}
	for _, a := range req.Audience {
		form.Add("resource", a)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, p.TokenEndpoint(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("build token request: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hreq.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	hresp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("token request: %w", err)
	}
	defer hresp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(hresp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read token response: %w", err)
	}
	if hresp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("token endpoint answered %d: %s", hresp.StatusCode, body)
	}
	var tr TokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, fmt.Errorf("decode token response: %w", err)
	}
	if tr.AccessToken == "" {
		return nil, fmt.Errorf("token response without access_token: %s", body)
	}
	return &tr, nil
}
