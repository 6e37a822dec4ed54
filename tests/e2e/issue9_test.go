package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/scopegate/scopegate/internal/mcptestserver"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// slowServer is an mcp-go server with one tool, "slow", that takes up to
// 4 s and reports whether its context was cancelled before.
type slowServer struct {
	addr      string
	started   chan struct{}
	cancelled atomic.Int32
}

func startSlowServer(t *testing.T) *slowServer {
	t.Helper()
	s := &slowServer{started: make(chan struct{}, 4)}
	ms := server.NewMCPServer("slow", "1.0.0", server.WithToolCapabilities(false))
	tool := mcp.NewTool("slow", mcp.WithDescription("Takes a while."))
	tool.Meta = mcp.NewMetaFromMap(map[string]any{mcptestserver.ScopesMetaKey: []string{"notes:read"}})
	ms.AddTool(tool, func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		s.started <- struct{}{}
		select {
		case <-ctx.Done():
			s.cancelled.Add(1)
			return nil, ctx.Err()
		case <-time.After(4 * time.Second):
			return mcp.NewToolResultText("finished"), nil
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("/mcp", server.NewStreamableHTTPServer(ms))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// TestCancelOfAnotherSubject (issue 9, finding 1): in the 2026-07-28 era
// every request reaches mcp-go without a session, so a second subject's
// notifications/cancelled naming the same request id would cancel the
// first subject's call. The gateway lets cancellations through only inside
// the sender's own legacy session; without one it answers 202 and forwards
// nothing.
func TestCancelOfAnotherSubject(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	slow := startSlowServer(t)
	e := &env{provider: oidctest.Start(t, oidctest.Options{Clients: []oidctest.Client{{ID: "mallory", Secret: oidctest.ClientSecret}}})}
	e.startSite(t, site{upstream: slow.addr, gateway: introspectionBlock + "\nscopes_supported " + scopesSupported})
	alice := e.token(t, false, "notes:read")
	mallory := e.provider.Token(t, oidctest.TokenRequest{ClientID: "mallory", Secret: oidctest.ClientSecret, Audience: []string{e.resource}})

	type outcome struct {
		r   response
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, err := mcptestserver.NewToolCallRequest(ctx, e.resource, "slow", map[string]any{})
		if err != nil {
			done <- outcome{err: err}
			return
		}
		// The request id mallory will name.
		body := strings.Replace(readAll(req.Body), `"id":1`, `"id":7`, 1)
		req.Body, req.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
		req.Header.Set("Authorization", "Bearer "+alice)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- outcome{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- outcome{r: response{status: resp.StatusCode, header: resp.Header, body: string(b)}}
	}()
	select {
	case <-slow.started:
	case <-time.After(20 * time.Second):
		t.Fatal("alice's call never reached the tool")
	}
	cancelBody := modernMessage("", "notifications/cancelled", map[string]any{"requestId": 7, "reason": "mallory"})
	r := e.post(t, mallory, cancelBody, modernHeaders("notifications/cancelled", "")...)
	if r.status != http.StatusAccepted {
		t.Errorf("mallory's notifications/cancelled: %s, want 202", statusOf(r))
	}
	o := <-done
	if o.err != nil {
		t.Fatalf("alice's call: %v", o.err)
	}
	if n := slow.cancelled.Load(); n != 0 || o.r.status != http.StatusOK || !strings.Contains(o.r.body, "finished") {
		t.Fatalf("alice's call was cancelled by another subject (tool saw %d cancellations): %s", n, statusOf(o.r))
	}
}

func readAll(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}

// TestStreamsPerSubject (issue 9, finding 9): one subject may hold only
// max_streams_per_subject GET listening streams (default 16); above it
// 429, while another subject still gets its own.
func TestStreamsPerSubject(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{provider: oidctest.Options{Clients: []oidctest.Client{{ID: "bob", Secret: oidctest.ClientSecret}}}})
	alice := e.token(t, false, "notes:read")
	bob := e.provider.Token(t, oidctest.TokenRequest{ClientID: "bob", Secret: oidctest.ClientSecret, Audience: []string{e.resource}})
	open := func(tok string) *http.Response {
		t.Helper()
		sid := e.legacySession(t, tok)
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		req := newRequest(t, http.MethodGet, e.resource, "", append(append(bearer(tok), [2]string{"Accept", "text/event-stream"}), legacyHeaders(sid)...))
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatalf("GET stream: %v", err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for i := range 16 {
		if resp := open(alice); resp.StatusCode != http.StatusOK {
			t.Fatalf("alice's stream %d: %d, want 200", i+1, resp.StatusCode)
		}
	}
	if resp := open(alice); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("alice's 17th stream: %d, want 429", resp.StatusCode)
	}
	if resp := open(bob); resp.StatusCode != http.StatusOK {
		t.Fatalf("bob's stream while alice holds hers: %d, want 200", resp.StatusCode)
	}
}

// TestSessionFloodKeepsOthers (issue 9, finding 9): one subject's
// initialize flood must not evict another user's session binding. The
// store holds 20 bindings; by default a subject may hold a tenth of them,
// and above that gets 429.
func TestSessionFloodKeepsOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{gatewayExtra: "session_capacity 20", provider: oidctest.Options{Clients: []oidctest.Client{{ID: "mallory", Secret: oidctest.ClientSecret}}}})
	alice := e.token(t, false, "notes:read")
	mallory := e.provider.Token(t, oidctest.TokenRequest{ClientID: "mallory", Secret: oidctest.ClientSecret, Audience: []string{e.resource}})
	sid := e.legacySession(t, alice)
	limited := 0
	for range 60 {
		r := e.post(t, mallory, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"flood","version":"0"}}}`)
		switch r.status {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Fatalf("initialize flood: %s", statusOf(r))
		}
	}
	r := e.post(t, alice, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, legacyHeaders(sid)...)
	if r.status != http.StatusOK {
		t.Fatalf("alice's session after mallory's 60 initialize calls: %s, want 200", statusOf(r))
	}
	if limited == 0 {
		t.Errorf("60 initialize calls of one subject with session_capacity 20: none refused with 429")
	}
}

// TestSessionsPerSubjectOption: max_sessions_per_subject sets the cap.
func TestSessionsPerSubjectOption(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{gatewayExtra: "max_sessions_per_subject 3"})
	alice := e.token(t, false, "notes:read")
	for range 3 {
		e.legacySession(t, alice)
	}
	r := e.post(t, alice, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"0"}}}`)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("fourth session: %s, want 429 with Retry-After", statusOf(r))
	}
	var body rpcError
	if json.Unmarshal([]byte(r.body), &body) != nil || body.Error == nil {
		t.Errorf("429 body is no JSON-RPC error: %s", r.body)
	}
}

// TestListChangedEchoedID (issue 9, finding 4): a request whose id is the
// string "notifications/tools/list_changed" is echoed in the response; the
// gateway must not walk the backend's catalog again for it.
func TestListChangedEchoedID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.token(t, false, "notes:read")
	// The catalog is discovered once.
	if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok)); r.status != http.StatusOK {
		t.Fatalf("first call: %s", statusOf(r))
	}
	// The gateway's own discovery requests carry no subject.
	lists := func() int {
		n := 0
		for _, q := range e.mcp.Requests() {
			if q.Header.Get("X-Scopegate-Subject") == "" {
				n++
			}
		}
		return n
	}
	eventually(t, "first discovery", func() (bool, string) { return lists() > 0, fmt.Sprint(lists(), " tools/list") })
	before := lists()
	body := `{"jsonrpc":"2.0","id":"notifications/tools/list_changed","method":"tools/call","params":{"name":"echo_read","arguments":{"text":"x"},"_meta":{"` + mcp.MetaKeyProtocolVersion + `":"` + mcp.ProtocolVersion20260728 + `","` + mcp.MetaKeyClientInfo + `":{"name":"e2e","version":"0"},"` + mcp.MetaKeyClientCapabilities + `":{}}}}`
	for range 20 {
		if r := e.post(t, tok, body, modernHeaders("tools/call", "echo_read")...); r.status != http.StatusOK {
			t.Fatalf("call with the echoed id: %s", statusOf(r))
		}
	}
	time.Sleep(time.Second) // a walk, if one was triggered, starts at once
	if n := lists() - before; n != 0 {
		t.Fatalf("20 calls whose id names list_changed caused %d catalog walks, want 0", n)
	}
}

// TestFenceThroughBinary (issue 9, section 1): outside the MCP endpoint
// the gateway refuses tokens of the MCP resource, JWT and opaque, and
// passes opaque tokens of another audience (judged by introspection
// without provider_checks_audience); with the provider down an unseen
// opaque token gets 503, while a bound JWT is still refused and Basic
// still passes. With `fence off` the replay is forwarded.
func TestFenceThroughBinary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	const fenced = `Bearer error="invalid_token", error_description="token is for the MCP resource"`
	get := func(auth string) response {
		t.Helper()
		return do(t, newRequest(t, http.MethodGet, e.base+"/other", "", [][2]string{{"Authorization", auth}}))
	}
	jwt := e.token(t, false, "notes:read")
	opaque := e.token(t, true, "notes:read")
	foreignOpaque := e.provider.Token(t, oidctest.TokenRequest{Opaque: true, Scopes: []string{"notes:read"}, Audience: []string{"https://desktop.example/app"}})
	for name, tc := range map[string]struct {
		auth string
		want int
	}{
		"bound JWT":            {"Bearer " + jwt, http.StatusUnauthorized},
		"bound opaque":         {"Bearer " + opaque, http.StatusUnauthorized},
		"opaque, other client": {"Bearer " + foreignOpaque, http.StatusOK},
		"basic":                {"Basic YWxpY2U6eA==", http.StatusOK},
	} {
		r := get(tc.auth)
		if r.status != tc.want {
			t.Errorf("%s: %s, want %d", name, statusOf(r), tc.want)
		}
		if tc.want == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") != fenced {
			t.Errorf("%s: WWW-Authenticate %q, want %q", name, r.header.Get("WWW-Authenticate"), fenced)
		}
		if tc.want == http.StatusOK && r.body != "passthrough" {
			t.Errorf("%s: body %q, want the next handler's", name, r.body)
		}
	}
	if m := e.caddy.Metrics(t); !strings.Contains(m, `caddy_mcp_gateway_fence_total{kind="jwt",outcome="fenced"}`) {
		t.Errorf("no fence metric after a fenced JWT")
	}

	unseen := e.token(t, true, "notes:read")
	e.provider.Stop()
	if r := get("Bearer " + unseen); r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("unseen opaque token, provider down: %s, want 503 with Retry-After", statusOf(r))
	}
	if r := get("Bearer " + jwt); r.status != http.StatusUnauthorized {
		t.Errorf("bound JWT, provider down: %s, want 401", statusOf(r))
	}
	if r := get("Basic YWxpY2U6eA=="); r.status != http.StatusOK {
		t.Errorf("basic, provider down: %s, want 200", statusOf(r))
	}

	off := newEnv(t, envOptions{gatewayExtra: "fence off"})
	tok := off.token(t, false, "notes:read")
	if r := do(t, newRequest(t, http.MethodGet, off.base+"/other", "", bearer(tok))); r.status != http.StatusOK || r.body != "passthrough" {
		t.Errorf("fence off: %s, want the replay forwarded", statusOf(r))
	}
}
