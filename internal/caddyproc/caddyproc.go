// Package caddyproc runs the Caddy binary under test as a subprocess for
// end-to-end tests: the binary CI built from xcaddy.json (SCOPEGATE_CADDY),
// or one built from ./cmd/caddy on first use, started on a Caddyfile with
// its state kept in the test's temporary directory, stopped (and its logs
// shown on failure) when the test ends.
package caddyproc

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

// Binary returns the binary under test: SCOPEGATE_CADDY (an absolute
// path) if set, else ./cmd/caddy built once per test binary.
func Binary(t testing.TB) string {
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
		root, err := ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, err = os.MkdirTemp("", "scopegate-caddy-"); err != nil {
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

// RemoveBuild deletes a binary Binary built; call it from TestMain after
// m.Run.
func RemoveBuild() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// ModuleRoot is the directory of go.mod above the working directory.
func ModuleRoot() (string, error) {
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

// FreePort finds a free loopback port number for a Caddy to bind.
//
// Caddy binds its listeners with SO_REUSEPORT (for graceful reloads), so a
// port another test's Caddy already holds does not fail the bind: both
// processes would share it and answer each other's requests. Ports are
// therefore never taken from the kernel's ephemeral range (where a port
// just probed and closed is soon handed out again), but from a block of
// 1000 below it chosen by the process id, each handed out once per process
// and probed first (a plain listen fails on a port a Caddy holds).
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	if portNext == 0 {
		portNext = portBase + (os.Getpid()%portBlocks)*portBlock
		portEnd = portNext + portBlock
	}
	for portNext < portEnd {
		p := portNext
		portNext++
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		ln.Close()
		return p
	}
	// The block is used up: fall back to a port the kernel picks.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// FreePort's blocks: 20 blocks of 1000 ports from 12000, below Linux's
// default ephemeral range (32768–60999).
const (
	portBase   = 12000
	portBlock  = 1000
	portBlocks = 20
)

var (
	portsMu           sync.Mutex
	portNext, portEnd int
)

// ErrAddressInUse marks a start that failed because a port was taken
// after FreePort found it.
var ErrAddressInUse = errors.New("caddy: address already in use")

// Options say what to run.
type Options struct {
	// Caddyfile is the configuration text, written to a temporary file;
	// ConfigPath names an existing file instead.
	Caddyfile  string
	ConfigPath string
	// Env is added to the test's environment (for {$VAR} and {env.VAR}).
	Env []string
	// AdminAddr is the admin endpoint the configuration sets, for Reload
	// and Metrics.
	AdminAddr string
	// ReadyURL must answer 200 before Start returns.
	ReadyURL string
}

// Process is a running `caddy run`.
type Process struct {
	cmd    *exec.Cmd
	logs   *logBuffer
	exited chan struct{}
	opts   Options
	env    []string
}

// Start runs Caddy and waits until opts.ReadyURL answers 200. Caddy is
// stopped when the test ends; its configuration and logs are shown if the
// test failed.
func Start(t testing.TB, opts Options) (*Process, error) {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	if opts.ConfigPath == "" {
		opts.ConfigPath = filepath.Join(dir, "Caddyfile")
		if err := os.WriteFile(opts.ConfigPath, []byte(opts.Caddyfile), 0o600); err != nil {
			t.Fatalf("write Caddyfile: %v", err)
		}
	}
	p := &Process{logs: &logBuffer{}, exited: make(chan struct{}), opts: opts}
	p.cmd = exec.Command(bin, "run", "--config", opts.ConfigPath, "--adapter", "caddyfile")
	// Caddy keeps state under HOME and the XDG directories: keep it out
	// of the user's.
	p.env = append(os.Environ(),
		"HOME="+dir,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
	)
	p.env = append(p.env, opts.Env...)
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start caddy: %v", err)
	}
	go func() {
		_ = p.cmd.Wait() // the exit status shows in the logs
		close(p.exited)
	}()

	failed := func(what string) (*Process, error) {
		p.Stop()
		logs := p.logs.String()
		if strings.Contains(logs, "address already in use") {
			return nil, ErrAddressInUse
		}
		return nil, fmt.Errorf("caddy %s\nconfig %s:\n%s\nenv: %q\ncaddy logs:\n%s", what, opts.ConfigPath, opts.Caddyfile, opts.Env, logs)
	}
	client := &http.Client{Timeout: time.Second}
	for range 300 {
		select {
		case <-p.exited:
			return failed("exited during startup")
		default:
		}
		if resp, err := client.Get(opts.ReadyURL); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Cleanup(func() {
					p.Stop()
					if t.Failed() {
						t.Logf("caddy config %s:\n%s\ncaddy logs:\n%s", opts.ConfigPath, opts.Caddyfile, p.logs.String())
					}
				})
				return p, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return failed("not ready at " + opts.ReadyURL)
}

// Logs returns what Caddy printed so far.
func (p *Process) Logs() string { return p.logs.String() }

// Stop ends Caddy: SIGINT, then a kill after 10 s.
func (p *Process) Stop() {
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

// Reload makes the running Caddy load its configuration again through the
// admin API; --force because the file is unchanged.
func (p *Process) Reload(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.cmd.Path, "reload", "--config", p.opts.ConfigPath, "--adapter", "caddyfile",
		"--address", p.opts.AdminAddr, "--force")
	cmd.Env = p.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("caddy reload: %v\n%s", err, out)
	}
}

// RSSBytes reads the resident set size of the Caddy process.
func (p *Process) RSSBytes(t testing.TB) int64 {
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

// CPUTime is the CPU time (user and system) the Caddy process has used so
// far, from /proc/<pid>/stat, for benchmarks that count CPU per request.
func (p *Process) CPUTime(t testing.TB) time.Duration {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("read process stat: %v", err)
	}
	// Fields after the command name, which is in parentheses and may
	// contain spaces: state is field 3, utime 14, stime 15.
	_, rest, ok := strings.Cut(string(stat), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		t.Fatalf("unexpected process stat %q", stat)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatalf("parse process stat %q: %v", stat, err)
		}
		ticks += n
	}
	// USER_HZ is 100 on every Linux configuration Go supports here.
	return time.Duration(ticks) * 10 * time.Millisecond
}

// AdminAddr is the admin endpoint's host:port, as Options gave it.
func (p *Process) AdminAddr() string { return p.opts.AdminAddr }

// Metrics fetches the Prometheus text exposition from the admin API.
func (p *Process) Metrics(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.opts.AdminAddr+"/metrics", nil)
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

// logBuffer collects a subprocess's output.
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
