package nextcloud_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

// TestFaultAnswers: what a tool says for the answers of a Nextcloud that
// is not well. A write answered by a page or a redirect is an error, not
// a success; a change whose fate is unknown says so, a read or a refusal
// never does.
func TestFaultAnswers(t *testing.T) {
	tests := []struct {
		name   string
		method string
		status int
		header map[string]string
		body   string
		want   []string
		// uncertain: the text must (or must not) say the change may
		// have been applied.
		uncertain bool
	}{
		{"login page on a read", http.MethodGet, 200, map[string]string{"Content-Type": "text/html"}, "<html>sign in</html>",
			[]string{"(HTTP 200): Nextcloud answered an HTML page instead of JSON"}, false},
		{"login page on a write", http.MethodPut, 200, map[string]string{"Content-Type": "text/html; charset=UTF-8"}, "<html>sign in</html>",
			[]string{"(HTTP 200): Nextcloud answered an HTML page instead of JSON"}, true},
		{"redirect on a write", http.MethodPost, 302, map[string]string{"Location": "http://10.0.0.5:8080/index.php/login?redirect_url=x&token=secret"}, "",
			[]string{"(HTTP 302)", "redirected the request to /index.php/login,"}, false},
		{"maintenance", http.MethodPost, 503, map[string]string{"X-Nextcloud-Maintenance-Mode": "1", "Content-Type": "text/html"}, "<html>maintenance</html>",
			[]string{"(HTTP 503): Nextcloud is in maintenance mode"}, false},
		{"503 with a message of its own", http.MethodGet, 503, map[string]string{"Content-Type": "application/json"}, `{"message":"Service is down"}`,
			[]string{"(HTTP 503): Service is down"}, false},
		{"502 on a write", http.MethodDelete, 502, nil, "",
			[]string{"(HTTP 502): bad gateway"}, true},
		{"504 on a read", http.MethodGet, 504, nil, "",
			[]string{"(HTTP 504): gateway timeout"}, false},
		{"507 on a write", http.MethodPut, 507, nil, "",
			[]string{"(HTTP 507): insufficient storage", "not saved"}, false},
		{"409 on a write", http.MethodPost, 409, nil, "",
			[]string{"(HTTP 409): conflict"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := newClient(t, srv.URL, func(o *nextcloud.Options) { o.MaxRetries = -1 })
			_, err := c.JSON(admin(), tt.method, "/index.php/apps/x", nil, nil, nil)
			if err == nil {
				t.Fatal("no error")
			}
			text := toolErrorText(t, err)
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("%q lacks %q", text, w)
				}
			}
			if got := strings.Contains(text, "may have applied it"); got != tt.uncertain {
				t.Errorf("%q: says the change may have been applied: %v, want %v", text, got, tt.uncertain)
			}
			for _, leak := range []string{"10.0.0.5", "secret", srv.Listener.Addr().String()} {
				if strings.Contains(text, leak) {
					t.Errorf("%q shows %q", text, leak)
				}
			}
		})
	}
}

// TestFaultTransportUncertainty: a write that got no answer after it was
// sent (timeout, dropped connection) may have been applied; one that never
// left (connection refused) and any read were not.
func TestFaultTransportUncertainty(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close()
	}))
	defer drop.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()

	timeout := func(o *nextcloud.Options) { o.Timeout = 200 * time.Millisecond; o.MaxRetries = -1 }
	tests := []struct {
		name, url, method string
		uncertain         bool
	}{
		{"timeout on a write", slow.URL, http.MethodPost, true},
		{"timeout on a read", slow.URL, http.MethodGet, false},
		{"dropped write", drop.URL, http.MethodPut, true},
		{"refused write", refused, http.MethodPost, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.url, timeout)
			ctx, cancel := context.WithTimeout(admin(), 10*time.Second)
			defer cancel()
			_, err := c.JSON(ctx, tt.method, "/index.php/apps/x", nil, map[string]string{"a": "b"}, nil)
			if err == nil {
				t.Fatal("no error")
			}
			text := toolErrorText(t, err)
			if got := strings.Contains(text, "may have applied it all the same, so check before repeating it"); got != tt.uncertain {
				t.Errorf("%q: uncertain %v, want %v", text, got, tt.uncertain)
			}
		})
	}
}
