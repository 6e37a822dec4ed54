package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/mcptestserver"
	"github.com/scopegate/scopegate/internal/rawupstream"
)

// listenSite is the tasks server behind the gateway, secret://doc needing
// admin and demo://public/* notes:read.
func listenSite(t *testing.T) (*env, *mcptestserver.Server) {
	t.Helper()
	ts := mcptestserver.StartTasks(t)
	e := newSite(t, siteOptions{upstream: ts.Addr, scopesSupported: "openid notes:read admin", provider: malloryProvider,
		gateway: "resource_scope secret://* admin\nresource_scope demo://public/* notes:read"})
	return e, ts
}

// TestListenJudged (issue 19, point 5): subscriptions/listen asking for
// updates of a resource the token may not read is refused with the
// resource's 403 challenge, as resources/read is; one asking only for
// readable resources opens its stream.
func TestListenJudged(t *testing.T) {
	t.Parallel()
	e, _ := listenSite(t)
	low := e.token(t, false, "notes:read")
	listen := func(ctx context.Context, uris ...string) *http.Response {
		body := modernMessage("9", "subscriptions/listen", map[string]any{"notifications": map[string]any{"resourceSubscriptions": uris}})
		req := newRequest(t, http.MethodPost, e.resource, body, append([][2]string{
			{"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"}, {"Authorization", "Bearer " + low},
		}, modernHeaders("subscriptions/listen", "")...))
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatalf("subscriptions/listen: %v", err)
		}
		return resp
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp := listen(ctx, mcptestserver.ResourcePublic, mcptestserver.ResourceSecret)
	ack, _ := bufio.NewReader(resp.Body).ReadString('}')
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "admin") {
		t.Errorf("listen with secret://doc: %d %q %s, want the 403 challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), ack)
	}
	for _, uri := range []string{"demo://public/../../secret://doc", "demo://public/%2e%2e/x"} {
		resp = listen(ctx, uri)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("listen with %q: %d, want 400", uri, resp.StatusCode)
		}
	}
	resp = listen(ctx, mcptestserver.ResourcePublic)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	for err == nil && !strings.HasPrefix(line, "data:") {
		line, err = br.ReadString('\n')
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(line, "notifications/subscriptions/acknowledged") {
		t.Errorf("listen with a readable resource: %d %q %v", resp.StatusCode, line, err)
	}
}

// TestListenNotificationsFiltered (issue 19, point 5): a backend that
// sends a listening stream notifications about things the token may not
// use (another resource's updates, another subject's task) has them
// dropped; the others pass.
func TestListenNotificationsFiltered(t *testing.T) {
	t.Parallel()
	e, raw := rawEnv(t, "resource_scope secret://* admin\nresource_scope demo://public/* notes:read")
	note := func(method, params string) string {
		return "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"" + method + "\",\"params\":" + params + "}\n\n"
	}
	raw.Respond("subscriptions/listen", rawupstream.SSE(
		note("notifications/subscriptions/acknowledged", `{"notifications":{"resourceSubscriptions":["demo://public/doc"]}}`),
		note("notifications/resources/updated", `{"uri":"secret://doc"}`),
		note("notifications/resources/updated", `{"uri":"demo://public/doc"}`),
		note("notifications/resources/updated", `{"uri":"demo://public/../../secret://doc"}`),
		note("notifications/tasks/status", `{"taskId":"someone-elses-task","status":"completed"}`),
		note("notifications/tools/list_changed", `{}`),
		"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}\n\n",
	))
	low := e.token(t, false, "notes:read")
	r := e.post(t, low, modernMessage("9", "subscriptions/listen", map[string]any{"notifications": map[string]any{"resourceSubscriptions": []string{"demo://public/doc"}}}),
		modernHeaders("subscriptions/listen", "")...)
	if r.status != http.StatusOK {
		t.Fatalf("listen: %s", statusOf(r))
	}
	var methods []string
	for _, ev := range parseSSE(t, r.body) {
		var m struct {
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		if json.Unmarshal([]byte(ev.data), &m) == nil && m.Method != "" {
			methods = append(methods, m.Method+" "+string(m.Params))
		}
	}
	body := strings.Join(methods, "\n")
	for _, bad := range []string{"secret://doc", "someone-elses-task"} {
		if strings.Contains(body, bad) {
			t.Errorf("the listening stream passed a notification about %s:\n%s", bad, body)
		}
	}
	for _, good := range []string{"acknowledged", `"uri":"demo://public/doc"`, "tools/list_changed"} {
		if !strings.Contains(body, good) {
			t.Errorf("the listening stream lost %s:\n%s", good, body)
		}
	}
}

// TestModernUnknownMethod404 (issue 15, point 2): in the 2026-07-28 era a
// method the gateway does not pass (removed ones such as
// resources/subscribe included) is answered as the revision prescribes
// for a method not implemented: HTTP 404 with -32601. The legacy era
// keeps 403.
func TestModernUnknownMethod404(t *testing.T) {
	t.Parallel()
	e, _ := listenSite(t)
	tok := e.token(t, false, "notes:read", "admin")
	for _, m := range []string{"resources/subscribe", "resources/unsubscribe", "no/such/method"} {
		r := e.modern(t, tok, "3", m, "", map[string]any{"uri": mcptestserver.ResourcePublic})
		if r.status != http.StatusNotFound || r.code() != -32601 {
			t.Errorf("2026-07-28 %s: %d %s, want 404 -32601", m, r.status, r.body)
		}
	}
	sid := e.legacySession(t, tok)
	if r := e.legacy(t, tok, sid, rpc("4", "no/such/method", map[string]any{})); r.status != http.StatusForbidden || r.code() != -32601 {
		t.Errorf("legacy unknown method: %d %s, want 403 -32601", r.status, r.body)
	}
}
