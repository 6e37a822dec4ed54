package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// everythingSite is server-everything behind the gateway with the rules
// of the issue: static documents need "low", everything else "high".
func everythingSite(t *testing.T) *env {
	t.Helper()
	addr := startEverything(t)
	return newSite(t, siteOptions{upstream: addr, scopesSupported: "openid low high", gateway: strings.Join([]string{
		"resource_scope demo://resource/static/document/* low",
		"resource_scope * high",
		"prompt completable-prompt high",
		"prompt * low",
		"tool * low",
	}, "\n")})
}

// TestResourceURIDotSegments (issue 19, point 2): a "low" token must not
// reach a "high" resource by dressing its uri up as a static document
// with dot-segments, plain or percent-encoded, which the TypeScript SDK
// resolves the WHATWG way before looking the resource up. The gateway
// refuses uris that are not in normal form (400, -32602), before the
// backend sees them; a normal uri is judged as before.
func TestResourceURIDotSegments(t *testing.T) {
	t.Parallel()
	e := everythingSite(t)
	low := e.token(t, false, "low")
	sid := e.legacySession(t, low)
	read := func(uri string) rpcReply {
		return e.legacy(t, low, sid, rpc("2", "resources/read", map[string]any{"uri": uri}))
	}
	if r := read("demo://resource/static/document/features.md"); r.status != http.StatusOK || r.Result == nil {
		t.Fatalf("low token reading a static document: %d %s", r.status, r.body)
	}
	if r := read("demo://resource/dynamic/text/1"); r.status != http.StatusForbidden {
		t.Fatalf("low token reading a dynamic resource: %d %s, want 403", r.status, r.body)
	}
	for _, uri := range []string{
		"demo://resource/static/document/../../dynamic/text/1",
		"demo://resource/static/document/%2e%2e/%2E%2E/dynamic/text/1",
		"demo://resource/static/document/.%2e/..%2F../dynamic/text/1",
		"demo://resource/static/document/./../../dynamic/text/1",
		"demo://resource/static/document/..\\..\\dynamic/text/1",
		"demo://resource/static/document/\t../../dynamic/text/1",
	} {
		r := read(uri)
		if r.status != http.StatusBadRequest || r.code() != -32602 || strings.Contains(r.body, "plaintext resource") {
			t.Errorf("low token reading %q: %d %s, want 400 -32602", uri, r.status, r.body)
		}
	}
}

// TestCompletionJudged (issue 19, point 3): completion/complete is judged
// by the rule of the prompt or resource it completes for: a token that may
// not get completable-prompt gets its 403 challenge, not its completions.
func TestCompletionJudged(t *testing.T) {
	t.Parallel()
	e := everythingSite(t)
	low, high := e.token(t, false, "low"), e.token(t, false, "low", "high")
	complete := func(tok, sid string, ref map[string]any) rpcReply {
		return e.legacy(t, tok, sid, rpc("2", "completion/complete", map[string]any{
			"ref": ref, "argument": map[string]any{"name": "name", "value": ""}, "context": map[string]any{"arguments": map[string]any{"department": "Engineering"}},
		}))
	}
	prompt := map[string]any{"type": "ref/prompt", "name": "completable-prompt"}
	sidLow := e.legacySession(t, low)
	r := complete(low, sidLow, prompt)
	if r.status != http.StatusForbidden || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) || strings.Contains(r.body, "Alice") {
		t.Errorf("low token completing completable-prompt: %d %q %s, want the 403 challenge", r.status, r.header.Get("WWW-Authenticate"), r.body)
	}
	tmpl := map[string]any{"type": "ref/resource", "uri": "demo://resource/dynamic/text/{resourceId}"}
	if r := complete(low, sidLow, tmpl); r.status != http.StatusForbidden {
		t.Errorf("low token completing a high resource template: %d %s, want 403", r.status, r.body)
	}
	if r := complete(low, sidLow, map[string]any{"type": "ref/other", "name": "x"}); r.status < 400 {
		t.Errorf("an unknown ref type passed: %d %s", r.status, r.body)
	}
	sidHigh := e.legacySession(t, high)
	if r := complete(high, sidHigh, prompt); r.status != http.StatusOK || !strings.Contains(string(r.Result), "Alice") {
		t.Errorf("high token completing completable-prompt: %d %s", r.status, r.body)
	}
}

// TestResourceSubscribeEnforced (issue 15, point 1): resources/subscribe
// and resources/unsubscribe are judged like resources/read: allowed for a
// uri the token may read, the 403 challenge otherwise.
func TestResourceSubscribeEnforced(t *testing.T) {
	t.Parallel()
	e := everythingSite(t)
	low := e.token(t, false, "low")
	sid := e.legacySession(t, low)
	for _, m := range []string{"resources/subscribe", "resources/unsubscribe"} {
		r := e.legacy(t, low, sid, rpc("2", m, map[string]any{"uri": "demo://resource/static/document/features.md"}))
		if r.status != http.StatusOK || r.Error != nil {
			t.Errorf("%s of a readable resource: %d %s", m, r.status, r.body)
		}
		r = e.legacy(t, low, sid, rpc("3", m, map[string]any{"uri": "demo://resource/dynamic/text/1"}))
		if r.status != http.StatusForbidden || !strings.Contains(r.header.Get("WWW-Authenticate"), "high") {
			t.Errorf("%s of a high resource: %d %q %s, want the 403 challenge", m, r.status, r.header.Get("WWW-Authenticate"), r.body)
		}
	}
}

// TestCORSOwnedByGateway (issue 19, point 7): server-everything answers
// with Access-Control-Allow-Origin: * of its own; on the MCP endpoint the
// gateway's CORS headers replace the upstream's, each once, and a
// preflight names Origin in Vary once.
func TestCORSOwnedByGateway(t *testing.T) {
	t.Parallel()
	e := everythingSite(t)
	low := e.token(t, false, "low")
	origin := e.base
	r := e.post(t, low, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"0"}}}`,
		[2]string{"Origin", origin})
	if r.status != http.StatusOK {
		t.Fatalf("initialize: %s", statusOf(r))
	}
	if got := r.header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != origin {
		t.Errorf("Access-Control-Allow-Origin %q, want exactly [%s]", got, origin)
	}
	if got := r.header.Values("Access-Control-Expose-Headers"); len(got) != 1 {
		t.Errorf("Access-Control-Expose-Headers %q, want one value", got)
	}
	if n := varyOrigin(r.header); n != 1 {
		t.Errorf("Vary %q names Origin %d times, want 1", r.header.Values("Vary"), n)
	}
	// Without Origin (not a browser), no CORS grant at all.
	r = e.post(t, low, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"0"}}}`)
	if got := r.header.Values("Access-Control-Allow-Origin"); len(got) != 0 {
		t.Errorf("without Origin: Access-Control-Allow-Origin %q, want none", got)
	}
	pre := do(t, newRequest(t, http.MethodOptions, e.resource, "", [][2]string{{"Origin", origin}, {"Access-Control-Request-Method", "POST"}}))
	if pre.status != http.StatusNoContent {
		t.Fatalf("preflight: %s", statusOf(pre))
	}
	if n := varyOrigin(pre.header); n != 1 {
		t.Errorf("preflight Vary %q names Origin %d times, want 1", pre.header.Values("Vary"), n)
	}
	if got := pre.header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != origin {
		t.Errorf("preflight Access-Control-Allow-Origin %q, want exactly [%s]", got, origin)
	}
}

func varyOrigin(h http.Header) int {
	n := 0
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "Origin") {
				n++
			}
		}
	}
	return n
}
