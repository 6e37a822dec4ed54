package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFaultClientDisconnect: a client that goes away in the middle of a
// tool call (of either era) has the backend's Nextcloud request cancelled (the front sees
// its context end, long before the 90 s timeout would end it); one that
// goes away in the middle of an SSE stream (the legacy GET stream, the
// 2026-07-28 subscriptions/listen) frees what the stream held. Each is done
// more often than the gateway lets one subject hold streams at once (16),
// so a slot that is not given back shows as a 429; and afterwards Caddy's
// goroutines are back to the count before, so a goroutine left behind per
// disconnect shows as growth.
func TestFaultClientDisconnect(t *testing.T) {
	t.Parallel()
	front, frontURL := newFaultFront(t)
	s := startNCFaultSite(t, ncSiteSpec{name: "patient", nextcloud: frontURL, timeout: "90s"})
	e := s.sites["patient"]
	tok := ncToken(t, e)
	hangTok := ncToken(t, e)
	front.set(hangTok, hang(false))
	// The test's own connections, closed before each count, so that only
	// the server's own goroutines are counted.
	tr := &http.Transport{}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()

	sid := e.legacySession(t, tok)
	hangSID := e.legacySession(t, hangTok)
	openGET := func(ctx context.Context) (*http.Response, error) {
		req := newRequest(t, http.MethodGet, e.resource, "", append([][2]string{
			{"Accept", "text/event-stream"}, {"Authorization", "Bearer " + tok}}, legacyHeaders(sid)...))
		return client.Do(req.WithContext(ctx))
	}
	openListen := func(ctx context.Context) (*http.Response, error) {
		body := modernMessage("7", "subscriptions/listen", map[string]any{"notifications": map[string]any{"toolsListChanged": true}})
		req := newRequest(t, http.MethodPost, e.resource, body, append([][2]string{
			{"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"}, {"Authorization", "Bearer " + tok},
		}, modernHeaders("subscriptions/listen", "")...))
		return client.Do(req.WithContext(ctx))
	}
	// stream opens a stream, reads its first bytes, and goes away.
	stream := func(what string, open func(context.Context) (*http.Response, error)) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		resp, err := open(ctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("%s: HTTP %d %q, want an open event stream", what, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if what == "subscriptions/listen" {
			// Wait for the acknowledgement: the stream is established.
			if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		cancel()
	}
	// callAndLeave starts a tool call whose Nextcloud request hangs, and
	// goes away once the request has reached Nextcloud.
	callAndLeave := func(i int) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Both eras: a 2026-07-28 request, and one in a legacy session.
		body := modernMessage(fmt.Sprint(100+i), "tools/call", map[string]any{"name": readTool, "arguments": readArgs})
		headers := modernHeaders("tools/call", readTool)
		if i%2 == 1 {
			body = rpc(fmt.Sprint(100+i), "tools/call", map[string]any{"name": readTool, "arguments": readArgs})
			headers = legacyHeaders(hangSID)
		}
		req := newRequest(t, http.MethodPost, e.resource, body, append([][2]string{
			{"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"}, {"Authorization", "Bearer " + hangTok},
		}, headers...))
		done := make(chan error, 1)
		go func() {
			resp, err := client.Do(req.WithContext(ctx))
			if err == nil {
				resp.Body.Close()
				err = fmt.Errorf("answered HTTP %d before the client left", resp.StatusCode)
			}
			done <- err
		}()
		select {
		case <-front.arrived:
		case err := <-done:
			t.Fatalf("tool call %d: %v", i, err)
		case <-time.After(20 * time.Second):
			t.Fatalf("tool call %d never reached Nextcloud", i)
		}
		cancel()
		<-done
		front.waitCancelled(t, hangTok)
	}
	settle := func() int {
		t.Helper()
		tr.CloseIdleConnections()
		// The least of a few readings: a connection the server is
		// just closing still counts once.
		least := 0
		for i := range 5 {
			if n := goroutines(t, s.admin); i == 0 || n < least {
				least = n
			}
			time.Sleep(100 * time.Millisecond)
		}
		return least
	}

	// Warm up: the gateway has learned the catalog, the backend has read
	// the capabilities, each kind of stream has run once.
	if o := callNC(t, e, tok, readTool, readArgs); o.isError || o.rpcErr != "" || o.status != http.StatusOK {
		t.Fatalf("read: %s", o)
	}
	stream("GET stream", openGET)
	stream("subscriptions/listen", openListen)
	callAndLeave(0)
	baseline := settle()

	const rounds = 20
	for i := range rounds {
		stream("GET stream", openGET)
		stream("subscriptions/listen", openListen)
		if i < 5 {
			callAndLeave(i + 1)
		}
	}
	if n := len(front.faulted(hangTok)); n != 6 {
		t.Errorf("%d held Nextcloud requests, want 6", n)
	}
	// Still served afterwards.
	if o := callNC(t, e, tok, readTool, readArgs); o.isError || o.rpcErr != "" || o.status != http.StatusOK {
		t.Fatalf("read after the disconnects: %s", o)
	}
	var now int
	deadline := time.Now().Add(20 * time.Second)
	for {
		now = settle()
		if now <= baseline+2 || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("goroutines: %d before, %d after %d GET streams, %d listens and 5 tool calls left", baseline, now, rounds, rounds)
	if now > baseline+2 {
		t.Errorf("goroutines grew from %d to %d over %d disconnects of each kind", baseline, now, rounds)
	}
}
