package caddymodule

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestTasksBound: the task a task-augmented tools/call creates is bound to
// its subject and tool. Its creator reaches it with the tool's scope;
// another subject, or an unknown id, gets "task not found" and the backend
// never sees the request; a token of the creator lacking the tool's scope
// gets the tool's challenge; tasks/list keeps only reachable tasks, and
// streams drop other tasks' status notifications.
func TestTasksBound(t *testing.T) {
	var b *fakeBackend
	b = &fakeBackend{answer: func(w http.ResponseWriter, r *http.Request, rpc string) bool {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case rpc == "tools/call" && strings.Contains(b.last().body, `"task"`):
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{"task":{"taskId":"t-write","status":"working","ttl":60000}}}`)
		case rpc == "tasks/list":
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":2,"result":{"tasks":[{"taskId":"t-write"},{"taskId":"t-other"}]}}`)
		default:
			return false
		}
		return true
	}}
	g := enforcingGateway(t, b)
	if rec := serveNext(t, g, b, post("alice", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_write","task":{"ttl":60000}}}`)); rec.Code != http.StatusOK {
		t.Fatalf("task-creating call: %d %s", rec.Code, rec.Body)
	}
	get := func(tok, id string) (int, string, int) {
		before := b.count()
		rec := serveNext(t, g, b, post(tok, fmt.Sprintf(`{"jsonrpc":"2.0","id":3,"method":"tasks/get","params":{"taskId":%q}}`, id)))
		return rec.Code, rec.Body.String(), b.count() - before
	}
	for _, tc := range []struct{ tok, id string }{{"bob", "t-write"}, {"alice", "t-unknown"}} {
		code, body, reached := get(tc.tok, tc.id)
		if _, rpc := rpcErr(t, body); code != http.StatusOK || rpc != codeInvalidParams || reached != 0 {
			t.Errorf("%s tasks/get %s: %d %s (reached %d), want -32602 not forwarded", tc.tok, tc.id, code, body, reached)
		}
	}
	if code, body, reached := get("good", "t-write"); code != http.StatusForbidden || reached != 0 || !strings.Contains(body, "echo_write requires notes:write") {
		t.Errorf("tasks/get without notes:write: %d %s (reached %d), want the 403 challenge", code, body, reached)
	}
	if code, body, reached := get("alice", "t-write"); code != http.StatusOK || reached != 1 {
		t.Errorf("alice's tasks/get: %d %s (reached %d)", code, body, reached)
	}
	rec := serveNext(t, g, b, post("alice", `{"jsonrpc":"2.0","id":2,"method":"tasks/list"}`))
	if body := rec.Body.String(); !strings.Contains(body, "t-write") || strings.Contains(body, "t-other") {
		t.Errorf("alice's tasks/list: %s", body)
	}
	if rec := serveNext(t, g, b, post("bob", `{"jsonrpc":"2.0","id":2,"method":"tasks/list"}`)); strings.Contains(rec.Body.String(), "t-write") {
		t.Errorf("bob's tasks/list: %s", rec.Body)
	}
}
