package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/mcptestserver"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// refusal is one crafted request and the answer the gateway must give.
type refusal struct {
	name    string
	body    string
	headers [][2]string
	status  int
	code    int    // JSON-RPC error code; 0 any
	id      string // raw JSON id in the error body
	// challenge, when set, is the exact WWW-Authenticate; otherwise the
	// response must have none.
	challenge string
}

// checkRefusals sends each case with a notes:read token and asserts the
// refusal, and that not one of them reached the MCP server.
func checkRefusals(t *testing.T, e *env, tok string, cases []refusal) {
	t.Helper()
	before := e.forwarded()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(t, tok, tc.body, tc.headers...)
			checkRPCError(t, r, tc.status, tc.code, tc.id)
			if got := r.header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate\n got  %q\n want %q", got, tc.challenge)
			}
		})
	}
	if n := e.forwarded() - before; n != 0 {
		t.Errorf("%d refused requests reached the MCP server", n)
	}
}

// call is a tools/call body in the stateless era with the raw JSON id.
func call(id, tool string) string {
	return modernMessage(id, "tools/call", map[string]any{"name": tool, "arguments": map[string]any{"text": "hi"}})
}

// meta is the _meta member of stateless request params, for bodies
// written by hand.
const meta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"e2e","version":"0"}}`

// TestBatchRejected: JSON arrays are refused with 400 and a JSON-RPC
// invalid-request error (id null), whatever they contain; a batch that
// hides a forbidden call among allowed ones never reaches the server.
func TestBatchRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.token(t, false, "notes:read")
	cases := []refusal{
		{name: "forbidden call in a batch", body: "[" + call("1", "echo_write") + "]"},
		{name: "allowed then forbidden", body: "[" + call("1", "echo_read") + "," + call("2", "echo_write") + "]"},
		{name: "allowed only", body: "[" + call("1", "echo_read") + "]"},
		{name: "list and call", body: `[{"jsonrpc":"2.0","id":1,"method":"tools/list"},` + call("2", "echo_write") + "]"},
		{name: "empty batch", body: "[]"},
		{name: "whitespace before the array", body: " \r\n\t[" + call("1", "echo_write") + "]"},
		{name: "nested array", body: "[[" + call("1", "echo_write") + "]]"},
	}
	for i := range cases {
		cases[i].status, cases[i].code, cases[i].id = http.StatusBadRequest, -32600, "null"
		cases[i].headers = modernHeaders("tools/call", "")
	}
	checkRefusals(t, e, tok, cases)
}

// TestDuplicateKeys: a protocol member given twice (top level or in
// params) is refused with 400, whichever reading would allow the call:
// mcp-go's encoding/json keeps the last duplicate.
func TestDuplicateKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.token(t, false, "notes:read")
	bodies := map[string]string{
		"method":            `{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"echo_write",` + meta + `}}`,
		"method reversed":   `{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/list","params":{"name":"echo_write",` + meta + `}}`,
		"params.name":       `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_read","name":"echo_write",` + meta + `}}`,
		"params":            `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_read",` + meta + `},"params":{"name":"echo_write",` + meta + `}}`,
		"id":                `{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/call","params":{"name":"echo_read",` + meta + `}}`,
		"jsonrpc":           `{"jsonrpc":"2.0","jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_read",` + meta + `}}`,
		"params.uri":        `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"notes://1","uri":"files://secret",` + meta + `}}`,
		"escaped duplicate": `{"jsonrpc":"2.0","id":1,"method":"tools/list","\u006dethod":"tools/call","params":{"name":"echo_write",` + meta + `}}`,
	}
	var cases []refusal
	for name, body := range bodies {
		cases = append(cases, refusal{name: name, body: body, status: http.StatusBadRequest, code: -32600, id: "null"})
	}
	checkRefusals(t, e, tok, cases)
}

// TestCaseVariantKeys: keys that differ from a protocol member only by
// case (encoding/json would fill the member from them, with Unicode
// folding) are refused with 400.
func TestCaseVariantKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.token(t, false, "notes:read")
	bodies := map[string]string{
		"METHOD besides method":      `{"jsonrpc":"2.0","id":1,"method":"tools/list","METHOD":"tools/call","params":{"name":"echo_write",` + meta + `}}`,
		"Method alone":               `{"jsonrpc":"2.0","id":1,"Method":"tools/call","params":{"name":"echo_write",` + meta + `}}`,
		"NAME besides name":          `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_read","NAME":"echo_write",` + meta + `}}`,
		"Params":                     `{"jsonrpc":"2.0","id":1,"method":"tools/call","Params":{"name":"echo_write",` + meta + `}}`,
		"ID":                         `{"jsonrpc":"2.0","ID":1,"method":"tools/call","params":{"name":"echo_write",` + meta + `}}`,
		"JSONRPC":                    `{"JSONRPC":"2.0","id":1,"method":"tools/call","params":{"name":"echo_write",` + meta + `}}`,
		"Uri":                        `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"notes://1","Uri":"files://x",` + meta + `}}`,
		"long s (U+017F) in paramſ":  `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_read",` + meta + `},"paramſ":{"name":"echo_write",` + meta + `}}`,
		"long s (U+017F) in jſonrpc": `{"jsonrpc":"2.0","jſonrpc":"1.0","id":1,"method":"tools/call","params":{"name":"echo_read",` + meta + `}}`,
		"escaped long s in curſor":   `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"a","cur\u017for":"b",` + meta + `}}`,
		"escaped upper case":         `{"jsonrpc":"2.0","id":1,"method":"tools/list","\u004dETHOD":"tools/call","params":{"name":"echo_write",` + meta + `}}`,
	}
	var cases []refusal
	for name, body := range bodies {
		cases = append(cases, refusal{name: name, body: body, status: http.StatusBadRequest, code: -32600, id: "null"})
	}
	checkRefusals(t, e, tok, cases)
}

// TestUnicodeEscapedMethod: JSON string escapes are decoded before the
// decision, so an escaped method, key or tool name is judged as what the
// server will read: a forbidden tool spelled with escapes still gets the
// step-up challenge, and an allowed one spelled with escapes still works.
func TestUnicodeEscapedMethod(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.token(t, false, "notes:read")
	challenge := e.stepUpChallenge("echo_write", []string{"notes:read", "notes:write"}, []string{"notes:write"})
	cases := []refusal{
		{name: "escaped method", body: `{"jsonrpc":"2.0","id":1,"method":"\u0074ools\u002fcall","params":{"name":"echo_write",` + meta + `}}`},
		{name: "escaped solidus", body: `{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"echo_write",` + meta + `}}`},
		{name: "escaped key", body: `{"jsonrpc":"2.0","id":1,"\u006d\u0065thod":"tools/call","params":{"name":"echo_write",` + meta + `}}`},
		{name: "escaped name", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo\u005fwrite",` + meta + `}}`},
		{name: "escaped name key", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"n\u0061me":"echo_write",` + meta + `}}`},
		{name: "escaped name with a truthful plain Mcp-Name", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\u0065cho_write",` + meta + `}}`,
			headers: modernHeaders("tools/call", "echo_write")},
	}
	for i := range cases {
		cases[i].status, cases[i].id, cases[i].challenge = http.StatusForbidden, "1", challenge
	}
	// Escapes that decode to a different method are that method, unknown.
	cases = append(cases,
		refusal{name: "dotless i is another method", body: `{"jsonrpc":"2.0","id":1,"method":"tools/cal\u0131","params":{"name":"echo_write",` + meta + `}}`,
			status: http.StatusNotFound, code: -32601, id: "1"},
		refusal{name: "escaped NUL is another method", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call\u0000","params":{"name":"echo_write",` + meta + `}}`,
			status: http.StatusNotFound, code: -32601, id: "1"},
		refusal{name: "fullwidth solidus is another method", body: `{"jsonrpc":"2.0","id":1,"method":"tools\uff0fcall","params":{"name":"echo_write",` + meta + `}}`,
			status: http.StatusNotFound, code: -32601, id: "1"},
	)
	checkRefusals(t, e, tok, cases)

	// The same escapes on an allowed tool reach the server, which reads
	// the same tool.
	before := e.forwarded()
	r := e.post(t, tok, `{"jsonrpc":"2.0","id":1,"\u006dethod":"\u0074ools/call","params":{"name":"echo\u005fread","arguments":{"text":"hi"},`+meta+`}}`,
		modernHeaders("tools/call", "echo_read")...)
	if r.status != http.StatusOK || !strings.Contains(r.body, `\"tool\":\"echo_read\"`) {
		t.Errorf("escaped allowed call: %s", statusOf(r))
	}
	if e.forwarded() != before+1 {
		t.Errorf("escaped allowed call: forwarded %d requests, want 1", e.forwarded()-before)
	}
}

// TestMcpNameLies: 2026-07-28 Mcp-Method / Mcp-Name headers that disagree
// with the body → 400 with JSON-RPC error -32020 (HeaderMismatch), in
// either direction; the decision is never taken from the headers and
// nothing reaches the server.
func TestMcpNameLies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.token(t, false, "notes:read")
	b64 := func(s string) string { return "=?base64?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?=" }
	v := [2]string{mcp.HeaderProtocolVersion, mcp.ProtocolVersion20260728}
	cases := []refusal{
		{name: "name claims an allowed tool", body: call(`"lie-1"`, "echo_write"), headers: modernHeaders("tools/call", "echo_read"), id: `"lie-1"`},
		{name: "name claims a forbidden tool", body: call(`"lie-2"`, "echo_read"), headers: modernHeaders("tools/call", "echo_write"), id: `"lie-2"`},
		{name: "method claims a list", body: call("3", "echo_write"), headers: modernHeaders("tools/list", ""), id: "3"},
		{name: "method claims ping", body: call("4", "echo_write"), headers: [][2]string{v, {mcp.HeaderMethod, "ping"}, {mcp.HeaderName, "echo_write"}}, id: "4"},
		{name: "base64 name lies", body: call("5", "echo_write"), headers: modernHeaders("tools/call", b64("echo_read")), id: "5"},
		{name: "invalid base64", body: call("6", "echo_write"), headers: modernHeaders("tools/call", "=?base64?!!!?="), id: "6"},
		{name: "name twice, first true", body: call("7", "echo_write"), headers: append(modernHeaders("tools/call", "echo_write"), [2]string{mcp.HeaderName, "echo_read"}), id: "7"},
		{name: "name twice, both true", body: call("8", "echo_write"), headers: append(modernHeaders("tools/call", "echo_write"), [2]string{mcp.HeaderName, "echo_write"}), id: "8"},
		{name: "method twice", body: call("9", "echo_write"), headers: append(modernHeaders("tools/call", "echo_write"), [2]string{mcp.HeaderMethod, "tools/list"}), id: "9"},
		{name: "name on a list", body: modernMessage("10", "tools/list", nil), headers: modernHeaders("tools/list", "echo_read"), id: "10"},
		{name: "name differs by case", body: call("11", "echo_write"), headers: modernHeaders("tools/call", "ECHO_WRITE"), id: "11"},
		{name: "resource uri lies", body: modernMessage("12", "resources/read", map[string]any{"uri": "files://secret"}), headers: modernHeaders("resources/read", "notes://1"), id: "12"},
		{name: "lie without a protocol version header", body: call("13", "echo_write"), headers: [][2]string{{mcp.HeaderMethod, "tools/call"}, {mcp.HeaderName, "echo_read"}}, id: "13"},
		{name: "lie in a legacy-era request", body: legacyToolCall("14", "echo_write"), headers: [][2]string{{mcp.HeaderProtocolVersion, "2025-11-25"}, {mcp.HeaderName, "echo_read"}}, id: "14"},
	}
	for i := range cases {
		cases[i].status, cases[i].code = http.StatusBadRequest, -32020
	}
	checkRefusals(t, e, tok, cases)

	// Truthful headers, base64-wrapped or plain: the body decides.
	r := e.post(t, tok, call("20", "echo_write"), modernHeaders("tools/call", b64("echo_write"))...)
	checkRPCError(t, r, http.StatusForbidden, 0, "20")
	r = e.post(t, tok, call("21", "echo_read"), modernHeaders("tools/call", b64("echo_read"))...)
	if r.status != http.StatusOK {
		t.Errorf("truthful base64 Mcp-Name on an allowed call: %s", statusOf(r))
	}
}

// TestNotificationCarryingToolsCall: a message without id whose method is
// tools/call is judged as a tools/call: a forbidden tool gets the step-up
// challenge (error id null) and never reaches the server; an unknown one
// is refused too.
func TestNotificationCarryingToolsCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.token(t, false, "notes:read")
	cases := []refusal{
		{name: "forbidden tool", body: call("", "echo_write"), headers: modernHeaders("tools/call", "echo_write"),
			status: http.StatusForbidden, id: "null", challenge: e.stepUpChallenge("echo_write", []string{"notes:read", "notes:write"}, []string{"notes:write"})},
		{name: "forbidden tool, legacy shape", body: `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"needs_two"}}`,
			status: http.StatusForbidden, id: "null", challenge: e.stepUpChallenge("needs_two", []string{"files:read", "notes:read"}, []string{"notes:read", "files:read"})},
		{name: "undeclared tool", body: call("", "undeclared"), status: http.StatusForbidden, id: "null"},
		{name: "unknown method", body: `{"jsonrpc":"2.0","method":"admin/shutdown"}`, status: http.StatusForbidden, code: -32601, id: "null"},
		{name: "null id is no notification", body: `{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"echo_write"}}`,
			status: http.StatusBadRequest, code: -32600, id: "null"},
	}
	checkRefusals(t, e, tok, cases)

	// An allowed tool as a notification passes (the server runs it and
	// answers nothing); notifications proper pass for any valid token.
	// Whatever the server then answers is its own business.
	// (notifications/cancelled outside a session is answered by the
	// gateway itself: TestCancelOfAnotherSubject.)
	for _, body := range []string{call("", "echo_read"), modernMessage("", "notifications/progress", map[string]any{"progressToken": "p", "progress": 1})} {
		before := e.forwarded()
		var m struct{ Method string }
		_ = json.Unmarshal([]byte(body), &m)
		r := e.post(t, tok, body, modernHeaders(m.Method, "")...)
		if r.status == http.StatusForbidden || e.forwarded() != before+1 {
			t.Errorf("%s: %s, forwarded %d", body, statusOf(r), e.forwarded()-before)
		}
	}
}

// TestUnknownTool: a tool with no declared scopes and no rule, or one the
// backend does not have, is refused with 403 and no challenge (no scope
// would help) under the default unknown_tool deny, and never listed;
// `unknown_tool allow` lets any valid token list and call it.
func TestUnknownTool(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.token(t, false, "notes:read", "notes:write", "files:read")
	cases := []refusal{
		{name: "undeclared", body: call(`"u1"`, "undeclared"), headers: modernHeaders("tools/call", "undeclared"), id: `"u1"`},
		{name: "nonexistent", body: call(`"u2"`, "no_such_tool"), headers: modernHeaders("tools/call", "no_such_tool"), id: `"u2"`},
		{name: "empty name", body: modernMessage("3", "tools/call", map[string]any{"name": ""}), id: "3"},
		{name: "no name", body: modernMessage("4", "tools/call", nil), id: "4"},
		{name: "null name", body: `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":null,` + meta + `}}`, id: "5"},
		{name: "case variant of a declared tool", body: call("6", "ECHO_READ"), id: "6"},
		{name: "glob-looking name", body: call("7", "echo_*"), id: "7"},
	}
	for i := range cases {
		cases[i].status, cases[i].code = http.StatusForbidden, -32003
	}
	checkRefusals(t, e, tok, cases)
	r := e.post(t, tok, modernMessage("8", "tools/list", nil), modernHeaders("tools/list", "")...)
	if l := decodeList(t, r); strings.Contains(r.body, "undeclared") || len(l.names()) != 4 {
		t.Errorf("tools/list lists %v", l.names())
	}

	t.Run("unknown_tool allow", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{gatewayExtra: "unknown_tool allow"})
		tok := e.token(t, false, "openid")
		r := e.callTool(t, mcptestserver.ToolUndeclared, bearer(tok))
		if r.status != http.StatusOK || !strings.Contains(r.body, `\"tool\":\"undeclared\"`) {
			t.Errorf("undeclared tool under unknown_tool allow: %s", statusOf(r))
		}
		r = e.post(t, tok, modernMessage("8", "tools/list", nil), modernHeaders("tools/list", "")...)
		if got := decodeList(t, r).names(); strings.Join(got, " ") != "undeclared" {
			t.Errorf("tools/list = %v, want [undeclared]: declared tools still need their scopes", got)
		}
		// Declared tools keep their scopes.
		if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok)); r.status != http.StatusForbidden {
			t.Errorf("declared tool without its scope: %s", statusOf(r))
		}
	})
}

// TestUnknownMethod: a method the gateway does not know is refused with
// JSON-RPC -32601 — in the 2026-07-28 era of these messages with HTTP 404,
// as that revision answers a method a server does not implement —
// requests and notifications alike; allow_method lets a named one through;
// the pass-through methods pass.
func TestUnknownMethod(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{gatewayExtra: "allow_method custom/echo"})
	tok := e.token(t, false, "notes:read")
	var cases []refusal
	for i, m := range []string{"tools/delete", "sampling/createMessage", "roots/list", "elicitation/create", "custom/echo2", "Tools/call", "TOOLS/LIST", "tools/call/", " tools/call", "resources/subscribe", "x"} {
		id := fmt.Sprint(i + 1)
		cases = append(cases, refusal{name: m, body: modernMessage(id, m, map[string]any{"name": "echo_write"}),
			status: http.StatusNotFound, code: -32601, id: id})
	}
	checkRefusals(t, e, tok, cases)

	for _, m := range []string{"custom/echo", "ping", "server/discover", "logging/setLevel", "tasks/list", "notifications/roots/list_changed"} {
		t.Run("passes "+m, func(t *testing.T) {
			before := e.forwarded()
			id := "42"
			if strings.HasPrefix(m, "notifications/") {
				id = ""
			}
			r := e.post(t, tok, modernMessage(id, m, nil), modernHeaders(m, "")...)
			if e.forwarded() != before+1 {
				t.Errorf("%s was not forwarded: %s", m, statusOf(r))
			}
			if r.status == http.StatusForbidden {
				t.Errorf("%s refused: %s", m, statusOf(r))
			}
		})
	}
}

// TestOversizedBody: a body over max_body_size is refused with 413 and a
// JSON-RPC error before anything reaches the server; one just under the
// limit is judged and passes. Without the option the limit is 1 MiB.
func TestOversizedBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{gatewayExtra: "max_body_size 4KiB"})
	tok := e.token(t, false, "notes:read")
	padded := func(size int) string {
		head := modernMessage("1", "tools/call", map[string]any{"name": "echo_read", "arguments": map[string]any{"text": ""}})
		// Insert padding into the text argument so the body stays valid.
		i := strings.Index(head, `"text":""`) + len(`"text":"`)
		return head[:i] + strings.Repeat("a", size-len(head)) + head[i:]
	}
	before := e.forwarded()
	for _, size := range []int{4097, 8192, 64 << 10} {
		body := padded(size)
		if len(body) != size {
			t.Fatalf("padding: %d bytes, want %d", len(body), size)
		}
		r := e.post(t, tok, body, modernHeaders("tools/call", "echo_read")...)
		checkRPCError(t, r, http.StatusRequestEntityTooLarge, -32600, "null")
	}
	if n := e.forwarded() - before; n != 0 {
		t.Errorf("%d oversized requests reached the server", n)
	}
	if r := e.post(t, tok, padded(4096), modernHeaders("tools/call", "echo_read")...); r.status != http.StatusOK {
		t.Errorf("body of exactly the limit: %s", statusOf(r))
	}
	// Oversized and forbidden: still 413, never judged as allowed.
	r := e.post(t, tok, strings.Replace(padded(5000), "echo_read", "echo_write", 1))
	checkRPCError(t, r, http.StatusRequestEntityTooLarge, -32600, "null")

	t.Run("default 1 MiB", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{})
		tok := e.token(t, false, "notes:read")
		before := e.forwarded()
		r := e.post(t, tok, padded(1<<20+1), modernHeaders("tools/call", "echo_read")...)
		checkRPCError(t, r, http.StatusRequestEntityTooLarge, -32600, "null")
		if e.forwarded() != before {
			t.Error("oversized request reached the server")
		}
		if r := e.post(t, tok, padded(1<<20), modernHeaders("tools/call", "echo_read")...); r.status != http.StatusOK {
			t.Errorf("1 MiB body: %s", statusOf(r))
		}
	})
}

// chunkedPost sends body with Transfer-Encoding: chunked, one chunk per
// piece, through a pipe.
func (e *env) chunkedPost(t *testing.T, tok string, pieces []string, headers ...[2]string) response {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		for _, p := range pieces {
			if _, err := io.WriteString(pw, p); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, err := http.NewRequest(http.MethodPost, e.resource, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+tok)
	for _, h := range headers {
		req.Header.Add(h[0], h[1])
	}
	r := do(t, req)
	return r
}

// TestChunkedBody: a body sent with Transfer-Encoding: chunked is
// accepted, read whole and judged like any other, however it is split;
// over max_body_size it gets 413.
func TestChunkedBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{gatewayExtra: "max_body_size 4KiB"})
	tok := e.token(t, false, "notes:read")
	split := func(s string, n int) []string {
		var out []string
		for len(s) > n {
			out = append(out, s[:n])
			s = s[n:]
		}
		return append(out, s)
	}
	for _, n := range []int{1, 7, 64, 1 << 20} {
		t.Run(fmt.Sprintf("allowed, chunks of %d", n), func(t *testing.T) {
			before := e.forwarded()
			r := e.chunkedPost(t, tok, split(call("1", "echo_read"), n), modernHeaders("tools/call", "echo_read")...)
			if r.status != http.StatusOK || !strings.Contains(r.body, `\"tool\":\"echo_read\"`) {
				t.Fatalf("chunked allowed call: %s", statusOf(r))
			}
			if e.forwarded() != before+1 {
				t.Errorf("forwarded %d requests, want 1", e.forwarded()-before)
			}
			got := e.mcp.Requests()
			if te := got[len(got)-1].Header.Get("Transfer-Encoding"); te != "" {
				t.Errorf("upstream saw Transfer-Encoding %q", te)
			}
		})
	}
	before := e.forwarded()
	for _, n := range []int{1, 5, 1 << 20} {
		t.Run(fmt.Sprintf("forbidden, chunks of %d", n), func(t *testing.T) {
			r := e.chunkedPost(t, tok, split(call(`"c"`, "echo_write"), n))
			checkRPCError(t, r, http.StatusForbidden, 0, `"c"`)
			if want := e.stepUpChallenge("echo_write", []string{"notes:read", "notes:write"}, []string{"notes:write"}); r.header.Get("WWW-Authenticate") != want {
				t.Errorf("WWW-Authenticate %q, want %q", r.header.Get("WWW-Authenticate"), want)
			}
		})
	}
	t.Run("oversized", func(t *testing.T) {
		body := call("1", "echo_read")
		i := strings.Index(body, `"text":"`) + len(`"text":"`)
		body = body[:i] + strings.Repeat("b", 8<<10) + body[i:]
		r := e.chunkedPost(t, tok, split(body, 1000))
		checkRPCError(t, r, http.StatusRequestEntityTooLarge, -32600, "null")
	})
	t.Run("batch", func(t *testing.T) {
		r := e.chunkedPost(t, tok, split("["+call("1", "echo_write")+"]", 3))
		checkRPCError(t, r, http.StatusBadRequest, -32600, "null")
	})
	if n := e.forwarded() - before; n != 0 {
		t.Errorf("%d refused chunked requests reached the server", n)
	}
}

// TestSessionReplayedByOtherSubject: a legacy session belongs to the
// subject whose initialize created it. Another subject presenting its id —
// POST, GET or DELETE — gets 404 exactly as for a session that does not
// exist, reaches nothing, and cannot end the owner's session.
func TestSessionReplayedByOtherSubject(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{provider: oidctest.Options{Clients: []oidctest.Client{{ID: "mallory", Secret: oidctest.ClientSecret}}}})
	alice := e.token(t, false, "notes:read", "notes:write")
	mallory := e.provider.Token(t, oidctest.TokenRequest{ClientID: "mallory", Secret: oidctest.ClientSecret,
		Scopes: []string{"notes:read", "notes:write"}, Audience: []string{e.resource}})
	sid := e.legacySession(t, alice)

	// What a session that does not exist looks like.
	ghost := e.post(t, mallory, legacyToolCall("1", "echo_read"), legacyHeaders("mcp-session-00000000-0000-0000-0000-000000000000")...)
	if ghost.status != http.StatusNotFound {
		t.Fatalf("unknown session: %s", statusOf(ghost))
	}

	before := e.forwarded()
	same := func(name string, r response) {
		t.Helper()
		if r.status != http.StatusNotFound || r.body != ghost.body {
			t.Errorf("%s with another subject's session: %d %s, want 404 %s", name, r.status, r.body, ghost.body)
		}
	}
	same("tools/call", e.post(t, mallory, legacyToolCall("1", "echo_read"), legacyHeaders(sid)...))
	same("tools/list", e.post(t, mallory, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, legacyHeaders(sid)...))
	same("notification", e.post(t, mallory, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, legacyHeaders(sid)...))
	same("spoofed subject header", e.post(t, mallory, legacyToolCall("1", "echo_read"),
		append(legacyHeaders(sid), [2]string{"X-Scopegate-Subject", "sub-" + oidctest.JWTClientID})...))
	same("GET", do(t, newRequest(t, http.MethodGet, e.resource, "", append(bearer(mallory), [2]string{"Accept", "text/event-stream"}, [2]string{"Mcp-Session-Id", sid}))))
	same("DELETE", do(t, newRequest(t, http.MethodDelete, e.resource, "", append(bearer(mallory), [2]string{"Mcp-Session-Id", sid}))))
	// The owner's id twice, once with a ghost: ambiguous, refused.
	same("two session headers", e.post(t, alice, legacyToolCall("1", "echo_read"),
		[2]string{"Mcp-Session-Id", sid}, [2]string{"Mcp-Session-Id", "mcp-session-x"}, [2]string{mcp.HeaderProtocolVersion, "2025-11-25"}))
	if n := e.forwarded() - before; n != 0 {
		t.Errorf("%d replayed requests reached the server", n)
	}

	// The owner's session is intact, and the owner can end it.
	if r := e.post(t, alice, legacyToolCall("3", "echo_read"), legacyHeaders(sid)...); r.status != http.StatusOK {
		t.Fatalf("owner after the replay attempts: %s", statusOf(r))
	}
	if r := do(t, newRequest(t, http.MethodDelete, e.resource, "", append(bearer(alice), [2]string{"Mcp-Session-Id", sid}))); r.status >= 300 {
		t.Fatalf("owner's DELETE: %s", statusOf(r))
	}
	if r := e.post(t, alice, legacyToolCall("4", "echo_read"), legacyHeaders(sid)...); r.status != http.StatusNotFound {
		t.Errorf("ended session: %s, want 404", statusOf(r))
	}
	// A fresh session of mallory's own works.
	msid := e.legacySession(t, mallory)
	if r := e.post(t, mallory, legacyToolCall("5", "echo_write"), legacyHeaders(msid)...); r.status != http.StatusOK {
		t.Errorf("mallory's own session: %s", statusOf(r))
	}
}

// TestSpoofedScopegateHeaders: X-Scopegate-* headers sent by the client
// are no part of the decision — spoofed scopes neither widen the list nor
// allow a call — and the server sees only the gateway's values.
func TestSpoofedScopegateHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.token(t, false, "notes:read")
	spoof := [][2]string{
		{"X-Scopegate-Scopes", "notes:read notes:write files:read"},
		{"x-scopegate-scopes", "notes:write"},
		{"X-Scopegate-Subject", "admin"},
		{"X-Scopegate-Client-Id", "trusted-app"},
		{"X-Scopegate-Decision", "allow"},
	}
	before := e.forwarded()
	r := e.post(t, tok, call(`"s1"`, "echo_write"), append(modernHeaders("tools/call", "echo_write"), spoof...)...)
	checkRPCError(t, r, http.StatusForbidden, 0, `"s1"`)
	if want := e.stepUpChallenge("echo_write", []string{"notes:read", "notes:write"}, []string{"notes:write"}); r.header.Get("WWW-Authenticate") != want {
		t.Errorf("WWW-Authenticate %q, want %q", r.header.Get("WWW-Authenticate"), want)
	}
	if e.forwarded() != before {
		t.Error("refused call reached the server")
	}
	r = e.post(t, tok, modernMessage("2", "tools/list", nil), append(modernHeaders("tools/list", ""), spoof...)...)
	if got := decodeList(t, r).names(); strings.Join(got, " ") != "echo_read echo_stream" {
		t.Errorf("tools/list with spoofed scopes = %v", got)
	}
	r = e.post(t, tok, call("3", "echo_read"), append(modernHeaders("tools/call", "echo_read"), spoof...)...)
	if r.status != http.StatusOK {
		t.Fatalf("allowed call: %s", statusOf(r))
	}
	got := e.mcp.Requests()
	h := got[len(got)-1].Header
	for name, want := range map[string]string{
		"X-Scopegate-Scopes": "notes:read", "X-Scopegate-Subject": "sub-" + oidctest.JWTClientID, "X-Scopegate-Client-Id": oidctest.JWTClientID,
	} {
		if vs := h.Values(name); len(vs) != 1 || vs[0] != want {
			t.Errorf("upstream %s = %q, want [%q]", name, vs, want)
		}
	}
	if v := h.Values("X-Scopegate-Decision"); v != nil {
		t.Errorf("upstream got the client's X-Scopegate-Decision %q", v)
	}
}
