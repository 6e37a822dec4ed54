package caddymodule

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/caddymodule/internal/listfilter"
	"github.com/scopegate/scopegate/caddymodule/internal/resourceuri"
	"github.com/scopegate/scopegate/caddymodule/internal/rpcmessage"
	"github.com/scopegate/scopegate/caddymodule/internal/scopecatalog"
	"github.com/scopegate/scopegate/caddymodule/internal/tokenverifier"
)

// catalogWait is how long a request for a name the catalog does not know
// waits for the first discovery to finish before it is decided as unknown.
const catalogWait = 5 * time.Second

// passMethods need no scope beyond a valid token: session set-up,
// liveness, and plumbing that names no tool, resource or prompt.
var passMethods = map[string]bool{
	"initialize":       true,
	"server/discover":  true,
	"ping":             true,
	"logging/setLevel": true,
}

// verdicts of a decision, a bounded label set.
const (
	verdictAllow        = "allow"
	verdictInsufficient = "insufficient_scope"
	verdictUnknown      = "unknown"
	verdictMethod       = "method_not_allowed"
	verdictNotFound     = "not_found"      // a task id not bound to the subject
	verdictInvalid      = "invalid_params" // a target the gateway cannot judge
)

// decision is what the gateway concluded about one message.
type decision struct {
	verdict  string
	kind     scopecatalog.Kind // 0 when the method names nothing
	target   string            // tool, resource uri or prompt name
	required []string
	missing  []string
	list     bool // a list whose response is rewritten
	task     bool // a task-augmented tools/call: its response creates a task
	stream   bool // a subscriptions/listen stream: notifications filtered
	reason   string
}

// decide applies the scope catalog to one message. The method decides,
// whatever the message's kind: a notification that says tools/call is
// judged as a tools/call.
func (g *Gateway) decide(msg rpcmessage.Message, id tokenverifier.Identity) decision {
	if msg.Kind == rpcmessage.KindResponse {
		return decision{verdict: verdictAllow} // answers to server requests
	}
	switch msg.Method {
	case "tools/call":
		d := g.judge(scopecatalog.Tool, msg.Name, id)
		d.task = msg.HasTask
		return d
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		if modernEra(msg) && msg.Method != "resources/read" {
			// Removed in 2026-07-28 (subscriptions/listen replaces them).
			return decision{verdict: verdictMethod, target: msg.Method}
		}
		return g.judge(scopecatalog.Resource, msg.URI, id)
	case "prompts/get":
		return g.judge(scopecatalog.Prompt, msg.Name, id)
	}
	if d, ok := g.decideIndirect(msg, id); ok {
		return d
	}
	if _, isList := listfilter.ListFor(msg.Method); isList {
		return decision{verdict: verdictAllow, list: true}
	}
	if passMethods[msg.Method] || g.allowMethods[msg.Method] || strings.HasPrefix(msg.Method, "notifications/") {
		return decision{verdict: verdictAllow}
	}
	return decision{verdict: verdictMethod, target: msg.Method}
}

// modernEra reports a message of MCP 2026-07-28 or later, by the protocol
// version its _meta carries (dates compare as strings).
func modernEra(msg rpcmessage.Message) bool {
	return msg.ProtocolVersion >= modernProtocol
}

// judge decides whether id may use the tool, resource or prompt target.
// A resource uri must be in normal form first (see package resourceuri):
// the rules are matched against it byte for byte, and a server may read
// another spelling as another resource.
func (g *Gateway) judge(kind scopecatalog.Kind, target string, id tokenverifier.Identity) decision {
	d := decision{kind: kind, target: target}
	if kind == scopecatalog.Resource {
		if err := resourceuri.Check(target); err != nil {
			d.verdict, d.reason = verdictInvalid, err.Error()
			return d
		}
	}
	cd := g.catalog.Decide(d.kind, d.target, id.Scopes)
	if !cd.Known && d.kind == scopecatalog.Tool {
		// The catalog may not have been discovered yet: wait for it once.
		g.discoverer.Ensure()
		select {
		case <-g.discoverer.Ready():
			cd = g.catalog.Decide(d.kind, d.target, id.Scopes)
		case <-time.After(catalogWait):
		}
	}
	d.required, d.missing = cd.Required, cd.Missing
	switch {
	case cd.Allowed:
		d.verdict = verdictAllow
	case !cd.Known:
		d.verdict = verdictUnknown
	default:
		d.verdict = verdictInsufficient
	}
	return d
}

// refuse answers a message the token may not send. Nothing reaches the
// backend.
func (g *Gateway) refuse(w http.ResponseWriter, msg rpcmessage.Message, id tokenverifier.Identity, d decision) error {
	switch d.verdict {
	case verdictInsufficient:
		desc := fmt.Sprintf("%s requires %s", d.target, strings.Join(d.required, " "))
		c := challenge{
			Error:            "insufficient_scope",
			Scope:            g.catalog.StepUpScopes(d.required, id.Scopes),
			ResourceMetadata: g.metadataURL,
			Description:      desc,
		}
		w.Header().Set("WWW-Authenticate", c.String())
		return writeJSONRPCError(w, http.StatusForbidden, msg.ID, codeForbidden, desc)
	case verdictUnknown:
		// No scope would help: no step-up challenge.
		return writeJSONRPCError(w, http.StatusForbidden, msg.ID, codeForbidden,
			fmt.Sprintf("%s %q is not known to the gateway (no declared scopes and no rule)", d.kind, d.target))
	case verdictNotFound:
		// As the server answers an unknown task: whether the id exists,
		// and for whom, stays unknown. 2026-07-28 maps -32602 to 400.
		status := http.StatusOK
		if modernEra(msg) {
			status = http.StatusBadRequest
		}
		return writeJSONRPCError(w, status, msg.ID, codeInvalidParams, "task not found")
	case verdictInvalid:
		return writeJSONRPCError(w, http.StatusBadRequest, msg.ID, codeInvalidParams, d.reason)
	default:
		// 2026-07-28 (SEP-2575) answers a method the server does not
		// implement with 404; earlier revisions prescribe no status.
		status := http.StatusForbidden
		if modernEra(msg) {
			status = http.StatusNotFound
		}
		return writeJSONRPCError(w, status, msg.ID, codeMethodNotFound,
			fmt.Sprintf("method %q is not allowed through the gateway", d.target))
	}
}

// listRewriter filters a list response down to what the token may use,
// says in its _meta what was hidden, and teaches the catalog every tool
// declaration (and read-only annotation) the response carries.
func (g *Gateway) listRewriter(msg rpcmessage.Message, id tokenverifier.Identity) *listfilter.Rewriter {
	return &listfilter.Rewriter{
		RequestID: msg.ID,
		Memo:      g.listMemo,
		MemoKey:   listMemoKey(id.Scopes, g.catalog.Version()),
		Notify:    func(n listfilter.Notification) bool { return g.notificationAllowed(n, id) },
		Observe: func(list listfilter.List, items []listfilter.Item) {
			if list == listfilter.Tools {
				g.learn(items)
				g.learnHints(items)
			}
		},
		Reveal: func(it listfilter.Item) []string { return g.revealScopes(it, id.Scopes) },
		Allow: func(it listfilter.Item) bool {
			switch it.List {
			case listfilter.Tools:
				return g.catalog.Decide(scopecatalog.Tool, it.Name, id.Scopes).Allowed
			case listfilter.Resources:
				return g.catalog.Decide(scopecatalog.Resource, it.URI, id.Scopes).Allowed
			case listfilter.ResourceTemplates:
				return g.catalog.Decide(scopecatalog.Resource, it.URITemplate, id.Scopes).Allowed
			case listfilter.Prompts:
				return g.catalog.Decide(scopecatalog.Prompt, it.Name, id.Scopes).Allowed
			case listfilter.Tasks:
				return g.taskVisible(it.TaskID, id)
			}
			return false
		},
	}
}

// learn teaches the catalog the declarations of a listed page. Lists
// repeat the same declarations on every call, so only those whose raw
// _meta changed since last seen are decoded and learned.
func (g *Gateway) learn(items []listfilter.Item) {
	var changed []listfilter.Item
	for _, it := range items {
		if prev, ok := g.disc.seen.Load(it.Name); ok && prev.(string) == string(it.Meta) {
			continue
		}
		changed = append(changed, it)
	}
	if len(changed) == 0 {
		return
	}
	g.catalog.Learn(g.entries(changed))
	for _, it := range changed {
		if g.disc.seenCount.Load() >= maxSeenDeclarations {
			break
		}
		if _, loaded := g.disc.seen.Swap(it.Name, string(it.Meta)); !loaded {
			g.disc.seenCount.Add(1)
		}
	}
}

// maxSeenDeclarations bounds the memory of learn's shortcut; beyond it,
// declarations are simply decoded every time.
const maxSeenDeclarations = 10000

// entries reads the declarations of listed tools; a malformed
// declaration leaves its tool undeclared (and so refused by default).
func (g *Gateway) entries(items []listfilter.Item) []scopecatalog.ToolEntry {
	out := make([]scopecatalog.ToolEntry, 0, len(items))
	for _, it := range items {
		e, ok, err := scopecatalog.EntryFromMeta(it.Name, it.Meta)
		if err != nil {
			g.logger.Warn("tool declares malformed scopes; it stays undeclared", zap.String("tool", it.Name), zap.Error(err))
			continue
		}
		if ok {
			out = append(out, e)
		}
	}
	return out
}

// audit writes the one log line of a decision.
func (g *Gateway) audit(msg rpcmessage.Message, id tokenverifier.Identity, d decision, took time.Duration) {
	if c := g.audits.Check(zap.InfoLevel, "mcp decision"); c != nil {
		// Room for every field up front: an audit line is written for
		// every decision, and a slice grown by append costs a second
		// allocation whenever the target is named.
		var buf [7]zap.Field
		fields := append(buf[:0],
			zap.String("subject", id.Subject),
			zap.String("client_id", id.ClientID),
			zap.String("method", msg.Method),
			zap.String("decision", d.verdict),
			zap.Duration("duration", took),
		)
		if d.target != "" && d.kind != 0 {
			fields = append(fields, zap.String(d.kind.String(), d.target))
		}
		if len(d.missing) > 0 {
			fields = append(fields, zap.Strings("missing_scopes", d.missing))
		}
		c.Write(fields...)
	}
}
