package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// caddyBinary returns the binary under test, building it on first use when
// SCOPEGATE_CADDY is not set.
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
		if buildDir, err = os.MkdirTemp("", "scopegate-e2e-"); err != nil {
			buildErr = fmt.Errorf("temp dir: %w", err)
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
		return "", fmt.Errorf("working directory: %w", err)
	}
	for range 10 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		dir = filepath.Dir(dir)
	}
	return "", errors.New("go.mod not found above the test directory")
}

// freePort finds a free loopback port number. Another socket can take it
// before Caddy binds it; startCaddy reports that as errAddressInUse and
// newEnv retries with new ports.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// logBuffer collects a subprocess's output for display on failure.
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

// caddyProcess is a running `caddy run`.
type caddyProcess struct {
	cmd       *exec.Cmd
	logs      *logBuffer
	exited    chan struct{}
	adminAddr string
	cfgPath   string
	env       []string
}

// errAddressInUse marks a startup failure because a port was taken after
// freePort reserved it; the caller may retry with other ports.
var errAddressInUse = errors.New("caddy: address already in use")

// startCaddy writes the Caddyfile, runs Caddy on it and waits until readyURL
// answers 200. Caddy is stopped, and its logs shown on failure, when the test
// ends.
func startCaddy(t *testing.T, caddyfile string, env []string, adminAddr, readyURL string) (*caddyProcess, error) {
	t.Helper()
	bin := caddyBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(caddyfile), 0o600); err != nil {
		t.Fatalf("write Caddyfile: %v", err)
	}
	p := &caddyProcess{logs: &logBuffer{}, exited: make(chan struct{}), adminAddr: adminAddr, cfgPath: cfgPath}
	p.cmd = exec.Command(bin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	// Caddy keeps state under HOME and XDG dirs; keep it out of the user's.
	p.cmd.Env = append(os.Environ(),
		"HOME="+dir,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
	)
	p.cmd.Env = append(p.cmd.Env, env...)
	p.env = p.cmd.Env
	p.cmd.Stdout = p.logs
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start caddy: %v", err)
	}
	go func() {
		_ = p.cmd.Wait() // the exit status shows in the logs
		close(p.exited)
	}()

	failed := func(what string) (*caddyProcess, error) {
		p.stop()
		logs := p.logs.String()
		if strings.Contains(logs, "address already in use") {
			return nil, errAddressInUse
		}
		return nil, fmt.Errorf("caddy %s\nCaddyfile:\n%s\ncaddy logs:\n%s", what, caddyfile, logs)
	}
	client := &http.Client{Timeout: time.Second}
	for range 200 {
		select {
		case <-p.exited:
			return failed("exited during startup")
		default:
		}
		resp, err := client.Get(readyURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Cleanup(func() {
					p.stop()
					if t.Failed() {
						t.Logf("Caddyfile:\n%s\ncaddy logs:\n%s", caddyfile, p.logs.String())
					}
				})
				return p, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return failed("not ready at " + readyURL)
}

func (p *caddyProcess) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// reload makes the running Caddy load its Caddyfile again through the admin
// API; --force because the file is unchanged.
func (p *caddyProcess) reload(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.cmd.Path, "reload", "--config", p.cfgPath, "--adapter", "caddyfile",
		"--address", p.adminAddr, "--force")
	cmd.Env = p.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("caddy reload: %v\n%s", err, out)
	}
}

// rssBytes reads the resident set size of the Caddy process.
func (p *caddyProcess) rssBytes(t *testing.T) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("read process status: %v", err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fields := strings.Fields(rest)
			if len(fields) != 2 || fields[1] != "kB" {
				t.Fatalf("unexpected VmRSS line %q", line)
			}
			kb, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				t.Fatalf("parse VmRSS %q: %v", line, err)
			}
			return kb * 1024
		}
	}
	t.Fatal("no VmRSS in process status")
	return 0
}

// metrics fetches the Prometheus text exposition from Caddy's admin API.
func (p *caddyProcess) metrics(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.adminAddr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET admin /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET admin /metrics: status %d, %v", resp.StatusCode, err)
	}
	return string(body)
}
