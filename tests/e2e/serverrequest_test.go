package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/mcptestserver"
)

// TestServerRequestIDsBound (issue 19, point 8) settles a hypothesis:
// could another user answer a server-initiated request (elicitation)
// meant for alice, if the backend matched answers by their sequential
// ids? With mcp-go it cannot: a response is delivered only within the
// session named by Mcp-Session-Id, and the gateway binds sessions to
// subjects. Mallory's answer with the request's id is refused in every
// form (his own session: no such pending request; alice's session: 404
// from the gateway; no session: 400 from the gateway, since an answer to
// a server request must name the session it belongs to), and alice's
// tool gets alice's answer.
func TestServerRequestIDsBound(t *testing.T) {
	t.Parallel()
	e, _ := listenSite(t)
	alice := e.token(t, false, "notes:read")
	mallory := e.malloryToken(t, "notes:read")
	session := func(tok string) string {
		r := e.post(t, tok, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{}},"clientInfo":{"name":"e2e","version":"0"}}}`)
		sid := r.header.Get("Mcp-Session-Id")
		if r.status != http.StatusOK || sid == "" {
			t.Fatalf("initialize: %s", statusOf(r))
		}
		e.post(t, tok, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, legacyHeaders(sid)...)
		return sid
	}
	aliceSID, mallorySID := session(alice), session(mallory)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := newRequest(t, http.MethodPost, e.resource, rpc("7", "tools/call", map[string]any{"name": mcptestserver.ToolAsk, "arguments": map[string]any{"query": "q"}}),
		append([][2]string{{"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"}, {"Authorization", "Bearer " + alice}}, legacyHeaders(aliceSID)...))
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	next := func() string { // the data of the next event
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("alice's stream: %v", err)
			}
			if strings.HasPrefix(line, "data:") {
				return strings.TrimSpace(strings.TrimPrefix(line, "data:"))
			}
		}
	}
	var ask struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	if err := json.Unmarshal([]byte(next()), &ask); err != nil || ask.Method != "elicitation/create" {
		t.Fatalf("alice's stream did not start with elicitation/create: %+v %v", ask, err)
	}
	answer := func(who string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"action":"accept","content":{"answer":%q}}}`, ask.ID, who)
	}
	if r := e.post(t, mallory, answer("mallory"), legacyHeaders(mallorySID)...); r.status < 400 {
		t.Errorf("mallory's answer in his own session: %s, want refused", statusOf(r))
	}
	if r := e.post(t, mallory, answer("mallory"), legacyHeaders(aliceSID)...); r.status != http.StatusNotFound {
		t.Errorf("mallory's answer in alice's session: %s, want 404", statusOf(r))
	}
	if r := e.post(t, mallory, answer("mallory")); r.status != http.StatusBadRequest {
		t.Errorf("mallory's answer without a session: %s, want 400", statusOf(r))
	}
	if r := e.post(t, alice, answer("alice"), legacyHeaders(aliceSID)...); r.status != http.StatusAccepted {
		t.Fatalf("alice's answer: %s", statusOf(r))
	}
	result := next()
	if !strings.Contains(result, "answer:alice") || strings.Contains(result, "mallory") {
		t.Errorf("alice's tool result %s, want alice's answer only", result)
	}
}
