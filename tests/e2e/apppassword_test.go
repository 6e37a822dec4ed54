package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// appPasswordSite starts the built binary with mcp_gateway in front of an
// in-process nextcloud_mcp in credentials app_password mode, on storage;
// gatewayOptions are more mcp_gateway lines.
func appPasswordSite(t *testing.T, provider *oidctest.Provider, ncURL, storage string, gatewayOptions ...string) (base string) {
	t.Helper()
	for range 3 {
		port, adminPort, httpsPort := freePort(t), freePort(t), freePort(t)
		base = fmt.Sprintf("http://127.0.0.1:%d", port)
		caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%[2]d
	auto_https off
	http_port %[1]d
	https_port %[3]d
	persist_config off
	storage file_system %[4]s
}

http://127.0.0.1:%[1]d {
	mcp_gateway {
		resource http://127.0.0.1:%[1]d/mcp
		issuer %[5]s
		scopes_supported openid notes:read
		%[7]s
	}
	handle /mcp* {
		nextcloud_mcp {
			nextcloud %[6]s
			credentials app_password
			apps notes
		}
	}
	respond /other "ok" 200
}
`, port, adminPort, httpsPort, storage, provider.Issuer(), ncURL, strings.Join(gatewayOptions, "\n\t\t"))
		_, err := startCaddy(t, caddyfile, nil, fmt.Sprintf("127.0.0.1:%d", adminPort), base+"/other")
		if err == nil {
			return base
		}
		if !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
	t.Fatal("caddy: no free ports")
	return ""
}

func appClient(t *testing.T, url, token string, caps mcp.ClientCapabilities, opts ...client.ClientOption) *client.Client {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(tr, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = "2025-11-25"
	init.Params.ClientInfo = mcp.Implementation{Name: "e2e", Version: "1"}
	init.Params.Capabilities = caps
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	return c
}

func appCall(t *testing.T, c *client.Client, tool string, args map[string]any) (*mcp.CallToolResult, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name, req.Params.Arguments = tool, args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	var b strings.Builder
	for _, ct := range res.Content {
		if tc, ok := ct.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return res, b.String()
}

func appConnected(t *testing.T, c *client.Client) (bool, string) {
	t.Helper()
	res, text := appCall(t, c, "nc_connection_status", nil)
	if res.IsError {
		t.Fatalf("nc_connection_status: %s", text)
	}
	var st struct {
		Status struct {
			Connected     bool   `json:"connected"`
			NextcloudUser string `json:"nextcloud_user"`
		} `json:"status"`
	}
	b, _ := json.Marshal(res.StructuredContent)
	_ = json.Unmarshal(b, &st)
	return st.Status.Connected, st.Status.NextcloudUser
}

func waitAppConnected(t *testing.T, c *client.Client) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if ok, user := appConnected(t, c); ok {
			return user
		}
		if time.Now().After(deadline) {
			t.Fatal("never connected")
		}
		time.Sleep(250 * time.Millisecond)
	}
}

var appLoginURL = regexp.MustCompile(`http://[^ ]+/index\.php/login/v2/flow/[A-Za-z0-9]+`)

// TestAppPasswordThroughTheBinary: the built binary, gateway in front of
// nextcloud_mcp with credentials app_password: the first call of a subject
// answers with the login link (on the public site's host), the test
// approves it in the contract fake, the next call runs with the user's
// app password in Basic auth and no bearer token reaches Nextcloud; a
// second instance on the same storage serves the same user connected.
func TestAppPasswordThroughTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	provider := oidctest.Start(t, oidctest.Options{})
	fake, nc := nextcloudfake.Start(t, nextcloudfake.Options{})
	storage := t.TempDir()
	base := appPasswordSite(t, provider, nc.URL, storage)
	tok := provider.MintJWT(t, oidctest.MintRequest{Audience: []string{base + "/mcp"}, Subject: nextcloudfake.AdminUser, Scopes: []string{"openid", "notes:read"}})
	c := appClient(t, base+"/mcp", tok, mcp.ClientCapabilities{})

	res, text := appCall(t, c, "nc_notes_get_note", map[string]any{"note_id": 359})
	link := appLoginURL.FindString(text)
	if !res.IsError || !strings.HasPrefix(link, base+"/index.php/login/v2/flow/") {
		t.Fatalf("first call: %s", text)
	}
	if _, err := fake.ApproveLogin(link, nextcloudfake.AdminUser); err != nil {
		t.Fatal(err)
	}
	if user := waitAppConnected(t, c); user != nextcloudfake.AdminUser {
		t.Fatalf("connected as %q", user)
	}
	fake.Reset()
	if res, text := appCall(t, c, "nc_notes_get_note", map[string]any{"note_id": 359}); res.IsError {
		t.Fatalf("connected call: %s", text)
	}
	if len(fake.Calls()) == 0 {
		t.Fatal("Nextcloud not called")
	}
	for _, cl := range fake.Calls() {
		u, _, ok := (&http.Request{Header: cl.Header}).BasicAuth()
		if !ok || u != nextcloudfake.AdminUser || strings.Contains(cl.Header.Get("Authorization"), tok) {
			t.Errorf("%s: Authorization %q", cl, cl.Header.Get("Authorization"))
		}
	}

	// A second instance sharing the storage serves the connection.
	base2 := appPasswordSite(t, provider, nc.URL, storage)
	tok2 := provider.MintJWT(t, oidctest.MintRequest{Audience: []string{base2 + "/mcp"}, Subject: nextcloudfake.AdminUser, Scopes: []string{"openid", "notes:read"}})
	c2 := appClient(t, base2+"/mcp", tok2, mcp.ClientCapabilities{})
	if res, text := appCall(t, c2, "nc_notes_get_note", map[string]any{"note_id": 359}); res.IsError {
		t.Fatalf("second instance: %s", text)
	}
}

type e2eApprover struct {
	fake *nextcloudfake.Fake
	seen chan mcp.ElicitationParams
}

func (a *e2eApprover) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	a.seen <- req.Params
	if _, err := a.fake.ApproveLogin(req.Params.URL, nextcloudfake.AdminUser); err != nil {
		return nil, err
	}
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionAccept}}, nil
}

// TestAppPasswordURLElicitationThroughTheBinary: a client that declared
// URL elicitation gets the login URL as elicitation/create mode "url"
// through the gateway; approved there, the same call succeeds.
func TestAppPasswordURLElicitationThroughTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	provider := oidctest.Start(t, oidctest.Options{})
	fake, nc := nextcloudfake.Start(t, nextcloudfake.Options{})
	base := appPasswordSite(t, provider, nc.URL, t.TempDir())
	tok := provider.MintJWT(t, oidctest.MintRequest{Audience: []string{base + "/mcp"}, Subject: nextcloudfake.AdminUser, Scopes: []string{"openid", "notes:read"}})
	a := &e2eApprover{fake: fake, seen: make(chan mcp.ElicitationParams, 1)}
	c := appClient(t, base+"/mcp", tok, mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapability{URL: &struct{}{}}}, client.WithElicitationHandler(a))
	res, text := appCall(t, c, "nc_notes_get_note", map[string]any{"note_id": 359})
	select {
	case p := <-a.seen:
		if p.Mode != mcp.ElicitationModeURL || !strings.HasPrefix(p.URL, base+"/index.php/login/v2/flow/") {
			t.Errorf("elicitation %+v", p)
		}
	default:
		t.Fatalf("no URL elicitation; the call answered: %s", text)
	}
	if res.IsError {
		t.Fatalf("call after approval: %s", text)
	}
}
