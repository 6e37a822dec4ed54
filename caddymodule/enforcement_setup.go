package caddymodule

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/caddymodule/internal/listfilter"
	"github.com/scopegate/scopegate/caddymodule/internal/scopecatalog"
	"github.com/scopegate/scopegate/caddymodule/internal/sessionbind"
)

// setupEnforcement builds the scope catalog from the configured rules,
// the discoverer that fills it from the backend, and the session store.
func (g *Gateway) setupEnforcement(ctx caddy.Context) error {
	var rules []scopecatalog.Rule
	for _, set := range []struct {
		kind  scopecatalog.Kind
		rules []ScopeRule
	}{{scopecatalog.Tool, g.ToolRules}, {scopecatalog.Resource, g.ResourceRules}, {scopecatalog.Prompt, g.PromptRules}} {
		for _, r := range set.rules {
			rules = append(rules, scopecatalog.Rule{Kind: set.kind, Pattern: r.Pattern, Scopes: r.Scopes})
		}
	}
	cfg := scopecatalog.Config{BaseScopes: g.BaseScopes, Rules: rules}
	for _, p := range []struct {
		val string
		dst *scopecatalog.Policy
		opt string
	}{{g.UnknownTool, &cfg.UnknownTool, "unknown_tool"}, {g.UnknownResource, &cfg.UnknownResource, "unknown_resource"}, {g.UnknownPrompt, &cfg.UnknownPrompt, "unknown_prompt"}} {
		pol, err := parsePolicy(p.val)
		if err != nil {
			return fmt.Errorf("mcp_gateway: %s: %w", p.opt, err)
		}
		*p.dst = pol
	}
	cat, err := scopecatalog.New(cfg)
	if err != nil {
		return fmt.Errorf("mcp_gateway: scope rules: %w", err)
	}
	g.catalog = cat
	g.listMemo = listfilter.NewMemo(0, 0)
	g.disc = new(discoveryState)
	dlog := g.logger.Named("catalog")
	g.discoverer = scopecatalog.NewDiscoverer(ctx, cat, g.fetchTools, scopecatalog.DiscoverOptions{
		OnError: func(err error) { dlog.Warn("discovering the backend's tools failed; retrying", zap.Error(err)) },
	})
	g.relist = newRediscovery(g.discoverer.Invalidate, rediscoveryInterval)

	g.allowMethods = map[string]bool{}
	for _, m := range g.AllowMethods {
		g.allowMethods[m] = true
	}
	capacity := g.SessionCapacity
	if capacity <= 0 {
		capacity = 100000
	}
	idle := time.Duration(g.SessionIdleTimeout)
	if idle <= 0 {
		idle = 12 * time.Hour
	}
	// By default no subject may hold more than a tenth of a small store,
	// so a flood by one always leaves room for others.
	perSubject := g.MaxSessionsPerSubject
	if perSubject <= 0 {
		perSubject = min(defaultSessionsPerSubject, max(1, capacity/10))
	}
	g.streams = newSubjectCounter(g.MaxStreamsPerSubject)
	// The bindings outlive config reloads: a reload must not make every
	// legacy session unknown (404) to the new gateway instance.
	// An ended session's id is refused for as long as a wrapped id can
	// live: rotation + overlap.
	endedTTL := max(time.Duration(g.SessionKeyRotation), 0) + max(time.Duration(g.SessionKeyOverlap), 0)
	if g.SessionKeyRotation <= 0 {
		endedTTL += sessionbind.DefaultRotation
	}
	if g.SessionKeyOverlap <= 0 {
		endedTTL += sessionbind.DefaultOverlap
	}
	key := fmt.Sprintf("%s|%d|%d|%s|%s", g.Resource, capacity, perSubject, idle, endedTTL)
	v, _, err := sessionPool.LoadOrNew(key, func() (caddy.Destructor, error) {
		return pooledSessions{sessionbind.New(capacity, perSubject, idle, nil), sessionbind.New(capacity, 0, endedTTL, nil)}, nil
	})
	if err != nil {
		return fmt.Errorf("mcp_gateway: sessions: %w", err)
	}
	g.sessions, g.sessionEnds, g.sessionKey = v.(pooledSessions).Store, v.(pooledSessions).ended, key
	if err := g.setupTasks(); err != nil {
		return fmt.Errorf("mcp_gateway: tasks: %w", err)
	}
	return nil
}

// sessionPool holds the session stores of all gateway instances, by
// resource and limits, reference-counted across reloads.
var sessionPool = caddy.NewUsagePool()

// pooledSessions is this replica's count of sessions per subject, and the
// sessions ended through it (DELETE), which it refuses from then on.
type pooledSessions struct {
	*sessionbind.Store
	ended *sessionbind.Store
}

// Destruct implements caddy.Destructor; the store holds only memory.
func (pooledSessions) Destruct() error { return nil }

func parsePolicy(v string) (scopecatalog.Policy, error) {
	switch v {
	case "", "deny":
		return scopecatalog.Deny, nil
	case "allow":
		return scopecatalog.Allow, nil
	}
	return scopecatalog.Deny, fmt.Errorf("expected deny or allow, got %q", v)
}
