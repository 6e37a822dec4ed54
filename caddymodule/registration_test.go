package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/caddymodule/internal/tokenverifier"
)

// registrar is a registration endpoint answering as Nextcloud's oidc app
// did in the recorded exchange (core/43): 201, a new client per call, a
// secret that expires an hour after issue.
type registrar struct {
	srv     *httptest.Server
	calls   atomic.Int64
	fail    atomic.Bool
	lastReq map[string]any
}

func newRegistrar(t *testing.T) *registrar {
	r := &registrar{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := r.calls.Add(1)
		if r.fail.Load() {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_client_metadata","error_description":"registration disabled"}`)
			return
		}
		json.NewDecoder(req.Body).Decode(&r.lastReq)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusCreated)
		now := time.Now().Unix()
		fmt.Fprintf(w, `{"client_name":"Scopegate MCP gateway","client_id":"client-%d","client_secret":"secret-%d","registration_access_token":"rat","registration_client_uri":"%s/register/client-%d","token_endpoint_auth_method":"client_secret_post","grant_types":["authorization_code"],"client_id_issued_at":%d,"client_secret_expires_at":%d,"token_type":"opaque"}`,
			n, n, r.srv.URL, n, now, now+3600)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func newRegistration(t *testing.T, reg *registrar, storage certmagic.Storage, now func() time.Time) *registration {
	return &registration{
		issuer:   "http://127.0.0.1:1",
		resource: "https://cloud.example.com/mcp",
		storage:  storage,
		metadata: func(context.Context) (*tokenverifier.ProviderMetadata, error) {
			return &tokenverifier.ProviderMetadata{RegistrationEndpoint: reg.srv.URL + "/register"}, nil
		},
		client: reg.srv.Client(),
		logger: zap.NewNop(),
		now:    now,
	}
}

func TestRegistration(t *testing.T) {
	reg := newRegistrar(t)
	storage := &certmagic.FileStorage{Path: t.TempDir()}
	clock := time.Now()
	now := func() time.Time { return clock }
	ctx := context.Background()

	r := newRegistration(t, reg, storage, now)
	id, secret, err := r.Credentials(ctx)
	if err != nil || id != "client-1" || secret != "secret-1" {
		t.Fatalf("first credentials: %q %q %v", id, secret, err)
	}
	if reg.lastReq["resource_url"] != "https://cloud.example.com/mcp" || reg.lastReq["token_endpoint_auth_method"] != "client_secret_basic" {
		t.Errorf("registration request = %v", reg.lastReq)
	}
	if uris, _ := reg.lastReq["redirect_uris"].([]any); len(uris) != 1 {
		t.Errorf("redirect_uris = %v (Nextcloud refuses a registration without them)", reg.lastReq["redirect_uris"])
	}

	// A restart (a new instance on the same storage) reuses the client.
	again := newRegistration(t, reg, storage, now)
	if id, _, err := again.Credentials(ctx); err != nil || id != "client-1" || reg.calls.Load() != 1 {
		t.Fatalf("after restart: %q %v, registrations %d", id, err, reg.calls.Load())
	}

	// The provider rejects it: forgotten, and the next use registers anew.
	again.Rejected(ctx, "client-1")
	if id, _, err := again.Credentials(ctx); err != nil || id != "client-2" {
		t.Fatalf("after rejection: %q %v", id, err)
	}
	// The first instance still holds client-1 in memory until it is
	// rejected too; storage already has client-2 for everyone else.
	if fresh, _, _ := newRegistration(t, reg, storage, now).Credentials(ctx); fresh != "client-2" {
		t.Errorf("storage holds %q, want client-2", fresh)
	}

	// An expired secret is replaced before use.
	clock = clock.Add(2 * time.Hour)
	if id, _, err := again.Credentials(ctx); err != nil || id != "client-3" {
		t.Fatalf("after expiry: %q %v", id, err)
	}
}

func TestRegistrationFailureBacksOff(t *testing.T) {
	reg := newRegistrar(t)
	reg.fail.Store(true)
	clock := time.Now()
	r := newRegistration(t, reg, &certmagic.FileStorage{Path: t.TempDir()}, func() time.Time { return clock })
	ctx := context.Background()
	_, _, err := r.Credentials(ctx)
	if err == nil || !strings.Contains(err.Error(), "registration disabled") {
		t.Fatalf("err = %v, want the provider's reason", err)
	}
	for range 5 {
		if _, _, err := r.Credentials(ctx); err == nil {
			t.Fatal("credentials while registration fails")
		}
	}
	if n := reg.calls.Load(); n != 1 {
		t.Fatalf("registration attempts inside the backoff = %d, want 1", n)
	}
	reg.fail.Store(false)
	clock = clock.Add(2 * time.Second)
	if id, _, err := r.Credentials(ctx); err != nil || id == "" {
		t.Fatalf("after the backoff: %q %v", id, err)
	}
}

func TestRegistrationWithoutEndpoint(t *testing.T) {
	reg := newRegistrar(t)
	r := newRegistration(t, reg, &certmagic.FileStorage{Path: t.TempDir()}, time.Now)
	r.metadata = func(context.Context) (*tokenverifier.ProviderMetadata, error) {
		return &tokenverifier.ProviderMetadata{}, nil
	}
	if _, _, err := r.Credentials(context.Background()); err == nil || !strings.Contains(err.Error(), "registration_endpoint") {
		t.Fatalf("err = %v", err)
	}
}
