package oidctest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"
)

type registered struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	ExpiresAt    int64  `json:"client_secret_expires_at"`
}

func registerClient(t *testing.T, p *Provider, body string) (int, registered) {
	t.Helper()
	resp, err := http.Post(p.RegistrationEndpoint(), "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	defer resp.Body.Close()
	var out registered
	if resp.StatusCode == http.StatusCreated {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("decode registration: %v", err)
		}
	}
	return resp.StatusCode, out
}

func TestRegistration(t *testing.T) {
	for _, oauthOnly := range []bool{false, true} {
		p := Start(t, Options{Registration: true, OAuthMetadataOnly: oauthOnly})
		path := "/.well-known/openid-configuration"
		if oauthOnly {
			path = "/.well-known/oauth-authorization-server"
		}
		var doc map[string]any
		getJSON(t, p.Issuer()+path, &doc)
		if doc["registration_endpoint"] != p.RegistrationEndpoint() || doc["issuer"] != p.Issuer() {
			t.Errorf("%s: registration_endpoint %v, issuer %v", path, doc["registration_endpoint"], doc["issuer"])
		}
	}

	p := Start(t, Options{Registration: true})
	status, c := registerClient(t, p, `{"client_name":"gw","redirect_uris":["http://127.0.0.1:9/cb"],"token_endpoint_auth_method":"client_secret_basic"}`)
	if status != http.StatusCreated || c.ClientID == "" || c.ClientSecret == "" || c.ExpiresAt != 0 {
		t.Fatalf("registration: %d %+v", status, c)
	}
	if got := p.RegisteredClientIDs(); !slices.Equal(got, []string{c.ClientID}) {
		t.Errorf("registered clients %v, want [%s]", got, c.ClientID)
	}
	if got := p.ClientSecret(t, c.ClientID); got != c.ClientSecret {
		t.Errorf("ClientSecret %q, want the registered %q", got, c.ClientSecret)
	}
	opaque := p.Token(t, TokenRequest{Opaque: true, Audience: []string{testResource}})
	if status, got := introspect(t, p, c.ClientID, c.ClientSecret, opaque); status != http.StatusOK || !got.Active {
		t.Errorf("registered client introspection: %d active=%v", status, got.Active)
	}
	p.DeleteClient(t, c.ClientID)
	if status, _ := introspect(t, p, c.ClientID, c.ClientSecret, opaque); status != http.StatusUnauthorized {
		t.Errorf("deleted client introspection: status %d, want 401", status)
	}
	if status, _ := registerClient(t, p, `{"token_endpoint_auth_method":"none"}`); status != http.StatusBadRequest {
		t.Errorf("public client registration: %d, want 400", status)
	}
	if status, _ := registerClient(t, p, `not json`); status != http.StatusBadRequest {
		t.Errorf("malformed registration: %d, want 400", status)
	}
	if n := p.Hits("/register"); n != 3 {
		t.Errorf("registration hits %d, want 3", n)
	}
}

func TestRegisteredSecretExpiry(t *testing.T) {
	p := Start(t, Options{Registration: true, RegisteredSecretLifetime: time.Second})
	_, c := registerClient(t, p, `{}`)
	if time.Until(time.Unix(c.ExpiresAt, 0)) > 2*time.Second || c.ExpiresAt == 0 {
		t.Fatalf("client_secret_expires_at %d not about a second ahead", c.ExpiresAt)
	}
	opaque := p.Token(t, TokenRequest{Opaque: true})
	// Poll rather than sleep a fixed time: the secret must stop working
	// once it has expired.
	for range 100 {
		status, _ := introspect(t, p, c.ClientID, c.ClientSecret, opaque)
		if status == http.StatusUnauthorized {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("expired client secret still accepted")
}

func TestNoRegistrationByDefault(t *testing.T) {
	p := Start(t, Options{})
	var doc map[string]any
	getJSON(t, p.Issuer()+"/.well-known/openid-configuration", &doc)
	if _, ok := doc["registration_endpoint"]; ok {
		t.Error("registration_endpoint advertised without Options.Registration")
	}
	if status, _ := registerClient(t, p, `{}`); status == http.StatusCreated {
		t.Error("registration answered without Options.Registration")
	}
}
