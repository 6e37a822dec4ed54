// Package radicaletest starts a real Radicale CalDAV/CardDAV server for
// tests: one process per call, on a loopback port of its own, with its
// own storage folder and configuration, stopped when the test ends.
//
// A missing radicale binary fails the test, because the DAV end-to-end
// tests are part of the full suite; under `go test -short` they are
// skipped instead, so the fast layer needs no peers.
package radicaletest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running Radicale.
type Server struct {
	// URL is the server root, e.g. http://127.0.0.1:41234/ .
	URL string
	// Dir holds the configuration and the collections.
	Dir string
	// Users maps the accepted user names to their passwords. With
	// AuthNone any name works and the map is empty.
	Users map[string]string

	cmd  *exec.Cmd
	logs *syncBuffer
}

// Option changes how the server is configured.
type Option func(*options)

type options struct {
	users map[string]string
}

// WithUsers switches authentication from "none" (any user name and
// password are accepted) to a plain-text htpasswd file holding users.
func WithUsers(users map[string]string) Option {
	return func(o *options) { o.users = users }
}

// Start runs Radicale for the duration of t. It fails t if Radicale is not
// installed or does not become ready, and skips t under -short.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("radicale end-to-end test skipped in -short mode")
	}
	bin, err := exec.LookPath("radicale")
	if err != nil {
		t.Fatalf("radicale is not installed (scripts/install-test-deps installs it): %v", err)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}

	dir := t.TempDir()
	conf, err := writeConfig(dir, o.users)
	if err != nil {
		t.Fatalf("radicaletest: %v", err)
	}
	s := &Server{Dir: dir, Users: o.users, logs: &syncBuffer{}}
	if s.Users == nil {
		s.Users = map[string]string{}
	}
	s.cmd = exec.Command(bin, "--config", conf)
	s.cmd.Stdout = s.logs
	s.cmd.Stderr = s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("radicaletest: starting radicale: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = s.cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("radicale output:\n%s", s.logs.String())
		}
	})

	// Radicale binds port 0 and logs the port it got, so no other process
	// can take the port between choosing and binding it.
	addr, err := s.listening(exited, 15*time.Second)
	if err == nil {
		s.URL = "http://" + addr + "/"
		err = waitReady(s.URL, exited, 15*time.Second)
	}
	if err != nil {
		t.Fatalf("radicaletest: %v\nradicale output:\n%s", err, s.logs.String())
	}
	return s
}

var listeningRE = regexp.MustCompile(`Listening on '\[?(127\.0\.0\.1)\]?:(\d+)'`)

// listening waits for Radicale to log the address it listens on.
func (s *Server) listening(exited <-chan struct{}, limit time.Duration) (string, error) {
	deadline := time.After(limit)
	for {
		if m := listeningRE.FindStringSubmatch(s.logs.String()); m != nil {
			return m[1] + ":" + m[2], nil
		}
		select {
		case <-exited:
			return "", fmt.Errorf("radicale exited before listening")
		case <-deadline:
			return "", fmt.Errorf("radicale did not report its port within %s", limit)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func writeConfig(dir string, users map[string]string) (string, error) {
	auth := "type = none\n"
	if len(users) > 0 {
		var b strings.Builder
		for u, p := range users {
			fmt.Fprintf(&b, "%s:%s\n", u, p)
		}
		htpasswd := filepath.Join(dir, "users")
		if err := os.WriteFile(htpasswd, []byte(b.String()), 0o600); err != nil {
			return "", fmt.Errorf("writing htpasswd: %w", err)
		}
		auth = fmt.Sprintf("type = htpasswd\nhtpasswd_filename = %s\nhtpasswd_encryption = plain\ndelay = 0\n", htpasswd)
	}
	conf := fmt.Sprintf(`[server]
hosts = 127.0.0.1:0

[auth]
%s
[rights]
type = owner_only

[storage]
filesystem_folder = %s

[web]
type = none

[logging]
level = info
mask_passwords = True
`, auth, filepath.Join(dir, "collections"))
	path := filepath.Join(dir, "config")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return "", fmt.Errorf("writing config: %w", err)
	}
	return path, nil
}

func waitReady(url string, exited <-chan struct{}, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-exited:
			return fmt.Errorf("radicale exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("radicale not ready at %s after %s", url, limit)
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodOptions, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Logs returns what Radicale printed so far.
func (s *Server) Logs() string { return s.logs.String() }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
