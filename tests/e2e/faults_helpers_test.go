package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// The fault matrix (issue 12, point 4) runs the built binary against
// peers that misbehave on purpose. Nextcloud's faults come from a front
// in this file that stands before the contract fake: it passes every
// request through (as Nextcloud's user_oidc, it maps the user's bearer
// token to the one the recordings were made with) unless the token the
// request carries has a fault set, so parallel subtests share one Caddy
// and each sees only its own fault.

// ncFault says what the front does with a request of one token.
type ncFault struct {
	// hits selects the requests the fault applies to; nil means the
	// Notes app's routes (capabilities and the rest pass).
	hits func(r *http.Request) bool
	// act answers a hit request; pass serves it from the fake into w.
	act func(w http.ResponseWriter, r *http.Request, pass func(http.ResponseWriter))
}

// ncSeen is one request the front received for a token.
type ncSeen struct {
	method, path string
	faulted      bool
	// cancelled: the request's context ended while the front held it,
	// that is, the backend gave up on the request (cancelled or timed out).
	cancelled bool
}

// faultFront is the fault-injecting front of the fake.
type faultFront struct {
	fake *nextcloudfake.Fake

	mu     sync.Mutex
	faults map[string]ncFault
	seen   map[string][]ncSeen
	// arrived is signalled (non-blocking) when a faulted request arrives.
	arrived chan string
}

func newFaultFront(t *testing.T) (*faultFront, string) {
	fake, err := nextcloudfake.New(nextcloudfake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &faultFront{fake: fake, faults: map[string]ncFault{}, seen: map[string][]ncSeen{}, arrived: make(chan string, 64)}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// set gives tok a fault.
func (f *faultFront) set(tok string, fault ncFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[tok] = fault
}

// requests returns what the front received with tok.
func (f *faultFront) requests(tok string) []ncSeen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ncSeen(nil), f.seen[tok]...)
}

// faulted returns the requests of tok that met its fault.
func (f *faultFront) faulted(tok string) []ncSeen {
	var out []ncSeen
	for _, r := range f.requests(tok) {
		if r.faulted {
			out = append(out, r)
		}
	}
	return out
}

// waitCancelled waits up to 20 s for every faulted request of tok to have
// been given up by its sender.
func (f *faultFront) waitCancelled(t *testing.T, tok string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pending := 0
		for _, r := range f.faulted(tok) {
			if !r.cancelled {
				pending++
			}
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d held request(s) never given up by the backend: %v", pending, f.faulted(tok))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (f *faultFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+nextcloudfake.AccessToken)
	}
	f.mu.Lock()
	fault, has := f.faults[tok]
	hit := has && (fault.hits == nil && strings.HasPrefix(r.URL.Path, "/index.php/apps/notes/") || fault.hits != nil && fault.hits(r))
	i := len(f.seen[tok])
	f.seen[tok] = append(f.seen[tok], ncSeen{method: r.Method, path: r.URL.Path, faulted: hit})
	f.mu.Unlock()
	if !hit {
		f.fake.ServeHTTP(w, r)
		return
	}
	select {
	case f.arrived <- tok:
	default:
	}
	fault.act(w, r, func(w http.ResponseWriter) { f.fake.ServeHTTP(w, r) })
	if r.Context().Err() != nil {
		f.mu.Lock()
		f.seen[tok][i].cancelled = true
		f.mu.Unlock()
	}
}

// ncAnswer is a fault that answers status with the header and body.
func ncAnswer(status int, header map[string]string, body string) ncFault {
	return ncFault{act: func(w http.ResponseWriter, r *http.Request, _ func(http.ResponseWriter)) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}}
}

// hang holds the request until the backend gives up on it (or 2 minutes);
// with apply the fake serves it first, so a write is applied and its
// answer never arrives.
func hang(apply bool) ncFault {
	return ncFault{act: func(w http.ResponseWriter, r *http.Request, pass func(http.ResponseWriter)) {
		if apply {
			pass(httptest.NewRecorder())
		} else {
			// Go's server notices a client that went away only once
			// the body is read.
			io.Copy(io.Discard, r.Body)
		}
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Minute):
		}
	}}
}

// dropAfterApply applies the request at the fake, then closes the
// connection without an answer.
func dropAfterApply() ncFault {
	return ncFault{act: func(w http.ResponseWriter, r *http.Request, pass func(http.ResponseWriter)) {
		pass(httptest.NewRecorder())
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}}
}

// notesWrites selects the Notes app's writes.
func notesWrites(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/index.php/apps/notes/") && r.Method != http.MethodGet
}

// ncFaultSite is the built binary with mcp_gateway in front of
// nextcloud_mcp (credentials bearer, Notes only) on several sites that
// share one provider and one process.
type ncFaultSite struct {
	provider *oidctest.Provider
	caddy    *caddyProcess
	admin    string
	sites    map[string]*env
}

// ncSiteSpec is one site: its Nextcloud URL and per-request timeout.
type ncSiteSpec struct {
	name, nextcloud, timeout string
}

func startNCFaultSite(t *testing.T, specs ...ncSiteSpec) *ncFaultSite {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	s := &ncFaultSite{provider: oidctest.Start(t, oidctest.Options{}), sites: map[string]*env{}}
	for range 3 {
		adminPort, httpsPort := freePort(t), freePort(t)
		s.admin = fmt.Sprintf("127.0.0.1:%d", adminPort)
		var b strings.Builder
		// h2c besides HTTP/1.1, for the reload test's HTTP/2 clients.
		fmt.Fprintf(&b, "{\n\tadmin %s\n\tauto_https off\n\thttps_port %d\n\tpersist_config off\n\tservers {\n\t\tprotocols h1 h2 h2c\n\t}\n}\n", s.admin, httpsPort)
		var ready string
		for _, sp := range specs {
			port := freePort(t)
			e := &env{provider: s.provider, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
			e.resource = e.base + "/mcp"
			s.sites[sp.name] = e
			if ready == "" {
				ready = e.base + "/other"
			}
			fmt.Fprintf(&b, `
%[1]s {
	mcp_gateway {
		resource %[2]s
		issuer %[3]s
	}
	handle /mcp* {
		nextcloud_mcp {
			nextcloud %[4]s
			credentials bearer
			apps notes
			timeout %[5]s
		}
	}
	respond /other "ok" 200
}
`, e.base, e.resource, s.provider.Issuer(), sp.nextcloud, sp.timeout)
		}
		var err error
		s.caddy, err = startCaddy(t, b.String(), nil, s.admin, ready)
		if errors.Is(err, errAddressInUse) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range s.sites {
			e.caddy = s.caddy
		}
		return s
	}
	t.Fatal("caddy: no free ports after 3 attempts")
	return nil
}

// ncToken is a token for site e with the Notes scopes.
func ncToken(t *testing.T, e *env) string {
	t.Helper()
	return e.provider.Token(t, oidctest.TokenRequest{Scopes: []string{"notes:read", "notes:write"}, Audience: []string{e.resource}})
}

// toolOutcome is what a tools/call came back with.
type toolOutcome struct {
	status  int
	rpcErr  string // a JSON-RPC error's message
	isError bool
	text    string
}

func (o toolOutcome) String() string {
	if o.rpcErr != "" {
		return fmt.Sprintf("HTTP %d, JSON-RPC error %q", o.status, o.rpcErr)
	}
	return fmt.Sprintf("HTTP %d, isError %v, text %q", o.status, o.isError, o.text)
}

// callNC calls tool with args as a 2026-07-28 client.
func callNC(t *testing.T, e *env, tok, tool string, args map[string]any) toolOutcome {
	t.Helper()
	r := e.modern(t, tok, "1", "tools/call", tool, map[string]any{"name": tool, "arguments": args})
	out := toolOutcome{status: r.status}
	if r.Error != nil {
		out.rpcErr = r.Error.Message
		return out
	}
	var res struct {
		IsError bool `json:"isError"`
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	if err := json.Unmarshal(r.Result, &res); err != nil {
		t.Fatalf("%s: HTTP %d, undecodable result: %v\n%s", tool, r.status, err, r.body)
	}
	out.isError = res.IsError
	for _, c := range res.Content {
		out.text += c.Text
	}
	return out
}

// goroutines reads the process's goroutine count from the admin
// endpoint's profile ("goroutine profile: total N").
func goroutines(t *testing.T, admin string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/debug/pprof/goroutine?debug=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("goroutine profile: %v", err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("goroutine profile: HTTP %d, %v", resp.StatusCode, err)
	}
	m := regexp.MustCompile(`total (\d+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("goroutine profile starts %q", line)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// updateTool changes a note under an ETag.
const updateTool = "nc_notes_update_note"

func ptr[T any](v T) *T { return &v }

func itoa(n int) string { return strconv.Itoa(n) }

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
