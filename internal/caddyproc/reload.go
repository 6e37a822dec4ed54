package caddyproc

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Caddyfile returns the configuration text Caddy was started on (empty
// when it was started on an existing file).
func (p *Process) Caddyfile() string { return p.opts.Caddyfile }

// ReloadWith replaces the configuration file with caddyfile and runs
// `caddy reload` on it, as an administrator who edited the file does.
func (p *Process) ReloadWith(t testing.TB, caddyfile string) {
	t.Helper()
	if err := os.WriteFile(p.opts.ConfigPath, []byte(caddyfile), 0o600); err != nil {
		t.Fatalf("write Caddyfile: %v", err)
	}
	p.opts.Caddyfile = caddyfile
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.cmd.Path, "reload", "--config", p.opts.ConfigPath, "--adapter", "caddyfile",
		"--address", p.opts.AdminAddr)
	cmd.Env = p.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("caddy reload: %v\n%s", err, out)
	}
}
