// Command xcaddybuild builds ./caddy with xcaddy from the recipe in
// xcaddy.json.
//
// The module proxy answers 400/403 (not 404) for a module path it does not
// know, such as this repository's, and the go command then stops, so
// xcaddy cannot resolve a local module through it. The build therefore
// first fills the module cache through the proxy with everything Caddy and
// this repository need, then runs xcaddy with GOPROXY=off, where the local
// module is found through its replace directive alone.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// recipe is the content of xcaddy.json.
type recipe struct {
	CaddyVersion  string `json:"caddy_version"`
	XcaddyVersion string `json:"xcaddy_version"`
	Output        string `json:"output"`
	Modules       []struct {
		Package string `json:"package"`
		Version string `json:"version"`
	} `json:"modules"`
	Replace map[string]string `json:"replace"`
}

func main() {
	recipePath := flag.String("recipe", "xcaddy.json", "build recipe")
	output := flag.String("o", "", "output binary (default: the recipe's output)")
	flag.Parse()
	if err := run(*recipePath, *output); err != nil {
		fmt.Fprintln(os.Stderr, "xcaddybuild:", err)
		os.Exit(1)
	}
}

func run(recipePath, output string) error {
	raw, err := os.ReadFile(recipePath)
	if err != nil {
		return err
	}
	var r recipe
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&r); err != nil {
		return fmt.Errorf("%s: %w", recipePath, err)
	}
	if r.CaddyVersion == "" || r.XcaddyVersion == "" || len(r.Modules) == 0 {
		return fmt.Errorf("%s: caddy_version, xcaddy_version and modules are required", recipePath)
	}
	root, err := filepath.Abs(filepath.Dir(recipePath))
	if err != nil {
		return err
	}
	if output == "" {
		output = filepath.Join(root, r.Output)
	}
	output, err = filepath.Abs(output)
	if err != nil {
		return err
	}

	gobin, err := goBin()
	if err != nil {
		return err
	}
	xcaddy := filepath.Join(gobin, "xcaddy")
	if !hasVersion(xcaddy, r.XcaddyVersion) {
		if err := sh(root, nil, "go", "install", "github.com/caddyserver/xcaddy/cmd/xcaddy@"+r.XcaddyVersion); err != nil {
			return fmt.Errorf("installing xcaddy: %w", err)
		}
	}

	// Warm the module cache by resolving, with the proxy on, the same
	// build module xcaddy will make: Caddy first (as xcaddy's first
	// "go get" sees it), then this repository's modules through their
	// replace directives, then tidy. xcaddy then finds everything in the
	// cache with GOPROXY=off.
	warm, err := os.MkdirTemp("", "xcaddybuild-warm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(warm)
	main := "package main\n\nimport (\n\tcaddycmd \"github.com/caddyserver/caddy/v2/cmd\"\n\t_ \"github.com/caddyserver/caddy/v2/modules/standard\"\n"
	var pkgs []string
	for _, m := range r.Modules {
		main += "\t_ \"" + m.Package + "\"\n"
		pkgs = append(pkgs, m.Package+"@"+moduleVersion(m.Version))
	}
	main += ")\n\nfunc main() { caddycmd.Main() }\n"
	steps := [][]string{
		{"mod", "init", "warm"},
		{"get", "github.com/caddyserver/caddy/v2@" + r.CaddyVersion},
		{"mod", "download", "all"},
	}
	for mod, dir := range r.Replace {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		steps = append(steps, []string{"mod", "edit", "-require=" + mod + "@v0.0.0", "-replace=" + mod + "=" + dir})
	}
	for i, args := range steps {
		if err := sh(warm, nil, "go", args...); err != nil {
			return fmt.Errorf("warming the module cache (step %d): %w", i+1, err)
		}
	}
	if err := os.WriteFile(filepath.Join(warm, "main.go"), []byte(main), 0o644); err != nil {
		return err
	}
	// The modules are already required through their replace: tidy
	// resolves the imports without asking the proxy about their paths
	// (which it answers with 403, stopping the go command).
	for _, args := range [][]string{{"mod", "tidy", "-e"}, {"list", "-deps", "."}} {
		if err := sh(warm, nil, "go", args...); err != nil {
			return fmt.Errorf("warming the module cache for %v: %w", pkgs, err)
		}
	}

	args := []string{"build", r.CaddyVersion, "--output", output}
	for _, m := range r.Modules {
		args = append(args, "--with", m.Package+"@"+moduleVersion(m.Version))
	}
	for mod, dir := range r.Replace {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		args = append(args, "--replace", mod+"="+dir)
	}
	return sh(root, []string{"GOPROXY=off"}, xcaddy, args...)
}

// moduleVersion is the version a recipe module is required at; a local
// module (no version) resolves through its replace directive.
func moduleVersion(v string) string {
	if v == "" {
		return "v0.0.0"
	}
	return v
}

func goBin() (string, error) {
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("go env: %w", err)
	}
	// One line per variable; GOBIN's is empty when unset.
	lines := strings.Split(string(out), "\n")
	if len(lines) < 2 {
		return "", fmt.Errorf("go env printed %q", out)
	}
	if gobin := strings.TrimSpace(lines[0]); gobin != "" {
		return gobin, nil
	}
	gopath, _, _ := strings.Cut(strings.TrimSpace(lines[1]), string(os.PathListSeparator))
	return filepath.Join(gopath, "bin"), nil
}

func hasVersion(bin, version string) bool {
	out, err := exec.Command(bin, "version").Output()
	return err == nil && strings.Contains(string(out), version)
}

func sh(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout = io.Discard
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(), env...)
	fmt.Fprintf(os.Stderr, "+ (%s) %s %s\n", dir, name, strings.Join(args, " "))
	return cmd.Run()
}
