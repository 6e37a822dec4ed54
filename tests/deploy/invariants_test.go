package deploy

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
)

// deployment is the Compose deployment as an operator runs it: compose.yaml
// interpolated with example.env, the sample Caddyfile in the image, and the
// setup script.
type deployment struct {
	env       map[string]string
	compose   string
	caddyfile string
	script    string
}

func loadDeployment(t *testing.T) deployment {
	return deployment{
		env:       parseEnv(read(t, "deploy/example.env")),
		compose:   read(t, "deploy/compose.yaml"),
		caddyfile: read(t, "Caddyfile"),
		script:    read(t, "deploy/nextcloud-setup.sh"),
	}
}

// parseEnv reads a Compose env file: KEY=VALUE lines, # comments.
func parseEnv(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return out
}

var composeVar = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// interpolate expands ${VAR}, ${VAR:-default}, ${VAR:?err}, $VAR and $$ as
// Compose does.
func interpolate(s string, env map[string]string) (string, error) {
	var err error
	out := composeVar.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		g := composeVar.FindStringSubmatch(m)
		name, op, arg := g[1], g[2], g[3]
		if name == "" {
			name = g[4]
		}
		v, set := env[name]
		switch {
		case strings.HasSuffix(op, "-") && (!set || op == ":-" && v == ""):
			return arg
		case strings.HasSuffix(op, "?") && (!set || op == ":?" && v == ""):
			err = fmt.Errorf("%s: %s", name, arg)
		}
		return v
	})
	return out, err
}

type service struct {
	Ports       []string          `yaml:"ports"`
	Expose      []string          `yaml:"expose"`
	NetworkMode string            `yaml:"network_mode"`
	Environment map[string]string `yaml:"environment"`
}

// shellExpand expands $VAR and ${VAR} in a shell word with env.
func shellExpand(s string, env map[string]string) string {
	return regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`).ReplaceAllStringFunc(s, func(m string) string {
		return env[strings.Trim(m, "${}")]
	})
}

var localhostNames = map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}

// problems lists every broken invariant of the deployment.
func (d deployment) problems() []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	host := d.env["MCP_HOST"]
	if host == "" {
		return []string{"example.env sets no MCP_HOST"}
	}
	text, err := interpolate(d.compose, d.env)
	if err != nil {
		return []string{"compose.yaml with example.env: " + err.Error()}
	}
	var c struct {
		Services map[string]service `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(text), &c); err != nil {
		return []string{"compose.yaml: " + err.Error()}
	}
	sg, nc, setup := c.Services["scopegate"], c.Services["nextcloud"], c.Services["setup"]

	// Scopegate is the only published service: Nextcloud enforces no scopes.
	for name, s := range c.Services {
		if name != "scopegate" && (len(s.Ports) > 0 || s.NetworkMode == "host") {
			bad("service %s is published (ports %v, network_mode %q); only scopegate may be", name, s.Ports, s.NetworkMode)
		}
	}
	if len(sg.Ports) == 0 {
		bad("scopegate publishes no port")
	}

	// The backend's Nextcloud host is trusted by Nextcloud, on a fresh
	// install (NEXTCLOUD_TRUSTED_DOMAINS) and on an existing one (the
	// setup script), or every tool call gets 400 "untrusted domain".
	u, err := url.Parse(sg.Environment["NEXTCLOUD_URL"])
	if err != nil || u.Host == "" {
		bad("scopegate NEXTCLOUD_URL %q is not a URL", sg.Environment["NEXTCLOUD_URL"])
	} else {
		backend := u.Hostname()
		trusted := strings.Fields(nc.Environment["NEXTCLOUD_TRUSTED_DOMAINS"])
		if !nextcloudfake.Trusted(trusted, u.Host) {
			bad("nextcloud_mcp calls Nextcloud as %q, which is not in NEXTCLOUD_TRUSTED_DOMAINS %q", u.Host, trusted)
		}
		if !localhostNames[backend] {
			if got := setup.Environment["NEXTCLOUD_INTERNAL_HOST"]; got != backend {
				bad("setup service NEXTCLOUD_INTERNAL_HOST = %q, want %q (the host of NEXTCLOUD_URL) so existing installations trust it", got, backend)
			}
			if !regexp.MustCompile(`occ config:system:set trusted_domains "\$n" --value="\$NEXTCLOUD_INTERNAL_HOST"`).MatchString(d.script) {
				bad("the setup script does not add NEXTCLOUD_INTERNAL_HOST to trusted_domains")
			}
		}
		if _, ok := c.Services[backend]; !ok && !localhostNames[backend] {
			bad("NEXTCLOUD_URL names %q, which is no service of the deployment", backend)
		}
	}
	if !nextcloudfake.Trusted(strings.Fields(nc.Environment["NEXTCLOUD_TRUSTED_DOMAINS"]), host) {
		bad("the public host %q is not a trusted domain", host)
	}

	// Issuer and resource agree with MCP_HOST everywhere.
	public := "https://" + host
	for k, want := range map[string]string{"MCP_SITE": host, "MCP_PUBLIC_HOST": host, "OIDC_ISSUER": public, "MCP_RESOURCE": public + "/mcp"} {
		if got := sg.Environment[k]; got != want {
			bad("scopegate %s = %q, want %q", k, got, want)
		}
	}
	// Nextcloud builds its issuer and links from the pinned public URL,
	// whatever Host a request carried (the backend's is "nextcloud").
	for k, want := range map[string]string{"OVERWRITEHOST": host, "OVERWRITEPROTOCOL": "https", "OVERWRITECLIURL": public} {
		if got := nc.Environment[k]; got != want {
			bad("nextcloud %s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"MCP_HOST", "MCP_CLIENT_ID", "MCP_CLIENT_SECRET"} {
		want := host
		if k != "MCP_HOST" {
			want = sg.Environment[k]
		}
		if got := setup.Environment[k]; got != want || got == "" {
			bad("setup %s = %q, want %q", k, got, want)
		}
	}

	// The setup script creates the gateway's client with the same
	// resource URL, and pins the same public URL.
	m := regexp.MustCompile(`--resource_url="?([^"\s]+)"?`).FindStringSubmatch(d.script)
	if m == nil {
		bad("the setup script creates no client with --resource_url")
	} else if got := shellExpand(m[1], setup.Environment); got != sg.Environment["MCP_RESOURCE"] {
		bad("the setup script's --resource_url is %q, the gateway's resource %q", got, sg.Environment["MCP_RESOURCE"])
	}
	for key, want := range map[string]string{"overwritehost": host, "overwrite.cli.url": public, "overwriteprotocol": "https"} {
		m := regexp.MustCompile(`occ config:system:set ` + regexp.QuoteMeta(key) + ` --value="?([^"\s]+)"?`).FindStringSubmatch(d.script)
		if m == nil || shellExpand(m[1], setup.Environment) != want {
			bad("the setup script does not set %s to %q (%v)", key, want, m)
		}
	}

	// The Caddyfile takes these settings from exactly those variables.
	for _, re := range []string{
		`(?m)^\{\$MCP_SITE[:}]`,
		`(?m)^\s*resource \{\$MCP_RESOURCE[:}]`,
		`(?m)^\s*issuer \{\$OIDC_ISSUER[:}]`,
		`(?m)^\s*nextcloud \{\$NEXTCLOUD_URL[:}]`,
		`(?m)^\s*allowed_hosts \{\$MCP_PUBLIC_HOST[:}]`,
		`(?m)^\s*client_id \{env\.MCP_CLIENT_ID\}`,
		`(?m)^\s*reverse_proxy \{\$NEXTCLOUD_URL[:}]`,
	} {
		if !regexp.MustCompile(re).MatchString(d.caddyfile) {
			bad("the Caddyfile lacks %s", re)
		}
	}
	return out
}

// TestDeploymentInvariants holds the Compose deployment to what it must be
// for tools to work and scopes to hold (issue 18).
func TestDeploymentInvariants(t *testing.T) {
	for _, p := range loadDeployment(t).problems() {
		t.Error(p)
	}
}

// Each invariant catches the mistake it is about.
func TestDeploymentInvariantsCatch(t *testing.T) {
	tests := []struct {
		name string
		edit func(*deployment)
		want string
	}{
		{"backend host untrusted", func(d *deployment) {
			d.compose = strings.Replace(d.compose, "${MCP_HOST:?set MCP_HOST} nextcloud", "${MCP_HOST:?set MCP_HOST}", 1)
		}, `nextcloud_mcp calls Nextcloud as "nextcloud:80", which is not in NEXTCLOUD_TRUSTED_DOMAINS`},
		{"existing installs not fixed", func(d *deployment) {
			d.compose = strings.Replace(d.compose, "NEXTCLOUD_INTERNAL_HOST: nextcloud", "NEXTCLOUD_INTERNAL_HOST: cloud", 1)
		}, `NEXTCLOUD_INTERNAL_HOST = "cloud"`},
		{"nextcloud published", func(d *deployment) {
			d.compose = strings.Replace(d.compose, "    image: nextcloud:34-apache\n    restart: unless-stopped\n", "    image: nextcloud:34-apache\n    restart: unless-stopped\n    ports:\n      - \"8080:80\"\n", 1)
		}, "service nextcloud is published"},
		{"issuer elsewhere", func(d *deployment) {
			d.compose = strings.Replace(d.compose, "OIDC_ISSUER: https://${MCP_HOST}", "OIDC_ISSUER: https://auth.example.com", 1)
		}, `scopegate OIDC_ISSUER = "https://auth.example.com"`},
		{"resource without /mcp", func(d *deployment) {
			d.compose = strings.Replace(d.compose, "MCP_RESOURCE: https://${MCP_HOST}/mcp", "MCP_RESOURCE: https://${MCP_HOST}", 1)
		}, "scopegate MCP_RESOURCE"},
		{"client bound to another resource", func(d *deployment) {
			d.script = strings.Replace(d.script, `--resource_url="https://$MCP_HOST/mcp"`, `--resource_url="https://$MCP_HOST/"`, 1)
		}, "the setup script's --resource_url is"},
		{"overwritehost not pinned", func(d *deployment) {
			d.script = strings.Replace(d.script, "occ config:system:set overwritehost", "# occ config:system:set overwritehost", 1)
			d.script = strings.Replace(d.script, "occ config:system:set overwritehost", "occ config:system:get overwritehost", 1)
		}, "does not set overwritehost"},
		{"Caddyfile reads another issuer", func(d *deployment) {
			d.caddyfile = strings.Replace(d.caddyfile, "issuer {$OIDC_ISSUER", "issuer {$ISSUER", 1)
		}, "the Caddyfile lacks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := loadDeployment(t)
			before := d
			tt.edit(&d)
			if d.compose == before.compose && d.script == before.script && d.caddyfile == before.caddyfile {
				t.Fatal("the edit changed nothing: the test is stale")
			}
			got := strings.Join(d.problems(), "\n")
			if !strings.Contains(got, tt.want) {
				t.Errorf("problems:\n%s\nwant one containing %q", got, tt.want)
			}
		})
	}
}

func TestInterpolate(t *testing.T) {
	env := map[string]string{"A": "x", "E": ""}
	for in, want := range map[string]string{
		"${A}": "x", "$A/b": "x/b", "${B:-d}": "d", "${E:-d}": "d", "${E-d}": "", "$$A": "$A", "${A:?must} y": "x y",
	} {
		if got, err := interpolate(in, env); err != nil || got != want {
			t.Errorf("interpolate(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := interpolate("${B:?set B}", env); err == nil {
		t.Error("${B:?...} with B unset: no error")
	}
}

// deploy/README.md tells an operator how to prove the deployment works:
// the metadata, the 401 challenge and a tool call with a token.
func TestReadmeChecks(t *testing.T) {
	readme := read(t, "deploy/README.md")
	_, section, ok := strings.Cut(readme, "## Check your deployment")
	if !ok {
		t.Fatal("deploy/README.md has no \"Check your deployment\" section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for _, want := range []string{
		"curl -s https://cloud.example.com/.well-known/oauth-protected-resource/mcp",
		"curl -si -X POST https://cloud.example.com/mcp",
		`-H "Authorization: Bearer $TOKEN"`,
		"insufficient_scope", "invalid_token", "trusted_domains",
	} {
		if !strings.Contains(section, want) {
			t.Errorf("the check section lacks %q", want)
		}
	}
	if n := strings.Count(section, "curl -s"); n != 3 {
		t.Errorf("%d curl commands, want 3", n)
	}
}
