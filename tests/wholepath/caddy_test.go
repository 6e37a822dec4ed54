package wholepath

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// caddyBinary is $SCOPEGATE_CADDY (what CI builds with xcaddy), or else
// `go build ./cmd/caddy`, once per test run.
func caddyBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SCOPEGATE_CADDY"); p != "" {
		if !filepath.IsAbs(p) {
			t.Fatalf("SCOPEGATE_CADDY=%q must be an absolute path", p)
		}
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("SCOPEGATE_CADDY: %v", err)
		}
		return p
	}
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, err = os.MkdirTemp("", "scopegate-wholepath-"); err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(buildDir, "caddy")
		cmd := exec.Command("go", "build", "-o", buildBin, "./cmd/caddy")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/caddy: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for range 10 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		dir = filepath.Dir(dir)
	}
	return "", errors.New("go.mod not found above the test directory")
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// site is the binary running the repository's own sample Caddyfile.
type site struct {
	base     string // http://127.0.0.1:<port>
	resource string // base + "/mcp"
	cmd      *exec.Cmd
	logs     *logBuffer
	exited   chan struct{}
}

var errAddressInUse = errors.New("address already in use")

// startSample runs `caddy run` on <module root>/Caddyfile, unchanged, with
// the settings in env, and waits until readyPath answers 200.
func startSample(t *testing.T, env func(base string, httpPort, httpsPort, adminPort int) []string, readyPath string) *site {
	t.Helper()
	bin := caddyBinary(t)
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	caddyfile := filepath.Join(root, "Caddyfile")
	for range 3 {
		port, httpsPort, adminPort := freePort(t), freePort(t), freePort(t)
		s, err := runSample(t, bin, caddyfile, port, env(fmt.Sprintf("http://127.0.0.1:%d", port), port, httpsPort, adminPort), readyPath)
		if errors.Is(err, errAddressInUse) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Fatal("caddy: no free ports after 3 attempts")
	return nil
}

func runSample(t *testing.T, bin, caddyfile string, port int, env []string, readyPath string) (*site, error) {
	dir := t.TempDir()
	s := &site{base: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &logBuffer{}, exited: make(chan struct{})}
	s.resource = s.base + "/mcp"
	s.cmd = exec.Command(bin, "run", "--config", caddyfile, "--adapter", "caddyfile")
	// Caddy keeps state under HOME and the XDG directories.
	s.cmd.Env = append(os.Environ(),
		"HOME="+dir,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
	)
	s.cmd.Env = append(s.cmd.Env, env...)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start caddy: %v", err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	failed := func(what string) (*site, error) {
		s.stop()
		if strings.Contains(s.logs.String(), "address already in use") {
			return nil, errAddressInUse
		}
		return nil, fmt.Errorf("caddy %s\nenv: %q\ncaddy logs:\n%s", what, env, s.logs.String())
	}
	client := &http.Client{Timeout: time.Second}
	for range 300 {
		select {
		case <-s.exited:
			return failed("exited during startup")
		default:
		}
		if resp, err := client.Get(s.base + readyPath); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Cleanup(func() {
					s.stop()
					if t.Failed() {
						t.Logf("caddy logs:\n%s", s.logs.String())
					}
				})
				return s, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return failed("not ready at " + readyPath)
}

func (s *site) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}
