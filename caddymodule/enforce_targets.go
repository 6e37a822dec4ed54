package caddymodule

import (
	"github.com/scopegate/scopegate/caddymodule/internal/rpcmessage"
	"github.com/scopegate/scopegate/caddymodule/internal/scopecatalog"
	"github.com/scopegate/scopegate/caddymodule/internal/tokenverifier"
)

// decideIndirect judges the methods that name a tool, resource or prompt
// other than by params.name or params.uri: completions (by the prompt or
// resource they complete for), subscriptions/listen (by every uri it
// subscribes to), and tasks (by the task's subject and tool). It reports
// false for other methods.
func (g *Gateway) decideIndirect(msg rpcmessage.Message, id tokenverifier.Identity) (decision, bool) {
	switch msg.Method {
	case "completion/complete":
		switch ref := msg.Ref; {
		case ref != nil && ref.Type == "ref/prompt":
			return g.judge(scopecatalog.Prompt, ref.Name, id), true
		case ref != nil && ref.Type == "ref/resource":
			return g.judge(scopecatalog.Resource, ref.URI, id), true
		}
		return decision{verdict: verdictInvalid, reason: "params.ref must be a ref/prompt or a ref/resource"}, true
	case "subscriptions/listen":
		for _, uri := range msg.Subscriptions {
			if d := g.judge(scopecatalog.Resource, uri, id); d.verdict != verdictAllow {
				return d, true
			}
		}
		return decision{verdict: verdictAllow, stream: true}, true
	case "tasks/get", "tasks/result", "tasks/cancel":
		return g.decideTask(msg.TaskID, id), true
	}
	return decision{}, false
}
