package scopecatalog

import (
	"maps"
	"slices"
	"sync/atomic"
)

// hintStore is what the catalog learned of tools' readOnlyHint
// annotations: name → read-only. It is kept beside the declarations, not
// in them, because it only shapes the first scope a client asks for, never
// a decision.
type hintStore struct {
	m atomic.Pointer[map[string]bool]
}

// LearnHints merges tools' readOnlyHint annotations (name → the hint's
// value); tools without the annotation are simply left out. Hints of tools
// that disappear stay, harmlessly: LeastPrivilegeScopes only counts tools
// the catalog knows.
func (c *Catalog) LearnHints(hints map[string]bool) {
	if len(hints) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var old map[string]bool
	if p := c.hints.m.Load(); p != nil {
		old = *p
	}
	changed := false
	for name, ro := range hints {
		if prev, ok := old[name]; !ok || prev != ro {
			changed = true
			break
		}
	}
	if !changed {
		return // the common case: every list repeats the same annotations
	}
	next := make(map[string]bool, len(old)+len(hints))
	maps.Copy(next, old)
	maps.Copy(next, hints)
	c.hints.m.Store(&next)
	c.version.Add(1)
}

// LeastPrivilegeScopes is the default scope of a 401 challenge: the base
// scopes plus the scopes of every tool annotated readOnlyHint true (as
// rules or declarations require them), sorted. Writes are then granted by
// step-up, when first needed. ok is false while no tool carries a
// readOnlyHint at all; the caller then keeps to scopes_supported.
func (c *Catalog) LeastPrivilegeScopes() (scopes []string, ok bool) {
	p := c.hints.m.Load()
	if p == nil || len(*p) == 0 {
		return nil, false
	}
	out := slices.Clone(c.base)
	for name, ro := range *p {
		if !ro {
			continue
		}
		if req, known := c.Required(Tool, name); known {
			out = append(out, req...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), true
}
