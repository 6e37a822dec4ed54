package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFaultReloadUnderLoad: `caddy reload` with an edited Caddyfile
// (the backend's timeout and the gateway's cache, changed back and forth)
// while clients keep calling a tool through mcp_gateway and
// nextcloud_mcp. Requests in flight complete on the old configuration.
//   - HTTP/2 clients (h2c here; h2 over TLS in production): no request
//     fails. The old server's GOAWAY tells the client which requests it
//     took; the client sends the rest again on a new connection.
//   - HTTP/1.1 clients: a request that races the closing of an idle
//     keep-alive connection gets a connection error without an answer
//     (an asynchronous close, RFC 9112 §9.6). Such a request never
//     reached the handlers: the backend saw exactly one request per
//     answered call, so a client may send it again, and after one resend
//     no request fails.
func TestFaultReloadUnderLoad(t *testing.T) {
	t.Parallel()
	front, frontURL := newFaultFront(t)
	s := startNCFaultSite(t, ncSiteSpec{name: "fast", nextcloud: frontURL, timeout: "20s"})
	e := s.sites["fast"]
	original := s.caddy.Caddyfile()
	edited := strings.Replace(strings.Replace(original, "timeout 20s", "timeout 25s", 1),
		"issuer "+s.provider.Issuer(), "issuer "+s.provider.Issuer()+"\n\t\tcache_ttl 4m", 1)
	if edited == original || !strings.Contains(edited, "cache_ttl 4m") {
		t.Fatal("the edit changed nothing")
	}
	loads := 0
	for _, proto := range []string{"HTTP/2", "HTTP/1.1"} {
		tr := &http.Transport{MaxIdleConnsPerHost: 8}
		if proto == "HTTP/2" {
			tr.Protocols = new(http.Protocols)
			tr.Protocols.SetUnencryptedHTTP2(true)
		}
		tok := ncToken(t, e)
		st := reloadLoad(t, e, tok, &http.Client{Transport: tr, Timeout: 30 * time.Second}, proto == "HTTP/1.1", func() {
			for i := range 4 {
				cfg := edited
				if i%2 == 1 {
					cfg = original
				}
				s.caddy.ReloadWith(t, cfg)
				loads++
			}
		})
		tr.CloseIdleConnections()
		notes := 0
		for _, r := range front.requests(tok) {
			if r.path == "/index.php/apps/notes/api/v1/notes/359" {
				notes++
			}
		}
		t.Logf("%s: %d calls answered during 4 reloads, %d resent after a connection error, %d notes read at Nextcloud; protocols seen %v",
			proto, st.ok, st.resent, notes, st.protos)
		if proto == "HTTP/2" && (!st.protos["HTTP/2.0"] || len(st.protos) != 1) {
			t.Errorf("%s: answers came over %v", proto, st.protos)
		}
		if len(st.failures) > 0 {
			var lines []string
			for what, n := range st.failures {
				lines = append(lines, fmt.Sprintf("%d× %s", n, what))
			}
			sort.Strings(lines)
			t.Errorf("%s: requests failed during the reloads:\n%s", proto, strings.Join(lines, "\n"))
		}
		if notes != st.ok {
			t.Errorf("%s: Nextcloud saw %d note reads for %d answered calls: a request that got no answer was executed", proto, notes, st.ok)
		}
	}
	if n := strings.Count(s.caddy.Logs(), `"msg":"load complete"`); n < loads {
		t.Errorf("%d configurations loaded, want %d", n, loads)
	}
}

// loadStats is what reloadLoad saw.
type loadStats struct {
	ok, resent int
	failures   map[string]int
	protos     map[string]bool
}

// reloadLoad keeps 6 clients calling the read tool with tok while during
// runs, and until each has made a few calls after it. With resend, a call
// that got a connection error and no answer is sent once more.
func reloadLoad(t *testing.T, e *env, tok string, client *http.Client, resend bool, during func()) loadStats {
	body := modernMessage("1", "tools/call", map[string]any{"name": readTool, "arguments": readArgs})
	var (
		mu sync.Mutex
		st = loadStats{failures: map[string]int{}, protos: map[string]bool{}}
	)
	count := func(f func()) {
		mu.Lock()
		defer mu.Unlock()
		f()
	}
	// send reports a transport error, and counts everything else.
	send := func() error {
		req := newRequest(t, http.MethodPost, e.resource, body, append([][2]string{
			{"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"}, {"Authorization", "Bearer " + tok},
		}, modernHeaders("tools/call", readTool)...))
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			count(func() { st.failures["reading the answer: "+err.Error()]++ })
			return nil
		}
		r := reply(t, response{status: resp.StatusCode, header: resp.Header, body: string(b)})
		var res struct {
			IsError bool `json:"isError"`
		}
		if r.status != http.StatusOK || r.Error != nil || json.Unmarshal(r.Result, &res) != nil || res.IsError {
			count(func() { st.failures[fmt.Sprintf("HTTP %d %.200s", resp.StatusCode, b)]++ })
			return nil
		}
		count(func() { st.ok++; st.protos[resp.Proto] = true })
		return nil
	}
	call := func() {
		err := send()
		if err != nil && resend {
			count(func() { st.resent++ })
			err = send()
		}
		if err != nil {
			count(func() { st.failures["transport: "+err.Error()]++ })
		}
	}
	answered := func() int { mu.Lock(); defer mu.Unlock(); return st.ok }
	waitCalls := func(n int) {
		target := answered() + n
		deadline := time.Now().Add(30 * time.Second)
		for answered() < target && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				call()
			}
		}()
	}
	waitCalls(30)
	during()
	waitCalls(30)
	stop()
	wg.Wait()
	return st
}
