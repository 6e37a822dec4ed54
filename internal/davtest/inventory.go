package davtest

import (
	"slices"
	"sort"
	"testing"

	"github.com/scopegate/scopegate/internal/toolinventory"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

// CheckInventory compares a family's tools with the reference inventory
// (package toolinventory): the same names, the reference's scopes
// with our documented deviation (todo tools need only todo:read or
// todo:write), the same read-only hints, destructive wherever the
// reference says so, every reference parameter present and every
// reference-required one required (but for the deliberate exceptions in
// optional). Each tool must also pass
// tooldef.Check.
// optional are reference-required parameters we deliberately made
// optional, each with its reason: a task without a calendar goes to the
// first calendar that takes tasks (issue 13: Nextcloud 34's default
// calendar takes only events, so a first-time user had to know a name).
var optional = map[string][]string{
	"nc_calendar_create_todo": {"calendar_name"},
}

func CheckInventory(t *testing.T, family string, tools []tooldef.Tool) {
	t.Helper()
	want, err := toolinventory.Family(family)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]tooldef.Tool{}
	for _, tl := range tools {
		if err := tl.Check(); err != nil {
			t.Error(err)
		}
		got[tl.Def.Name] = tl
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("missing tool %s", name)
		}
	}
	for name, tl := range got {
		ref, ok := want[name]
		if !ok {
			t.Errorf("tool %s is not in the reference inventory", name)
			continue
		}
		scopes := ref.Scopes
		if slices.Contains(scopes, "todo:read") || slices.Contains(scopes, "todo:write") {
			scopes = slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return s == "calendar:read" })
		}
		if a, b := sorted(tl.Scopes), sorted(scopes); !slices.Equal(a, b) {
			t.Errorf("%s scopes = %v, want %v", name, a, b)
		}
		ann := tl.Def.Annotations
		if *ann.ReadOnlyHint != ref.Annotations.ReadOnly {
			t.Errorf("%s readOnlyHint = %v, reference %v", name, *ann.ReadOnlyHint, ref.Annotations.ReadOnly)
		}
		if ref.Annotations.Destructive && !*ann.DestructiveHint {
			t.Errorf("%s must be destructive like the reference", name)
		}
		props := tl.Def.InputSchema.Properties
		for _, p := range ref.Params {
			if _, ok := props[p.Name]; !ok {
				t.Errorf("%s lacks the reference parameter %s", name, p.Name)
			}
			if p.Required && !slices.Contains(tl.Def.InputSchema.Required, p.Name) && !slices.Contains(optional[name], p.Name) {
				t.Errorf("%s: parameter %s must be required", name, p.Name)
			}
		}
		for _, r := range tl.Def.InputSchema.Required {
			if _, ok := props[r]; !ok {
				t.Errorf("%s requires %s, which it does not define", name, r)
			}
		}
	}
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}
