package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/caddyproc"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// runCaddy runs a caddy subcommand and returns its combined output and
// whether it exited 0.
func runCaddy(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, caddyBinary(t), args...)
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir,
		"MCP_CLIENT_ID=id", "MCP_CLIENT_SECRET=secret")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("caddy %v: timed out\n%s", args, out)
	}
	return string(out), err == nil
}

// TestSampleCaddyfile: the repository's sample Caddyfile adapts and
// validates with the binary under test.
func TestSampleCaddyfile(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	t.Parallel()
	root, err := caddyproc.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	sample := filepath.Join(root, "Caddyfile")
	if _, err := os.Stat(sample); err != nil {
		t.Fatalf("sample Caddyfile: %v", err)
	}
	for _, sub := range []string{"adapt", "validate"} {
		if out, ok := runCaddy(t, sub, "--config", sample, "--adapter", "caddyfile"); !ok {
			t.Errorf("caddy %s of the sample Caddyfile failed:\n%s", sub, out)
		}
	}
	if out, ok := runCaddy(t, "list-modules"); !ok || !strings.Contains(out, "http.handlers.mcp_gateway") {
		t.Errorf("list-modules lacks http.handlers.mcp_gateway:\n%s", out)
	}
}

// TestConfigValidation: `caddy validate` accepts a sound gateway config and
// refuses unsafe or incomplete ones with a message naming the problem.
func TestConfigValidation(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	t.Parallel()
	p := oidctest.Start(t, oidctest.Options{})
	const site = "http://127.0.0.1:9"
	tests := []struct {
		name    string
		body    string
		ok      bool
		mention string // a word the error must contain
	}{
		{"sound", fmt.Sprintf("resource %s/mcp\nissuer %s", site, p.Issuer()), true, ""},
		{"missing resource", fmt.Sprintf("issuer %s", p.Issuer()), false, "resource"},
		{"missing issuer", fmt.Sprintf("resource %s/mcp", site), false, "issuer"},
		{"plain http issuer off loopback", fmt.Sprintf("resource %s/mcp\nissuer http://idp.example.com", site), false, "https"},
		{"plain http resource off loopback", fmt.Sprintf("resource http://mcp.example.com/mcp\nissuer %s", p.Issuer()), false, "https"},
		{"plain http jwks_uri off loopback", fmt.Sprintf("resource %s/mcp\nissuer %s\njwks_uri http://idp.example.com/keys", site, p.Issuer()), false, "https"},
		{"plain http introspection off loopback", fmt.Sprintf("resource %s/mcp\nissuer %s\nintrospection http://idp.example.com/introspect {\nclient_id a\nclient_secret b\n}", site, p.Issuer()), false, "https"},
		{"resource with fragment", fmt.Sprintf("resource %s/mcp#x\nissuer %s", site, p.Issuer()), false, "fragment"},
		{"unknown subdirective", fmt.Sprintf("resource %s/mcp\nissuer %s\nfrobnicate yes", site, p.Issuer()), false, "frobnicate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "Caddyfile")
			text := fmt.Sprintf("{\n\tadmin off\n}\n\n%s {\n\tmcp_gateway {\n%s\n\t}\n}\n", site, indent(tc.body, "\t\t"))
			if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			out, ok := runCaddy(t, "validate", "--config", cfg, "--adapter", "caddyfile")
			if ok != tc.ok {
				t.Fatalf("validate ok=%v, want %v\nCaddyfile:\n%s\noutput:\n%s", ok, tc.ok, text, out)
			}
			if !tc.ok && !strings.Contains(strings.ToLower(out), tc.mention) {
				t.Errorf("error does not mention %q:\n%s", tc.mention, out)
			}
		})
	}
}
