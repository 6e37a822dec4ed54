package scopecatalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

func mustNew(t testing.TB, cfg Config) *Catalog {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testCatalog(t testing.TB) *Catalog {
	c := mustNew(t, Config{
		BaseScopes: []string{"openid", "profile", "email"},
		Rules: []Rule{
			{Tool, "notes_*", []string{"notes:glob"}},
			{Tool, "notes_delete", []string{"notes:write", "notes:admin"}},
			{Tool, "*_admin", []string{"admin"}},
			{Tool, "open_tool", nil},
			{Resource, "nc://notes/*", []string{"notes:read"}},
			{Resource, "nc://files/public", nil},
			{Prompt, "summarize", []string{"notes:read"}},
		},
	})
	c.Learn([]ToolEntry{
		{"files_list", []string{"files:read"}},
		{"files_delete", []string{"files:read", "files:write"}},
		{"notes_list", []string{"notes:read"}}, // overridden by the glob rule
		{"free_tool", []string{}},
	})
	return c
}

func TestRequired(t *testing.T) {
	c := testCatalog(t)
	tests := []struct {
		kind      Kind
		name      string
		want      []string
		wantKnown bool
	}{
		{Tool, "files_list", []string{"files:read"}, true},
		{Tool, "files_delete", []string{"files:read", "files:write"}, true},
		{Tool, "notes_delete", []string{"notes:write", "notes:admin"}, true}, // exact beats glob
		{Tool, "notes_list", []string{"notes:glob"}, true},                   // rule replaces learned
		{Tool, "notes_admin", []string{"notes:glob"}, true},                  // first glob in order wins
		{Tool, "deck_admin", []string{"admin"}, true},
		{Tool, "open_tool", nil, true},
		{Tool, "free_tool", nil, true}, // declared empty: any valid token
		{Tool, "unknown_tool", nil, false},
		{Tool, "Files_list", nil, false}, // names are case-sensitive
		{Resource, "nc://notes/1/attachments/2", []string{"notes:read"}, true},
		{Resource, "nc://files/public", nil, true},
		{Resource, "nc://files/private", nil, false},
		{Resource, "files_list", nil, false}, // learned tools are tools only
		{Prompt, "summarize", []string{"notes:read"}, true},
		{Prompt, "notes_list", nil, false}, // tool rules are tools only
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s", tt.kind, tt.name), func(t *testing.T) {
			got, known := c.Required(tt.kind, tt.name)
			if known != tt.wantKnown || !slices.Equal(got, tt.want) {
				t.Fatalf("Required = %v, %v; want %v, %v", got, known, tt.want, tt.wantKnown)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	deny := testCatalog(t)
	allow := mustNew(t, Config{UnknownTool: Allow, UnknownResource: Allow, UnknownPrompt: Deny})
	tests := []struct {
		name string
		c    *Catalog
		kind Kind
		item string
		held []string
		want Decision
	}{
		{"held covers", deny, Tool, "files_delete", []string{"files:write", "files:read"}, Decision{Allowed: true, Known: true, Required: []string{"files:read", "files:write"}}},
		{"one missing", deny, Tool, "files_delete", []string{"files:read"}, Decision{Known: true, Required: []string{"files:read", "files:write"}, Missing: []string{"files:write"}}},
		{"none held", deny, Tool, "files_delete", nil, Decision{Known: true, Required: []string{"files:read", "files:write"}, Missing: []string{"files:read", "files:write"}}},
		{"no scopes required", deny, Tool, "free_tool", nil, Decision{Allowed: true, Known: true}},
		{"unknown tool denied by default", deny, Tool, "nope", []string{"files:read"}, Decision{}},
		{"unknown resource denied by default", deny, Resource, "x://y", nil, Decision{}},
		{"unknown prompt denied by default", deny, Prompt, "p", nil, Decision{}},
		{"unknown tool allowed", allow, Tool, "nope", nil, Decision{Allowed: true}},
		{"unknown resource allowed", allow, Resource, "x://y", nil, Decision{Allowed: true}},
		{"unknown prompt still denied", allow, Prompt, "p", nil, Decision{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.c.Decide(tt.kind, tt.item, tt.held)
			if got.Allowed != tt.want.Allowed || got.Known != tt.want.Known ||
				!slices.Equal(got.Required, tt.want.Required) || !slices.Equal(got.Missing, tt.want.Missing) {
				t.Fatalf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMissing(t *testing.T) {
	tests := []struct {
		held, required, want []string
	}{
		{nil, nil, nil},
		{[]string{"a"}, []string{"a"}, nil},
		{[]string{"a"}, []string{"b", "a", "c"}, []string{"b", "c"}},
		{nil, []string{"b", "b"}, []string{"b"}},
		{[]string{"A"}, []string{"a"}, []string{"a"}}, // scopes are case-sensitive
	}
	for _, tt := range tests {
		if got := Missing(tt.held, tt.required); !slices.Equal(got, tt.want) {
			t.Errorf("Missing(%v, %v) = %v, want %v", tt.held, tt.required, got, tt.want)
		}
	}
}

func TestAllScopes(t *testing.T) {
	c := testCatalog(t)
	want := []string{"admin", "email", "files:read", "files:write", "notes:admin", "notes:glob", "notes:read", "notes:write", "openid", "profile"}
	if got := c.AllScopes(); !slices.Equal(got, want) {
		t.Fatalf("AllScopes = %v, want %v", got, want)
	}
	c.Learn([]ToolEntry{{"deck_list", []string{"deck:read"}}})
	if got := c.AllScopes(); !slices.Contains(got, "deck:read") || !slices.IsSorted(got) {
		t.Fatalf("AllScopes after Learn = %v", got)
	}
	c.Replace([]ToolEntry{{"deck_list", []string{"deck:read"}}})
	if got := c.AllScopes(); slices.Contains(got, "files:write") {
		t.Fatalf("Replace kept a forgotten tool's scope: %v", got)
	}
	if _, known := c.Required(Tool, "files_list"); known {
		t.Fatalf("Replace kept a forgotten tool")
	}
}

func TestStepUpScopes(t *testing.T) {
	c := testCatalog(t)
	tests := []struct {
		required, held, want []string
	}{
		{[]string{"files:write"}, nil, []string{"files:write"}},
		{[]string{"files:write"}, []string{"files:read", "openid", "unrelated:scope"}, []string{"files:read", "files:write", "openid"}},
		{[]string{"files:write", "files:read"}, []string{"files:read"}, []string{"files:read", "files:write"}},
	}
	for _, tt := range tests {
		if got := c.StepUpScopes(tt.required, tt.held); !slices.Equal(got, tt.want) {
			t.Errorf("StepUpScopes(%v, %v) = %v, want %v", tt.required, tt.held, got, tt.want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"scope with space", Config{Rules: []Rule{{Tool, "a", []string{"a b"}}}}, ErrInvalidScope},
		{"scope with quote", Config{Rules: []Rule{{Tool, "a", []string{`a"b`}}}}, ErrInvalidScope},
		{"empty scope", Config{Rules: []Rule{{Tool, "a", []string{""}}}}, ErrInvalidScope},
		{"bad base scope", Config{BaseScopes: []string{"é"}}, ErrInvalidScope},
		{"duplicate exact rule", Config{Rules: []Rule{{Tool, "a", nil}, {Tool, "a", []string{"x"}}}}, ErrDuplicateRule},
		{"empty pattern", Config{Rules: []Rule{{Tool, "", nil}}}, ErrInvalidRule},
		{"no kind", Config{Rules: []Rule{{0, "a", nil}}}, ErrInvalidRule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); !errors.Is(err, tt.want) {
				t.Fatalf("New = %v, want %v", err, tt.want)
			}
		})
	}
	// The same exact pattern for different kinds is fine.
	if _, err := New(Config{Rules: []Rule{{Tool, "a", nil}, {Prompt, "a", nil}}}); err != nil {
		t.Fatal(err)
	}
}

func TestEntryFromMeta(t *testing.T) {
	tests := []struct {
		meta     string
		want     []string
		declared bool
		wantErr  bool
	}{
		{``, nil, false, false},
		{`{}`, nil, false, false},
		{`{"other":1}`, nil, false, false},
		{`{"scopegate/scopes":["notes:read","notes:write","notes:read"]}`, []string{"notes:read", "notes:write"}, true, false},
		{`{"scopegate/scopes":[]}`, nil, true, false},
		{`{"scopegate/scopes":null}`, nil, false, true},
		{`{"scopegate/scopes":"notes:read"}`, nil, false, true},
		{`{"scopegate/scopes":[1]}`, nil, false, true},
		{`{"scopegate/scopes":["a b"]}`, nil, false, true},
		{`[1]`, nil, false, true},
	}
	for _, tt := range tests {
		e, declared, err := EntryFromMeta("t", json.RawMessage(tt.meta))
		if (err != nil) != tt.wantErr || declared != tt.declared || !slices.Equal(e.Scopes, tt.want) {
			t.Errorf("EntryFromMeta(%s) = %+v, %v, %v", tt.meta, e, declared, err)
		}
		if declared && e.Name != "t" {
			t.Errorf("name %q", e.Name)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "", true},
		{"*", "anything/at/all", true},
		{"notes_*", "notes_list", true},
		{"notes_*", "notes_", true},
		{"notes_*", "note_list", false},
		{"*_delete", "files_delete", true},
		{"*_delete", "files_delete_x", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "abcbc", true},
		{"a*b*c", "acb", false},
		{"nc://notes/*", "nc://notes/1/2", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"?", "a", false}, // no other metacharacters
		{"**", "x", true},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.name); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestConcurrentLearnAndRead(t *testing.T) {
	c := testCatalog(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				c.Learn([]ToolEntry{{fmt.Sprintf("t%d_%d", w, i), []string{fmt.Sprintf("s:%d", i%7)}}})
			}
		})
		wg.Go(func() {
			for i := range 2000 {
				c.Decide(Tool, fmt.Sprintf("t%d_%d", w, i%200), []string{"s:1"})
				_ = c.AllScopes()
				_ = c.StepUpScopes([]string{"x"}, []string{"s:2"})
			}
		})
	}
	wg.Wait()
	for w := range 4 {
		if _, known := c.Required(Tool, fmt.Sprintf("t%d_199", w)); !known {
			t.Fatalf("lost a learned tool")
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	c := testCatalog(b)
	held := []string{"openid", "files:read", "files:write"}
	b.ReportAllocs()
	for b.Loop() {
		if !c.Decide(Tool, "files_delete", held).Allowed {
			b.Fatal("denied")
		}
	}
}

func TestVersion(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		do      func()
		changed bool
	}{
		{"learn", func() { c.Learn([]ToolEntry{{Name: "a", Scopes: []string{"x"}}}) }, true},
		{"learn the same again", func() { c.Learn([]ToolEntry{{Name: "a", Scopes: []string{"x"}}}) }, false},
		{"learn other scopes", func() { c.Learn([]ToolEntry{{Name: "a", Scopes: []string{"y"}}}) }, true},
		{"replace", func() { c.Replace([]ToolEntry{{Name: "b", Scopes: []string{"y"}}}) }, true},
		{"replace with the same", func() { c.Replace([]ToolEntry{{Name: "b", Scopes: []string{"y"}}}) }, false},
		{"replace with fewer", func() { c.Replace(nil) }, true},
		{"replace with more", func() { c.Replace([]ToolEntry{{Name: "b", Scopes: []string{"y"}}}) }, true},
		{"hints", func() { c.LearnHints(map[string]bool{"b": true}) }, true},
		{"the same hints", func() { c.LearnHints(map[string]bool{"b": true}) }, false},
		{"decide", func() { c.Decide(Tool, "b", nil) }, false},
	}
	for _, s := range steps {
		before := c.Version()
		s.do()
		if changed := c.Version() != before; changed != s.changed {
			t.Errorf("%s: version changed %v, want %v", s.name, changed, s.changed)
		}
	}
}
