package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/caddyproc"
)

// npmPeer is a Node.js test peer kept in a folder of tests/ with its own
// package.json and lock: the TypeScript SDK's script, server-everything.
type npmPeer struct {
	folder  string // below tests/, e.g. "tsclient"
	pkg     string // the package whose version is pinned
	version string // the version package.json pins
	what    string // for messages: "the TypeScript SDK tests"
}

// npmInstalls holds one install per peer folder for the test binary.
var npmInstalls sync.Map // folder -> *npmInstall

type npmInstall struct {
	once sync.Once
	dir  string
	err  error
}

// setup returns the peer's directory, installing it once per test binary
// (see install). A missing node or npm fails the test; only -short skips.
func (p npmPeer) setup(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	v, _ := npmInstalls.LoadOrStore(p.folder, &npmInstall{})
	in := v.(*npmInstall)
	in.once.Do(func() { in.dir, in.err = p.install(t) })
	if in.err != nil {
		t.Fatal(in.err)
	}
	return in.dir
}

// install returns the peer's directory after making sure node_modules
// holds the pinned version: `npm ci` (or `npm install` without a lock)
// unless npm's record of the tree is newer than package.json and the lock.
// A missing node or npm is an error, never a skip.
func (p npmPeer) install(t *testing.T) (string, error) {
	root, err := caddyproc.ModuleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "tests", p.folder)
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("%s need Node.js 20 or later on PATH: %w", p.what, err)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("node --version: %w", err)
	}
	t.Logf("%s: %s %s", p.folder, node, bytes.TrimSpace(out))
	if v := installedVersion(dir, p.pkg); v == p.version && npmInstallFresh(dir) {
		t.Logf("%s: node_modules already holds %s %s; no install", p.folder, p.pkg, v)
		return dir, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("%s need npm on PATH: %w", p.what, err)
	}
	args := []string{"ci"}
	if _, err := os.Stat(filepath.Join(dir, "package-lock.json")); errors.Is(err, os.ErrNotExist) {
		args = []string{"install"}
	}
	args = append(args, "--no-audit", "--no-fund", "--loglevel=error")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm %s in %s: %w\n%s", strings.Join(args, " "), dir, err, out)
	}
	t.Logf("%s: npm %s took %s", p.folder, args[0], time.Since(start).Round(time.Millisecond))
	if v := installedVersion(dir, p.pkg); v != p.version {
		return "", fmt.Errorf("after npm %s, node_modules holds %s %q, want %s", args[0], p.pkg, v, p.version)
	}
	return dir, nil
}

// npmInstallFresh reports whether npm's record of the installed tree,
// node_modules/.package-lock.json, is at least as new as package.json and
// package-lock.json, so a changed lock reinstalls.
func npmInstallFresh(dir string) bool {
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err != nil {
		return false
	}
	for _, f := range []string{"package.json", "package-lock.json"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err == nil && fi.ModTime().After(installed.ModTime()) {
			return false
		}
	}
	return true
}

// installedVersion is the version of pkg in dir's node_modules, or "".
func installedVersion(dir, pkg string) string {
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", filepath.FromSlash(pkg), "package.json"))
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
