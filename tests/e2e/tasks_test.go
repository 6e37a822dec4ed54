package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/mcptestserver"
)

// taskOf reads result.task.taskId of a task-creating tools/call.
func taskOf(t *testing.T, r rpcReply) string {
	t.Helper()
	var res struct {
		Task struct {
			TaskID string `json:"taskId"`
		} `json:"task"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.Result, &res) != nil || res.Task.TaskID == "" {
		t.Fatalf("task-creating tools/call: %d %s", r.status, r.body)
	}
	return res.Task.TaskID
}

// taskIDs lists the task ids of a tasks/list result.
func taskIDs(t *testing.T, r rpcReply) []string {
	t.Helper()
	var res struct {
		Tasks []struct {
			TaskID string `json:"taskId"`
		} `json:"tasks"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.Result, &res) != nil {
		t.Fatalf("tasks/list: %d %s", r.status, r.body)
	}
	var ids []string
	for _, x := range res.Tasks {
		ids = append(ids, x.TaskID)
	}
	return ids
}

// TestTasksBoundToSubject (issue 19, point 1): behind the gateway, an
// mcp-go server with tasks keeps 2026-07-28 tasks visible to every caller.
// The gateway binds each task to the subject that created it and to its
// tool: another subject sees none of it (tasks/list filtered; tasks/get,
// tasks/result and tasks/cancel answered as for an unknown task, never
// forwarded); the creator with a token lacking the tool's scope gets the
// tool's 403 challenge; unknown ids are not found; the creator with the
// scope uses the task as before.
func TestTasksBoundToSubject(t *testing.T) {
	t.Parallel()
	ts := mcptestserver.StartTasks(t)
	e := newSite(t, siteOptions{upstream: ts.Addr, scopesSupported: "openid notes:read admin", provider: malloryProvider})
	alice := e.token(t, false, "notes:read", "admin")
	aliceLow := e.token(t, false, "notes:read")
	mallory := e.malloryToken(t, "notes:read", "admin")

	call := func(tok, tool, query string) rpcReply {
		return e.modern(t, tok, "1", "tools/call", tool, map[string]any{
			"name": tool, "arguments": map[string]any{"query": query}, "task": map[string]any{"ttl": 60000},
		})
	}
	secret := taskOf(t, call(alice, mcptestserver.ToolSecret, "alice-private-query"))
	slow := taskOf(t, call(alice, mcptestserver.ToolSlow, "alice-slow"))
	public := taskOf(t, call(aliceLow, mcptestserver.ToolPublic, "alice-public"))
	task := func(tok, method, id string) rpcReply {
		return e.modern(t, tok, "2", method, "", map[string]any{"taskId": id})
	}
	// tasks/list was removed in 2026-07-28; legacy sessions of mcp-go list
	// (and reach) the tasks of the empty session too.
	aliceSID, mallorySID := e.legacySession(t, alice), e.legacySession(t, mallory)
	list := func(tok string) rpcReply {
		sid := aliceSID
		if tok == mallory {
			sid = mallorySID
		}
		return e.legacy(t, tok, sid, rpc("5", "tasks/list", map[string]any{}))
	}
	notFound := func(what string, r rpcReply) {
		t.Helper()
		if r.code() != -32602 || strings.Contains(r.body, "SECRET-RESULT") || strings.Contains(r.body, "alice") {
			t.Errorf("%s: %d %s, want a -32602 task-not-found error", what, r.status, r.body)
		}
	}

	// Another subject, even with every scope, sees nothing of alice's tasks.
	if ids := taskIDs(t, list(mallory)); slices.Contains(ids, secret) || slices.Contains(ids, slow) || slices.Contains(ids, public) {
		t.Errorf("mallory's tasks/list shows alice's tasks: %v", ids)
	}
	// tasks/result was removed in 2026-07-28 too; mcp-go's legacy sessions
	// still have it.
	legacyResult := func(tok, id string) rpcReply {
		sid := aliceSID
		if tok == mallory {
			sid = mallorySID
		}
		return e.legacy(t, tok, sid, rpc("6", "tasks/result", map[string]any{"taskId": id}))
	}
	notFound("mallory tasks/result", legacyResult(mallory, secret))
	notFound("mallory tasks/get", task(mallory, "tasks/get", secret))
	notFound("mallory tasks/cancel", task(mallory, "tasks/cancel", slow))
	notFound("unknown task id", task(alice, "tasks/get", "00000000-0000-4000-8000-000000000000"))
	var st struct {
		Status string `json:"status"`
	}
	if r := task(alice, "tasks/get", slow); json.Unmarshal(r.Result, &st) != nil || st.Status != "working" {
		t.Errorf("alice's slow task after mallory's cancel: %d %s, want working", r.status, r.body)
	}

	// The creator with a token lacking the tool's scope: the tool's challenge.
	for _, r := range []rpcReply{legacyResult(aliceLow, secret), task(aliceLow, "tasks/get", secret)} {
		if r.status != http.StatusForbidden || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) ||
			!strings.Contains(r.header.Get("WWW-Authenticate"), "admin") || strings.Contains(r.body, "SECRET-RESULT") {
			t.Errorf("tasks/result or tasks/get with a token lacking admin: %d %q %s, want the 403 challenge", r.status, r.header.Get("WWW-Authenticate"), r.body)
		}
	}
	if ids := taskIDs(t, list(aliceLow)); !slices.Equal(ids, []string{public}) {
		t.Errorf("tasks/list with notes:read only: %v, want only the public task %s", ids, public)
	}

	// The creator with the scope: unchanged.
	if r := legacyResult(alice, secret); !strings.Contains(string(r.Result), "SECRET-RESULT for alice-private-query") {
		t.Errorf("alice's tasks/result: %d %s", r.status, r.body)
	}
	ids := taskIDs(t, list(alice))
	for _, id := range []string{secret, slow, public} {
		if !slices.Contains(ids, id) {
			t.Errorf("alice's tasks/list %v lacks %s", ids, id)
		}
	}
	if r := task(alice, "tasks/cancel", slow); r.status != http.StatusOK || r.Error != nil {
		t.Errorf("alice's tasks/cancel: %d %s", r.status, r.body)
	}
}

// TestTasksScopesEverything (issue 19, point 1): server-everything keeps
// tasks per session, so only the subject's own tokens reach them; a token
// of the same subject that lacks the tool's scope must not read the task's
// status or result.
func TestTasksScopesEverything(t *testing.T) {
	t.Parallel()
	addr := startEverything(t)
	e := newSite(t, siteOptions{upstream: addr, scopesSupported: "openid notes:read admin",
		gateway: "tool simulate-research-query admin\ntool * notes:read\nresource_scope * notes:read\nprompt * notes:read"})
	admin := e.token(t, false, "notes:read", "admin")
	low := e.token(t, false, "notes:read")
	sid := e.legacySession(t, admin)
	r := e.legacy(t, admin, sid, rpc("3", "tools/call", map[string]any{
		"name": "simulate-research-query", "arguments": map[string]any{"topic": "alice-topic"}, "task": map[string]any{"ttl": 60000},
	}))
	id := taskOf(t, r)
	for _, m := range []string{"tasks/get", "tasks/result", "tasks/cancel"} {
		r := e.legacy(t, low, sid, rpc("4", m, map[string]any{"taskId": id}))
		if r.status != http.StatusForbidden || !strings.Contains(r.header.Get("WWW-Authenticate"), "admin") || strings.Contains(r.body, "alice-topic") {
			t.Errorf("%s with a token lacking admin: %d %q %s, want the 403 challenge", m, r.status, r.header.Get("WWW-Authenticate"), r.body)
		}
	}
	if ids := taskIDs(t, e.legacy(t, low, sid, rpc("5", "tasks/list", map[string]any{}))); slices.Contains(ids, id) {
		t.Errorf("tasks/list with a token lacking admin shows %s: %v", id, ids)
	}
	if ids := taskIDs(t, e.legacy(t, admin, sid, rpc("6", "tasks/list", map[string]any{}))); !slices.Contains(ids, id) {
		t.Errorf("tasks/list with admin lacks %s: %v", id, ids)
	}
	if r := e.legacy(t, admin, sid, rpc("7", "tasks/result", map[string]any{"taskId": id})); r.status != http.StatusOK || !strings.Contains(string(r.Result), "alice-topic") {
		t.Errorf("tasks/result with admin: %d %s", r.status, r.body)
	}
}
