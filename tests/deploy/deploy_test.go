// Package deploy checks the files of deploy/ that cannot run on a machine
// without a Docker engine: they must parse, agree with the sample
// Caddyfile, and keep the promises deploy/README.md makes (Scopegate the
// only published service, a non-root image, a hardened unit). Checkers that
// exist here run for real: systemd-analyze on the unit, sh -n on the
// setup script, docker compose config when the plugin is installed.
package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func read(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       map[string]string `yaml:"build"`
		Ports       []string          `yaml:"ports"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		User        string            `yaml:"user"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
}

func TestCompose(t *testing.T) {
	var c compose
	if err := yaml.Unmarshal([]byte(read(t, "deploy/compose.yaml")), &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for _, name := range []string{"db", "nextcloud", "setup", "scopegate"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %s missing", name)
		}
	}
	// Nextcloud enforces no scopes: only the gateway may be reachable.
	for name, s := range c.Services {
		if name != "scopegate" && len(s.Ports) > 0 {
			t.Errorf("service %s publishes %v; only scopegate may", name, s.Ports)
		}
	}
	sg := c.Services["scopegate"]
	for _, p := range []string{"80:80", "443:443"} {
		if !slices.Contains(sg.Ports, p) {
			t.Errorf("scopegate does not publish %s", p)
		}
	}
	if sg.Build["dockerfile"] != "deploy/Dockerfile" || sg.Build["context"] != ".." {
		t.Errorf("scopegate build = %v", sg.Build)
	}
	if sg.DependsOn["setup"].Condition != "service_completed_successfully" {
		t.Error("scopegate must start after the setup container has configured Nextcloud")
	}
	// Every setting the sample Caddyfile reads without a usable production
	// default is given to the scopegate service.
	for _, v := range []string{"MCP_SITE", "MCP_PUBLIC_HOST", "MCP_RESOURCE", "OIDC_ISSUER", "NEXTCLOUD_URL", "MCP_CLIENT_ID", "MCP_CLIENT_SECRET"} {
		if _, ok := sg.Environment[v]; !ok {
			t.Errorf("scopegate service lacks %s", v)
		}
		if !strings.Contains(read(t, "Caddyfile"), v) {
			t.Errorf("compose sets %s, which the Caddyfile does not read", v)
		}
	}
	if got := sg.Environment["NEXTCLOUD_URL"]; got != "http://nextcloud:80" {
		t.Errorf("NEXTCLOUD_URL = %q, want the unpublished nextcloud service", got)
	}
	setup := c.Services["setup"]
	if setup.User != "www-data" || !slices.ContainsFunc(setup.Volumes, func(v string) bool { return strings.HasPrefix(v, "./nextcloud-setup.sh:") }) {
		t.Errorf("setup service = %+v", setup)
	}
	// The compose CLI plugin validates the file for real where it exists.
	if out, err := exec.Command("docker", "compose", "version").CombinedOutput(); err == nil {
		cmd := exec.Command("docker", "compose", "-f", "../../deploy/compose.yaml", "--env-file", "../../deploy/example.env", "config", "--quiet")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("docker compose config: %v\n%s", err, out)
		}
	} else {
		t.Logf("docker compose plugin not installed (%s); structural checks only", strings.TrimSpace(string(out)))
	}
}

func TestDockerfile(t *testing.T) {
	df := read(t, "deploy/Dockerfile")
	stages := regexp.MustCompile(`(?m)^FROM `).FindAllStringIndex(df, -1)
	if len(stages) != 2 {
		t.Fatalf("want a two-stage build, got %d FROM lines", len(stages))
	}
	final := df[stages[1][0]:]
	for _, must := range []string{
		"go run ./internal/cmd/xcaddybuild -recipe xcaddy.json", // the build recipe, not an ad-hoc go build
	} {
		if !strings.Contains(df[:stages[1][0]], must) {
			t.Errorf("build stage lacks %q", must)
		}
	}
	for _, must := range []string{"COPY --from=build /out/caddy", "COPY Caddyfile /etc/scopegate/Caddyfile", "cap_net_bind_service", `ENTRYPOINT ["/usr/local/bin/caddy"]`} {
		if !strings.Contains(final, must) {
			t.Errorf("runtime stage lacks %q", must)
		}
	}
	user := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindStringSubmatch(final)
	if user == nil || strings.HasPrefix(user[1], "root") || strings.HasPrefix(user[1], "0") {
		t.Errorf("runtime stage runs as %v; it must be non-root", user)
	}
	// Every file the image copies exists in the repository.
	for _, m := range regexp.MustCompile(`(?m)^COPY\s+(?:--\S+\s+)*(\S+)`).FindAllStringSubmatch(df, -1) {
		if strings.HasPrefix(m[0], "COPY --from") || m[1] == "." {
			continue
		}
		if _, err := os.Stat(filepath.Join("..", "..", m[1])); err != nil {
			t.Errorf("Dockerfile copies %s: %v", m[1], err)
		}
	}
}

func TestSystemdUnit(t *testing.T) {
	unit := read(t, "deploy/scopegate.service")
	for _, must := range []string{"User=scopegate", "NoNewPrivileges=true", "ProtectSystem=strict", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "Type=notify", "--config /etc/scopegate/Caddyfile"} {
		if !strings.Contains(unit, must) {
			t.Errorf("unit lacks %s", must)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	switch {
	case err != nil && testing.Short():
		t.Skip("systemd-analyze not installed; the full run (make test) installs it")
	case err != nil:
		t.Fatal("systemd-analyze not installed: scripts/install-test-deps installs it for the full run")
	}
	// verify insists that ExecStart exists: point it at a real binary.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "scopegate.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/caddy", exe)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "scopegate.service") {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestSetupScript(t *testing.T) {
	out, err := exec.Command("sh", "-n", "../../deploy/nextcloud-setup.sh").CombinedOutput()
	if err != nil {
		t.Fatalf("sh -n: %v\n%s", err, out)
	}
	script := read(t, "deploy/nextcloud-setup.sh")
	for _, must := range []string{"oidc:create", "--resource_url=", "overwritehost", "overwriteprotocol", "overwrite.cli.url", "oidc_provider_bearer_validation"} {
		if !strings.Contains(script, must) {
			t.Errorf("setup script lacks %s", must)
		}
	}
}
