package tokenverifier

import "context"

// ClientSource gives the gateway's own client credentials for
// introspection. They may be static (an admin-created client) or obtained
// by dynamic registration, which can expire or be revoked: Rejected tells
// the source that the provider refused them, so it can register anew.
type ClientSource interface {
	// Credentials returns the client id and secret to authenticate with.
	// An error means there are none yet: the token is then not judged
	// (ErrUnavailable), never accepted.
	Credentials(ctx context.Context) (id, secret string, err error)
	// Rejected reports that the provider refused the credentials with id.
	Rejected(ctx context.Context, id string)
}

// StaticClient is a client whose credentials were configured.
type StaticClient struct {
	ID, Secret string
}

// Credentials implements ClientSource.
func (s StaticClient) Credentials(context.Context) (string, string, error) {
	return s.ID, s.Secret, nil
}

// Rejected implements ClientSource; configured credentials cannot renew
// themselves, so the refusal is only surfaced as unavailability.
func (StaticClient) Rejected(context.Context, string) {}
