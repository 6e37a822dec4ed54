package nextcloud_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

// TestTransportErrorsHideTheInternalURL: a request that gets no answer
// (cancelled, refused, timed out) names the Nextcloud path and the reason;
// the internal base URL, which http.Client puts in its *url.Error, never
// reaches a tool error or a JSON-RPC error message.
func TestTransportErrorsHideTheInternalURL(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(slow.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()

	cancelled, cancel := context.WithCancel(admin())
	cancel()
	cases := []struct {
		name, base string
		ctx        context.Context
		reason     string
		is         error
	}{
		{"cancelled", slow.URL, cancelled, "cancelled", context.Canceled},
		{"refused", refused, admin(), "connection refused", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.base)
			_, err := c.JSON(tc.ctx, http.MethodGet, "/index.php/apps/notes/api/v1/notes/7", nil, nil, nil)
			if err == nil {
				t.Fatal("no error")
			}
			host := strings.TrimPrefix(tc.base, "http://")
			msg := err.Error()
			if strings.Contains(msg, host) || strings.Contains(msg, "http://") {
				t.Errorf("error shows the internal address: %q", msg)
			}
			if !strings.Contains(msg, "GET /index.php/apps/notes/api/v1/notes/7") || !strings.Contains(msg, tc.reason) {
				t.Errorf("error %q: want the path and %q", msg, tc.reason)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v) lost: %v", tc.is, err)
			}
			res, gerr := nextcloud.ToolError("nc_notes_get_note", "reading note 7", err)
			text := ""
			if gerr != nil {
				text = gerr.Error()
			} else {
				text = toText(res.Content[0])
			}
			if strings.Contains(text, host) {
				t.Errorf("tool answer shows the internal address: %q", text)
			}
		})
	}
}
