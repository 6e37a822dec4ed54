package mcpbackend

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestWarnSelfAddress(t *testing.T) {
	tests := []struct {
		nextcloud string
		hosts     []string
		warn      bool
	}{
		{"https://cloud.example.com", []string{"cloud.example.com"}, true},
		{"https://Cloud.Example.com:443/nextcloud", []string{"cloud.example.com:443"}, true},
		{"http://[2001:db8::1]:8080", []string{"[2001:db8::1]"}, true},
		{"http://127.0.0.1:8080", []string{"localhost"}, false},
		{"http://localhost:8080", []string{"localhost"}, false},
		{"http://nextcloud:80", []string{"cloud.example.com"}, false},
		{"http://10.0.0.5", nil, false},
	}
	for _, tt := range tests {
		core, logs := observer.New(zap.WarnLevel)
		h := &Handler{logger: zap.New(core)}
		h.warnSelfAddress(tt.nextcloud, tt.hosts)
		if got := logs.FilterMessageSnippet("own public address").Len() == 1; got != tt.warn {
			t.Errorf("nextcloud %s, hosts %v: warned %v, want %v", tt.nextcloud, tt.hosts, got, tt.warn)
		}
	}
}

// TestRefusalWithoutGatewayIsLogged: the 401 for a request that did not
// pass mcp_gateway is logged, without the request's credentials.
func TestRefusalWithoutGatewayIsLogged(t *testing.T) {
	h := &Handler{Nextcloud: "http://127.0.0.1:1", Apps: []string{"notes"}}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()
	core, logs := observer.New(zap.WarnLevel)
	h.logger = zap.New(core)
	r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader("{}"))
	r.Header.Set("Authorization", "Bearer secret-token")
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{}))
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, nil); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusUnauthorized {
		t.Errorf("status %d", w.Code)
	}
	entries := logs.FilterMessageSnippet("did not pass mcp_gateway").All()
	if len(entries) != 1 {
		t.Fatalf("logged: %v", logs.All())
	}
	for _, f := range entries[0].Context {
		if strings.Contains(f.String, "secret-token") {
			t.Errorf("token logged in %s", f.Key)
		}
	}
}
