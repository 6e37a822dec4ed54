// Package docs holds the documentation to the code it describes: every
// error message that docs/troubleshooting.md quotes must still be printed
// by the binary (or answered by Nextcloud, as recorded), so the table
// cannot drift into messages nobody sees any more.
package docs

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const troubleshooting = "../../docs/troubleshooting.md"

// row is one quoted message of the table.
type row struct {
	line    int
	message string
	from    string
}

// TestTroubleshootingMessagesExist checks each quoted message against
// where it comes from: Scopegate's own code (the two modules compiled
// into the binary), mcp-go's code (the MCP transport compiled in), or
// Nextcloud's answers recorded in the contract fake's transcripts.
func TestTroubleshootingMessagesExist(t *testing.T) {
	rows := readRows(t, troubleshooting)
	if len(rows) < 20 {
		t.Fatalf("only %d messages found in %s: is the table's header still | Message | From | ... ?", len(rows), troubleshooting)
	}
	ours := formats(t, "../../caddymodule", "../../mcpbackend")
	var mcpgo []format
	nextcloud := transcriptBodies(t, "../../internal/nextcloudfake/transcripts")
	for _, r := range rows {
		var found bool
		switch r.from {
		case "Scopegate":
			found = printedBy(r.message, ours)
		case "mcp-go":
			if mcpgo == nil {
				mcpgo = formats(t, moduleDir(t, "github.com/mark3labs/mcp-go"))
			}
			found = printedBy(r.message, mcpgo)
		case "Nextcloud":
			found = answeredBy(r.message, nextcloud)
		default:
			t.Errorf("%s:%d: %q: unknown origin %q (want Scopegate, mcp-go or Nextcloud)", troubleshooting, r.line, r.message, r.from)
			continue
		}
		if !found {
			t.Errorf("%s:%d: %s no longer prints %q: update the table (or the code)", troubleshooting, r.line, r.from, r.message)
		}
	}
}

// TestMessageMatching holds the matcher itself: it must find messages
// with placeholders where the code has verbs or concatenations, and must
// not find a message whose fixed words differ.
func TestMessageMatching(t *testing.T) {
	src := `package x
const a = "wrong audience"
var b = fmt.Sprintf("%s failed: the Nextcloud app %q is not enabled on this instance", n, app)
var c = "request body larger than " + strconv.FormatInt(n, 10) + " bytes"
var d = fmt.Errorf("%s: %w", x, err)
var e = fmt.Errorf("%s: %s is not %s", a, b, c)
`
	fs := token.NewFileSet()
	f, err := parser.ParseFile(fs, "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmts := fileFormats(f)
	for _, c := range []struct {
		msg  string
		want bool
	}{
		{"wrong audience", true},
		{"audience", true},
		{"wrong issuer", false},
		{`<tool> failed: the Nextcloud app "<app>" is not enabled on this instance`, true},
		{`<tool> failed: the Nextcloud app "<app>" is disabled`, false},
		{"request body larger than <n> bytes", true},
		{"request body larger than <n> kilobytes", false},
		{"anything: at all", false},                                                           // "%s: %w" has too little fixed text to hold a message
		{`Nextcloud refused the request: host "<host>" is not in its trusted_domains`, false}, // nor has "%s: %s is not %s"
	} {
		if got := printedBy(c.msg, fmts); got != c.want {
			t.Errorf("printedBy(%q) = %v, want %v", c.msg, got, c.want)
		}
	}
	if !answeredBy("CSRF check failed", []string{`{"message":"CSRF check failed"}`}) || answeredBy("CSRF failed", []string{`{"message":"CSRF check failed"}`}) {
		t.Error("answeredBy does not match substrings exactly")
	}
}

// readRows reads the message tables: those whose header starts with
// "| Message | From |". The first cell holds the message in backticks.
func readRows(t *testing.T, path string) []row {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []row
	inTable := false
	for i, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "| Message | From |"):
			inTable = true
			continue
		case !strings.HasPrefix(line, "|"):
			inTable = false
			continue
		case !inTable || strings.HasPrefix(line, "|---"):
			continue
		}
		cells := strings.Split(line, " | ")
		if len(cells) < 4 {
			t.Errorf("%s:%d: a message row needs Message, From, Cause and Fix cells", path, i+1)
			continue
		}
		msg := strings.TrimPrefix(cells[0], "| ")
		if !strings.HasPrefix(msg, "`") || !strings.HasSuffix(msg, "`") || strings.Count(msg, "`") != 2 {
			t.Errorf("%s:%d: the message cell must be one `code span`: %s", path, i+1, cells[0])
			continue
		}
		rows = append(rows, row{line: i + 1, message: strings.Trim(msg, "`"), from: strings.TrimSpace(cells[1])})
	}
	return rows
}

// format is a message the code can print: a string literal, or a chain
// of literals joined with +, as a pattern where fmt verbs and the
// non-literal operands of the chain match anything.
type format struct {
	re    *regexp.Regexp
	fixed string // the literal text, verbs removed
}

// minFixed is the least fixed text a format needs to hold a message:
// "%s: %w" must not vouch for any message that has a colon in it.
const minFixed = 8

var verb = regexp.MustCompile(`%[-+# 0-9.*]*[a-zA-Z]`)

func formats(t *testing.T, roots ...string) []format {
	t.Helper()
	var out []format
	fset := token.NewFileSet()
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			out = append(out, fileFormats(f)...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no string literals found under %v", roots)
	}
	return out
}

// fileFormats collects the formats of one file: every string literal and
// every maximal + chain that contains one.
func fileFormats(f *ast.File) []format {
	var out []format
	inChain := map[ast.Node]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BinaryExpr:
			if n.Op != token.ADD || inChain[n] {
				return true
			}
			var parts []ast.Expr
			var flatten func(e ast.Expr)
			flatten = func(e ast.Expr) {
				if b, ok := e.(*ast.BinaryExpr); ok && b.Op == token.ADD {
					inChain[b] = true
					flatten(b.X)
					flatten(b.Y)
					return
				}
				parts = append(parts, e)
			}
			flatten(n)
			var pattern, fixed strings.Builder
			hasLit := false
			for _, p := range parts {
				if s, ok := stringLit(p); ok {
					hasLit = true
					pat, fx := literalPattern(s)
					pattern.WriteString(pat)
					fixed.WriteString(fx)
					continue
				}
				pattern.WriteString("(?s:.+)")
			}
			if hasLit {
				out = append(out, newFormat(pattern.String(), fixed.String()))
			}
		case *ast.BasicLit:
			if s, ok := stringLit(n); ok {
				pat, fx := literalPattern(s)
				out = append(out, newFormat(pat, fx))
			}
		}
		return true
	})
	return out
}

func newFormat(pattern, fixed string) format {
	return format{re: regexp.MustCompile("^" + pattern + "$"), fixed: fixed}
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// literalPattern turns a literal into a pattern in which each fmt verb
// matches anything ("%q" its quotes included), and returns its fixed text.
func literalPattern(s string) (pattern, fixed string) {
	var p, fx strings.Builder
	for _, part := range splitKeep(s) {
		if verb.MatchString(part) {
			p.WriteString("(?s:.+)")
			continue
		}
		part = strings.ReplaceAll(part, "%%", "%")
		p.WriteString(regexp.QuoteMeta(part))
		fx.WriteString(part)
	}
	return p.String(), fx.String()
}

// splitKeep splits s around its fmt verbs, keeping them.
func splitKeep(s string) []string {
	var out []string
	last := 0
	for _, m := range verb.FindAllStringIndex(s, -1) {
		if m[0] > 0 && s[m[0]-1] == '%' {
			continue // "%%" followed by letters is text
		}
		out = append(out, s[last:m[0]], s[m[0]:m[1]])
		last = m[1]
	}
	return append(out, s[last:])
}

// placeholder is how the table writes a variable part: <tool>, <host>.
var placeholder = regexp.MustCompile(`<[a-z][a-z _-]*>`)

// printedBy reports whether msg is printed by one of the formats: all of
// a format that has enough fixed text matches msg (placeholders matching
// verbs), or msg, placeholders and all, is part of one literal's text.
func printedBy(msg string, fmts []format) bool {
	for _, f := range fmts {
		if len(f.fixed) < minFixed {
			continue
		}
		// The format's fixed text must account for nearly all of the
		// message's: "%s: %s is not %s" must not vouch for a sentence
		// that merely has " is not " in it.
		if 5*len(f.fixed) >= 4*len(placeholder.ReplaceAllString(msg, "")) && f.re.MatchString(msg) {
			return true
		}
		if len(msg) >= minFixed && !placeholder.MatchString(msg) && strings.Contains(f.fixed, msg) {
			return true
		}
	}
	return false
}

// answeredBy reports whether a recorded Nextcloud answer contains msg.
func answeredBy(msg string, bodies []string) bool {
	for _, b := range bodies {
		if strings.Contains(b, msg) {
			return true
		}
	}
	return false
}

// transcriptBodies are the response bodies Nextcloud really sent.
func transcriptBodies(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var x struct {
			Response struct {
				Body string `json:"body"`
			} `json:"response"`
		}
		if json.Unmarshal(raw, &x) == nil && x.Response.Body != "" {
			out = append(out, x.Response.Body)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no recorded Nextcloud answers under %s", root)
	}
	return out
}

// moduleDir is where the go command keeps a dependency's source.
func moduleDir(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", module, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Fatalf("go list -m %s: no source directory (run go mod download)", module)
	}
	return dir
}
