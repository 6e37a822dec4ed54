package caddymodule

import (
	"encoding/json"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/caddymodule/internal/listfilter"
	"github.com/scopegate/scopegate/caddymodule/internal/rpcmessage"
	"github.com/scopegate/scopegate/caddymodule/internal/scopecatalog"
	"github.com/scopegate/scopegate/caddymodule/internal/taskbind"
	"github.com/scopegate/scopegate/caddymodule/internal/tokenverifier"
)

// MCP tasks (2025-11-25, and tools/call in 2026-07-28) let a client start
// a tool call and fetch its outcome later by task id. Servers cannot be
// trusted to keep users' tasks apart (mcp-go keeps 2026-07-28 tasks in one
// place for every caller), and a task id carries no scope. So the gateway
// records, from each task-creating tools/call response, the task's id,
// the subject that created it and the tool it runs, and holds every later
// use of the id to the rules of a direct call of that tool: another
// subject's or an unknown id is not found (never forwarded), a token
// lacking the tool's scope gets the tool's challenge, and tasks/list shows
// only what the token could fetch.
const (
	// taskCapacity bounds the task bindings (least recently used first out).
	taskCapacity = 100000
	// taskMaxTTL is the longest a task binding is kept, whatever ttl the
	// server grants; a task without ttl is kept this long.
	taskMaxTTL = 24 * time.Hour
)

// taskPool holds the task stores by resource, reference-counted across
// config reloads like the session bindings.
var taskPool = caddy.NewUsagePool()

type pooledTasks struct{ *taskbind.Store }

func (pooledTasks) Destruct() error { return nil }

// setupTasks takes the resource's task store from the pool.
func (g *Gateway) setupTasks() error {
	v, _, err := taskPool.LoadOrNew(g.Resource, func() (caddy.Destructor, error) {
		return pooledTasks{taskbind.New(taskCapacity, taskMaxTTL, nil)}, nil
	})
	if err != nil {
		return err
	}
	g.tasks, g.taskKey = v.(pooledTasks).Store, g.Resource
	return nil
}

// releaseTasks gives the store back to the pool.
func (g *Gateway) releaseTasks() {
	if g.taskKey != "" {
		if _, err := taskPool.Delete(g.taskKey); err != nil {
			g.logger.Warn("releasing the task store", zap.Error(err))
		}
	}
}

// decideTask judges tasks/get, tasks/result and tasks/cancel: the task must
// be the subject's, and the token must hold the scopes of its tool.
func (g *Gateway) decideTask(taskID string, id tokenverifier.Identity) decision {
	task, ok := g.tasks.Lookup(taskID, id.Subject)
	if !ok {
		return decision{verdict: verdictNotFound, target: taskID}
	}
	return g.judge(scopecatalog.Tool, task.Tool, id)
}

// taskVisible reports whether a tasks/list entry may be shown to id.
func (g *Gateway) taskVisible(taskID string, id tokenverifier.Identity) bool {
	task, ok := g.tasks.Lookup(taskID, id.Subject)
	return ok && g.catalog.Decide(scopecatalog.Tool, task.Tool, id.Scopes).Allowed
}

// taskRecorder returns the hook that records the task a task-augmented
// tools/call response creates. A response read two ways by two JSON
// readers records at most one of the ids; the other stays unknown, and so
// refused.
func (g *Gateway) taskRecorder(tool string, id tokenverifier.Identity) func([]byte) {
	return func(body []byte) {
		var resp struct {
			Result struct {
				Task *struct {
					TaskID string `json:"taskId"`
					TTL    *int64 `json:"ttl"`
				} `json:"task"`
			} `json:"result"`
		}
		if json.Unmarshal(body, &resp) != nil || resp.Result.Task == nil || resp.Result.Task.TaskID == "" {
			return
		}
		t := resp.Result.Task
		var ttl time.Duration
		if t.TTL != nil && *t.TTL > 0 && *t.TTL < int64(taskMaxTTL/time.Millisecond) {
			// A little past the server's own expiry: the client may still
			// poll and learn that the task expired.
			ttl = time.Duration(*t.TTL)*time.Millisecond + time.Minute
		}
		if !g.tasks.Bind(t.TaskID, id.Subject, tool, ttl) {
			g.logger.Error("backend issued a task id already bound to another subject; the task stays unreachable", zap.String("tool", tool))
		}
	}
}

// notificationAllowed drops, from the streams the gateway filters, the
// notifications about resources and tasks the token may not use.
func (g *Gateway) notificationAllowed(n listfilter.Notification, id tokenverifier.Identity) bool {
	switch {
	case n.Ambiguous:
		return false
	case n.Method == "notifications/resources/updated":
		return g.judge(scopecatalog.Resource, n.URI, id).verdict == verdictAllow
	case n.Method == "notifications/tasks/status" || n.TaskID != "":
		return g.taskVisible(n.TaskID, id)
	}
	return true
}

// streamRewriter is the list filter of a response that needs one: a list,
// whose entries are filtered; a task-augmented tools/call, whose task is
// recorded; a listening stream. Each filters the notifications it carries.
func (g *Gateway) streamRewriter(msg rpcmessage.Message, id tokenverifier.Identity, d decision) *listfilter.Rewriter {
	rw := g.listRewriter(msg, id)
	if d.task {
		rw.OnResult = g.taskRecorder(msg.Name, id)
	}
	return rw
}
