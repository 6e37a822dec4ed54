package main

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
)

// runner lets the command use the repository's test helpers
// (internal/oidctest, internal/caddyproc), which take a testing.TB for
// their cleanups and failures. It implements the methods those helpers
// call; the embedded interface is nil and only satisfies testing.TB's
// unexported method, so a helper calling anything else panics loudly.
type runner struct {
	testing.TB

	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

// fatal is what Fatal panics with; main recovers it, runs the cleanups
// and exits 1.
type fatal struct{ msg string }

func (r *runner) Helper()      {}
func (r *runner) Name() string { return "scopebench" }

func (r *runner) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

func (r *runner) TempDir() string {
	dir, err := os.MkdirTemp("", "scopebench-")
	if err != nil {
		r.Fatalf("temp dir: %v", err)
	}
	r.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (r *runner) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *runner) Log(args ...any)                 { fmt.Fprintln(os.Stderr, args...) }
func (r *runner) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
func (r *runner) Error(args ...any)               { r.fail(); r.Log(args...) }
func (r *runner) Errorf(format string, args ...any) {
	r.fail()
	r.Logf(format, args...)
}
func (r *runner) Fatal(args ...any) { r.fail(); panic(fatal{fmt.Sprint(args...)}) }
func (r *runner) Fatalf(format string, args ...any) {
	r.fail()
	panic(fatal{fmt.Sprintf(format, args...)})
}

func (r *runner) fail() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
}

// cleanup runs the cleanups, last registered first, as testing does.
func (r *runner) cleanup() {
	r.mu.Lock()
	fs := slices.Clone(r.cleanups)
	r.cleanups = nil
	r.mu.Unlock()
	for _, f := range slices.Backward(fs) {
		f()
	}
}
