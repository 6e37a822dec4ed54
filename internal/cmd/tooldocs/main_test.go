package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/mcpbackend"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

// TestToolsReferenceIsCurrent holds docs/tools.md to the backend's own
// tools/list: adding, renaming or re-scoping a tool without regenerating
// the reference fails here.
func TestToolsReferenceIsCurrent(t *testing.T) {
	inv, err := collect()
	if err != nil {
		t.Fatal(err)
	}
	got := render(inv)
	path := filepath.Join("..", "..", "..", "docs", "tools.md")
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v (create it with: %s)", path, err, regenerate)
	}
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("docs/tools.md is stale (first difference at line %d).\nRegenerate it from the repository root with:\n\n\t%s\n\n--- generated\n%s\n--- docs/tools.md\n%s", i+1, regenerate, g, w)
		}
	}
}

// TestReferenceCoversEveryTool checks the collected inventory against the
// Go families directly, so a tool the walk over tools/list lost (a cursor
// bug, say) cannot vanish from the reference unnoticed.
func TestReferenceCoversEveryTool(t *testing.T) {
	inv, err := collect()
	if err != nil {
		t.Fatal(err)
	}
	doc := string(render(inv))
	n := 0
	for _, f := range inv.Families {
		for _, tl := range f.Tools {
			n++
			if !strings.Contains(doc, "| `"+tl.Name+"` |") {
				t.Errorf("%s has no row in the reference", tl.Name)
			}
		}
	}
	want := inventorySize(t)
	if n < want {
		t.Errorf("reference lists %d tools, the families define %d", n, want)
	}
}

func TestFirstSentence(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Create a board.", "Create a board."},
		{"Read a card. Deck answers 403 for deleted cards.", "Read a card."},
		{"Find files by MIME type, e.g. 'application/pdf' or 'image/%'. More.", "Find files by MIME type, e.g. 'application/pdf' or 'image/%'."},
		{"Read an attachment, from the note's .attachments.<id> folder.", "Read an attachment, from the note's .attachments.<id> folder."},
		{"No full stop at all", "No full stop at all"},
		{"Spread\nover  lines. Second.", "Spread over lines."},
	} {
		if got := firstSentence(c.in); got != c.want {
			t.Errorf("firstSentence(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCellEscapes(t *testing.T) {
	if got, want := cell(`a|b <id> c\d`), `a\|b \<id> c\\d`; got != want {
		t.Errorf("cell = %q, want %q", got, want)
	}
}

func TestFromWireRefusesUndeclaredTools(t *testing.T) {
	yes, no := true, false
	var w wireTool
	w.Name = "x"
	w.Annotations.ReadOnlyHint, w.Annotations.DestructiveHint = &yes, &no
	if _, err := fromWire(w); err == nil {
		t.Error("a tool without _meta scopes was accepted")
	}
	w.Meta = map[string]json.RawMessage{metaScopesKey: json.RawMessage(`[]`)}
	if _, err := fromWire(w); err == nil {
		t.Error("a tool with an empty scope list was accepted")
	}
	w.Meta[metaScopesKey] = json.RawMessage(`["notes:read"]`)
	w.Annotations.DestructiveHint = nil
	if _, err := fromWire(w); err == nil {
		t.Error("a tool without destructiveHint was accepted")
	}
}

// inventorySize counts the tools of every family in Go.
func inventorySize(t *testing.T) int {
	t.Helper()
	c, err := nextcloud.New(nextcloud.Options{BaseURL: "http://nextcloud.invalid"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fam := range mcpbackend.DefaultFamilies() {
		n += len(fam(c))
	}
	return n
}
