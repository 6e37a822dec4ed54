package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/caddyproc"
	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// The multi-replica tests (issue 12): three instances of the built binary
// share one storage folder behind a fourth Caddy that balances round robin
// with no sticky sessions, in the two supported layouts of the backend:
//
//   - stateless: nextcloud_mcp in every replica, with `stateless`;
//   - shared: one external nextcloud_mcp (its own Caddy, sessions on)
//     behind every replica's reverse_proxy.
//
// In each, the mcp-go client in both eras and the TypeScript SDK run
// initialize → list → read → 403 → step-up → write with every request
// landing on the next replica; another subject replaying a session id gets
// 404 at every replica; a replica restarted mid-run costs no request; and
// the three replicas, asked for the first opaque token together, register
// exactly one OAuth client.

// replicaCount is the number of gateway replicas.
const replicaCount = 3

// replicaWorld is the provider, the Nextcloud fake, the replicas and the
// front balancer of one layout.
type replicaWorld struct {
	provider *oidctest.Provider
	storage  string
	base     string // the front, as clients see it
	resource string
	replicas []*replica
	// caddyfile renders replica i's configuration.
	caddyfile func(i int) string
}

type replica struct {
	port, adminPort, httpsPort int
	proc                       *caddyProcess
	log                        string // its access log
}

func (r *replica) base() string { return fmt.Sprintf("http://127.0.0.1:%d", r.port) }

// mcpRequests counts the requests to /mcp in the replica's access log.
func (r *replica) mcpRequests(t *testing.T) int {
	t.Helper()
	raw, err := os.ReadFile(r.log)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return strings.Count(string(raw), `"uri":"/mcp"`)
}

// ncFront is Nextcloud's user_oidc in front of the fake: the gateway has
// judged the user's token; Nextcloud knows it as the recorded one.
func ncFront(t *testing.T) string {
	_, fakeSrv := nextcloudfake.Start(t, nextcloudfake.Options{})
	target, _ := url.Parse(fakeSrv.URL)
	front := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		if strings.HasPrefix(pr.In.Header.Get("Authorization"), "Bearer ") {
			pr.Out.Header.Set("Authorization", "Bearer "+nextcloudfake.AccessToken)
		}
	}})
	t.Cleanup(front.Close)
	return front.URL
}

// newReplicaWorld starts the layout: backend is the replicas' MCP handler
// block (the site's /mcp* route).
func newReplicaWorld(t *testing.T, backend string) *replicaWorld {
	t.Helper()
	w := &replicaWorld{
		provider: oidctest.Start(t, oidctest.Options{Registration: true, PublicClients: true}),
		storage:  t.TempDir(),
	}
	frontPort := freePort(t)
	w.base = fmt.Sprintf("http://127.0.0.1:%d", frontPort)
	w.resource = w.base + "/mcp"
	logs := t.TempDir()
	for i := range replicaCount {
		w.replicas = append(w.replicas, &replica{port: freePort(t), adminPort: freePort(t), httpsPort: freePort(t), log: filepath.Join(logs, fmt.Sprintf("replica-%d.log", i))})
	}
	w.caddyfile = func(i int) string {
		r := w.replicas[i]
		return fmt.Sprintf(`{
	admin 127.0.0.1:%[2]d
	auto_https off
	http_port %[1]d
	https_port %[3]d
	persist_config off
	storage file_system %[4]s
}

http://:%[1]d {
	log {
		output file %[5]s
		format json
	}
	mcp_gateway {
		resource %[6]s
		issuer %[7]s
		introspection
	}
	handle /mcp* {
%[8]s
	}
	respond /other "replica %[9]d" 200
}
`, r.port, r.adminPort, r.httpsPort, w.storage, r.log, w.resource, w.provider.Issuer(), indent(backend, "\t\t"), i)
	}

	// The replicas start together.
	var wg sync.WaitGroup
	errs := make([]error, replicaCount)
	for i := range w.replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.start(t, i)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}

	// The front: round robin, no stickiness; a replica that refuses
	// connections is retried on the next one and left out for a while.
	var upstreams []string
	for _, r := range w.replicas {
		upstreams = append(upstreams, fmt.Sprintf("127.0.0.1:%d", r.port))
	}
	front := fmt.Sprintf(`{
	admin 127.0.0.1:%[2]d
	auto_https off
	http_port %[1]d
	https_port %[3]d
	persist_config off
}

http://127.0.0.1:%[1]d {
	reverse_proxy %[4]s {
		lb_policy round_robin
		lb_try_duration 10s
		lb_try_interval 100ms
		fail_duration 3s
		max_fails 1
		flush_interval -1
	}
}
`, frontPort, freePort(t), freePort(t), strings.Join(upstreams, " "))
	if _, err := startCaddy(t, front, nil, "", w.base+"/other"); err != nil {
		t.Fatalf("front: %v", err)
	}
	return w
}

// start runs replica i (again, after a stop).
func (w *replicaWorld) start(t *testing.T, i int) error {
	r := w.replicas[i]
	p, err := caddyproc.Start(t, caddyproc.Options{Caddyfile: w.caddyfile(i), AdminAddr: fmt.Sprintf("127.0.0.1:%d", r.adminPort), ReadyURL: r.base() + "/other"})
	r.proc = p
	return err
}

// token is a JWT of clientID's subject for the resource.
func (w *replicaWorld) token(t *testing.T, clientID string, scopes ...string) string {
	return w.provider.Token(t, oidctest.TokenRequest{ClientID: clientID, Scopes: scopes, Audience: []string{w.resource}})
}

// crossed checks that every replica served MCP requests between two
// counts.
func (w *replicaWorld) counts(t *testing.T) []int {
	var out []int
	for _, r := range w.replicas {
		out = append(out, r.mcpRequests(t))
	}
	return out
}

func checkCrossed(t *testing.T, what string, before, after []int) {
	t.Helper()
	var served []int
	for i := range before {
		served = append(served, after[i]-before[i])
	}
	t.Logf("%s: MCP requests per replica %v", what, served)
	if slices.Contains(served, 0) {
		t.Errorf("%s: a replica served no request (%v); the run did not cross the replicas", what, served)
	}
}

// post sends one raw MCP POST to base with token and session.
func replicaPost(t *testing.T, base, token, session, body string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	return do(t, req)
}

// TestReplicas runs both layouts.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	t.Parallel()
	nc := func(extra string) string {
		return fmt.Sprintf("nextcloud_mcp {\nnextcloud %s\ncredentials bearer\nallowed_hosts 127.0.0.1\n%s\n}", ncFront(t), extra)
	}
	t.Run("stateless", func(t *testing.T) {
		w := newReplicaWorld(t, nc("stateless"))
		w.run(t, false)
	})
	t.Run("shared backend", func(t *testing.T) {
		// The shared backend: nextcloud_mcp with sessions, in its own
		// Caddy, trusting the gateways' identity header.
		port, admin, https := freePort(t), freePort(t), freePort(t)
		backend := fmt.Sprintf(`{
	admin 127.0.0.1:%[2]d
	auto_https off
	http_port %[1]d
	https_port %[3]d
	persist_config off
}

http://:%[1]d {
	handle /mcp* {
%[4]s
	}
	respond /other "backend" 200
}
`, port, admin, https, indent(nc("external_gateway"), "\t\t"))
		if _, err := startCaddy(t, backend, nil, "", fmt.Sprintf("http://127.0.0.1:%d/other", port)); err != nil {
			t.Fatalf("backend: %v", err)
		}
		w := newReplicaWorld(t, fmt.Sprintf("reverse_proxy 127.0.0.1:%d {\nflush_interval -1\n}", port))
		w.run(t, true)
	})
}

func (w *replicaWorld) run(t *testing.T, sessions bool) {
	// Exactly one OAuth client for the gateway, however many replicas
	// ask for the first opaque token at once.
	t.Run("one registration", func(t *testing.T) {
		opaque := w.provider.Token(t, oidctest.TokenRequest{Opaque: true, Scopes: []string{"notes:read"}, Audience: []string{w.resource}})
		var wg sync.WaitGroup
		statuses := make([]int, replicaCount)
		for i, r := range w.replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodPost, r.base()+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"0"}}}`))
				req.Header.Set("Authorization", "Bearer "+opaque)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				resp, err := http.DefaultClient.Do(req.WithContext(ctx))
				if err == nil {
					statuses[i] = resp.StatusCode
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
		t.Logf("first opaque token at each replica: %v; registrations %d", statuses, w.provider.Hits("/register"))
		for i, s := range statuses {
			if s != http.StatusOK {
				t.Errorf("replica %d: %d, want 200", i, s)
			}
		}
		if ids := w.provider.RegisteredClientIDs(); len(ids) != 1 || w.provider.Hits("/register") != 1 {
			t.Errorf("%d registrations, clients %v; want exactly one", w.provider.Hits("/register"), ids)
		}
	})

	for _, era := range eras {
		t.Run("mcp-go "+era.name, func(t *testing.T) {
			before := w.counts(t)
			session := w.stepUpRun(t, era.version, era.want)
			checkCrossed(t, "mcp-go "+era.name, before, w.counts(t))
			if !sessions || era.version == "" {
				if session != "" {
					t.Errorf("session %q in a run without sessions", session)
				}
				return
			}
			if session == "" || !strings.HasPrefix(session, "sg1.") {
				t.Fatalf("session id %q, want a wrapped one", session)
			}
			w.replay(t, session)
		})
	}

	t.Run("typescript sdk", func(t *testing.T) {
		w.tsFlow(t)
	})

	// Last: the front leaves a replica that failed out for a while.
	t.Run("restart", func(t *testing.T) {
		w.restart(t, sessions)
	})
}

// stepUpRun is initialize → list → read → 403 → step-up → write with the
// mcp-go client in one era; it returns its session id.
func (w *replicaWorld) stepUpRun(t *testing.T, version, want string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var tok atomic.Value
	tok.Store(w.token(t, oidctest.JWTClientID, "notes:read"))
	tr, err := transport.NewStreamableHTTP(w.resource, transport.WithHTTPHeaderFunc(func(context.Context) map[string]string {
		return map[string]string{"Authorization": "Bearer " + tok.Load().(string)}
	}))
	if err != nil {
		t.Fatal(err)
	}
	var opts []client.ClientOption
	if version != "" {
		opts = append(opts, client.WithProtocolVersion(version))
	}
	c := client.NewClient(tr, opts...)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	init, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ClientInfo: mcp.Implementation{Name: "replicas", Version: "0"}}})
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if init.ProtocolVersion != want {
		t.Fatalf("negotiated %s, want %s", init.ProtocolVersion, want)
	}
	names := func() []string {
		list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
		if err != nil {
			t.Fatalf("tools/list: %v", err)
		}
		return toolNames(list.Tools)
	}
	if got := names(); !slices.Contains(got, readTool) || slices.Contains(got, writeTool) {
		t.Errorf("first list (%d tools): %s listed %v, %s listed %v; want the read only", len(got), readTool, slices.Contains(got, readTool), writeTool, slices.Contains(got, writeTool))
	}
	call := func(tool string, args map[string]any) (*mcp.CallToolResult, error) {
		return c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: args}})
	}
	if res, err := call(readTool, readArgs); err != nil || res.IsError {
		t.Fatalf("%s: %v %+v", readTool, err, res)
	}
	if _, err := call(writeTool, writeArgs); err == nil || !strings.Contains(err.Error(), writeTool+" requires ") {
		t.Fatalf("%s with notes:read: %v, want the gateway's 403", writeTool, err)
	}
	// Step-up: the same subject, a token with the write scope.
	tok.Store(w.token(t, oidctest.JWTClientID, "notes:read", "notes:write"))
	res, err := call(writeTool, writeArgs)
	if err != nil || res.IsError {
		t.Fatalf("%s after the step-up: %v %+v", writeTool, err, res)
	}
	if b, _ := json.Marshal(res.StructuredContent); !strings.Contains(string(b), `"id":359`) {
		t.Errorf("%s = %s, want the fake's note 359", writeTool, b)
	}
	if got := names(); !slices.Contains(got, writeTool) {
		t.Errorf("list after the step-up has no %s", writeTool)
	}
	return tr.GetSessionId()
}

// replay: another subject presenting the session id gets 404 at every
// replica, directly and through the front; the owner's id works at each.
func (w *replicaWorld) replay(t *testing.T, session string) {
	t.Helper()
	owner := w.token(t, oidctest.JWTClientID, "notes:read")
	other := w.provider.Token(t, oidctest.TokenRequest{Opaque: true, Scopes: []string{"notes:read"}, Audience: []string{w.resource}})
	const ping = `{"jsonrpc":"2.0","id":9,"method":"ping"}`
	bases := []string{w.base}
	for _, r := range w.replicas {
		bases = append(bases, r.base())
	}
	for _, base := range bases {
		if r := replicaPost(t, base, other, session, ping); r.status != http.StatusNotFound {
			t.Errorf("another subject replaying the session at %s: %s, want 404", base, statusOf(r))
		}
		if r := replicaPost(t, base, owner, session, ping); r.status != http.StatusOK {
			t.Errorf("the owner at %s: %s, want 200", base, statusOf(r))
		}
	}
}

// restart stops one replica in the middle of a run of calls (in a legacy
// session, where the layout has sessions) and starts it again: no call
// fails beyond one retried, and the restarted replica accepts the session.
func (w *replicaWorld) restart(t *testing.T, sessions bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	owner := w.token(t, oidctest.JWTClientID, "notes:read")
	tr, err := transport.NewStreamableHTTP(w.resource, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + owner}))
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(tr, client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION))
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ClientInfo: mcp.Implementation{Name: "replicas", Version: "0"}}}); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if sid := tr.GetSessionId(); (sid != "") != sessions {
		t.Fatalf("session %q; want one: %v", sid, sessions)
	}
	var failed, retried int
	call := func(i int) {
		for attempt := range 2 {
			res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: readTool, Arguments: readArgs}})
			if err == nil && !res.IsError {
				if attempt > 0 {
					retried++
				}
				return
			}
			failed++
			t.Logf("call %d attempt %d: %v %+v", i, attempt, err, res)
		}
		t.Errorf("call %d failed twice", i)
	}
	const victim = 1
	n := 0
	for ; n < 20; n++ {
		if n == 10 {
			w.replicas[victim].proc.Stop()
		}
		call(n)
	}
	if err := w.start(t, victim); err != nil {
		t.Fatalf("restarting replica %d: %v", victim, err)
	}
	// Calls go on until the front sends one to the restarted replica
	// again (it leaves a failed replica out for fail_duration).
	atRestart := w.counts(t)[victim]
	deadline := time.Now().Add(30 * time.Second)
	for ; w.counts(t)[victim] == atRestart; n++ {
		if time.Now().After(deadline) {
			t.Fatalf("the restarted replica served none of %d calls after it came back", n-20)
		}
		call(n)
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d calls around a restart: %d failed attempts, %d retried", n, failed, retried)
	if failed > 1 {
		t.Errorf("%d failed calls around the restart, want at most one (retried)", failed)
	}
	if r := replicaPost(t, w.replicas[victim].base(), owner, tr.GetSessionId(), `{"jsonrpc":"2.0","id":9,"method":"ping"}`); r.status != http.StatusOK {
		t.Errorf("the session at the restarted replica: %s, want 200", statusOf(r))
	}
}

// tsFlow runs the TypeScript SDK's whole interactive flow through the
// front.
func (w *replicaWorld) tsFlow(t *testing.T) {
	dir := tsclientSetup(t)
	readJSON, _ := json.Marshal(readArgs)
	writeJSON, _ := json.Marshal(writeArgs)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	before := w.counts(t)
	logins := len(w.provider.Logins())
	cmd := exec.CommandContext(ctx, "node", "oauth_flow.mjs", "--url", w.resource,
		"--read", readTool, "--read-args", string(readJSON), "--write", writeTool, "--write-args", string(writeJSON))
	cmd.Dir = dir
	cmd.Env = os.Environ()
	var sum tsOAuthSummary
	runTSScript(t, cmd, &sum)
	checkCrossed(t, "typescript sdk", before, w.counts(t))
	if sum.Error != nil {
		t.Fatalf("flow failed after steps %q: %s", sum.Steps, sum.Error)
	}
	t.Logf("steps: %s", strings.Join(sum.Steps, " → "))
	if n := len(w.provider.Logins()) - logins; n != 2 {
		t.Errorf("%d logins, want 2 (first login, step-up)", n)
	}
	if sum.Read == nil || sum.Read.IsError || sum.Write == nil || sum.Write.IsError {
		t.Errorf("read %+v, write %+v; want both to succeed", sum.Read, sum.Write)
	}
	if len(sum.Lists) != 2 || slices.Contains(sum.Lists[0].Names, writeTool) || !slices.Contains(sum.Lists[1].Names, writeTool) {
		t.Errorf("lists %+v: want %s only after the step-up", sum.Lists, writeTool)
	}
	var forbidden int
	for _, e := range sum.Wire {
		if e.Status == http.StatusForbidden {
			forbidden++
		}
	}
	if forbidden == 0 {
		t.Errorf("no 403 in the flow")
	}
}
