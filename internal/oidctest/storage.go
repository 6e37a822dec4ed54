package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// errUnsupported answers every flow this provider does not implement (the
// JWT profile grant, session termination).
var errUnsupported = errors.New("oidctest: flow not supported")

// signingKey is one RSA key the provider can sign with or publish.
type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey is the published half of a signingKey.
type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return &p.k.key.PublicKey }

func newSigningKey() (*signingKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate RSA key: %w", err)
	}
	return &signingKey{id: randomID("key-"), key: k}, nil
}

func randomID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return prefix + hex.EncodeToString(b)
}

// issuedToken is what the provider remembers of an access token, so that
// introspection and userinfo answer from the same source of truth.
type issuedToken struct {
	id        string
	clientID  string
	subject   string
	audience  []string
	scopes    []string
	issuedAt  time.Time
	expiresAt time.Time
}

// storage is a minimal in-memory op.Storage: confidential clients using the
// client_credentials grant, a rotating set of RSA keys, and the issued tokens.
type storage struct {
	issuer   func() string
	lifetime time.Duration

	mu        sync.Mutex
	clients   map[string]*client
	active    *signingKey
	published []*signingKey
	tokens    map[string]*issuedToken

	ia interactiveState // see interactive.go
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.ClientCredentialsStorage       = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
)

type requestAudienceKey struct{}

// withRequestAudience carries the RFC 8707 resource (or audience) values of
// a token request to ClientCredentialsTokenRequest, whose signature has no
// room for them.
func withRequestAudience(ctx context.Context, aud []string) context.Context {
	return context.WithValue(ctx, requestAudienceKey{}, aud)
}

func (s *storage) ClientCredentials(_ context.Context, clientID, clientSecret string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[clientID]
	if !ok || !c.secretValid(clientSecret) {
		return nil, errors.New("unknown client, wrong or expired secret")
	}
	return c, nil
}

func (s *storage) ClientCredentialsTokenRequest(ctx context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	s.mu.Lock()
	c, ok := s.clients[clientID]
	s.mu.Unlock()
	if !ok {
		return nil, errors.New("unknown client")
	}
	aud, _ := ctx.Value(requestAudienceKey{}).([]string)
	if len(aud) == 0 {
		aud = c.audience
	}
	return &clientCredentialsRequest{clientID: c.id, subject: c.subject, audience: aud, scopes: scopes}, nil
}

// clientCredentialsRequest keeps the client ID next to the subject, which
// oidc.JWTTokenRequest cannot.
type clientCredentialsRequest struct {
	clientID string
	subject  string
	audience []string
	scopes   []string
}

func (r *clientCredentialsRequest) GetSubject() string    { return r.subject }
func (r *clientCredentialsRequest) GetAudience() []string { return r.audience }
func (r *clientCredentialsRequest) GetScopes() []string   { return r.scopes }

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	g, ok := req.(grant)
	if !ok {
		return "", time.Time{}, errUnsupported
	}
	aud, err := tokenAudience(ctx, g)
	if err != nil {
		return "", time.Time{}, err
	}
	now := time.Now().UTC()
	tok := &issuedToken{
		id:        randomID("at-"),
		clientID:  g.grantClient(),
		subject:   g.GetSubject(),
		audience:  slices.Clone(aud),
		scopes:    slices.Clone(g.GetScopes()),
		issuedAt:  now,
		expiresAt: now.Add(s.lifetime),
	}
	s.mu.Lock()
	s.tokens[tok.id] = tok
	s.mu.Unlock()
	return tok.id, tok.expiresAt, nil
}

// GetPrivateClaimsFromRequest puts the granted scopes into the JWT. zitadel
// leaves the `scope` claim empty, and a resource server needs it.
func (s *storage) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	if len(req.GetScopes()) == 0 {
		return nil, nil
	}
	return map[string]any{"scope": strings.Join(req.GetScopes(), " ")}, nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) lookupToken(tokenID string) (*issuedToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[tokenID]
	if !ok {
		return nil, errors.New("unknown token")
	}
	if time.Now().After(tok.expiresAt) {
		return nil, errors.New("token expired")
	}
	return tok, nil
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, _, callerID string) error {
	s.mu.Lock()
	caller, ok := s.clients[callerID]
	s.mu.Unlock()
	if !ok {
		return errors.New("unknown introspecting client")
	}
	tok, err := s.lookupToken(tokenID)
	if err != nil {
		return err
	}
	// Like real providers, only a resource server or a client the token is
	// meant for may learn about it.
	if !caller.introspector && !slices.Contains(tok.audience, callerID) {
		return errors.New("client may not introspect this token")
	}
	resp.Scope = tok.scopes
	resp.ClientID = tok.clientID
	resp.TokenType = oidc.BearerToken
	resp.Expiration = oidc.FromTime(tok.expiresAt)
	resp.IssuedAt = oidc.FromTime(tok.issuedAt)
	resp.NotBefore = oidc.FromTime(tok.issuedAt)
	resp.Subject = tok.subject
	resp.Audience = tok.audience
	resp.Issuer = s.issuer()
	resp.JWTID = tok.id
	return nil
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, _, _ string) error {
	tok, err := s.lookupToken(tokenID)
	if err != nil {
		return err
	}
	info.Subject = tok.subject
	return nil
}

func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *storage) RevokeToken(_ context.Context, tokenID, _, _ string) *oidc.Error {
	s.mu.Lock()
	delete(s.tokens, tokenID)
	s.mu.Unlock()
	return nil
}

func (s *storage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[clientID]
	if !ok {
		return nil, errors.New("unknown client")
	}
	return c, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, clientID, clientSecret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[clientID]
	if !ok || !c.secretValid(clientSecret) {
		return errors.New("unknown client, wrong or expired secret")
	}
	return nil
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]op.Key, 0, len(s.published))
	for _, k := range s.published {
		keys = append(keys, publicKey{k})
	}
	return keys, nil
}

func (s *storage) Health(context.Context) error { return nil }

// The interactive flows live in interactive.go; the JWT profile grant and
// session termination are not implemented.

func (s *storage) TerminateSession(context.Context, string, string) error { return errUnsupported }
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errUnsupported
}
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errUnsupported
}

// client is a confidential client allowed only the client_credentials
// grant, or (public) a self-registered public client of the authorization
// code grant with PKCE and refresh tokens.
type client struct {
	public       bool
	redirectURIs []string
	id           string
	secret       string
	subject      string
	audience     []string
	opaque       bool
	introspector bool
	// registered marks a client created by dynamic registration, whose
	// secret may expire.
	registered bool
	expiresAt  time.Time
}

// secretValid checks the secret and its expiry.
func (c *client) secretValid(secret string) bool {
	return !c.public && c.secret == secret && (c.expiresAt.IsZero() || time.Now().Before(c.expiresAt))
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                       { return c.id }
func (c *client) RedirectURIs() []string              { return c.redirectURIs }
func (c *client) PostLogoutRedirectURIs() []string    { return nil }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	if c.public {
		return []oidc.ResponseType{oidc.ResponseTypeCode}
	}
	return nil
}
func (c *client) GrantTypes() []oidc.GrantType {
	if c.public {
		return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	}
	return []oidc.GrantType{oidc.GrantTypeClientCredentials}
}

// LoginURL is where /authorize sends the browser; relative to the issuer.
func (c *client) LoginURL(id string) string      { return loginPath + "?id=" + url.QueryEscape(id) }
func (c *client) IDTokenLifetime() time.Duration { return 5 * time.Minute }

// DevMode lets public clients use http redirect URIs (loopback, in tests).
func (c *client) DevMode() bool                        { return c.public }
func (c *client) IsScopeAllowed(string) bool           { return true }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) AccessTokenType() op.AccessTokenType {
	if c.opaque {
		return op.AccessTokenTypeBearer
	}
	return op.AccessTokenTypeJWT
}
