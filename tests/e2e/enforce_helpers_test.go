package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/mcptestserver"
	"github.com/scopegate/scopegate/internal/oidctest"
	"github.com/scopegate/scopegate/internal/rawupstream"
)

// siteOptions describe a gateway site in front of any upstream, for the
// enforcement tests that newEnv's fixed Caddyfile cannot express (no
// scopes_supported, a raw upstream).
type siteOptions struct {
	// upstream is host:port of the MCP server behind the gateway.
	upstream string
	// scopesSupported is the scopes_supported line's value; "" leaves the
	// option out, so the gateway advertises its catalog.
	scopesSupported string
	// gateway are more lines inside the mcp_gateway block.
	gateway  string
	provider oidctest.Options
}

// newSite starts a provider and Caddy with the gateway in front of
// opts.upstream. The returned env has no mcp server; callers keep their
// own upstream.
func newSite(t *testing.T, opts siteOptions) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	e := &env{provider: oidctest.Start(t, opts.provider)}
	gateway := []string{introspectionBlock, opts.gateway}
	if opts.scopesSupported != "" {
		gateway = []string{introspectionBlock, "scopes_supported " + opts.scopesSupported, opts.gateway}
	}
	e.startSite(t, site{upstream: opts.upstream, gateway: strings.Join(gateway, "\n")})
	return e
}

// rawEnv is a gateway in front of a rawupstream server.
func rawEnv(t *testing.T, gateway string) (*env, *rawupstream.Server) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	raw := rawupstream.Start(t)
	return newSite(t, siteOptions{upstream: raw.Addr, scopesSupported: scopesSupported, gateway: gateway}), raw
}

// forwarded counts the requests the mcp test server got from clients
// through the gateway: every forwarded request carries the gateway's
// X-Scopegate-Subject; the gateway's own discovery requests do not.
func (e *env) forwarded() int {
	n := 0
	for _, r := range e.mcp.Requests() {
		if r.Header.Get("X-Scopegate-Subject") != "" {
			n++
		}
	}
	return n
}

// modernMessage builds a 2026-07-28 request body: params carry the
// protocol version, client info and capabilities in _meta. id "" makes a
// notification.
func modernMessage(id, method string, params map[string]any) string {
	if params == nil {
		params = map[string]any{}
	}
	params["_meta"] = map[string]any{
		mcp.MetaKeyProtocolVersion:    mcp.ProtocolVersion20260728,
		mcp.MetaKeyClientInfo:         map[string]any{"name": "scopegate-enforcement-tests", "version": "0"},
		mcp.MetaKeyClientCapabilities: map[string]any{},
	}
	msg := map[string]any{"jsonrpc": "2.0", "method": method, "params": params}
	if id != "" {
		msg["id"] = json.RawMessage(id)
	}
	b, err := json.Marshal(msg)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// post sends body to the endpoint with tok and the MCP POST headers; more
// headers are added after them.
func (e *env) post(t *testing.T, tok, body string, headers ...[2]string) response {
	t.Helper()
	h := [][2]string{
		{"Content-Type", "application/json"},
		{"Accept", "application/json, text/event-stream"},
	}
	if tok != "" {
		h = append(h, [2]string{"Authorization", "Bearer " + tok})
	}
	return do(t, newRequest(t, http.MethodPost, e.resource, body, append(h, headers...)))
}

// modernHeaders are the 2026-07-28 request headers for method and name
// ("" for none).
func modernHeaders(method, name string) [][2]string {
	h := [][2]string{{mcp.HeaderProtocolVersion, mcp.ProtocolVersion20260728}, {mcp.HeaderMethod, method}}
	if name != "" {
		h = append(h, [2]string{mcp.HeaderName, name})
	}
	return h
}

// rpcError is a JSON-RPC error response.
type rpcError struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// checkRPCError asserts an HTTP status with a JSON-RPC error body of code
// (0: any) carrying id (raw JSON, "null" when the id is unknown).
func checkRPCError(t *testing.T, r response, status, code int, id string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e rpcError
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.JSONRPC != "2.0" || e.Error == nil {
		t.Fatalf("body is not a JSON-RPC error: %s (%v)", r.body, err)
	}
	if code != 0 && e.Error.Code != code {
		t.Errorf("error code %d, want %d; body %s", e.Error.Code, code, r.body)
	}
	if string(e.ID) != id {
		t.Errorf("error id %s, want %s; body %s", e.ID, id, r.body)
	}
}

// sseEvent is one event of a text/event-stream body, by the WHATWG rules
// (for bodies the gateway wrote, which use LF).
type sseEvent struct {
	typ, id, data string
}

func parseSSE(t *testing.T, body string) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	var data []string
	has := false
	body = strings.TrimPrefix(body, "\uFEFF")
	body = strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\r", "\n")
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if has {
				cur.data = strings.Join(data, "\n")
				out = append(out, cur)
			}
			cur, data, has = sseEvent{}, nil, false
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "data":
			data = append(data, value)
			has = true
		case "event":
			cur.typ = value
		case "id":
			cur.id = value
		}
	}
	if has {
		cur.data = strings.Join(data, "\n")
		out = append(out, cur)
	}
	return out
}

// listResult is the part of a list response the tests read.
type listResult struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  *struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
		Resources []struct {
			URI string `json:"uri"`
		} `json:"resources"`
		ResourceTemplates []struct {
			URITemplate string `json:"uriTemplate"`
		} `json:"resourceTemplates"`
		Prompts []struct {
			Name string `json:"name"`
		} `json:"prompts"`
		NextCursor string `json:"nextCursor"`
		CacheScope string `json:"cacheScope"`
		TTLMs      *int64 `json:"ttlMs"`
		Meta       struct {
			Hidden *struct {
				Count  int      `json:"count"`
				Scopes []string `json:"scopes"`
			} `json:"scopegate/hidden"`
		} `json:"_meta"`
	} `json:"result"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// names returns the names (tools, prompts), uris (resources) or uri
// templates of a list result, sorted.
func (l listResult) names() []string {
	var out []string
	if l.Result == nil {
		return nil
	}
	for _, x := range l.Result.Tools {
		out = append(out, x.Name)
	}
	for _, x := range l.Result.Resources {
		out = append(out, x.URI)
	}
	for _, x := range l.Result.ResourceTemplates {
		out = append(out, x.URITemplate)
	}
	for _, x := range l.Result.Prompts {
		out = append(out, x.Name)
	}
	slices.Sort(out)
	return out
}

// decodeList reads the JSON-RPC response of a JSON or SSE body: for SSE,
// the one event whose data is a response (has result or error).
func decodeList(t *testing.T, r response) listResult {
	t.Helper()
	var l listResult
	if strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
		found := 0
		for _, ev := range parseSSE(t, r.body) {
			var x listResult
			if json.Unmarshal([]byte(ev.data), &x) == nil && (x.Result != nil || x.Error != nil) {
				l = x
				found++
			}
		}
		if found != 1 {
			t.Fatalf("SSE body has %d response events, want 1:\n%s", found, r.body)
		}
		return l
	}
	if err := json.Unmarshal([]byte(r.body), &l); err != nil {
		t.Fatalf("decode list response %q: %v", r.body, err)
	}
	return l
}

// legacySession runs the 2025-11-25 handshake raw and returns the session
// id the server created.
func (e *env) legacySession(t *testing.T, tok string) string {
	t.Helper()
	r := e.post(t, tok, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"0"}}}`)
	sid := r.header.Get("Mcp-Session-Id")
	if r.status != http.StatusOK || sid == "" {
		t.Fatalf("initialize: %s (session %q)", statusOf(r), sid)
	}
	r = e.post(t, tok, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, legacyHeaders(sid)...)
	if r.status != http.StatusAccepted {
		t.Fatalf("notifications/initialized: %s", statusOf(r))
	}
	return sid
}

func legacyHeaders(sid string) [][2]string {
	return [][2]string{{"Mcp-Session-Id", sid}, {mcp.HeaderProtocolVersion, mcp.LATEST_LEGACY_PROTOCOL_VERSION}}
}

// legacyToolCall is a tools/call body without _meta, for legacy sessions.
func legacyToolCall(id, tool string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":%q,"arguments":{"text":"hi"}}}`, id, tool)
}

// stepUpChallenge is the exact insufficient_scope challenge for a tool.
func (e *env) stepUpChallenge(tool string, scope []string, required []string) string {
	return fmt.Sprintf(`Bearer error="insufficient_scope", scope="%s", resource_metadata="%s/.well-known/oauth-protected-resource/mcp", error_description="%s requires %s"`,
		strings.Join(scope, " "), e.base, tool, strings.Join(required, " "))
}

// toolNames lists the tools mcp-go's client sees, sorted.
func toolNames(tools []mcp.Tool) []string {
	var out []string
	for _, x := range tools {
		out = append(out, x.Name)
	}
	slices.Sort(out)
	return out
}

// ctx15 is the bound of one test step.
func ctx15(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*1e9)
	t.Cleanup(cancel)
	return ctx
}

var _ = mcptestserver.ToolEchoRead
