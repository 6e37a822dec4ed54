package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/caddyproc"
	"github.com/scopegate/scopegate/internal/mcptestserver"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// readOnlyStorage returns a Caddy storage folder in which nothing can be
// written. Permissions alone do not stop root, and CI may run the tests
// as root, so the folders Caddy and Scopegate write into (locks/ for the
// storage locks, mcp_gateway/ and scopegate/ for their keys) are regular
// files instead: every write below them fails with ENOTDIR, whoever the
// user is. For other users the folder is also made read-only (0555), as
// a read-only mount would be.
func readOnlyStorage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"locks", "mcp_gateway", "scopegate"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	// Hold the technique to what it claims.
	if err := os.MkdirAll(filepath.Join(dir, "locks", "x"), 0o755); err == nil {
		t.Fatal("the storage folder is writable")
	}
	return dir
}

// TestFaultStorageReadOnly: Caddy's storage cannot be written.
//   - A gateway with introspection credentials in its config needs no
//     storage: JWTs and opaque tokens work.
//   - A gateway that must register its own introspection client (RFC 7591;
//     its credentials are kept in storage, under a storage lock so that
//     replicas register once) cannot: opaque tokens get 503 "authorization
//     server unavailable, retry later", never a pass, and the log says the
//     storage is why; JWTs, which need no client, work.
//   - nextcloud_mcp with credentials app_password must keep an encryption
//     key in storage: Caddy refuses the configuration at startup, naming
//     the key and the storage error, rather than run with passwords it
//     could not keep.
func TestFaultStorageReadOnly(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	storage := readOnlyStorage(t)
	provider := oidctest.Start(t, oidctest.Options{Registration: true})
	upstream := mcptestserver.Start(t)

	var configured, registering *env
	var proc *caddyProcess
	for range 3 {
		ports := []int{freePort(t), freePort(t), freePort(t), freePort(t)}
		admin := fmt.Sprintf("127.0.0.1:%d", ports[2])
		configured = &env{provider: provider, mcp: upstream, base: fmt.Sprintf("http://127.0.0.1:%d", ports[0])}
		registering = &env{provider: provider, mcp: upstream, base: fmt.Sprintf("http://127.0.0.1:%d", ports[1])}
		var b strings.Builder
		fmt.Fprintf(&b, "{\n\tadmin %s\n\tauto_https off\n\thttps_port %d\n\tpersist_config off\n\tstorage file_system %s\n}\n", admin, ports[3], storage)
		for _, s := range []struct {
			e             *env
			introspection string
		}{
			{configured, "introspection {\n\t\t\tclient_id " + oidctest.ResourceServerID + "\n\t\t\tclient_secret " + oidctest.ClientSecret + "\n\t\t}"},
			{registering, "introspection"},
		} {
			s.e.resource = s.e.base + "/mcp"
			fmt.Fprintf(&b, `
%[1]s {
	mcp_gateway {
		resource %[2]s
		issuer %[3]s
		scopes_supported %[4]s
		%[5]s
	}
	reverse_proxy /mcp* %[6]s {
		header_up Host {upstream_hostport}
	}
	respond /other "ok" 200
}
`, s.e.base, s.e.resource, provider.Issuer(), scopesSupported, s.introspection, upstream.Addr)
		}
		var err error
		proc, err = startCaddy(t, b.String(), nil, admin, configured.base+"/other")
		if errors.Is(err, errAddressInUse) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if proc == nil {
		t.Fatal("caddy: no free ports after 3 attempts")
	}
	configured.caddy, registering.caddy = proc, proc

	for _, e := range []*env{configured, registering} {
		if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, false, "notes:read"))); r.status != http.StatusOK {
			t.Errorf("%s: a JWT with read-only storage: %s, want 200", e.base, statusOf(r))
		}
	}
	if r := configured.callTool(t, mcptestserver.ToolEchoRead, bearer(configured.token(t, true, "notes:read"))); r.status != http.StatusOK {
		t.Errorf("an opaque token, introspection client configured: %s, want 200", statusOf(r))
	}
	for range 2 {
		before := registering.upstreamCalls()
		r := registering.callTool(t, mcptestserver.ToolEchoRead, bearer(registering.token(t, true, "notes:read")))
		checkUnavailable(t, registering, "an opaque token, introspection client to register", r, before)
	}
	logs := proc.Logs()
	for _, want := range []string{"registering the gateway's OAuth client failed; opaque tokens get 503 until it works", "locking storage", "not a directory"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	if len(provider.RegisteredClientIDs()) != 0 {
		t.Errorf("clients registered at the provider that the gateway could not keep: %v", provider.RegisteredClientIDs())
	}

	// nextcloud_mcp in app_password mode refuses to start.
	port, admin := freePort(t), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	_, err := caddyproc.Start(t, caddyproc.Options{AdminAddr: admin, ReadyURL: fmt.Sprintf("http://127.0.0.1:%d/other", port), Caddyfile: fmt.Sprintf(`{
	admin %s
	auto_https off
	persist_config off
	storage file_system %s
}

http://127.0.0.1:%d {
	mcp_gateway {
		resource http://127.0.0.1:%[3]d/mcp
		issuer %s
	}
	handle /mcp* {
		nextcloud_mcp {
			nextcloud http://127.0.0.1:9
			credentials app_password
		}
	}
	respond /other "ok" 200
}
`, admin, storage, port, provider.Issuer())})
	if err == nil {
		t.Fatal("nextcloud_mcp with credentials app_password started on storage it cannot write")
	}
	if m := regexp.MustCompile(`[^\n]*not a directory[^\n]*`).FindString(err.Error()); m != "" {
		t.Logf("startup refused: ...%s", m[max(0, len(m)-400):])
	}
	for _, want := range []string{"exited during startup", "app_password: reading the encryption key from storage", "not a directory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the startup failure lacks %q:\n%.3000s", want, err)
		}
	}
}
