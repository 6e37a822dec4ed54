package mcpbackend_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/mcpbackend"
)

// provision builds the Caddy handler against a fake Nextcloud and serves it
// as mcp_gateway would pass requests on: with the request variable that
// says a gateway authenticated them (subject "alice").
func provision(t *testing.T, h *mcpbackend.Handler, opts nextcloudfake.Options) (*nextcloudfake.Fake, *httptest.Server) {
	t.Helper()
	return provisionBehind(t, h, opts, func(r *http.Request) *http.Request {
		return withVars(r, map[string]any{mcpbackend.GatewaySubjectVar: "alice"})
	})
}

// withVars gives r the Caddy request variables vars, as caddyhttp does
// for every request it serves.
func withVars(r *http.Request, vars map[string]any) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, vars))
}

// provisionBehind serves h with front applied to each request first.
func provisionBehind(t *testing.T, h *mcpbackend.Handler, opts nextcloudfake.Options, front func(*http.Request) *http.Request) (*nextcloudfake.Fake, *httptest.Server) {
	t.Helper()
	fake, nc := nextcloudfake.Start(t, opts)
	h.Nextcloud = nc.URL
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Cleanup(); err != nil {
			t.Error(err)
		}
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Caddy hands handlers its own wrapper, which is no http.Flusher
		// (it flushes through http.ResponseController): serve through it
		// so these tests see what the module sees in the binary.
		if err := h.ServeHTTP(&caddyhttp.ResponseWriterWrapper{ResponseWriter: w}, front(r), nil); err != nil {
			t.Error(err)
		}
	}))
	t.Cleanup(srv.Close)
	return fake, srv
}

func connect(t *testing.T, url string, headers map[string]string, opts ...client.ClientOption) *client.Client {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(url, transport.WithHTTPHeaders(headers))
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(tr, opts...)
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "test", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	return c
}

func call(t *testing.T, c *client.Client, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name, req.Params.Arguments = name, args
	res, err := c.CallTool(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestBearerIsForwardedAndNothingElse(t *testing.T) {
	for _, era := range []string{"", "2025-11-25"} {
		t.Run("era="+era, func(t *testing.T) {
			h := &mcpbackend.Handler{Credentials: mcpbackend.CredentialsConfig{Mode: "bearer"}, Apps: []string{"notes"}}
			fake, srv := provision(t, h, nextcloudfake.Options{})
			var opts []client.ClientOption
			if era != "" {
				opts = append(opts, client.WithProtocolVersion(era))
			}
			c := connect(t, srv.URL, map[string]string{"Authorization": "Bearer " + nextcloudfake.AccessToken, "Cookie": "oc_sessionPassphrase=x"}, opts...)
			res := call(t, c, "nc_notes_get_note", map[string]any{"note_id": 359})
			if res.IsError {
				t.Fatalf("tool error: %v", res.Content)
			}
			calls := fake.Calls()
			if len(calls) == 0 {
				t.Fatal("no Nextcloud calls")
			}
			for _, cl := range calls {
				if got := cl.Header.Get("Authorization"); got != "Bearer "+nextcloudfake.AccessToken {
					t.Errorf("%s: Authorization %q", cl, got)
				}
				if cl.Header.Get("Cookie") != "" {
					t.Errorf("%s: cookie forwarded", cl)
				}
				if cl.Header.Get("OCS-APIRequest") != "true" {
					t.Errorf("%s: no OCS-APIRequest", cl)
				}
			}
		})
	}
}

func TestBasicFromPlaceholder(t *testing.T) {
	t.Setenv("SCOPEGATE_TEST_NC_PASSWORD", nextcloudfake.AdminPassword)
	h := &mcpbackend.Handler{Credentials: mcpbackend.CredentialsConfig{Mode: "basic", User: "admin", Password: "{env.SCOPEGATE_TEST_NC_PASSWORD}"}, Apps: []string{"notes"}}
	fake, srv := provision(t, h, nextcloudfake.Options{})
	// The client's own token must not reach Nextcloud in basic mode.
	c := connect(t, srv.URL, map[string]string{"Authorization": "Bearer something-else"})
	if res := call(t, c, "nc_notes_get_note", map[string]any{"note_id": 359}); res.IsError {
		t.Fatalf("tool error: %v", res.Content)
	}
	for _, cl := range fake.Calls() {
		r := &http.Request{Header: cl.Header}
		if u, p, ok := r.BasicAuth(); !ok || u != "admin" || p != nextcloudfake.AdminPassword {
			t.Errorf("%s: Authorization %q", cl, cl.Header.Get("Authorization"))
		}
	}
}

func TestHostAllowList(t *testing.T) {
	h := &mcpbackend.Handler{AllowedHosts: []string{"mcp.example.com"}, Apps: []string{"notes"}}
	_, srv := provision(t, h, nextcloudfake.Options{})
	tests := []struct {
		host string
		want int
	}{
		{"evil.example", http.StatusForbidden},
		{"mcp.example.com", http.StatusOK},
		{"mcp.example.com:443", http.StatusOK},
		{"localhost:1234", http.StatusOK},
		{"[::1]:80", http.StatusOK},
		{"127.0.0.1", http.StatusOK},
	}
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	for _, tt := range tests {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body))
		req.Host = tt.host
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("Host %q: status %d, want %d", tt.host, resp.StatusCode, tt.want)
		}
	}
}

func TestDisabledAppsAreHidden(t *testing.T) {
	h := &mcpbackend.Handler{Credentials: mcpbackend.CredentialsConfig{Mode: "bearer"}}
	_, srv := provision(t, h, nextcloudfake.Options{DisabledApps: []string{"notes"}})
	names := func(c *client.Client) map[string]bool {
		res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, tl := range res.Tools {
			m[tl.Name] = true
		}
		return m
	}
	user := connect(t, srv.URL, map[string]string{"Authorization": "Bearer " + nextcloudfake.AccessToken})
	if got := names(user); got["nc_notes_get_note"] {
		t.Errorf("user sees notes tools: %v", got)
	}
	res := call(t, user, "nc_notes_get_note", map[string]any{"note_id": 359})
	if !res.IsError || !strings.Contains(res.Content[0].(mcp.TextContent).Text, `app "notes" is not enabled`) {
		t.Errorf("call of a disabled app's tool: %+v", res.Content)
	}
	// Without credentials (the gateway reading the catalog) all tools show.
	anon := connect(t, srv.URL, nil)
	if got := names(anon); !got["nc_notes_get_note"] {
		t.Error("catalog without credentials lacks notes tools")
	}
}

func TestLegacySessionLifecycle(t *testing.T) {
	h := &mcpbackend.Handler{Apps: []string{"notes"}}
	_, srv := provision(t, h, nextcloudfake.Options{})
	post := func(session, body string) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := post("", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || sid == "" {
		t.Fatalf("initialize: %d, session %q", resp.StatusCode, sid)
	}
	if r := post(sid, `{"jsonrpc":"2.0","id":2,"method":"ping"}`); r.StatusCode != 200 {
		t.Fatalf("ping: %d", r.StatusCode)
	}
	req, _ := http.NewRequest("DELETE", srv.URL, nil)
	req.Header.Set("Mcp-Session-Id", sid)
	if r, err := srv.Client().Do(req); err != nil || r.StatusCode != 200 {
		t.Fatalf("delete: %v %v", r, err)
	}
	if r := post(sid, `{"jsonrpc":"2.0","id":3,"method":"ping"}`); r.StatusCode != http.StatusNotFound {
		t.Errorf("ping on deleted session: %d, want 404", r.StatusCode)
	}
}

// In bearer mode a request without a bearer token sends nothing to
// Nextcloud: the call fails as a server fault, not with someone else's
// credentials.
func TestBearerModeWithoutToken(t *testing.T) {
	h := &mcpbackend.Handler{Credentials: mcpbackend.CredentialsConfig{Mode: "bearer"}, Apps: []string{"notes"}}
	fake, srv := provision(t, h, nextcloudfake.Options{})
	c := connect(t, srv.URL, map[string]string{"Authorization": "Basic YWRtaW46eA=="})
	req := mcp.CallToolRequest{}
	req.Params.Name, req.Params.Arguments = "nc_notes_get_note", map[string]any{"note_id": 359}
	if res, err := c.CallTool(context.Background(), req); err == nil && !res.IsError {
		t.Fatalf("call without bearer token succeeded: %+v", res)
	}
	if calls := fake.Calls(); len(calls) != 0 {
		t.Errorf("Nextcloud was called: %v", fake.CallStrings())
	}
}

func TestStatelessLegacyClient(t *testing.T) {
	h := &mcpbackend.Handler{Apps: []string{"notes"}, Stateless: true}
	_, srv := provision(t, h, nextcloudfake.Options{})
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Mcp-Session-Id") != "" {
		t.Errorf("stateless initialize: %d, session %q", resp.StatusCode, resp.Header.Get("Mcp-Session-Id"))
	}
	c := connect(t, srv.URL, map[string]string{"Authorization": "Bearer " + nextcloudfake.AccessToken}, client.WithProtocolVersion("2025-11-25"))
	if res := call(t, c, "nc_notes_get_note", map[string]any{"note_id": 359}); res.IsError {
		t.Errorf("tool error: %v", res.Content)
	}
}

func TestScopeSeparator(t *testing.T) {
	h := &mcpbackend.Handler{Apps: []string{"notes"}, ScopeSeparator: "."}
	_, srv := provision(t, h, nextcloudfake.Options{})
	c := connect(t, srv.URL, nil)
	res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range res.Tools {
		scopes, _ := tl.Meta.AdditionalFields["scopegate/scopes"].([]any)
		if len(scopes) == 0 {
			t.Fatalf("%s: no scopes in _meta", tl.Name)
		}
		for _, s := range scopes {
			if str, _ := s.(string); !strings.HasPrefix(str, "notes.") {
				t.Errorf("%s: scope %v", tl.Name, s)
			}
		}
	}
}

// TestListenStreamsThroughCaddyWriter (issue 15, point 3): through the
// writer Caddy gives the module, subscriptions/listen answers an SSE stream
// whose first message is notifications/subscriptions/acknowledged carrying
// the subscription id, as the backend does on a bare net/http server.
func TestListenStreamsThroughCaddyWriter(t *testing.T) {
	h := &mcpbackend.Handler{Apps: []string{"notes"}, Credentials: mcpbackend.CredentialsConfig{Mode: "basic", User: "u", Password: "p"}}
	_, srv := provision(t, h, nextcloudfake.Options{})
	body := `{"jsonrpc":"2.0","id":"sub-7","method":"subscriptions/listen","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"}},"notifications":{"toolsListChanged":true}}}`
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", "subscriptions/listen")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("subscriptions/listen: %d %q %s, want an SSE stream", resp.StatusCode, ct, b)
	}
	// This backend establishes no subscription type (it advertises no
	// listChanged), so mcp-go acknowledges and answers at once. It queues
	// the acknowledgement for another goroutine while it writes the
	// result, and in about one run in six the stream ends first and the
	// acknowledgement is lost (mcp-go v1.2.1). What the flushing writer
	// decides is that the answer is a stream at all (before the fix: one
	// JSON reply); when the acknowledgement arrives it must come first,
	// tagged with the subscription id, and the result must be tagged too.
	sc := bufio.NewScanner(resp.Body)
	var msgs []string
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			msgs = append(msgs, data)
		}
	}
	const tag = `"io.modelcontextprotocol/subscriptionId":"sub-7"`
	if len(msgs) == 0 || !strings.Contains(msgs[len(msgs)-1], `"result"`) || !strings.Contains(msgs[len(msgs)-1], tag) {
		t.Fatalf("stream %v, want it to end with the result tagged with the subscription id", msgs)
	}
	for i, m := range msgs[:len(msgs)-1] {
		if i != 0 || !strings.Contains(m, `"notifications/subscriptions/acknowledged"`) || !strings.Contains(m, tag) {
			t.Errorf("stream message %d %s, want only the acknowledgement tagged with the subscription id before the result", i, m)
		}
	}
}
