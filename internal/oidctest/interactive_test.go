package oidctest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

const testRedirect = "http://127.0.0.1:9/callback"

// pkce returns a verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = randomID("verifier-") + randomID("-")
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func registerPublic(t *testing.T, p *Provider) string {
	t.Helper()
	status, c := registerClient(t, p, `{"client_name":"mcp app","redirect_uris":["`+testRedirect+`"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}`)
	if status != http.StatusCreated || c.ClientID == "" || c.ClientSecret != "" {
		t.Fatalf("public registration: %d %+v", status, c)
	}
	return c.ClientID
}

func authorizeURL(p *Provider, clientID, scope, challenge, method string, resource ...string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {testRedirect}, "scope": {scope}, "state": {"st-1"}}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", method)
	}
	for _, r := range resource {
		q.Add("resource", r)
	}
	return p.Issuer() + "/authorize?" + q.Encode()
}

type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	Error        string `json:"error"`
}

func postToken(t *testing.T, p *Provider, form url.Values) (int, tokenAnswer) {
	t.Helper()
	resp, err := http.PostForm(p.TokenEndpoint(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a tokenAnswer
	_ = json.NewDecoder(resp.Body).Decode(&a)
	return resp.StatusCode, a
}

// codeFlow runs authorize → login → code → token for scope and returns the
// token answer.
func codeFlow(t *testing.T, p *Provider, clientID, scope string) tokenAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	verifier, challenge := pkce()
	q, err := FollowAuthorization(ctx, authorizeURL(p, clientID, scope, challenge, "S256", testResource), testRedirect)
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("state") != "st-1" || q.Get("code") == "" {
		t.Fatalf("redirect query %v, want a code and state st-1", q)
	}
	status, a := postToken(t, p, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {testRedirect},
		"client_id": {clientID}, "code_verifier": {verifier}, "resource": {testResource}})
	if status != http.StatusOK || a.AccessToken == "" {
		t.Fatalf("code exchange: %d %+v", status, a)
	}
	// A code works once.
	if status, _ := postToken(t, p, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {testRedirect},
		"client_id": {clientID}, "code_verifier": {verifier}}); status == http.StatusOK {
		t.Errorf("a used code was exchanged again")
	}
	return a
}

func claimScopes(t *testing.T, p *Provider, tok string) (string, []string) {
	t.Helper()
	parsed, err := verify(t, p, tok, testResource)
	if err != nil {
		t.Fatalf("access token does not verify for %s: %v", testResource, err)
	}
	var scope string
	_ = parsed.Get("scope", &scope)
	sub, _ := parsed.Subject()
	return sub, strings.Fields(scope)
}

func TestAuthorizationCodeFlow(t *testing.T) {
	var asked []LoginRequest
	p := Start(t, Options{Registration: true, PublicClients: true, Login: func(r LoginRequest) LoginAnswer {
		asked = append(asked, r)
		return LoginAnswer{Subject: "alice"}
	}})
	var doc map[string]any
	getJSON(t, p.Issuer()+"/.well-known/openid-configuration", &doc)
	if m, _ := doc["code_challenge_methods_supported"].([]any); !slices.Contains(m, any("S256")) {
		t.Errorf("discovery code_challenge_methods_supported = %v, want S256", doc["code_challenge_methods_supported"])
	}
	if g, _ := doc["grant_types_supported"].([]any); !slices.Contains(g, any("refresh_token")) || !slices.Contains(g, any("authorization_code")) {
		t.Errorf("discovery grant_types_supported = %v", doc["grant_types_supported"])
	}
	client := registerPublic(t, p)

	// First login: reading only, no refresh token without offline_access.
	a := codeFlow(t, p, client, "openid notes:read")
	sub, scopes := claimScopes(t, p, a.AccessToken)
	if sub != "alice" || !slices.Equal(scopes, []string{"openid", "notes:read"}) || a.RefreshToken != "" {
		t.Fatalf("first token: sub %q scopes %v refresh %q", sub, scopes, a.RefreshToken)
	}
	if len(asked) != 1 || asked[0].ClientID != client || !slices.Equal(asked[0].Resource, []string{testResource}) || asked[0].CodeChallengeMethod != "S256" {
		t.Fatalf("login saw %+v", asked)
	}

	// Step-up: the same flow with a larger scope, and offline_access for a
	// refresh token.
	b := codeFlow(t, p, client, "openid notes:read notes:write offline_access")
	if _, scopes := claimScopes(t, p, b.AccessToken); !slices.Contains(scopes, "notes:write") || b.RefreshToken == "" {
		t.Fatalf("step-up token: scopes %v, refresh %q", scopes, b.RefreshToken)
	}

	// Refresh: same grant, rotated; it cannot widen the scope.
	status, r := postToken(t, p, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {b.RefreshToken}, "client_id": {client}})
	if status != http.StatusOK || r.AccessToken == "" || r.RefreshToken == "" || r.RefreshToken == b.RefreshToken {
		t.Fatalf("refresh: %d %+v", status, r)
	}
	if _, scopes := claimScopes(t, p, r.AccessToken); !slices.Contains(scopes, "notes:write") {
		t.Errorf("refreshed token scopes %v", scopes)
	}
	if status, _ := postToken(t, p, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {b.RefreshToken}, "client_id": {client}}); status == http.StatusOK {
		t.Errorf("a rotated refresh token worked again")
	}
	if status, _ := postToken(t, p, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.RefreshToken}, "client_id": {client}, "scope": {"openid files:write"}}); status == http.StatusOK {
		t.Errorf("a refresh widened the scope")
	}

	// The logging front saw every token request with its resource, and
	// secrets only as "…".
	var tokens int
	for _, req := range p.Requests() {
		if req.Path != "/oauth/token" {
			continue
		}
		tokens++
		if v := req.Params.Get("code_verifier"); v != "" && v != "…" {
			t.Errorf("request log holds a code verifier")
		}
		if v := req.Params.Get("refresh_token"); v != "" && v != "…" {
			t.Errorf("request log holds a refresh token")
		}
	}
	if tokens < 6 {
		t.Errorf("request log has %d token requests, want at least 6", tokens)
	}
}

func TestAlwaysRefresh(t *testing.T) {
	p := Start(t, Options{Registration: true, PublicClients: true, AlwaysRefresh: true})
	a := codeFlow(t, p, registerPublic(t, p), "openid notes:read")
	if a.RefreshToken == "" {
		t.Fatalf("AlwaysRefresh: no refresh token for %q", a.Scope)
	}
}

func TestAuthorizationRefusals(t *testing.T) {
	p := Start(t, Options{Registration: true, PublicClients: true})
	client := registerPublic(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, challenge := pkce()

	for name, u := range map[string]string{
		"no PKCE":    authorizeURL(p, client, "openid", "", "", testResource),
		"plain PKCE": authorizeURL(p, client, "openid", challenge, "plain", testResource),
	} {
		q, err := FollowAuthorization(ctx, u, testRedirect)
		if err == nil && q.Get("code") != "" {
			t.Errorf("%s: got a code", name)
		}
	}
	if n := len(p.Logins()); n != 0 {
		t.Errorf("refused requests reached the login page %d times", n)
	}

	// A wrong verifier, and a resource that was not authorized.
	_, challenge = pkce()
	q, err := FollowAuthorization(ctx, authorizeURL(p, client, "openid", challenge, "S256", testResource), testRedirect)
	if err != nil || q.Get("code") == "" {
		t.Fatalf("authorize: %v %v", q, err)
	}
	other, _ := pkce()
	if status, _ := postToken(t, p, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {testRedirect}, "client_id": {client}, "code_verifier": {other}}); status == http.StatusOK {
		t.Errorf("a wrong code_verifier was accepted")
	}

	// The login page denies.
	deny := Start(t, Options{Registration: true, PublicClients: true, Login: func(LoginRequest) LoginAnswer { return LoginAnswer{Deny: true} }})
	dc := registerPublic(t, deny)
	q, err = FollowAuthorization(ctx, authorizeURL(deny, dc, "openid", challenge, "S256", testResource), testRedirect)
	if err != nil || q.Get("error") != "access_denied" || q.Get("code") != "" {
		t.Errorf("denied login: %v %v, want error=access_denied", q, err)
	}

	// Public clients exist only with PublicClients; and they cannot use
	// client_credentials with an empty secret.
	conf := Start(t, Options{Registration: true})
	if status, _ := registerClient(t, conf, `{"redirect_uris":["`+testRedirect+`"],"token_endpoint_auth_method":"none"}`); status != http.StatusBadRequest {
		t.Errorf("public registration without PublicClients: %d", status)
	}
	if status, _ := postToken(t, p, url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {""}}); status == http.StatusOK {
		t.Errorf("a public client got a client_credentials token")
	}
}

func TestAuthorizationResourceMustBeAuthorized(t *testing.T) {
	p := Start(t, Options{Registration: true, PublicClients: true})
	client := registerPublic(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	verifier, challenge := pkce()
	q, err := FollowAuthorization(ctx, authorizeURL(p, client, "openid", challenge, "S256", testResource), testRedirect)
	if err != nil {
		t.Fatal(err)
	}
	if status, a := postToken(t, p, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {testRedirect},
		"client_id": {client}, "code_verifier": {verifier}, "resource": {"http://127.0.0.1:9/other"}}); status == http.StatusOK {
		t.Errorf("a token for a resource that was not authorized: %+v", a)
	}
}
