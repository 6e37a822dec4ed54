package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOperationsDocumentsEveryMetric holds the metrics table of
// docs/operations.md to the metrics caddymodule registers (metrics.go and
// the steps with a metric of their own, such as the fence): the same metric
// names, each with the same labels.
func TestOperationsDocumentsEveryMetric(t *testing.T) {
	files, err := filepath.Glob("../../caddymodule/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var src []byte
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	// In the code: Namespace, Subsystem and Name, then the label list.
	code := map[string][]string{}
	re := regexp.MustCompile(`(?s)Namespace:\s*"([a-z_]+)",\s*Subsystem:\s*"([a-z_]+)",\s*Name:\s*"([a-z_]+)".*?\}, \[\]string\{([^}]*)\}`)
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		code[m[1]+"_"+m[2]+"_"+m[3]] = quoted(m[4])
	}
	if len(code) < 4 {
		t.Fatalf("found only %d metrics in metrics.go: has its shape changed?", len(code))
	}
	documented := map[string][]string{}
	row := regexp.MustCompile("(?m)^\\| `(caddy_[a-z_]+)` \\| [a-z]+ \\| ([^|]*) \\|")
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = backticked(m[2])
	}
	for name, labels := range code {
		got, ok := documented[name]
		switch {
		case !ok:
			t.Errorf("docs/operations.md does not list the metric %s", name)
		case !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(labels))):
			t.Errorf("docs/operations.md gives %s the labels %v; the code has %v", name, got, labels)
		}
	}
	for name := range documented {
		if _, ok := code[name]; !ok {
			t.Errorf("docs/operations.md lists %s, which the code does not register", name)
		}
	}
}

func quoted(s string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`"([^"]+)"`).FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

func backticked(s string) []string {
	var out []string
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(strings.TrimSpace(s), -1) {
		out = append(out, m[1])
	}
	return out
}
