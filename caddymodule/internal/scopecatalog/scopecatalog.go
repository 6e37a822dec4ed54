// Package scopecatalog is the gateway's single source of truth for which
// OAuth scopes each MCP tool, resource and prompt requires.
//
// Tools declare their scopes beside their definition, in
// _meta["scopegate/scopes"] (a JSON array of scope strings, all required),
// and the catalog learns them from the backend's tools/list responses, so
// that no hand-kept list can drift from the tools. Configured rules override
// or add to what was learned:
//
//	tool <name-or-glob> <scope>...
//	resource_scope <uri-glob> <scope>...
//	prompt <name-or-glob> <scope>...
//
// Precedence, for a given kind and name:
//  1. a rule whose pattern has no '*' and equals the name;
//  2. otherwise the first rule, in configuration order, whose glob matches;
//  3. otherwise (tools only) the scopes learned from the backend;
//  4. otherwise the name is unknown, and the kind's unknown policy decides:
//     Deny (the default: a gateway fails closed) or Allow (any valid token).
//
// A rule replaces the learned scopes for the names it matches; it never adds
// to them. A rule with no scopes lets any valid token through.
//
// Globs: '*' matches any sequence of bytes, '/' included (so
// "nc://notes/*" covers "nc://notes/a/b"); every other byte matches itself.
// There are no other metacharacters and no escapes.
package scopecatalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// MetaKey is the _meta key under which backend tools declare their scopes.
const MetaKey = "scopegate/scopes"

// Kind is the kind of thing a rule or decision is about.
type Kind uint8

// The kinds of MCP primitive the gateway protects.
const (
	Tool Kind = iota + 1
	Resource
	Prompt
)

// String returns the kind's name as rules and logs spell it.
func (k Kind) String() string {
	switch k {
	case Tool:
		return "tool"
	case Resource:
		return "resource"
	case Prompt:
		return "prompt"
	}
	return "unknown"
}

// Policy decides names that no rule and no declaration cover.
type Policy uint8

// The unknown-name policies. The zero value is Deny.
const (
	Deny Policy = iota
	Allow
)

// Rule is one configured rule.
type Rule struct {
	Kind Kind
	// Pattern is an exact name or uri, or a glob containing '*'.
	Pattern string
	// Scopes are all required; none means any valid token.
	Scopes []string
}

// Config is the configured part of the catalog.
type Config struct {
	// BaseScopes are advertised in scopes_supported besides the catalog's
	// (typically "openid profile email").
	BaseScopes []string
	Rules      []Rule
	// UnknownTool, UnknownResource and UnknownPrompt decide names without a
	// rule or (for tools) a declaration. Zero values deny.
	UnknownTool, UnknownResource, UnknownPrompt Policy
}

// ToolEntry is a tool's declared scopes, as learned from the backend.
type ToolEntry struct {
	Name   string
	Scopes []string
}

// Catalog answers scope questions. It is safe for concurrent use; the read
// path takes no lock (it loads an immutable snapshot).
type Catalog struct {
	base    []string
	exact   map[Kind]map[string][]string
	globs   map[Kind][]Rule
	unknown map[Kind]Policy

	mu   sync.Mutex // serialises writers; readers use snap
	snap atomic.Pointer[snapshot]
	// version counts changes to what was learned; see Version.
	version atomic.Uint64

	hints hintStore // readOnlyHint annotations, see hints.go
}

// snapshot is an immutable state of what was learned.
type snapshot struct {
	learned map[string][]string
	all     []string            // base ∪ rule scopes ∪ learned scopes, sorted
	vocab   map[string]struct{} // the set of all
}

// Errors for invalid configuration or declarations.
var (
	ErrInvalidScope  = errors.New("invalid scope")
	ErrDuplicateRule = errors.New("duplicate rule")
	ErrInvalidRule   = errors.New("invalid rule")
)

// New validates cfg and returns a catalog with nothing learned yet.
func New(cfg Config) (*Catalog, error) {
	c := &Catalog{
		exact:   map[Kind]map[string][]string{Tool: {}, Resource: {}, Prompt: {}},
		globs:   map[Kind][]Rule{},
		unknown: map[Kind]Policy{Tool: cfg.UnknownTool, Resource: cfg.UnknownResource, Prompt: cfg.UnknownPrompt},
	}
	for _, s := range cfg.BaseScopes {
		if err := validScope(s); err != nil {
			return nil, fmt.Errorf("base scopes: %w", err)
		}
	}
	c.base = slices.Clone(cfg.BaseScopes)
	for i, r := range cfg.Rules {
		if r.Kind < Tool || r.Kind > Prompt || r.Pattern == "" {
			return nil, fmt.Errorf("rule %d: %w: kind %d, pattern %q", i, ErrInvalidRule, r.Kind, r.Pattern)
		}
		for _, s := range r.Scopes {
			if err := validScope(s); err != nil {
				return nil, fmt.Errorf("%s rule %q: %w", r.Kind, r.Pattern, err)
			}
		}
		r.Scopes = dedup(r.Scopes)
		if !strings.Contains(r.Pattern, "*") {
			if _, dup := c.exact[r.Kind][r.Pattern]; dup {
				return nil, fmt.Errorf("%s rule %q: %w", r.Kind, r.Pattern, ErrDuplicateRule)
			}
			c.exact[r.Kind][r.Pattern] = r.Scopes
			continue
		}
		c.globs[r.Kind] = append(c.globs[r.Kind], r)
	}
	c.publish(map[string][]string{})
	return c, nil
}

// validScope checks a scope token against RFC 6749 §3.3 (NQCHAR), which
// also keeps it safe inside a quoted WWW-Authenticate parameter.
func validScope(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrInvalidScope)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
			return fmt.Errorf("%w: %q", ErrInvalidScope, s)
		}
	}
	return nil
}

func dedup(scopes []string) []string {
	var out []string
	for _, s := range scopes {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// publish installs a new snapshot built from learned, which the caller
// must not modify afterwards. Callers hold c.mu (or are New).
func (c *Catalog) publish(learned map[string][]string) {
	vocab := map[string]struct{}{}
	for _, s := range c.base {
		vocab[s] = struct{}{}
	}
	for _, byName := range c.exact {
		for _, scopes := range byName {
			for _, s := range scopes {
				vocab[s] = struct{}{}
			}
		}
	}
	for _, rules := range c.globs {
		for _, r := range rules {
			for _, s := range r.Scopes {
				vocab[s] = struct{}{}
			}
		}
	}
	for _, scopes := range learned {
		for _, s := range scopes {
			vocab[s] = struct{}{}
		}
	}
	all := make([]string, 0, len(vocab))
	for s := range vocab {
		all = append(all, s)
	}
	slices.Sort(all)
	c.snap.Store(&snapshot{learned: learned, all: all, vocab: vocab})
	c.version.Add(1) // after the store: whoever reads the new version sees the new snapshot
}

// Version changes whenever what the catalog learned (declarations or
// readOnlyHint annotations) changes; its rules never do. It is bumped after
// the change is visible, so a reader that read version v answers from the
// state of v or a later one, never an earlier one: a filtered list
// remembered under v (see listfilter.Memo) was filtered with a state at
// least as new as v, and v is never reused.
func (c *Catalog) Version() uint64 { return c.version.Load() }

// EntryFromMeta reads a tool's declaration from its raw _meta object. It
// reports false, with a nil error, when the tool declares nothing, and an
// error when the declaration is not an array of valid scope strings; such a
// tool must stay undeclared (and so, by default, refused).
func EntryFromMeta(name string, meta json.RawMessage) (ToolEntry, bool, error) {
	if len(meta) == 0 {
		return ToolEntry{}, false, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(meta, &m); err != nil {
		return ToolEntry{}, false, fmt.Errorf("tool %q: _meta: %w", name, err)
	}
	raw, ok := m[MetaKey]
	if !ok {
		return ToolEntry{}, false, nil
	}
	var scopes []string
	if err := json.Unmarshal(raw, &scopes); err != nil || scopes == nil {
		return ToolEntry{}, false, fmt.Errorf("tool %q: %s is not an array of strings", name, MetaKey)
	}
	for _, s := range scopes {
		if err := validScope(s); err != nil {
			return ToolEntry{}, false, fmt.Errorf("tool %q: %w", name, err)
		}
	}
	return ToolEntry{Name: name, Scopes: dedup(scopes)}, true, nil
}

// Learn merges declarations into the catalog: entries replace what was
// learned for their names, other names are kept. Use it for each list page
// the gateway rewrites.
func (c *Catalog) Learn(entries []ToolEntry) {
	if len(entries) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load().learned
	if same(old, entries) {
		return // the common case: a list response repeating what we know
	}
	learned := make(map[string][]string, len(old)+len(entries))
	for k, v := range old {
		learned[k] = v
	}
	for _, e := range entries {
		learned[e.Name] = slices.Clone(e.Scopes)
	}
	c.publish(learned)
}

// Replace sets the learned declarations to exactly entries, forgetting
// tools no longer listed. Use it after a complete discovery.
func (c *Catalog) Replace(entries []ToolEntry) {
	learned := make(map[string][]string, len(entries))
	for _, e := range entries {
		learned[e.Name] = slices.Clone(e.Scopes)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if maps.EqualFunc(c.snap.Load().learned, learned, slices.Equal) {
		return // a rediscovery that found what was known: Version stays
	}
	c.publish(learned)
}

func same(learned map[string][]string, entries []ToolEntry) bool {
	for _, e := range entries {
		old, ok := learned[e.Name]
		if !ok || !slices.Equal(old, e.Scopes) {
			return false
		}
	}
	return true
}

// Required returns the scopes kind name requires and whether the catalog
// knows the name at all (see the package doc for precedence). For a
// resource, name is its uri (or a template's uriTemplate). The returned
// slice must not be modified.
func (c *Catalog) Required(kind Kind, name string) (scopes []string, known bool) {
	if s, ok := c.exact[kind][name]; ok {
		return s, true
	}
	for _, r := range c.globs[kind] {
		if Match(r.Pattern, name) {
			return r.Scopes, true
		}
	}
	if kind == Tool {
		if s, ok := c.snap.Load().learned[name]; ok {
			return s, true
		}
	}
	return nil, false
}

// Decision is the outcome of Decide.
type Decision struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Known is false when no rule or declaration covers the name; the
	// unknown policy then decided, and no scope can change a refusal.
	Known bool
	// Required are the scopes the name requires (nil when unknown).
	Required []string
	// Missing are the required scopes the token lacks.
	Missing []string
}

// Decide says whether a token holding held may use kind name.
func (c *Catalog) Decide(kind Kind, name string, held []string) Decision {
	req, known := c.Required(kind, name)
	if !known {
		return Decision{Allowed: c.unknown[kind] == Allow}
	}
	missing := Missing(held, req)
	return Decision{Allowed: len(missing) == 0, Known: true, Required: req, Missing: missing}
}

// Missing returns the scopes of required not in held, in required's order,
// without duplicates; nil if held covers required.
func Missing(held, required []string) []string {
	var missing []string
	for _, r := range required {
		if !slices.Contains(held, r) && !slices.Contains(missing, r) {
			missing = append(missing, r)
		}
	}
	return missing
}

// AllScopes returns, sorted, the base scopes and every scope a rule or a
// learned declaration mentions: the default scopes_supported. The slice
// must not be modified.
func (c *Catalog) AllScopes() []string {
	return c.snap.Load().all
}

// StepUpScopes returns the scope parameter of an insufficient_scope
// challenge: required ∪ the scopes of held that the catalog knows (base
// scopes included), sorted. Clients of 2025-11-25 replace their scopes with
// the challenge's and so keep what they had; clients of 2026-07-28 add the
// challenge's to theirs. Held scopes unknown to the catalog are not echoed.
func (c *Catalog) StepUpScopes(required, held []string) []string {
	vocab := c.snap.Load().vocab
	out := slices.Clone(required)
	for _, h := range held {
		if _, ok := vocab[h]; ok {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Match reports whether name matches the glob pattern, in which '*'
// matches any sequence of bytes and every other byte matches itself.
func Match(pattern, name string) bool {
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			// Let the last star absorb one more byte and retry.
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
