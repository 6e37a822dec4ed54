package caddymodule

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// TestListChangedWatcher finds the notification however the stream is cut
// into writes, passes every byte through, and does not fire without it.
func TestListChangedWatcher(t *testing.T) {
	stream := "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\n"
	for size := 1; size <= len(stream); size++ {
		rec := httptest.NewRecorder()
		fired := 0
		w := &listChangedWatcher{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: rec}, onChange: func() { fired++ }}
		for i := 0; i < len(stream); i += size {
			w.Write([]byte(stream[i:min(i+size, len(stream))]))
		}
		if fired != 1 || rec.Body.String() != stream {
			t.Fatalf("writes of %d bytes: fired %d times, passed %q", size, fired, rec.Body.String())
		}
	}
	rec := httptest.NewRecorder()
	w := &listChangedWatcher{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: rec}, onChange: func() { t.Fatal("fired without the notification") }}
	for _, part := range strings.SplitAfter(strings.ReplaceAll(stream, "list_changed", "list_unchanged"), "/") {
		w.Write([]byte(part))
	}
}

// TestListChangedWatcherIgnoresEchoes: the method name anywhere but as the
// value of a "method" member (an id a client chose, a quoted tool result,
// an escaped string) must not fire; real notifications do, whitespace and
// escaped slashes included.
func TestListChangedWatcherIgnoresEchoes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream string
		fire   bool
	}{
		{"echoed id in JSON", `{"jsonrpc":"2.0","id":"notifications/tools/list_changed","result":{}}`, false},
		{"echoed id in SSE", "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"notifications/tools/list_changed\",\"result\":{}}\n\n", false},
		{"quoted in a tool result", `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"{\"method\":\"notifications/tools/list_changed\"}"}]}}`, false},
		{"another method", `{"jsonrpc":"2.0","method":"notifications/tools/list_changed_not"}`, false},
		{"error message naming it", `{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"method notifications/tools/list_changed"}}`, false},
		{"SSE notification", "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\n", true},
		{"JSON with spaces", `{"jsonrpc": "2.0", "method" : "notifications/tools/list_changed", "params": {}}`, true},
		{"escaped slashes", `{"jsonrpc":"2.0","method":"notifications\/tools\/list_changed"}`, true},
		{"after a near miss", `{"method":"notifications/tools/x","x":"\"method\"","method":"notifications/tools/list_changed"}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for size := 1; size <= len(tc.stream); size++ {
				rec := httptest.NewRecorder()
				fired := 0
				w := &listChangedWatcher{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: rec}, onChange: func() { fired++ }}
				for i := 0; i < len(tc.stream); i += size {
					w.Write([]byte(tc.stream[i:min(i+size, len(tc.stream))]))
				}
				if (fired > 0) != tc.fire || rec.Body.String() != tc.stream {
					t.Fatalf("writes of %d bytes: fired %d times (want fire=%v), passed %q", size, fired, tc.fire, rec.Body.String())
				}
			}
		})
	}
}

// TestRediscoveryRateLimited: a burst of notifications walks the catalog
// once now and once at the end of the interval, never more.
func TestRediscoveryRateLimited(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	done := make(chan struct{}, 10)
	l := newRediscovery(func() {
		mu.Lock()
		calls++
		mu.Unlock()
		select {
		case done <- struct{}{}:
		default:
		}
	}, 50*time.Millisecond)
	defer l.stop()
	for range 1000 {
		l.trigger()
	}
	<-done // the first, at once
	select {
	case <-done: // the trailing one, after the interval
	case <-time.After(10 * time.Second):
		t.Fatal("the trailing rediscovery never ran")
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Fatalf("1000 notifications caused %d rediscoveries, want 2", calls)
	}
}

// FuzzMethodMatcherSkip holds scan's skipping to the next quote equal to
// feeding every byte to step, however the input is split into writes.
func FuzzMethodMatcherSkip(f *testing.F) {
	f.Add([]byte(`data: {"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`), uint8(7))
	f.Add([]byte(`{"method" : "notifications\/tools\/list_changed"} "method":"x"`), uint8(3))
	f.Add([]byte(`"id":"notifications/tools/list_changed","\"method\":"`), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, cut uint8) {
		var ref, got methodMatcher
		n := int(cut)%8 + 1
		for p := in; len(p) > 0; {
			chunk := p[:min(n, len(p))]
			p = p[len(chunk):]
			refFound := false
			for _, c := range chunk {
				if ref.step(c) {
					refFound = true
				}
			}
			if found := got.scan(chunk); found != refFound || got != ref {
				t.Fatalf("scan: %v, state %+v; byte by byte: %v, state %+v", found, got, refFound, ref)
			}
		}
	})
}
