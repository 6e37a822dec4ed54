package oidctest

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The interactive side of the provider: the authorization code grant with
// PKCE S256 for public clients registered by RFC 7591 (with
// Options.PublicClients), RFC 8707 `resource` on the authorization request
// becoming the token's `aud`, refresh tokens (when offline_access is
// granted, as OpenID Connect has it), and a login page a test approves
// programmatically (Options.Login). A client that asks again with a larger
// scope — a step-up — simply goes through the same flow.

// DefaultUser is the subject a login approves when Options.Login is nil.
const DefaultUser = "user-1"

// loginPath is the provider's login page; zitadel's op redirects there
// from /authorize with the auth request's id.
const loginPath = "/login"

// LoginRequest is what the login page shows the user: who asks for what.
type LoginRequest struct {
	ClientID    string
	RedirectURI string
	Scopes      []string
	// Resource are the RFC 8707 resource indicators of the request.
	Resource []string
	// CodeChallengeMethod is always S256: other requests never get here.
	CodeChallengeMethod string
}

// LoginAnswer is the user's answer. Deny sends the client access_denied.
type LoginAnswer struct {
	Subject string
	Deny    bool
}

// authRequest is one authorization request, from /authorize to the code's
// exchange.
type authRequest struct {
	id, clientID, redirectURI, state, nonce string
	scopes, audience                        []string
	responseType                            oidc.ResponseType
	responseMode                            oidc.ResponseMode
	challenge                               *oidc.CodeChallenge
	subject                                 string
	authTime                                time.Time
	done                                    bool
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string                 { return a.audience }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

// refreshToken is what a refresh token stands for: the original grant.
type refreshToken struct {
	id, clientID, subject string
	audience, scopes      []string
	authTime              time.Time
	current               []string // scopes of this exchange (a subset)
}

var _ op.RefreshTokenRequest = (*refreshToken)(nil)

func (r *refreshToken) GetAMR() []string       { return []string{"pwd"} }
func (r *refreshToken) GetAudience() []string  { return r.audience }
func (r *refreshToken) GetAuthTime() time.Time { return r.authTime }
func (r *refreshToken) GetClientID() string    { return r.clientID }
func (r *refreshToken) GetScopes() []string {
	if r.current != nil {
		return r.current
	}
	return r.scopes
}
func (r *refreshToken) GetSubject() string          { return r.subject }
func (r *refreshToken) SetCurrentScopes(s []string) { r.current = s }
func (r *refreshToken) clone() *refreshToken        { c := *r; return &c }

func (r *refreshToken) grantClient() string             { return r.clientID }
func (a *authRequest) grantClient() string              { return a.clientID }
func (c *clientCredentialsRequest) grantClient() string { return c.clientID }

// interactiveState is the storage's part for interactive flows.
type interactiveState struct {
	alwaysRefresh bool // Options.AlwaysRefresh

	mu       sync.Mutex
	requests map[string]*authRequest
	codes    map[string]string // code → auth request id
	refresh  map[string]*refreshToken
}

func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with S256 is required")
	}
	aud, _ := ctx.Value(requestAudienceKey{}).([]string)
	if len(aud) == 0 {
		aud = []string{req.ClientID}
	}
	scopes := slices.Clone([]string(req.Scopes))
	if s.ia.alwaysRefresh && !slices.Contains(scopes, oidc.ScopeOfflineAccess) {
		// zitadel issues refresh tokens for offline_access only.
		scopes = append(scopes, oidc.ScopeOfflineAccess)
	}
	a := &authRequest{
		id: randomID("ar-"), clientID: req.ClientID, redirectURI: req.RedirectURI,
		state: req.State, nonce: req.Nonce,
		scopes: scopes, audience: slices.Clone(aud),
		responseType: req.ResponseType, responseMode: req.ResponseMode,
		challenge: &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod},
	}
	s.ia.mu.Lock()
	defer s.ia.mu.Unlock()
	s.ia.requests[a.id] = a
	return a, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.ia.mu.Lock()
	defer s.ia.mu.Unlock()
	a, ok := s.ia.requests[id]
	if !ok {
		return nil, errors.New("unknown auth request")
	}
	return a, nil
}

func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.ia.mu.Lock()
	defer s.ia.mu.Unlock()
	a, ok := s.ia.requests[s.ia.codes[code]]
	if !ok {
		return nil, errors.New("unknown or used code")
	}
	return a, nil
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.ia.mu.Lock()
	defer s.ia.mu.Unlock()
	if _, ok := s.ia.requests[id]; !ok {
		return errors.New("unknown auth request")
	}
	s.ia.codes[code] = id
	return nil
}

// DeleteAuthRequest runs after the code's exchange: a code works once.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.ia.mu.Lock()
	defer s.ia.mu.Unlock()
	delete(s.ia.requests, id)
	for code, rid := range s.ia.codes {
		if rid == id {
			delete(s.ia.codes, code)
		}
	}
	return nil
}

func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	access, exp, err := s.CreateAccessToken(ctx, req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	rt := &refreshToken{id: randomID("rt-"), subject: req.GetSubject(), audience: slices.Clone(req.GetAudience())}
	switch g := req.(type) {
	case *authRequest:
		rt.clientID, rt.scopes, rt.authTime = g.clientID, slices.Clone(g.scopes), g.authTime
	case *refreshToken:
		// Rotation: the new token stands for the same original grant.
		rt.clientID, rt.scopes, rt.authTime = g.clientID, slices.Clone(g.scopes), g.authTime
	default:
		return "", "", time.Time{}, errUnsupported
	}
	s.ia.mu.Lock()
	defer s.ia.mu.Unlock()
	if current != "" {
		delete(s.ia.refresh, current)
	}
	s.ia.refresh[rt.id] = rt
	return access, rt.id, exp, nil
}

func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.ia.mu.Lock()
	defer s.ia.mu.Unlock()
	rt, ok := s.ia.refresh[token]
	if !ok {
		return nil, op.ErrInvalidRefreshToken
	}
	return rt.clone(), nil
}

func (s *storage) GetRefreshTokenInfo(_ context.Context, clientID, token string) (string, string, error) {
	s.ia.mu.Lock()
	defer s.ia.mu.Unlock()
	rt, ok := s.ia.refresh[token]
	if !ok || rt.clientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.subject, rt.id, nil
}

// grant is what every token request kind tells about its grant.
type grant interface {
	op.TokenRequest
	grantClient() string
}

// tokenAudience is the `aud` of an access token: a token request's own
// RFC 8707 resource values must be among those authorized (they narrow
// it); without any, the grant's audience stands.
func tokenAudience(ctx context.Context, g grant) ([]string, error) {
	aud, _ := ctx.Value(requestAudienceKey{}).([]string)
	if _, cc := g.(*clientCredentialsRequest); cc || len(aud) == 0 {
		return g.GetAudience(), nil
	}
	for _, a := range aud {
		if !slices.Contains(g.GetAudience(), a) {
			return nil, oidc.ErrInvalidRequest().WithDescription("invalid_target: resource %s was not authorized", a)
		}
	}
	return aud, nil
}

// login is the login page: the test's Login function stands in for the
// user, then the browser goes back to zitadel's callback, which issues the
// code.
func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	s := p.store
	s.ia.mu.Lock()
	a, ok := s.ia.requests[id]
	var req LoginRequest
	if ok {
		req = LoginRequest{ClientID: a.clientID, RedirectURI: a.redirectURI, Scopes: slices.Clone(a.scopes),
			Resource: slices.Clone(a.audience), CodeChallengeMethod: string(a.challenge.Method)}
	}
	s.ia.mu.Unlock()
	if !ok {
		http.Error(w, "unknown authorization request", http.StatusBadRequest)
		return
	}
	answer := LoginAnswer{Subject: DefaultUser}
	if p.loginFunc != nil {
		answer = p.loginFunc(req)
	}
	p.mu.Lock()
	p.logins = append(p.logins, req)
	p.mu.Unlock()
	if answer.Deny || answer.Subject == "" {
		u, err := url.Parse(req.RedirectURI)
		if err != nil {
			http.Error(w, "bad redirect uri", http.StatusBadRequest)
			return
		}
		q := u.Query()
		q.Set("error", "access_denied")
		q.Set("state", a.state)
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
		return
	}
	s.ia.mu.Lock()
	a.subject, a.authTime, a.done = answer.Subject, time.Now().UTC(), true
	s.ia.mu.Unlock()
	http.Redirect(w, r, p.issuer+"/authorize/callback?id="+url.QueryEscape(id), http.StatusFound)
}

// Logins returns the login requests the page has shown, oldest first.
func (p *Provider) Logins() []LoginRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.logins)
}

// Request is one request the provider received, as a logging front in
// front of it would record it. Credentials are left out: the form holds
// parameter names with values only for non-secret parameters.
type Request struct {
	Method, Path string
	// Params are the query (GET) or form (POST) parameters; the values of
	// code, code_verifier, refresh_token, client_secret and token are
	// replaced by "…".
	Params url.Values
}

var secretParams = []string{"code", "code_verifier", "refresh_token", "client_secret", "token", "client_assertion"}

func recordRequest(r *http.Request) Request {
	params := url.Values{}
	for k, v := range r.URL.Query() {
		params[k] = slices.Clone(v)
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if err := r.ParseForm(); err == nil {
			for k, v := range r.PostForm {
				params[k] = slices.Clone(v)
			}
		}
	}
	for _, k := range secretParams {
		if vs, ok := params[k]; ok {
			for i := range vs {
				vs[i] = "…"
			}
		}
	}
	return Request{Method: r.Method, Path: r.URL.Path, Params: params}
}

// Requests returns every request received so far, oldest first.
func (p *Provider) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requests)
}

// FollowAuthorization does what a browser does with an authorization URL:
// it follows the redirects (through the login page, which Options.Login
// answers) until one points at redirectURI, and returns that redirect's
// query (code, state, iss, or error). It never requests redirectURI
// itself.
func FollowAuthorization(ctx context.Context, authURL, redirectURI string) (url.Values, error) {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := authURL
	for range 10 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return nil, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			return nil, errors.New("authorization: " + resp.Status + " without a redirect at " + req.URL.Path)
		}
		if strings.HasPrefix(loc.String(), redirectURI) {
			return loc.Query(), nil
		}
		next = loc.String()
	}
	return nil, errors.New("authorization: too many redirects")
}
