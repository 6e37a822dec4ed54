package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/rawupstream"
)

// The raw upstream's tools. A notes:read token may see public_read only;
// the other names must never reach it.
var (
	rawTools = []rawupstream.Tool{
		{Name: "public_read", Scopes: []string{"notes:read"}},
		{Name: "forbidden_write", Scopes: []string{"notes:write"}},
		{Name: "undeclared_raw"},
		{Name: "both_needed", Scopes: []string{"notes:read", "files:read"}},
	}
	forbiddenNames = []string{"forbidden_write", "undeclared_raw", "both_needed"}
)

// rawToolJSON is the JSON of one raw tool, as ToolsResult writes it.
func rawToolJSON(i int) string {
	s := rawupstream.ToolsResult(rawTools[i])
	return strings.TrimSuffix(strings.TrimPrefix(s, `{"tools":[`), `]}`)
}

// rawListEnv is a gateway in front of a raw upstream whose discovery
// answer is the good JSON list, and whose answer to clients' tools/list
// is client(request).
func rawListEnv(t *testing.T, gateway string, client rawupstream.Handler) (*env, *rawupstream.Server) {
	t.Helper()
	e, raw := rawEnv(t, gateway)
	good := rawupstream.JSON(rawupstream.Result(rawupstream.ToolsResult(rawTools...)))
	raw.Handle("tools/list", func(r rawupstream.Request) rawupstream.Response {
		if r.Discovery() {
			return good
		}
		return client(r)
	})
	return e, raw
}

// noForbidden asserts that none of the forbidden names is in the body.
func noForbidden(t *testing.T, r response) {
	t.Helper()
	for _, name := range forbiddenNames {
		if strings.Contains(r.body, name) {
			t.Errorf("the client got %q:\n%s", name, r.body)
		}
	}
}

// listTools sends tools/list with the raw JSON id.
func (e *env) listTools(t *testing.T, tok, id string) response {
	t.Helper()
	return e.post(t, tok, modernMessage(id, "tools/list", nil), modernHeaders("tools/list", "")...)
}

// progressEvent is a notification event that must pass through untouched.
const progressData = `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p","progress":1,"total":2}}`

// TestToolsListSSE: a tools/list answered as an event stream is filtered
// per event: other events pass unchanged, id and retry fields are kept,
// the response keeps only the token's tools with nextCursor preserved,
// cacheScope private, ttlMs 0 (the list must grow at once after a
// step-up) and _meta["scopegate/hidden"] saying what more exists. The JSON
// form is filtered the same way.
func TestToolsListSSE(t *testing.T) {
	t.Parallel()
	result := `{"tools":[` + rawToolJSON(0) + "," + rawToolJSON(1) + "," + rawToolJSON(2) + "," + rawToolJSON(3) +
		`],"nextCursor":"page-2","ttlMs":60000,"cacheScope":"public"}`
	e, raw := rawListEnv(t, "", func(r rawupstream.Request) rawupstream.Response {
		if r.Header.Get("X-Form") == "json" {
			return rawupstream.JSON(rawupstream.Result(result))
		}
		return rawupstream.SSE(
			"id: ev-0\ndata:\n\n",
			"retry: 1500\n: keep-alive comment\n\n",
			"event: message\ndata: "+progressData+"\n\n",
			"id: ev-2\nevent: message\ndata: "+rawupstream.Result(result)+"\n\n",
		)
	})
	for _, tc := range []struct {
		scopes []string
		want   []string
		reveal []string // the scopes that would reveal the hidden tools
	}{
		{[]string{"notes:read"}, []string{"public_read"}, []string{"files:read", "notes:write"}},
		{[]string{"notes:read", "files:read"}, []string{"both_needed", "public_read"}, []string{"notes:write"}},
		{[]string{"notes:write"}, []string{"forbidden_write"}, []string{"files:read", "notes:read"}},
		{[]string{"openid"}, nil, []string{"files:read", "notes:read", "notes:write"}},
	} {
		tok := e.token(t, false, tc.scopes...)
		for _, form := range []string{"sse", "json"} {
			t.Run(strings.Join(tc.scopes, "+")+"/"+form, func(t *testing.T) {
				r := e.post(t, tok, modernMessage(`"list-1"`, "tools/list", nil), append(modernHeaders("tools/list", ""),
					[2]string{"X-Form", form}, [2]string{"Accept-Encoding", "br, zstd, deflate"})...)
				if r.status != http.StatusOK {
					t.Fatalf("%s", statusOf(r))
				}
				wantType := map[string]string{"sse": "text/event-stream", "json": "application/json"}[form]
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
					t.Fatalf("Content-Type %q, want %s", ct, wantType)
				}
				l := decodeList(t, r)
				if got := l.names(); !slices.Equal(got, tc.want) {
					t.Errorf("tools = %v, want %v\n%s", got, tc.want, r.body)
				}
				if string(l.ID) != `"list-1"` || l.Result.NextCursor != "page-2" || l.Result.CacheScope != "private" {
					t.Errorf("id %s, nextCursor %q, cacheScope %q; want \"list-1\", page-2, private", l.ID, l.Result.NextCursor, l.Result.CacheScope)
				}
				if l.Result.TTLMs == nil || *l.Result.TTLMs != 0 {
					t.Errorf("ttlMs of a filtered list is not 0 (backend said 60000)\n%s", r.body)
				}
				if h := l.Result.Meta.Hidden; h == nil || h.Count != len(rawTools)-len(tc.want) || !slices.Equal(h.Scopes, tc.reveal) {
					t.Errorf("_meta[scopegate/hidden] = %+v, want count %d, scopes %v\n%s", h, len(rawTools)-len(tc.want), tc.reveal, r.body)
				}
				for _, name := range forbiddenNames {
					if !slices.Contains(tc.want, name) && strings.Contains(r.body, name) {
						t.Errorf("body contains %q", name)
					}
				}
				if form == "json" {
					if cl := r.header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(r.body)) {
						t.Errorf("Content-Length %s for a %d-byte body", cl, len(r.body))
					}
					return
				}
				events := parseSSE(t, r.body)
				if !slices.ContainsFunc(events, func(ev sseEvent) bool { return ev.data == progressData }) {
					t.Errorf("progress event not passed unchanged:\n%s", r.body)
				}
				for _, field := range []string{"id: ev-0", "id: ev-2", "retry: 1500"} {
					if !strings.Contains(r.body, field+"\n") {
						t.Errorf("field %q lost:\n%s", field, r.body)
					}
				}
			})
		}
	}
	// The client's Accept-Encoding is not forwarded for a list the gateway
	// rewrites. (Caddy's proxy transport may ask for gzip on its own; it
	// then decodes the answer itself.)
	for _, req := range raw.ClientRequests() {
		if ae := req.Header.Get("Accept-Encoding"); req.RPCMethod == "tools/list" && ae != "" && ae != "gzip" {
			t.Errorf("tools/list forwarded with the client's Accept-Encoding %q", ae)
		}
	}
}

// sseStream is a list answer as a raw upstream might frame it, with the
// line end le: a preamble event, a progress notification, and the
// response whose data spans three lines.
func sseStream(le string) string {
	return "id: 0" + le + "data:" + le + le +
		": comment" + le +
		"event: message" + le + "data: " + progressData + le + le +
		"id: 7" + le + "event: message" + le +
		`data: {"jsonrpc":"2.0","id":` + rawupstream.IDPlaceholder + `,"result":{"tools":[` + rawToolJSON(1) + "," + le +
		"data: " + rawToolJSON(0) + "," + le +
		"data:" + rawToolJSON(2) + "," + rawToolJSON(3) + "]}}" + le + le
}

// checkFiltered asserts the stream reached the client filtered for a
// notes:read token: only public_read, the progress event intact.
func checkFiltered(t *testing.T, r response) {
	t.Helper()
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%s (Content-Type %q)", statusOf(r), r.header.Get("Content-Type"))
	}
	noForbidden(t, r)
	if got := decodeList(t, r).names(); !slices.Equal(got, []string{"public_read"}) {
		t.Errorf("tools = %v, want [public_read]\n%q", got, r.body)
	}
	if !slices.ContainsFunc(parseSSE(t, r.body), func(ev sseEvent) bool { return ev.data == progressData }) {
		t.Errorf("progress event lost:\n%q", r.body)
	}
}

// TestSSESplitAcrossWrites: the upstream writes the stream in pieces of
// every size from one byte up, flushing after each, so events, lines,
// field names, JSON tokens and CR LF pairs are split across writes; the
// client always gets the filtered list.
func TestSSESplitAcrossWrites(t *testing.T) {
	t.Parallel()
	e, _ := rawListEnv(t, "", func(r rawupstream.Request) rawupstream.Response {
		var n int
		var le string
		fmt.Sscanf(strings.Trim(r.RPCID, `"`), "%d-%s", &n, &le)
		stream := sseStream(map[string]string{"lf": "\n", "crlf": "\r\n", "cr": "\r"}[le])
		stream = strings.ReplaceAll(stream, rawupstream.IDPlaceholder, r.RPCID)
		var chunks []string
		if n == 0 {
			// Split right after every CR: CR LF pairs straddle writes.
			for s := range strings.SplitAfterSeq(stream, "\r") {
				chunks = append(chunks, s)
			}
		} else {
			for len(stream) > n {
				chunks = append(chunks, stream[:n])
				stream = stream[n:]
			}
			chunks = append(chunks, stream)
		}
		return rawupstream.Response{ContentType: "text/event-stream", Chunks: chunks, Pause: 200 * time.Microsecond}
	})
	tok := e.token(t, false, "notes:read")
	for _, le := range []string{"lf", "crlf", "cr"} {
		for _, n := range []int{0, 1, 2, 3, 5, 8, 13, 64, 4096} {
			if n == 0 && le == "lf" {
				continue
			}
			t.Run(fmt.Sprintf("%s/%d", le, n), func(t *testing.T) {
				checkFiltered(t, e.listTools(t, tok, fmt.Sprintf(`"%d-%s"`, n, le)))
			})
		}
	}
}

// TestSSEMixedLineEndings: CR, LF and CR LF line ends mixed within one
// stream and within one event, a leading BOM, comments, fields without a
// space after the colon, and a response event of another event type: all
// parsed by the WHATWG rules, so the response is found and filtered.
func TestSSEMixedLineEndings(t *testing.T) {
	t.Parallel()
	streams := map[string]string{
		"mixed within the event": "id: 1\r\nevent: message\rdata: " + progressData + "\n\r\n" +
			`data: {"jsonrpc":"2.0","id":` + rawupstream.IDPlaceholder + `,"result":{"tools":[` + rawToolJSON(1) + ",\r" +
			"data: " + rawToolJSON(0) + ",\r\n" +
			"data: " + rawToolJSON(2) + "," + rawToolJSON(3) + "]}}\n\r",
		"leading BOM": "\uFEFF" + sseStream("\r\n"),
		"BOM then CR": "\uFEFF" + sseStream("\r"),
		"no space after colon, comments between data lines": ":c\ndata:" + progressData + "\n\n" +
			`data:{"jsonrpc":"2.0","id":` + rawupstream.IDPlaceholder + `,"result":{"tools":[` + rawToolJSON(1) + ",\n" +
			": interleaved comment\r\n" +
			"data:" + rawToolJSON(0) + "," + rawToolJSON(2) + "," + rawToolJSON(3) + "]}}\r\n\n",
		"response under another event type": "data: " + progressData + "\n\n" +
			"event: custom\r\ndata: " + rawupstream.Result(rawupstream.ToolsResult(rawTools...)) + "\r\n\r\n",
		"no final blank line": "data: " + progressData + "\n\n" +
			"data: " + rawupstream.Result(rawupstream.ToolsResult(rawTools...)) + "\n",
		"unknown field names are not data": "data: " + progressData + "\n\n" +
			"Data: " + rawupstream.Result(rawupstream.ToolsResult(rawTools[1])) + "\n" +
			"data: " + rawupstream.Result(rawupstream.ToolsResult(rawTools...)) + "\n\n",
	}
	e, _ := rawListEnv(t, "", func(r rawupstream.Request) rawupstream.Response {
		s := streams[strings.Trim(r.RPCID, `"`)]
		// Two writes, split inside the response event.
		mid := strings.LastIndex(s, "data")
		return rawupstream.SSE(s[:mid+2], s[mid+2:])
	})
	tok := e.token(t, false, "notes:read")
	for name := range streams {
		t.Run(name, func(t *testing.T) {
			r := e.listTools(t, tok, strconv.Quote(name))
			if name == "no final blank line" {
				// An event never completed is never dispatched by a
				// client; the gateway must not emit it either.
				noForbidden(t, r)
				return
			}
			checkFiltered(t, r)
		})
	}
}

// TestUnparsableListEvent: a list response event that cannot be read
// unambiguously is replaced by a JSON-RPC error event (code -32603, the
// request's id); the raw list never passes, so no forbidden name reaches
// the client. In JSON form the whole response becomes a 502 error.
func TestUnparsableListEvent(t *testing.T) {
	t.Parallel()
	pub, forb := rawToolJSON(0), rawToolJSON(1)
	bodies := map[string]string{
		"truncated":              `{"jsonrpc":"2.0","id":{{id}},"result":{"tools":[` + pub + "," + forb,
		"trailing garbage":       rawupstream.Result(`{"tools":[`+pub+","+forb+`]}`) + ` {"tools":[` + forb + `]}`,
		"duplicate result":       `{"jsonrpc":"2.0","id":{{id}},"result":{"tools":[` + pub + `]},"result":{"tools":[` + forb + `]}}`,
		"case-variant result":    `{"jsonrpc":"2.0","id":{{id}},"result":{"tools":[` + pub + `]},"Result":{"tools":[` + forb + `]}}`,
		"duplicate tools":        rawupstream.Result(`{"tools":[` + pub + `],"tools":[` + forb + `]}`),
		"case-variant tools":     rawupstream.Result(`{"tools":[` + pub + `],"TOOLS":[` + forb + `]}`),
		"duplicate tool name":    rawupstream.Result(`{"tools":[{"name":"public_read","name":"forbidden_write","_meta":{"scopegate/scopes":["notes:read"]}}]}`),
		"case-variant tool name": rawupstream.Result(`{"tools":[{"name":"public_read","Name":"forbidden_write","_meta":{"scopegate/scopes":["notes:read"]}}]}`),
		"tools not an array":     rawupstream.Result(`{"tools":{"x":` + forb + `}}`),
		"batch of responses":     `[` + rawupstream.Result(`{"tools":[`+forb+`]}`) + `]`,
		"result and error":       `{"jsonrpc":"2.0","id":{{id}},"result":{"tools":[` + forb + `]},"error":{"code":1,"message":"x"}}`,
		"method and result":      `{"jsonrpc":"2.0","id":{{id}},"method":"x","result":{"tools":[` + forb + `]}}`,
		"invalid string escape":  rawupstream.Result(`{"tools":[` + forb + `,{"name":"\x"}]}`),
	}
	e, _ := rawListEnv(t, "", func(r rawupstream.Request) rawupstream.Response {
		name := r.Header.Get("X-Case")
		body := strings.ReplaceAll(bodies[name], "{{id}}", r.RPCID)
		if r.Header.Get("X-Form") == "json" {
			return rawupstream.JSON(body)
		}
		// The bad event among good ones, split across writes.
		half := len(body) / 2
		return rawupstream.SSE("event: message\ndata: "+progressData+"\n\n", "event: message\ndata: "+body[:half], body[half:]+"\n\n",
			": after\n\n")
	})
	tok := e.token(t, false, "notes:read")
	for name := range bodies {
		for _, form := range []string{"sse", "json"} {
			t.Run(name+"/"+form, func(t *testing.T) {
				r := e.post(t, tok, modernMessage(`"bad-1"`, "tools/list", nil),
					append(modernHeaders("tools/list", ""), [2]string{"X-Case", name}, [2]string{"X-Form", form})...)
				noForbidden(t, r)
				if form == "json" {
					checkRPCError(t, r, http.StatusBadGateway, -32603, `"bad-1"`)
					return
				}
				if r.status != http.StatusOK {
					t.Fatalf("%s", statusOf(r))
				}
				var errs int
				for _, ev := range parseSSE(t, r.body) {
					var x rpcError
					if json.Unmarshal([]byte(ev.data), &x) == nil && x.Error != nil {
						errs++
						if x.Error.Code != -32603 || string(x.ID) != `"bad-1"` {
							t.Errorf("error event %s, want code -32603 and id \"bad-1\"", ev.data)
						}
					}
				}
				if errs != 1 {
					t.Errorf("%d error events, want 1:\n%s", errs, r.body)
				}
				if !strings.Contains(r.body, progressData) {
					t.Errorf("the good event before the bad one was lost:\n%s", r.body)
				}
			})
		}
	}
}

// TestResourceAndPromptRules: resource_scope and prompt rules filter
// resources/list, resources/templates/list and prompts/list, and decide
// resources/read and prompts/get with step-up challenges (the first
// matching glob in configuration order decides); resources and
// prompts no rule covers are refused (unknown_resource/unknown_prompt
// deny).
func TestResourceAndPromptRules(t *testing.T) {
	t.Parallel()
	e, raw := rawEnv(t, `
		resource_scope notes://* notes:read
		resource_scope files://public/* notes:read
		resource_scope files://* files:read
		prompt summarize notes:read
		prompt admin_* notes:write`)
	raw.Respond("tools/list", rawupstream.JSON(rawupstream.Result(rawupstream.ToolsResult(rawTools...))))
	raw.Respond("resources/list", rawupstream.SSE("data: "+rawupstream.Result(`{"resources":[`+
		`{"uri":"notes://1","name":"n1"},{"uri":"files://secret/a","name":"f1"},{"uri":"files://public/b","name":"f2"},{"uri":"cal://x","name":"c"}],"nextCursor":"r2"}`)+"\n\n"))
	raw.Respond("resources/templates/list", rawupstream.JSON(rawupstream.Result(`{"resourceTemplates":[`+
		`{"uriTemplate":"notes://{id}","name":"nt"},{"uriTemplate":"files://{path}","name":"ft"}]}`)))
	raw.Respond("prompts/list", rawupstream.JSON(rawupstream.Result(`{"prompts":[`+
		`{"name":"summarize"},{"name":"admin_reset"},{"name":"unruled"}]}`)))
	raw.Respond("resources/read", rawupstream.JSON(rawupstream.Result(`{"contents":[]}`)))
	raw.Respond("prompts/get", rawupstream.JSON(rawupstream.Result(`{"messages":[]}`)))

	tok := e.token(t, false, "notes:read")
	for _, tc := range []struct {
		method string
		want   []string
	}{
		{"resources/list", []string{"files://public/b", "notes://1"}},
		{"resources/templates/list", []string{"notes://{id}"}},
		{"prompts/list", []string{"summarize"}},
	} {
		t.Run(tc.method, func(t *testing.T) {
			r := e.post(t, tok, modernMessage("1", tc.method, nil), modernHeaders(tc.method, "")...)
			l := decodeList(t, r)
			if got := l.names(); !slices.Equal(got, tc.want) {
				t.Errorf("%s = %v, want %v\n%s", tc.method, got, tc.want, r.body)
			}
			for _, hidden := range []string{"files://secret", "cal://", "files://{path}", "admin_reset", "unruled"} {
				if strings.Contains(r.body, hidden) {
					t.Errorf("%s leaks %q", tc.method, hidden)
				}
			}
		})
	}

	before := len(raw.ClientRequests())
	cases := []refusal{
		{name: "read a files resource", body: modernMessage(`"r1"`, "resources/read", map[string]any{"uri": "files://secret/a"}),
			headers: modernHeaders("resources/read", "files://secret/a"), status: http.StatusForbidden, id: `"r1"`,
			challenge: e.stepUpChallenge("files://secret/a", []string{"files:read", "notes:read"}, []string{"files:read"})},
		{name: "read an unruled resource", body: modernMessage("2", "resources/read", map[string]any{"uri": "cal://x"}),
			status: http.StatusForbidden, code: -32003, id: "2"},
		{name: "get an admin prompt", body: modernMessage("3", "prompts/get", map[string]any{"name": "admin_reset"}),
			headers: modernHeaders("prompts/get", "admin_reset"), status: http.StatusForbidden, id: "3",
			challenge: e.stepUpChallenge("admin_reset", []string{"notes:read", "notes:write"}, []string{"notes:write"})},
		{name: "get an unruled prompt", body: modernMessage("4", "prompts/get", map[string]any{"name": "unruled"}),
			status: http.StatusForbidden, code: -32003, id: "4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(t, tok, tc.body, tc.headers...)
			checkRPCError(t, r, tc.status, tc.code, tc.id)
			if got := r.header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate\n got  %q\n want %q", got, tc.challenge)
			}
		})
	}
	// A client-chosen uri lands in the challenge: it must not break the
	// header's syntax nor add parameters. Uris out of normal form (spaces,
	// controls, backslashes) are refused with 400 before any challenge.
	for _, uri := range []string{`files://x", scope="everything`, "files://a\r\nX-Injected: 1", `files://\\"`, "files://é\u0000\u007f"} {
		r := e.post(t, tok, modernMessage("9", "resources/read", map[string]any{"uri": uri}))
		if r.status != http.StatusBadRequest || r.header.Get("X-Injected") != "" || r.header.Get("WWW-Authenticate") != "" {
			t.Fatalf("uri %q: %s, want 400 without a challenge", uri, statusOf(r))
		}
	}
	for _, uri := range []string{`files://x",scope="everything`, `files://x"error="invalid_token`, "files://é\"é"} {
		r := e.post(t, tok, modernMessage("9", "resources/read", map[string]any{"uri": uri}))
		if r.status != http.StatusForbidden || r.header.Get("X-Injected") != "" {
			t.Fatalf("uri %q: %s", uri, statusOf(r))
		}
		params := parseChallenge(t, r.header.Get("WWW-Authenticate"))
		if len(params) != 4 || params["scope"] != "files:read notes:read" || params["error"] != "insufficient_scope" ||
			!strings.HasSuffix(params["error_description"], " requires files:read") {
			t.Errorf("uri %q: challenge %q parsed as %q", uri, r.header.Get("WWW-Authenticate"), params)
		}
		var body rpcError
		if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Error == nil || !strings.Contains(body.Error.Message, "files://") {
			t.Errorf("uri %q: body %q", uri, r.body)
		}
	}
	if n := len(raw.ClientRequests()) - before; n != 0 {
		t.Errorf("%d refused requests reached the upstream", n)
	}
	for _, body := range []string{
		modernMessage("5", "resources/read", map[string]any{"uri": "notes://1"}),
		modernMessage("6", "resources/read", map[string]any{"uri": "files://public/b"}),
		modernMessage("7", "prompts/get", map[string]any{"name": "summarize"}),
	} {
		before := len(raw.ClientRequests())
		if r := e.post(t, tok, body); r.status != http.StatusOK || len(raw.ClientRequests()) != before+1 {
			t.Errorf("%s: %s", body, statusOf(r))
		}
	}
}

// TestCatalogRefreshAfterListChanged: when a response the gateway passes
// carries notifications/tools/list_changed, the gateway discovers the
// backend's tools again: a tool the backend added is then callable with
// its declared scope, without any client listing tools.
func TestCatalogRefreshAfterListChanged(t *testing.T) {
	t.Parallel()
	e, raw := rawEnv(t, "")
	var added bool
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	raw.Handle("tools/list", func(r rawupstream.Request) rawupstream.Response {
		<-mu
		tools := []rawupstream.Tool{rawTools[0]}
		if added {
			tools = append(tools, rawupstream.Tool{Name: "late_tool", Scopes: []string{"notes:read"}})
		}
		mu <- struct{}{}
		return rawupstream.JSON(rawupstream.Result(rawupstream.ToolsResult(tools...)))
	})
	raw.Handle("tools/call", func(r rawupstream.Request) rawupstream.Response {
		if strings.Contains(string(r.Body), `"public_read"`) {
			return rawupstream.SSE(
				"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\n",
				"event: message\ndata: "+rawupstream.Result(`{"content":[{"type":"text","text":"ok"}]}`)+"\n\n")
		}
		return rawupstream.JSON(rawupstream.Result(`{"content":[{"type":"text","text":"late"}]}`))
	})
	tok := e.token(t, false, "notes:read")
	r := e.post(t, tok, call("1", "late_tool"), modernHeaders("tools/call", "late_tool")...)
	checkRPCError(t, r, http.StatusForbidden, -32003, "1")

	<-mu
	added = true
	mu <- struct{}{}
	discoveries := func() int {
		n := 0
		for _, req := range raw.Requests() {
			if req.Discovery() && req.RPCMethod == "tools/list" {
				n++
			}
		}
		return n
	}
	before := discoveries()
	r = e.post(t, tok, call("2", "public_read"), modernHeaders("tools/call", "public_read")...)
	if r.status != http.StatusOK || !strings.Contains(r.body, "notifications/tools/list_changed") {
		t.Fatalf("call announcing list_changed: %s", statusOf(r))
	}
	eventually(t, "late_tool callable after list_changed", func() (bool, string) {
		r := e.post(t, tok, call("3", "late_tool"), modernHeaders("tools/call", "late_tool")...)
		return r.status == http.StatusOK, statusOf(r)
	})
	if discoveries() <= before {
		t.Errorf("no discovery tools/list after list_changed")
	}
	for _, req := range raw.ClientRequests() {
		if req.RPCMethod == "tools/list" {
			t.Errorf("a client tools/list was sent; the refresh must come from discovery")
		}
	}
	// And the new tool keeps its declared scope. files:read is no scope of
	// this backend's catalog, so the challenge does not repeat it.
	r = e.post(t, e.token(t, false, "files:read"), call("4", "late_tool"), modernHeaders("tools/call", "late_tool")...)
	if want := e.stepUpChallenge("late_tool", []string{"notes:read"}, []string{"notes:read"}); r.status != http.StatusForbidden || r.header.Get("WWW-Authenticate") != want {
		t.Errorf("late_tool without its scope: %s, want 403 %q", statusOf(r), want)
	}
}

// TestEncodedListResponse: a list response with a content encoding the
// gateway cannot read is refused (502 with a JSON-RPC error), in JSON and
// SSE form, never passed on; a gzip answer to the proxy's own gzip request
// is decoded by the proxy and filtered.
func TestEncodedListResponse(t *testing.T) {
	t.Parallel()
	list := rawupstream.Result(rawupstream.ToolsResult(rawTools...))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(strings.ReplaceAll(list, rawupstream.IDPlaceholder, "9")))
	zw.Close()
	e, _ := rawListEnv(t, "", func(r rawupstream.Request) rawupstream.Response {
		resp := rawupstream.JSON(list)
		switch r.Header.Get("X-Case") {
		case "br":
			resp.Header = http.Header{"Content-Encoding": {"br"}}
		case "br-sse":
			resp = rawupstream.SSE("data: " + list + "\n\n")
			resp.Header = http.Header{"Content-Encoding": {"br"}}
		case "gzip":
			if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				return rawupstream.Response{Status: http.StatusNotAcceptable, ContentType: "text/plain", Chunks: []string{"no gzip asked"}}
			}
			resp = rawupstream.Response{Header: http.Header{"Content-Encoding": {"gzip"}}, Chunks: []string{gz.String()}}
		}
		return resp
	})
	tok := e.token(t, false, "notes:read")
	for _, c := range []string{"br", "br-sse"} {
		t.Run(c, func(t *testing.T) {
			r := e.post(t, tok, modernMessage("9", "tools/list", nil), append(modernHeaders("tools/list", ""), [2]string{"X-Case", c})...)
			noForbidden(t, r)
			checkRPCError(t, r, http.StatusBadGateway, -32603, "9")
		})
	}
	t.Run("gzip", func(t *testing.T) {
		r := e.post(t, tok, modernMessage("9", "tools/list", nil), append(modernHeaders("tools/list", ""), [2]string{"X-Case", "gzip"})...)
		if r.status == http.StatusNotAcceptable {
			t.Fatal("Caddy's transport did not ask the upstream for gzip, so this case cannot be set up: check the reverse_proxy transport's compression default")
		}
		noForbidden(t, r)
		if got := decodeList(t, r).names(); !slices.Equal(got, []string{"public_read"}) {
			t.Errorf("tools = %v, want [public_read]: %s", got, statusOf(r))
		}
	})
}
