package docs

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeDocumentsEveryBackendOption fails when nextcloud_mcp's
// Caddyfile parser knows a word (subdirective or credentials mode) that
// the README's nextcloud_mcp section never mentions.
func TestReadmeDocumentsEveryBackendOption(t *testing.T) {
	src, err := os.ReadFile("../../mcpbackend/caddyfile.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const heading = "## Configuration: `nextcloud_mcp`"
	start := strings.Index(string(readme), heading)
	if start < 0 {
		t.Fatalf("README.md has no %q section", heading)
	}
	section := string(readme)[start+len(heading):]
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	var words []string
	for _, m := range regexp.MustCompile(`(?m)^\s*case ((?:"[a-z_]+"(?:, )?)+):`).FindAllStringSubmatch(string(src), -1) {
		for _, q := range regexp.MustCompile(`"([a-z_]+)"`).FindAllStringSubmatch(m[1], -1) {
			words = append(words, q[1])
		}
	}
	if len(words) < 7 {
		t.Fatalf("found only %v in mcpbackend/caddyfile.go: has the parser changed shape?", words)
	}
	for _, w := range words {
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(w) + `\b`).MatchString(section) {
			t.Errorf("the README's nextcloud_mcp section does not mention %q, which the Caddyfile parser accepts", w)
		}
	}
}
