// Command scopebench measures the built Caddy binary side by side: the
// same fixed-response MCP backend reached directly, through a plain
// reverse_proxy, and through mcp_gateway + reverse_proxy with a cached
// RS256 JWT and with an opaque token resolved by introspection. Cells of
// (workload, configuration) run one at a time, configurations alternating
// within each round, with vegeta as the load generator; the table gives
// throughput, p50/p99 latency, the Caddy process's CPU time per request
// (from /proc/<pid>/stat) and the ratios to the plain proxy.
//
//	go run ./internal/cmd/scopebench -caddy ./caddy -duration 5s -rounds 4 -c 32
//
// `make bench` builds the binary and runs it; `make bench-readme`
// rewrites the Performance section of README.md with a fresh table.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/scopegate/scopegate/internal/caddyproc"
	"github.com/scopegate/scopegate/internal/oidctest"
)

type options struct {
	caddy    string
	duration time.Duration
	warmup   time.Duration
	rounds   int
	conns    int
	rate     int
	markdown bool
	readme   string
	only     string
	pprof    string
}

func main() {
	var o options
	flag.StringVar(&o.caddy, "caddy", "./caddy", "the Caddy binary with the Scopegate modules (make build)")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of one cell (one workload against one configuration)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unrecorded load per cell before the first round")
	flag.IntVar(&o.rounds, "rounds", 4, "rounds; every cell runs once per round, configurations alternating")
	flag.IntVar(&o.conns, "c", 32, "concurrent requests (workers and keep-alive connections), like wrk -c")
	flag.IntVar(&o.rate, "rate", 0, "requests per second per cell; 0 sends as fast as the -c workers can (closed loop)")
	flag.BoolVar(&o.markdown, "markdown", false, "print the table as Markdown, with the date and the machine")
	flag.StringVar(&o.readme, "readme", "", "rewrite the table between the scopebench markers of this file (implies -markdown)")
	flag.StringVar(&o.pprof, "pprof", "", "save a CPU profile of Caddy for each cell of the first round in this directory (profiling costs a little CPU)")
	flag.StringVar(&o.only, "workloads", "", "comma-separated workloads to run (default all: "+workloadNames()+")")
	flag.Parse()
	if o.rounds < 1 || o.conns < 1 || o.duration <= 0 {
		fmt.Fprintln(os.Stderr, "scopebench: -rounds and -c must be at least 1, -duration positive")
		os.Exit(2)
	}
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "scopebench:", err)
		os.Exit(1)
	}
}

func run(o options, out io.Writer) (err error) {
	r := &runner{}
	defer r.cleanup()
	defer func() {
		if v := recover(); v != nil {
			f, ok := v.(fatal)
			if !ok {
				panic(v)
			}
			err = errors.New(f.msg)
		}
	}()
	bin, err := filepath.Abs(o.caddy)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("the Caddy binary: %w (run make build first)", err)
	}
	// caddyproc runs the binary SCOPEGATE_CADDY names.
	os.Setenv("SCOPEGATE_CADDY", bin)

	if o.pprof != "" {
		if err := os.MkdirAll(o.pprof, 0o755); err != nil {
			return err
		}
	}
	workloads, err := selectWorkloads(o.only)
	if err != nil {
		return err
	}
	var bodies [][]byte
	for _, w := range workloads {
		bodies = append(bodies, w.body)
	}
	be, err := startBackend(bodies...)
	if err != nil {
		return err
	}
	r.Cleanup(be.Close)

	// Tokens live longer than the run; the gateway's cache holds them for
	// its cache_ttl (5 minutes) and then validates them once more.
	provider := oidctest.Start(r, oidctest.Options{TokenLifetime: 4 * time.Hour})
	plain := startSite(r, plainSite, be.url, provider.Issuer())
	gateway := startSite(r, gatewaySite, be.url, provider.Issuer())
	quiet := startSite(r, quietGatewaySite, be.url, provider.Issuer())

	held := []string{scopes[0]}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	jwt, err := provider.RequestToken(ctx, oidctest.TokenRequest{Scopes: held, Audience: []string{gateway.resource}})
	if err != nil {
		return fmt.Errorf("JWT: %w", err)
	}
	quietJWT, err := provider.RequestToken(ctx, oidctest.TokenRequest{Scopes: held, Audience: []string{quiet.resource}})
	if err != nil {
		return fmt.Errorf("JWT: %w", err)
	}
	opaque, err := provider.RequestToken(ctx, oidctest.TokenRequest{Opaque: true, Scopes: held, Audience: []string{gateway.resource}})
	if err != nil {
		return fmt.Errorf("opaque token: %w", err)
	}
	configs := []config{
		{name: "backend", url: be.url, token: jwt.AccessToken},
		{name: "plain", url: plain.resource, token: jwt.AccessToken, proc: plain.proc},
		{name: "gateway JWT", url: gateway.resource, token: jwt.AccessToken, proc: gateway.proc, gateway: true},
		{name: "gateway opaque", url: gateway.resource, token: opaque.AccessToken, proc: gateway.proc, gateway: true},
		{name: "gateway JWT, audit refusals", url: quiet.resource, token: quietJWT.AccessToken, proc: quiet.proc, gateway: true},
	}

	b := newBench(o, r, configs, workloads)
	if err := b.verify(); err != nil {
		return err
	}
	b.run()
	return b.report(out)
}

// site is one running Caddy.
type site struct {
	proc     *caddyproc.Process
	resource string // http://127.0.0.1:<port>/mcp
}

// The Caddyfiles, identical but for the gateway. Logs (the gateway's
// audit line per decision) go to a file, as in production, not to the
// benchmark's memory.
const (
	plainSite = ``
	// gatewaySite's client_id and client_secret are the provider's
	// resource-server client, for introspection of opaque tokens.
	gatewaySite = `mcp_gateway {
		resource %[1]s
		issuer %[2]s
		introspection {
			client_id {env.MCP_CLIENT_ID}
			client_secret {env.MCP_CLIENT_SECRET}
		}
	}`
	// quietGatewaySite writes audit lines for refusals only: what the
	// per-decision audit line costs is the difference to gatewaySite.
	quietGatewaySite = `mcp_gateway {
		resource %[1]s
		issuer %[2]s
		audit refusals
	}`
)

func startSite(r *runner, gateway, backendURL, issuer string) site {
	for range 3 {
		port, adminPort, httpsPort := caddyproc.FreePort(r), caddyproc.FreePort(r), caddyproc.FreePort(r)
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		dir := r.TempDir()
		handler := gateway
		if handler != "" {
			handler = fmt.Sprintf(handler, base+"/mcp", issuer)
		}
		caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%[2]d
	auto_https off
	http_port %[1]d
	https_port %[3]d
	persist_config off
	log {
		output file %[4]s
	}
}

http://127.0.0.1:%[1]d {
	%[5]s
	reverse_proxy /mcp* %[6]s
	respond /ready "ready" 200
}
`, port, adminPort, httpsPort, filepath.Join(dir, "caddy.log"), handler, backendURL[len("http://"):len(backendURL)-len("/mcp")])
		proc, err := caddyproc.Start(r, caddyproc.Options{
			Caddyfile: caddyfile,
			Env: []string{
				"MCP_CLIENT_ID=" + oidctest.ResourceServerID,
				"MCP_CLIENT_SECRET=" + oidctest.ClientSecret,
			},
			AdminAddr: fmt.Sprintf("127.0.0.1:%d", adminPort),
			ReadyURL:  base + "/ready",
		})
		if errors.Is(err, caddyproc.ErrAddressInUse) {
			continue
		}
		if err != nil {
			r.Fatal(err)
		}
		return site{proc: proc, resource: base + "/mcp"}
	}
	r.Fatal("caddy: no free ports after 3 attempts")
	return site{}
}

// config is one way to reach the backend.
type config struct {
	name    string
	url     string
	token   string
	proc    *caddyproc.Process // nil: no Caddy (the bare backend)
	gateway bool
}

// workload is one kind of request.
type workload struct {
	name   string
	body   []byte
	header http.Header
	// list: a tools/list; denied: the token lacks the tool's scope.
	list, denied bool
}
