package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/mcptestserver"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// eras are the protocol eras the mcp-go client speaks: the legacy one with
// sessions (pinned) and the stateless default.
var eras = []struct {
	name    string
	version string // pinned; "" is the client's default
	want    string // negotiated
}{
	{"2025-11-25", mcp.LATEST_LEGACY_PROTOCOL_VERSION, mcp.LATEST_LEGACY_PROTOCOL_VERSION},
	{"2026-07-28", "", mcp.LATEST_PROTOCOL_VERSION},
}

// declaredTools are the mcp test server's tools that declare scopes.
var declaredTools = []string{
	mcptestserver.ToolEchoRead, mcptestserver.ToolEchoStream, mcptestserver.ToolEchoWrite, mcptestserver.ToolNeedsTwo,
}

// TestEnforcementToolVisibility: through the built binary, the mcp-go
// client in both protocol eras sees exactly the tools its token's scopes
// allow, can call each of them, and is refused (403) every other tool. The
// undeclared tool is never listed nor callable under the default
// unknown_tool deny.
func TestEnforcementToolVisibility(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	sets := []struct {
		scopes []string
		tools  []string // sorted
	}{
		{[]string{"notes:read"}, []string{"echo_read", "echo_stream"}},
		{[]string{"notes:read", "files:read"}, []string{"echo_read", "echo_stream", "needs_two"}},
		{[]string{"notes:write"}, []string{"echo_write"}},
		{[]string{"files:read"}, nil},
		{[]string{"notes:read", "notes:write", "files:read"}, []string{"echo_read", "echo_stream", "echo_write", "needs_two"}},
		{[]string{"openid", "profile"}, nil},
	}
	for _, era := range eras {
		for _, set := range sets {
			t.Run(era.name+"/"+strings.Join(set.scopes, "+"), func(t *testing.T) {
				tok := e.token(t, false, set.scopes...)
				ctx := ctx15(t)
				c := newMCPClient(t, e.resource, tok, era.version)
				init, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ClientInfo: mcp.Implementation{Name: "e2e", Version: "0"}}})
				if err != nil {
					t.Fatalf("initialize: %v", err)
				}
				if init.ProtocolVersion != era.want {
					t.Fatalf("negotiated %s, want %s", init.ProtocolVersion, era.want)
				}
				list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
				if err != nil {
					t.Fatalf("tools/list: %v", err)
				}
				if got := toolNames(list.Tools); !slices.Equal(got, set.tools) {
					t.Errorf("tools/list = %v, want %v", got, set.tools)
				}
				for _, tool := range append(slices.Clone(declaredTools), mcptestserver.ToolUndeclared) {
					res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: map[string]any{"text": "hi"}}})
					if slices.Contains(set.tools, tool) {
						if err != nil {
							t.Errorf("tools/call %s (allowed): %v", tool, err)
							continue
						}
						if echo, err := mcptestserver.DecodeEcho(res); err != nil || echo.Tool != tool {
							t.Errorf("tools/call %s: echo %+v, %v", tool, echo, err)
						}
						continue
					}
					// mcp-go reports the JSON-RPC error of the 403 body.
					want := tool + " requires "
					if tool == mcptestserver.ToolUndeclared {
						want = "not known to the gateway"
					}
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("tools/call %s (not allowed): err %v, want the gateway's refusal (%q)", tool, err, want)
					}
				}
			})
		}
	}
}

// TestStepUp: a disallowed tools/call gets 403 with the exact
// insufficient_scope challenge — scope = required ∪ the catalog scopes the
// token holds, sorted — and a JSON-RPC error carrying the request's id;
// nothing reaches the server. A token for the challenged scopes then
// succeeds, with the raw request and with the mcp-go client, in both eras.
func TestStepUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tests := []struct {
		name     string
		held     []string
		tool     string
		scope    []string // challenged
		required []string // as declared
	}{
		{"write with read", []string{"notes:read"}, mcptestserver.ToolEchoWrite, []string{"notes:read", "notes:write"}, []string{"notes:write"}},
		{"two with one", []string{"notes:read"}, mcptestserver.ToolNeedsTwo, []string{"files:read", "notes:read"}, []string{"notes:read", "files:read"}},
		{"two with the other", []string{"files:read"}, mcptestserver.ToolNeedsTwo, []string{"files:read", "notes:read"}, []string{"notes:read", "files:read"}},
		{"read with write", []string{"notes:write"}, mcptestserver.ToolEchoRead, []string{"notes:read", "notes:write"}, []string{"notes:read"}},
		{"scopes outside the catalog are not repeated", []string{"notes:read", "calendar:read"}, mcptestserver.ToolEchoWrite, []string{"notes:read", "notes:write"}, []string{"notes:write"}},
		{"base scopes held are kept", []string{"openid", "notes:read"}, mcptestserver.ToolEchoWrite, []string{"notes:read", "notes:write", "openid"}, []string{"notes:write"}},
	}
	for _, era := range eras {
		for _, tc := range tests {
			t.Run(era.name+"/"+tc.name, func(t *testing.T) {
				tok := e.token(t, false, tc.held...)
				var r response
				before := e.forwarded()
				if era.version == "" {
					r = e.post(t, tok, modernMessage(`"step-up-7"`, "tools/call", map[string]any{"name": tc.tool, "arguments": map[string]any{"text": "hi"}}),
						modernHeaders("tools/call", tc.tool)...)
				} else {
					sid := e.legacySession(t, tok)
					before = e.forwarded()
					r = e.post(t, tok, legacyToolCall(`"step-up-7"`, tc.tool), legacyHeaders(sid)...)
				}
				checkRPCError(t, r, http.StatusForbidden, 0, `"step-up-7"`)
				want := e.stepUpChallenge(tc.tool, tc.scope, tc.required)
				if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != want {
					t.Errorf("WWW-Authenticate\n got  %q\n want %q", got, want)
				}
				if n := e.forwarded() - before; n != 0 {
					t.Errorf("the refused call reached the server (%d requests)", n)
				}

				// Step up: ask the provider for exactly the challenged scopes.
				params := parseChallenge(t, r.header.Get("WWW-Authenticate"))
				tok2 := e.token(t, false, strings.Fields(params["scope"])...)
				if era.version == "" {
					r = e.post(t, tok2, modernMessage(`"step-up-8"`, "tools/call", map[string]any{"name": tc.tool, "arguments": map[string]any{"text": "hi"}}),
						modernHeaders("tools/call", tc.tool)...)
				} else {
					sid := e.legacySession(t, tok2)
					r = e.post(t, tok2, legacyToolCall(`"step-up-8"`, tc.tool), legacyHeaders(sid)...)
				}
				if r.status != http.StatusOK || !strings.Contains(r.body, `\"tool\":\"`+tc.tool+`\"`) {
					t.Fatalf("after step-up: %s", statusOf(r))
				}
				ctx := ctx15(t)
				c := newMCPClient(t, e.resource, tok2, era.version)
				if _, err := c.Initialize(ctx, mcp.InitializeRequest{}); err != nil {
					t.Fatalf("initialize: %v", err)
				}
				res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tc.tool}})
				if err != nil {
					t.Fatalf("mcp-go tools/call %s after step-up: %v", tc.tool, err)
				}
				if echo, err := mcptestserver.DecodeEcho(res); err != nil || http.Header(echo.Headers).Get("X-Scopegate-Scopes") != params["scope"] {
					t.Errorf("echo %+v, %v; want scopes %q", echo, err, params["scope"])
				}
			})
		}
	}
}

// TestStreamingToolCallEnforced: the streaming (SSE) tool is enforced like
// any other and, when allowed, streams its progress event and result.
func TestStreamingToolCallEnforced(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	before := e.forwarded()
	r := e.callTool(t, mcptestserver.ToolEchoStream, bearer(e.token(t, false, "notes:write")))
	checkRPCError(t, r, http.StatusForbidden, 0, "1")
	if want := e.stepUpChallenge(mcptestserver.ToolEchoStream, []string{"notes:read", "notes:write"}, []string{"notes:read"}); r.header.Get("WWW-Authenticate") != want {
		t.Errorf("WWW-Authenticate\n got  %q\n want %q", r.header.Get("WWW-Authenticate"), want)
	}
	if n := e.forwarded() - before; n != 0 {
		t.Errorf("refused streaming call reached the server")
	}
	r = e.callTool(t, mcptestserver.ToolEchoStream, bearer(e.token(t, false, "notes:read")))
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("allowed streaming call: %s (Content-Type %q)", statusOf(r), r.header.Get("Content-Type"))
	}
	events := parseSSE(t, r.body)
	var methods []string
	for _, ev := range events {
		var m struct {
			Method string `json:"method"`
		}
		_ = json.Unmarshal([]byte(ev.data), &m)
		methods = append(methods, m.Method)
	}
	if !slices.Contains(methods, "notifications/progress") || !strings.Contains(r.body, `\"tool\":\"echo_stream\"`) {
		t.Errorf("stream lacks the progress event or the result: %s", r.body)
	}
}

// TestToolRulesOverrideMeta: Caddyfile `tool` rules replace what the
// backend declares in _meta (exact names and globs), and can make an
// undeclared tool usable; lists follow the rules too.
func TestToolRulesOverrideMeta(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{gatewayExtra: `
		tool echo_write notes:read
		tool echo_read files:read
		tool undeclared notes:read
		tool needs_* notes:read`})
	tok := e.token(t, false, "notes:read")
	for _, era := range eras {
		t.Run(era.name, func(t *testing.T) {
			ctx := ctx15(t)
			c := newMCPClient(t, e.resource, tok, era.version)
			if _, err := c.Initialize(ctx, mcp.InitializeRequest{}); err != nil {
				t.Fatalf("initialize: %v", err)
			}
			list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
			if err != nil {
				t.Fatalf("tools/list: %v", err)
			}
			want := []string{"echo_stream", "echo_write", "needs_two", "undeclared"}
			if got := toolNames(list.Tools); !slices.Equal(got, want) {
				t.Errorf("tools/list = %v, want %v", got, want)
			}
			for _, tool := range want {
				if _, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool}}); err != nil {
					t.Errorf("tools/call %s: %v", tool, err)
				}
			}
		})
	}
	before := e.forwarded()
	r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
	checkRPCError(t, r, http.StatusForbidden, 0, "1")
	if want := e.stepUpChallenge(mcptestserver.ToolEchoRead, []string{"files:read", "notes:read"}, []string{"files:read"}); r.header.Get("WWW-Authenticate") != want {
		t.Errorf("WWW-Authenticate\n got  %q\n want %q", r.header.Get("WWW-Authenticate"), want)
	}
	if e.forwarded() != before {
		t.Error("refused call reached the server")
	}
}

// TestScopesSupportedFromCatalog: without scopes_supported in the
// Caddyfile, the metadata document advertises the base scopes plus every
// scope the backend's tools declare, and the 401 challenge asks for the
// same.
func TestScopesSupportedFromCatalog(t *testing.T) {
	t.Parallel()
	srv := mcptestserver.Start(t)
	e := newSite(t, siteOptions{upstream: srv.Addr})
	want := []string{"email", "files:read", "notes:read", "notes:write", "openid", "profile"}
	var doc struct {
		ScopesSupported []string `json:"scopes_supported"`
	}
	eventually(t, "scopes_supported lists the catalog", func() (bool, string) {
		r := do(t, newRequest(t, http.MethodGet, e.base+"/.well-known/oauth-protected-resource/mcp", "", nil))
		if r.status != http.StatusOK {
			t.Fatalf("metadata: %s", statusOf(r))
		}
		if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
			t.Fatalf("decode %s: %v", r.body, err)
		}
		got := slices.Sorted(slices.Values(doc.ScopesSupported))
		return slices.Equal(got, want), strings.Join(doc.ScopesSupported, " ")
	})
	if len(slices.Compact(slices.Sorted(slices.Values(doc.ScopesSupported)))) != len(doc.ScopesSupported) {
		t.Errorf("scopes_supported has duplicates: %v", doc.ScopesSupported)
	}
	// The 401 challenge asks for least privilege: the base scopes and the
	// scopes of the tools annotated readOnlyHint (all but echo_write), not
	// all of scopes_supported.
	r := do(t, newRequest(t, http.MethodPost, e.resource, "", nil))
	params := parseChallenge(t, r.header.Get("WWW-Authenticate"))
	leastPrivilege := []string{"email", "files:read", "notes:read", "openid", "profile"}
	if got := slices.Sorted(slices.Values(strings.Fields(params["scope"]))); r.status != http.StatusUnauthorized || !slices.Equal(got, leastPrivilege) {
		t.Errorf("401 challenge %s: scope %v, want %v", statusOf(r), got, leastPrivilege)
	}

	// Scopes that only rules name are advertised too; base_scopes
	// replaces the identity scopes.
	e = newSite(t, siteOptions{upstream: srv.Addr, gateway: "tool echo_read calendar:read\nresource_scope cal://* cal:read\nprompt p* prompts:use\nbase_scopes openid"})
	want = []string{"cal:read", "calendar:read", "files:read", "notes:read", "notes:write", "openid", "prompts:use"}
	eventually(t, "scopes_supported lists rules and catalog", func() (bool, string) {
		r := do(t, newRequest(t, http.MethodGet, e.base+"/.well-known/oauth-protected-resource/mcp", "", nil))
		if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
			t.Fatalf("decode %s: %v", r.body, err)
		}
		got := slices.Sorted(slices.Values(doc.ScopesSupported))
		return slices.Equal(got, want), strings.Join(doc.ScopesSupported, " ")
	})
}

// TestMCPGoClientStepUpFlow: the whole journey of an mcp-go client in each
// era: a notes:read token lists two tools, calls one, is refused echo_write
// with a challenge naming notes:write, obtains a token for the challenged
// scopes, and then sees and calls echo_write.
func TestMCPGoClientStepUpFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, era := range eras {
		t.Run(era.name, func(t *testing.T) {
			ctx := ctx15(t)
			tok := e.token(t, false, "notes:read")
			c := newMCPClient(t, e.resource, tok, era.version)
			if _, err := c.Initialize(ctx, mcp.InitializeRequest{}); err != nil {
				t.Fatalf("initialize: %v", err)
			}
			list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
			if err != nil || !slices.Equal(toolNames(list.Tools), []string{"echo_read", "echo_stream"}) {
				t.Fatalf("tools/list: %v, %v", list, err)
			}
			if _, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: mcptestserver.ToolEchoRead}}); err != nil {
				t.Fatalf("allowed call: %v", err)
			}
			_, err = c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: mcptestserver.ToolEchoWrite}})
			if err == nil || !strings.Contains(err.Error(), "echo_write requires notes:write") {
				t.Fatalf("refused call: %v, want the refusal naming the missing scope", err)
			}
			// mcp-go does not surface the challenge header: read it raw.
			r := e.callTool(t, mcptestserver.ToolEchoWrite, bearer(tok))
			params := parseChallenge(t, r.header.Get("WWW-Authenticate"))
			if params["error"] != "insufficient_scope" || params["scope"] != "notes:read notes:write" {
				t.Fatalf("challenge %q", r.header.Get("WWW-Authenticate"))
			}
			tok2 := e.provider.Token(t, oidctest.TokenRequest{Scopes: strings.Fields(params["scope"]), Audience: []string{e.resource}})
			c2 := newMCPClient(t, e.resource, tok2, era.version)
			if _, err := c2.Initialize(ctx, mcp.InitializeRequest{}); err != nil {
				t.Fatalf("initialize with the stepped-up token: %v", err)
			}
			list, err = c2.ListTools(ctx, mcp.ListToolsRequest{})
			if err != nil || !slices.Equal(toolNames(list.Tools), []string{"echo_read", "echo_stream", "echo_write"}) {
				t.Fatalf("tools/list after step-up: %v, %v", toolNames(list.Tools), err)
			}
			if _, err := c2.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: mcptestserver.ToolEchoWrite}}); err != nil {
				t.Fatalf("echo_write after step-up: %v", err)
			}
		})
	}
}
