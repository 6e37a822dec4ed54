package wholepath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/scopegate/scopegate/internal/caddyproc"
)

func TestMain(m *testing.M) {
	code := m.Run()
	caddyproc.RemoveBuild()
	os.Exit(code)
}

// site is the binary running the repository's own sample Caddyfile.
type site struct {
	*caddyproc.Process
	base     string // http://127.0.0.1:<port>
	resource string // base + "/mcp"
}

// startSample runs `caddy run` on <module root>/Caddyfile, unchanged, with
// the settings in env, and waits until readyPath answers 200.
func startSample(t *testing.T, env func(base string, httpPort, httpsPort, adminPort int) []string, readyPath string) *site {
	t.Helper()
	root, err := caddyproc.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		port, httpsPort, adminPort := caddyproc.FreePort(t), caddyproc.FreePort(t), caddyproc.FreePort(t)
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		p, err := caddyproc.Start(t, caddyproc.Options{
			ConfigPath: filepath.Join(root, "Caddyfile"),
			Env:        env(base, port, httpsPort, adminPort),
			AdminAddr:  fmt.Sprintf("127.0.0.1:%d", adminPort),
			ReadyURL:   base + readyPath,
		})
		if errors.Is(err, caddyproc.ErrAddressInUse) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return &site{Process: p, base: base, resource: base + "/mcp"}
	}
	t.Fatal("caddy: no free ports after 3 attempts")
	return nil
}
