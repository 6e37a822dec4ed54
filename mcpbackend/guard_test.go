package mcpbackend_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/mcpbackend"
)

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

func postInit(t *testing.T, url, host string, h map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(initBody))
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestOriginAllowList: the backend itself refuses a browser Origin that
// is not its own (DNS rebinding, cross-site requests), on an allowed Host
// too, as the Streamable HTTP transport requires of every server.
func TestOriginAllowList(t *testing.T) {
	h := &mcpbackend.Handler{AllowedHosts: []string{"mcp.example.com"}, AllowedOrigins: []string{"https://app.example.org"}, Apps: []string{"notes"}}
	_, srv := provision(t, h, nextcloudfake.Options{})
	tests := []struct {
		host   string
		origin []string
		want   int
	}{
		{"mcp.example.com", []string{"http://evil.example.com"}, http.StatusForbidden},
		{"mcp.example.com", []string{"null"}, http.StatusForbidden},
		{"mcp.example.com", []string{"https://mcp.example.com.evil.example"}, http.StatusForbidden},
		{"mcp.example.com", []string{"https://mcp.example.com", "http://evil.example.com"}, http.StatusForbidden},
		{"mcp.example.com", []string{"http://localhost:6274"}, http.StatusForbidden},
		{"localhost:8443", []string{"http://evil.example.com"}, http.StatusForbidden},
		{"mcp.example.com", nil, http.StatusOK},
		{"mcp.example.com", []string{"https://mcp.example.com"}, http.StatusOK},
		{"mcp.example.com", []string{"https://MCP.example.com:443/"}, http.StatusOK},
		{"mcp.example.com", []string{"https://app.example.org"}, http.StatusOK},
		{"localhost:8443", []string{"http://localhost:6274"}, http.StatusOK},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(initBody))
		req.Host = tt.host
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		for _, o := range tt.origin {
			req.Header.Add("Origin", o)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("Host %q Origin %q: status %d, want %d", tt.host, tt.origin, resp.StatusCode, tt.want)
		}
	}
}

// TestRefusedWithoutGateway: a request that no mcp_gateway of the process
// handled is refused with 401 and a message saying why, in every
// credentials mode, and logged; external_gateway serves it.
func TestRefusedWithoutGateway(t *testing.T) {
	for _, mode := range []string{"bearer", "basic"} {
		t.Run(mode, func(t *testing.T) {
			h := &mcpbackend.Handler{Credentials: mcpbackend.CredentialsConfig{Mode: mode, User: "admin", Password: nextcloudfake.AdminPassword}, Apps: []string{"notes"}}
			fake, srv := provisionBehind(t, h, nextcloudfake.Options{}, func(r *http.Request) *http.Request {
				return withVars(r, map[string]any{"other": "x"})
			})
			status, body := postInit(t, srv.URL, "", map[string]string{"Authorization": "Bearer " + nextcloudfake.AccessToken, mcpbackend.HeaderSubject: "alice"})
			if status != http.StatusUnauthorized || !strings.Contains(body, "mcp_gateway") {
				t.Errorf("without gateway: %d %q", status, body)
			}
			if n := len(fake.Calls()); n != 0 {
				t.Errorf("%d Nextcloud calls", n)
			}
		})
	}
	t.Run("gateway discovery (empty subject) is served", func(t *testing.T) {
		h := &mcpbackend.Handler{Apps: []string{"notes"}}
		_, srv := provisionBehind(t, h, nextcloudfake.Options{}, func(r *http.Request) *http.Request {
			return withVars(r, map[string]any{mcpbackend.GatewaySubjectVar: ""})
		})
		if status, body := postInit(t, srv.URL, "", nil); status != http.StatusOK {
			t.Errorf("%d %q", status, body)
		}
	})
	t.Run("external_gateway", func(t *testing.T) {
		h := &mcpbackend.Handler{Apps: []string{"notes"}, ExternalGateway: true}
		_, srv := provisionBehind(t, h, nextcloudfake.Options{}, func(r *http.Request) *http.Request { return withVars(r, map[string]any{}) })
		if status, body := postInit(t, srv.URL, "", nil); status != http.StatusOK {
			t.Errorf("%d %q", status, body)
		}
	})
}
