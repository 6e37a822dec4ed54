package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/oidctest"
)

// The gateway's body defaults (issue 20): a client has 10 s for the first
// bytes, then must send 1 KiB in every 5 s window.
const (
	bodyGrace  = 10 * time.Second
	bodyWindow = 5 * time.Second
)

// rawPost opens a connection to the gateway and sends the headers of a
// POST to /mcp declaring length bytes, with Authorization: Bearer tok
// unless tok is "".
func (e *env) rawPost(t *testing.T, tok, contentType string, length int) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(e.base, "http://"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	head := fmt.Sprintf("POST /mcp HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nAccept: application/json, text/event-stream\r\nContent-Length: %d\r\n",
		strings.TrimPrefix(e.base, "http://"), contentType, length)
	if tok != "" {
		head += "Authorization: Bearer " + tok + "\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	return conn
}

// answer is what the gateway did to a raw connection: the status of its
// response (0 for none) and whether it closed the connection after it.
type answer struct {
	status int
	closed bool
	err    error
}

// readAnswer reads one response from conn, waiting at most wait, then
// whether the connection is closed.
func readAnswer(conn net.Conn, wait time.Duration) answer {
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return answer{err: err}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	a := answer{status: resp.StatusCode}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = br.ReadByte()
	a.closed = errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || (err != nil && strings.Contains(err.Error(), "reset"))
	return a
}

// TestSlowBodiesCut: 50 authenticated connections declaring 1 MiB and
// trickling a byte every 2 s are all answered 408 and closed within the
// grace plus one window: none gets to send more than that time allows.
// The first is logged, all are counted (issue 20).
func TestSlowBodiesCut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.token(t, false, "notes:read")
	// One request first, so that the provider's keys are fetched once,
	// not by 50 connections at the same moment.
	if r := e.callTool(t, "echo_read", bearer(tok)); r.status != http.StatusOK {
		t.Fatalf("warm-up call: %s", statusOf(r))
	}
	const conns, interval = 50, 2 * time.Second
	// A byte at once, then one per interval: within grace+window a
	// connection sends at most this many.
	allowed := 1 + int((bodyGrace+bodyWindow)/interval)
	var wg sync.WaitGroup
	answers := make([]answer, conns)
	sent := make([]int, conns)
	for i := range conns {
		conn := e.rawPost(t, tok, "application/json", 1<<20)
		done := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			defer close(done)
			// Generous: a loaded machine must not make this fail; the
			// count of bytes sent is what is judged.
			answers[i] = readAnswer(conn, 3*(bodyGrace+bodyWindow))
		}()
		go func() {
			defer wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				if _, err := conn.Write([]byte("{")); err != nil {
					return
				}
				sent[i]++
				select {
				case <-done:
					return
				case <-tick.C:
				}
			}
		}()
	}
	wg.Wait()
	for i, a := range answers {
		if a.status != http.StatusRequestTimeout || !a.closed {
			t.Errorf("connection %d: status %d, closed %v (%v) after %d bytes; want 408 and closed", i, a.status, a.closed, a.err, sent[i])
			continue
		}
		if sent[i] > allowed+1 {
			t.Errorf("connection %d sent %d bytes, a byte per %s, before being cut; grace+window allow %d", i, sent[i], interval, allowed)
		}
	}
	if n := e.forwarded(); n != 1 {
		t.Errorf("%d slow bodies reached the server", n-1)
	}
	if n := strings.Count(e.caddy.Logs(), "request body too slow"); n != 1 {
		t.Errorf("%d log lines about slow bodies from one address, want 1", n)
	}
	if m := e.caddy.Metrics(t); !strings.Contains(m, fmt.Sprintf(`caddy_mcp_gateway_slow_bodies_total{reason="min_rate"} %d`, conns)) {
		t.Errorf("metrics do not count %d slow bodies:\n%s", conns, grepLines(m, "slow_bodies"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, sub) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return strings.Join(out, "\n")
}

// paddedCall is a valid tools/call of echo_read whose body is size bytes.
func paddedCall(t *testing.T, size int) string {
	t.Helper()
	head := modernMessage("1", "tools/call", map[string]any{"name": "echo_read", "arguments": map[string]any{"text": ""}})
	i := strings.Index(head, `"text":""`) + len(`"text":"`)
	body := head[:i] + strings.Repeat("a", size-len(head)) + head[i:]
	if len(body) != size {
		t.Fatalf("padding: %d bytes, want %d", len(body), size)
	}
	return body
}

// pacedReader yields its text in pieces of size, one per interval.
type pacedReader struct {
	r        *strings.Reader
	size     int
	interval time.Duration
	started  bool
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if p.started {
		time.Sleep(p.interval)
	}
	p.started = true
	return p.r.Read(b[:min(len(b), p.size)])
}

// TestSlowLegitBodyPasses: a real client on a slow link — 1 MiB at
// 64 KiB/s, 16 s, longer than the grace — is served (issue 20).
func TestSlowLegitBodyPasses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.token(t, false, "notes:read")
	body := paddedCall(t, 1<<20)
	req, err := http.NewRequest(http.MethodPost, e.resource, &pacedReader{r: strings.NewReader(body), size: 8 << 10, interval: time.Second / 8})
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	for _, h := range append([][2]string{{"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"},
		{"Authorization", "Bearer " + tok}}, modernHeaders("tools/call", "echo_read")...) {
		req.Header.Set(h[0], h[1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(io.LimitReader(resp.Body, 2<<20))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(got), `\"tool\":\"echo_read\"`) {
		t.Errorf("1 MiB at 64 KiB/s: status %d, %.300s", resp.StatusCode, got)
	}
}

// TestStalledBodyCut: a body that starts fast and stalls half-way is cut
// with 408 and its connection closed once a window passes without
// enough bytes; nothing reaches the server (issue 20).
func TestStalledBodyCut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.token(t, false, "notes:read")
	body := paddedCall(t, 1<<20)
	conn := e.rawPost(t, tok, "application/json", len(body))
	// Half the body at 256 KiB/s, 2 s, then nothing.
	for off := 0; off < len(body)/2; off += 32 << 10 {
		if _, err := io.WriteString(conn, body[off:off+32<<10]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second / 8)
	}
	a := readAnswer(conn, 3*(bodyGrace+bodyWindow))
	if a.status != http.StatusRequestTimeout || !a.closed {
		t.Errorf("stalled body: status %d, closed %v (%v); want 408 and closed", a.status, a.closed, a.err)
	}
	if n := e.forwarded(); n != 0 {
		t.Errorf("%d stalled bodies reached the server", n)
	}
}

// TestBodyNotReadBeforeAuthentication: a form-encoded POST without
// credentials declaring 1 MiB gets its 401 while its body is still
// unsent: the gateway reads no body before authenticating (issue 9,
// finding 5).
func TestBodyNotReadBeforeAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, tc := range []struct{ name, tok, ctype string }{
		{"form, no credentials", "", "application/x-www-form-urlencoded"},
		{"form, invalid token", "not-a-valid-token", "application/x-www-form-urlencoded"},
		{"json, no credentials", "", "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := e.rawPost(t, tc.tok, tc.ctype, 1<<20)
			if _, err := io.WriteString(conn, "a=b&access_token=x&"); err != nil {
				t.Fatal(err)
			}
			// Well under the body grace, so no body limit answers first.
			if a := readAnswer(conn, bodyGrace/2); a.status != http.StatusUnauthorized {
				t.Errorf("status %d (%v) with the body unsent, want 401 at once", a.status, a.err)
			}
		})
	}
}

// trailerUpstream is an HTTP/1.1 server that records the trailers and
// headers of each request it gets, answering every POST with an empty
// JSON-RPC result.
type trailerUpstream struct {
	addr string
	mu   sync.Mutex
	seen []http.Header // headers and trailers, merged
}

func startTrailerUpstream(t *testing.T) *trailerUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &trailerUpstream{addr: ln.Addr().String()}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "no", http.StatusMethodNotAllowed)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		h := r.Header.Clone()
		for k, v := range r.Trailer {
			h["Trailer-Value-"+k] = v
		}
		u.mu.Lock()
		u.seen = append(u.seen, h)
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return u
}

// TestRequestTrailersDropped: trailers sent after the body, over HTTP/1.1
// chunked and over HTTP/2 (h2c), never reach an HTTP/1.1 upstream: not
// the MCP headers the gateway checks, nor the identity headers it sets
// (issue 19, point 6).
func TestRequestTrailersDropped(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	up := startTrailerUpstream(t)
	e := &env{provider: oidctest.Start(t, oidctest.Options{})}
	port, adminPort := freePort(t), freePort(t)
	e.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	e.resource = e.base + "/mcp"
	caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%[2]d
	auto_https off
	http_port %[1]d
	persist_config off
	servers {
		protocols h1 h2c
	}
}

http://127.0.0.1:%[1]d {
	mcp_gateway {
		resource %[3]s
		issuer %[4]s
		%[6]s
		scopes_supported %[7]s
	}
	reverse_proxy /mcp* %[5]s
	respond /other "passthrough" 200
}
`, port, adminPort, e.resource, e.provider.Issuer(), up.addr, introspectionBlock, scopesSupported)
	var err error
	e.caddy, err = startCaddy(t, caddyfile, []string{"MCP_CLIENT_ID=" + oidctest.ResourceServerID, "MCP_CLIENT_SECRET=" + oidctest.ClientSecret},
		fmt.Sprintf("127.0.0.1:%d", adminPort), e.base+"/other")
	if err != nil {
		t.Fatal(err)
	}
	tok := e.token(t, false, "notes:read")
	h2c := new(http.Protocols)
	h2c.SetUnencryptedHTTP2(true)
	trailers := http.Header{
		"Mcp-Method":          {"tools/call"},
		"Mcp-Name":            {"echo_write"},
		"X-Scopegate-Subject": {"root"},
		"X-Scopegate-Scopes":  {"notes:write admin"},
	}
	for _, tc := range []struct {
		name  string
		proto *http.Protocols
		major int
	}{
		{"HTTP/1.1 chunked", nil, 1},
		{"HTTP/2", h2c, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{Protocols: tc.proto}
			defer tr.CloseIdleConnections()
			msg := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
			pr, pw := io.Pipe()
			req, err := http.NewRequest(http.MethodPost, e.resource, pr)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = -1
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Trailer = http.Header{}
			for k := range trailers {
				req.Trailer[k] = nil
			}
			go func() {
				_, _ = io.WriteString(pw, msg)
				// Trailer values are set once the body is written.
				for k, v := range trailers {
					req.Trailer[k] = v
				}
				pw.Close()
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			resp, err := (&http.Client{Transport: tr}).Do(req.WithContext(ctx))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != tc.major || resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: status %d, %s", resp.Proto, resp.StatusCode, got)
			}
			up.mu.Lock()
			seen := up.seen[len(up.seen)-1]
			up.mu.Unlock()
			for k, v := range seen {
				for name, sent := range trailers {
					if strings.EqualFold(k, "Trailer-Value-"+name) || (strings.EqualFold(k, name) && strings.Contains(strings.Join(v, ","), sent[0])) {
						t.Errorf("upstream got the trailer %s as %s: %q", name, k, v)
					}
				}
				if strings.EqualFold(k, "Trailer") {
					t.Errorf("upstream got Trailer: %q", v)
				}
			}
		})
	}
}
