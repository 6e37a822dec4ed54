package caddymodule

import (
	"github.com/scopegate/scopegate/caddymodule/internal/listfilter"
	"github.com/scopegate/scopegate/caddymodule/internal/scopecatalog"
)

// learnHints teaches the catalog the readOnlyHint annotations of listed
// tools, from which the default 401 challenge is built (challengeScopes).
func (g *Gateway) learnHints(items []listfilter.Item) {
	var hints map[string]bool
	for _, it := range items {
		if it.List != listfilter.Tools || it.ReadOnly == listfilter.HintNone {
			continue
		}
		if hints == nil {
			hints = make(map[string]bool, len(items))
		}
		hints[it.Name] = it.ReadOnly == listfilter.HintReadOnly
	}
	g.catalog.LearnHints(hints)
}

// revealScopes are the scopes that would let a token holding held see a
// list entry the filter removed; none when no scope would (an unknown
// name, refused by policy).
func (g *Gateway) revealScopes(it listfilter.Item, held []string) []string {
	var d scopecatalog.Decision
	switch it.List {
	case listfilter.Tools:
		d = g.catalog.Decide(scopecatalog.Tool, it.Name, held)
	case listfilter.Resources:
		d = g.catalog.Decide(scopecatalog.Resource, it.URI, held)
	case listfilter.ResourceTemplates:
		d = g.catalog.Decide(scopecatalog.Resource, it.URITemplate, held)
	case listfilter.Prompts:
		d = g.catalog.Decide(scopecatalog.Prompt, it.Name, held)
	}
	if !d.Known {
		return nil
	}
	return d.Missing
}
