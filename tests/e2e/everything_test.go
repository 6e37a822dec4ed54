package e2e

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The reference MCP server, @modelcontextprotocol/server-everything, as a
// test peer behind the gateway: tests/everything/package.json pins it, and
// tests start `node dist/index.js streamableHttp` on a free port. It speaks
// the legacy era (sessions), with tasks, completions, resource templates
// and subscriptions, and answers with permissive CORS headers of its own.

// everythingVersion is the version tests/everything/package.json pins.
const everythingVersion = "2026.8.31"

// everythingSetup returns the directory of the installed server.
func everythingSetup(t *testing.T) string {
	return npmPeer{folder: "everything", pkg: "@modelcontextprotocol/server-everything", version: everythingVersion, what: "the server-everything tests"}.setup(t)
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
