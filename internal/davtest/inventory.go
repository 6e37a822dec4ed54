package davtest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

type inventoryTool struct {
	Family      string   `json:"family"`
	Name        string   `json:"name"`
	Scopes      []string `json:"scopes"`
	Annotations struct {
		ReadOnly    bool `json:"readOnly"`
		Destructive bool `json:"destructive"`
	} `json:"annotations"`
	Params []struct {
		Name     string `json:"name"`
		Required bool   `json:"required"`
	} `json:"params"`
}

// CheckInventory compares a family's tools with the reference inventory
// (testdata/nextcloud-tools.json, the calendar and contacts part of the
// shared nextcloud-tools.json): the same names, the reference's scopes
// with our documented deviation (todo tools need only todo:read or
// todo:write), the same read-only hints, destructive wherever the
// reference says so, every reference parameter present and every
// reference-required one required. Each tool must also pass
// tooldef.Check.
func CheckInventory(t *testing.T, family string, tools []tooldef.Tool) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testdata(), "nextcloud-tools.json"))
	if err != nil {
		t.Fatal(err)
	}
	var inv struct {
		Tools []inventoryTool `json:"tools"`
	}
	if err := json.Unmarshal(raw, &inv); err != nil {
		t.Fatal(err)
	}
	want := map[string]inventoryTool{}
	for _, it := range inv.Tools {
		if it.Family == family {
			want[it.Name] = it
		}
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
			if p.Required && !slices.Contains(tl.Def.InputSchema.Required, p.Name) {
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

// CheckSnapshots compares each tool's marshalled definition (with its
// _meta scopes) to testdata/toolsnaps/<name>.snap beside the calling
// test. UPDATE_TOOLSNAPS=1 writes them; a missing snapshot fails, so a
// change of a tool contract always shows in review.
func CheckSnapshots(t *testing.T, tools []tooldef.Tool) {
	t.Helper()
	dir := filepath.Join("testdata", "toolsnaps")
	update := os.Getenv("UPDATE_TOOLSNAPS") != ""
	for _, tl := range tools {
		st := tl.ServerTool(":")
		got, err := json.MarshalIndent(st.Tool, "", "  ")
		if err != nil {
			t.Fatalf("%s: %v", tl.Def.Name, err)
		}
		got = append(got, '\n')
		file := filepath.Join(dir, tl.Def.Name+".snap")
		if update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("%s: no snapshot %s (run with UPDATE_TOOLSNAPS=1 and review it): %v", tl.Def.Name, file, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: schema differs from %s (run with UPDATE_TOOLSNAPS=1 if intended)\ngot:\n%s", tl.Def.Name, file, got)
		}
	}
}
