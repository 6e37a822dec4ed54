package nextcloud_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

func toolErrorText(t *testing.T, err error) string {
	t.Helper()
	res, gerr := nextcloud.ToolError("nc_x", "doing it", err)
	if gerr != nil || res == nil || !res.IsError {
		t.Fatalf("ToolError(%v) = %v, %v", err, res, gerr)
	}
	return toText(res.Content[0])
}

// A 500 carries Nextcloud's X-Request-Id, which finds the log line.
func TestInternalErrorNamesRequestID(t *testing.T) {
	fake, srv := nextcloudfake.Start(t, nextcloudfake.Options{})
	if err := fake.Serve("tables/33-v1-delete-row-again-500"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv.URL)
	_, err := c.JSON(admin(), http.MethodDelete, "/index.php/apps/tables/api/1/rows/32", nil, nil, nil)
	text := toolErrorText(t, err)
	if !regexp.MustCompile(`^nc_x failed: doing it \(HTTP 500\): .+ \(Nextcloud request id fAkEnC\d{14}\)$`).MatchString(text) {
		t.Errorf("text %q", text)
	}

	tests := []struct {
		status int
		id     string
		want   string
	}{
		{500, "aBcD1234efGH5678ijKL", "nc_x failed: doing it (HTTP 500): Nextcloud internal error (Nextcloud request id aBcD1234efGH5678ijKL)"},
		{503, "id-503", "nc_x failed: doing it (HTTP 503): Nextcloud is unavailable (overloaded or restarting); retry later (Nextcloud request id id-503)"},
		{500, "", "nc_x failed: doing it (HTTP 500): Nextcloud internal error"},
		// Only server errors: a 404 is the caller's to fix.
		{404, "id-404", "nc_x failed: doing it (HTTP 404): not found"},
	}
	for _, tt := range tests {
		h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tt.id != "" {
				w.Header().Set("X-Request-Id", tt.id)
			}
			w.WriteHeader(tt.status)
		}))
		c := newClient(t, h.URL, func(o *nextcloud.Options) { o.MaxRetries = -1 })
		_, err := c.JSON(admin(), http.MethodGet, "/index.php/apps/x", nil, nil, nil)
		if got := toolErrorText(t, err); got != tt.want {
			t.Errorf("%d %q: %q, want %q", tt.status, tt.id, got, tt.want)
		}
		h.Close()
	}
}

// toHost dials addr whatever host a URL names, as Compose's DNS would
// for http://nextcloud:80.
func toHost(addr string) *http.Transport {
	return &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
}

// Measured on Nextcloud 34 (issue 18): Host "nextcloud" not in
// trusted_domains is refused with 400 and an HTML page; the tool error
// says what to fix.
func TestUntrustedDomain(t *testing.T) {
	_, srv := nextcloudfake.Start(t, nextcloudfake.Options{TrustedDomains: []string{"cloud.example.com"}})
	addr := strings.TrimPrefix(srv.URL, "http://")
	c := newClient(t, "http://nextcloud:80", func(o *nextcloud.Options) { o.Base = toHost(addr) })
	err := c.OCS(admin(), http.MethodGet, "/ocs/v2.php/cloud/user", nil, nil, nil)
	want := `nc_x failed: doing it (HTTP 400): Nextcloud refused the request: host "nextcloud" is not in its trusted_domains (see deploy/README.md)`
	if got := toolErrorText(t, err); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// The same for an app route.
	_, err = c.JSON(admin(), http.MethodGet, "/index.php/apps/notes/api/v1/notes", nil, nil, nil)
	if got := toolErrorText(t, err); got != want {
		t.Errorf("app route: %q", got)
	}

	// Trusted: the same request goes through.
	_, srv = nextcloudfake.Start(t, nextcloudfake.Options{TrustedDomains: []string{"cloud.example.com", "nextcloud"}})
	c = newClient(t, "http://nextcloud:80", func(o *nextcloud.Options) { o.Base = toHost(strings.TrimPrefix(srv.URL, "http://")) })
	if err := c.OCS(admin(), http.MethodGet, "/ocs/v2.php/cloud/user", nil, nil, nil); err != nil {
		t.Errorf("trusted host: %v", err)
	}

	// Any other 400 keeps its own message.
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte("<html><body>Bad request</body></html>"))
	}))
	defer h.Close()
	c = newClient(t, h.URL)
	_, err = c.JSON(admin(), http.MethodGet, "/index.php/apps/x", nil, nil, nil)
	if got := toolErrorText(t, err); strings.Contains(got, "trusted_domains") {
		t.Errorf("plain 400: %q", got)
	}
}
