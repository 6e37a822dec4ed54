package nextcloud

import (
	"errors"
	"net/http"
)

// ErrNoCredentials is returned when a request to Nextcloud is attempted
// without credentials in its context; nothing is sent then.
var ErrNoCredentials = errors.New("no Nextcloud credentials for this request")

// Transport adds the credentials found in each request's context, and
// refuses to send a request that has none. Base defaults to
// http.DefaultTransport.
type Transport struct {
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	c, ok := CredentialsFrom(r.Context())
	if !ok {
		return nil, ErrNoCredentials
	}
	r = r.Clone(r.Context())
	c.Apply(r)
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		if n, ok := c.(UnauthorizedNotifier); ok {
			n.Unauthorized()
		}
	}
	return resp, err
}
