// Package sample holds the repository's sample Caddyfile to its adapted
// JSON, so a change to the sample (or to how the modules parse it) shows up
// in review. It imports both modules, which only a test outside them may.
package sample

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/scopegate/scopegate/caddymodule"
	_ "github.com/scopegate/scopegate/mcpbackend"
)

// sampleEnv are the variables the sample reads; the golden holds their
// defaults.
var sampleEnv = []string{"MCP_SITE", "MCP_PUBLIC_HOST", "MCP_RESOURCE", "OIDC_ISSUER", "NEXTCLOUD_URL", "HTTP_PORT", "HTTPS_PORT", "CADDY_ADMIN"}

func TestSampleCaddyfileAdapt(t *testing.T) {
	for _, k := range sampleEnv {
		if v, ok := os.LookupEnv(k); ok {
			os.Unsetenv(k)
			t.Cleanup(func() { os.Setenv(k, v) })
		}
	}
	raw, err := os.ReadFile("../../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(raw, map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting the sample Caddyfile: %v", err)
	}
	for _, w := range warnings {
		t.Errorf("warning: line %d: %s", w.Line, w.Message)
	}
	var got bytes.Buffer
	if err := json.Indent(&got, out, "", "\t"); err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/Caddyfile.golden.json"
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, append(got.Bytes(), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create it)", err)
	}
	if strings.TrimSpace(got.String()) != strings.TrimSpace(string(want)) {
		t.Errorf("the sample adapts differently from %s (UPDATE_GOLDEN=1 rewrites it):\n%s", golden, got.String())
	}
	// What the deployment relies on, stated once more so that a golden
	// regenerated carelessly still cannot drop it.
	for _, must := range []string{`"handler": "mcp_gateway"`, `"handler": "nextcloud_mcp"`, `"provider_checks_audience": true`, `"require_typ": "at+jwt"`, `"/.well-known/caldav"`, `Strict-Transport-Security`,
		`"read_header_timeout"`, `"read_timeout"`, `"idle_timeout"`, `"body_min_bytes"`} {
		if !strings.Contains(got.String(), must) {
			t.Errorf("adapted sample lacks %s", must)
		}
	}
	// A write timeout would cut the MCP event streams.
	if strings.Contains(got.String(), `"write_timeout"`) {
		t.Error("the sample sets a write timeout")
	}
}
