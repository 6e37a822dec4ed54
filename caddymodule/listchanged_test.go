package caddymodule

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// TestListChangedWatcher finds the notification however the stream is cut
// into writes, passes every byte through, and does not fire without it.
func TestListChangedWatcher(t *testing.T) {
	stream := "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\n"
	for size := 1; size <= len(stream); size++ {
		rec := httptest.NewRecorder()
		fired := 0
		w := &listChangedWatcher{ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: rec}, onChange: func() { fired++ }}
		for i := 0; i < len(stream); i += size {
			w.Write([]byte(stream[i:min(i+size, len(stream))]))
		}
		if fired != 1 || rec.Body.String() != stream {
			t.Fatalf("writes of %d bytes: fired %d times, passed %q", size, fired, rec.Body.String())
		}
	}
	rec := httptest.NewRecorder()
	w := &listChangedWatcher{ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: rec}, onChange: func() { t.Fatal("fired without the notification") }}
	for _, part := range strings.SplitAfter(strings.ReplaceAll(stream, "list_changed", "list_unchanged"), "/") {
		w.Write([]byte(part))
	}
}
