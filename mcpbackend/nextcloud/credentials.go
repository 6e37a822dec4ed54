package nextcloud

import (
	"context"
	"net/http"
)

// Credentials authenticate one request to Nextcloud. The backend never
// invents credentials: they are either the MCP request's own bearer token
// or the single app password configured for a single-user deployment.
type Credentials interface {
	// Apply sets the Authorization header on r.
	Apply(r *http.Request)
	// User is the login name when it is known without asking Nextcloud
	// (basic credentials); empty for bearer tokens.
	User() string
}

// Bearer forwards an OAuth access token.
type Bearer string

// Apply implements Credentials.
func (b Bearer) Apply(r *http.Request) { r.Header.Set("Authorization", "Bearer "+string(b)) }

// User implements Credentials; a bearer token does not name its user.
func (Bearer) User() string { return "" }

// Basic is a user name with an app password.
type Basic struct {
	Username string
	Password string
}

// Apply implements Credentials.
func (b Basic) Apply(r *http.Request) { r.SetBasicAuth(b.Username, b.Password) }

// User implements Credentials.
func (b Basic) User() string { return b.Username }

type credentialsKey struct{}

// WithCredentials returns a context carrying the credentials for the
// Nextcloud calls made while serving one MCP request.
func WithCredentials(ctx context.Context, c Credentials) context.Context {
	return context.WithValue(ctx, credentialsKey{}, c)
}

// CredentialsFrom returns the credentials stored by WithCredentials.
func CredentialsFrom(ctx context.Context) (Credentials, bool) {
	c, ok := ctx.Value(credentialsKey{}).(Credentials)
	return c, ok && c != nil
}

// Anonymous sends no credentials, for Nextcloud's public endpoints (Login
// Flow v2). It is explicit so that the Transport still refuses requests
// that simply carry no credentials.
type Anonymous struct{}

// Apply implements Credentials.
func (Anonymous) Apply(*http.Request) {}

// User implements Credentials.
func (Anonymous) User() string { return "" }

// UnauthorizedNotifier is implemented by credentials that want to know
// when Nextcloud refuses them with 401 (an app password the user revoked):
// the Transport calls Unauthorized on every such answer.
type UnauthorizedNotifier interface {
	Unauthorized()
}
