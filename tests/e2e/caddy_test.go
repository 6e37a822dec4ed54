package e2e

import (
	"os"
	"testing"

	"github.com/scopegate/scopegate/internal/caddyproc"
)

func TestMain(m *testing.M) {
	code := m.Run()
	caddyproc.RemoveBuild()
	os.Exit(code)
}

// The e2e tests run the binary through internal/caddyproc; these names keep
// the tests short.
type caddyProcess = caddyproc.Process

var errAddressInUse = caddyproc.ErrAddressInUse

func caddyBinary(t *testing.T) string { return caddyproc.Binary(t) }

func freePort(t testing.TB) int { return caddyproc.FreePort(t) }

// startCaddy runs Caddy on the Caddyfile text and waits for readyURL.
func startCaddy(t testing.TB, caddyfile string, env []string, adminAddr, readyURL string) (*caddyProcess, error) {
	t.Helper()
	return caddyproc.Start(t, caddyproc.Options{Caddyfile: caddyfile, Env: env, AdminAddr: adminAddr, ReadyURL: readyURL})
}
