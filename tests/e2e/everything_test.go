package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/caddyproc"
)

// The reference MCP server, @modelcontextprotocol/server-everything, as a
// test peer behind the gateway: tests/everything/package.json pins it, and
// tests start `node dist/index.js streamableHttp` on a free port. It speaks
// the legacy era (sessions), with tasks, completions, resource templates
// and subscriptions, and answers with permissive CORS headers of its own.

// everythingVersion is the version tests/everything/package.json pins.
const everythingVersion = "2026.8.31"

var (
	everythingOnce sync.Once
	everythingDir  string
	everythingErr  error
)

// everythingSetup returns the directory of the installed server, running
// `npm ci` once per test binary unless node_modules already holds the
// pinned version. A missing node or npm fails the test; only -short skips.
func everythingSetup(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	everythingOnce.Do(func() { everythingDir, everythingErr = everythingInstall(t) })
	if everythingErr != nil {
		t.Fatal(everythingErr)
	}
	return everythingDir
}

func everythingInstalled(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "server-everything", "package.json"))
	if err != nil {
		return ""
	}
	var p struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(b, &p) != nil {
		return ""
	}
	return p.Version
}

func everythingInstall(t *testing.T) (string, error) {
	root, err := caddyproc.ModuleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "tests", "everything")
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("the server-everything tests need Node.js 20 or later on PATH: %w", err)
	}
	if v := everythingInstalled(dir); v == everythingVersion && tsclientInstallFresh(dir) {
		return dir, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("the server-everything tests need npm on PATH: %w", err)
	}
	args := []string{"ci", "--no-audit", "--no-fund", "--loglevel=error"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
	}
	if v := everythingInstalled(dir); v != everythingVersion {
		return "", fmt.Errorf("after npm ci, node_modules holds server-everything %q, want %s", v, everythingVersion)
	}
	t.Logf("everything: installed server-everything %s", everythingVersion)
	return dir, nil
}

// startEverything runs server-everything on a free loopback port until the
// test ends and returns its host:port.
func startEverything(t *testing.T) string {
	t.Helper()
	dir := everythingSetup(t)
	for range 3 {
		if addr, ok := runEverything(t, dir); ok {
			return addr
		}
		t.Logf("server-everything: a reserved port was taken; retrying with another")
	}
	t.Fatal(errors.New("server-everything: no free port after 3 attempts"))
	return ""
}

// runEverything starts the server on one free port; false means the port
// was taken meanwhile.
func runEverything(t *testing.T, dir string) (string, bool) {
	t.Helper()
	script := filepath.Join(dir, "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js")
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	out := &syncBuffer{}
	cmd := exec.Command("node", script, "streamableHttp")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server-everything: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("server-everything output:\n%s", tail(out.String(), 4000))
				}
			})
			return addr, true
		}
		select {
		case err := <-exited:
			if strings.Contains(out.String(), "already in use") {
				return "", false
			}
			t.Fatalf("server-everything exited: %v\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("server-everything did not listen on %s within 30s:\n%s", addr, out.String())
		}
	}
}

// syncBuffer is a bytes.Buffer the process's two output pipes may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 {
		return len(p), nil // enough to diagnose; the server logs every request
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
