package nextcloudfake

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestTrusted(t *testing.T) {
	tests := []struct {
		list []string
		host string
		want bool
	}{
		{nil, "127.0.0.1:8080", true},
		{nil, "localhost", true},
		{nil, "LOCALHOST:80", true},
		{nil, "[::1]:8080", true},
		{nil, "nextcloud", false},
		{nil, "nextcloud:80", false},
		{nil, "127.0.0.2", false},
		{nil, "localhost.example.com", false},
		{[]string{"cloud.example.com"}, "nextcloud", false},
		{[]string{"cloud.example.com"}, "cloud.example.com", true},
		{[]string{"cloud.example.com"}, "Cloud.Example.com:443", true},
		{[]string{"cloud.example.com", "nextcloud"}, "nextcloud:80", true},
		{[]string{"cloud.example.com:8443"}, "cloud.example.com:8443", true},
		{[]string{"*.example.com"}, "cloud.example.com", true},
		{[]string{"*.example.com"}, "example.org", false},
		{[]string{"cloud.example.com"}, "cloud.example.com.evil.test", false},
	}
	for _, tt := range tests {
		if got := Trusted(tt.list, tt.host); got != tt.want {
			t.Errorf("Trusted(%q, %q) = %v, want %v", tt.list, tt.host, got, tt.want)
		}
	}
}

// do sends a recorded request with the given Host.
func do(t *testing.T, srv *httptest.Server, name, host string) (*http.Response, string) {
	t.Helper()
	e, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	req, err := e.HTTPRequest(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// Measured on Nextcloud 34 (issue 18): a valid app password with
// Host: nextcloud gives 400 and the HTML page, a trusted Host 200.
func TestUntrustedDomain(t *testing.T) {
	_, srv := Start(t, Options{TrustedDomains: []string{"cloud.example.com"}})
	resp, body := do(t, srv, "core/03-cloud-user-ocs-v2-json", "nextcloud")
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "Access through untrusted domain") {
		t.Errorf("Host nextcloud: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for _, host := range []string{"cloud.example.com", "localhost", ""} {
		if resp, body := do(t, srv, "core/03-cloud-user-ocs-v2-json", host); resp.StatusCode != http.StatusOK {
			t.Errorf("Host %q: %d %s", host, resp.StatusCode, body)
		}
	}
	// Refused before credentials are looked at.
	resp, _ = do(t, srv, "core/08-cloud-user-no-auth-401-997", "nextcloud")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("untrusted host without credentials: %d, want 400", resp.StatusCode)
	}
}

func TestRequestID(t *testing.T) {
	_, srv := Start(t, Options{})
	seen := map[string]bool{}
	for _, name := range []string{"core/03-cloud-user-ocs-v2-json", "tables/33-v1-delete-row-again-500", "core/08-cloud-user-no-auth-401-997"} {
		resp, _ := do(t, srv, name, "")
		id := resp.Header.Get("X-Request-Id")
		if id == "" || seen[id] {
			t.Errorf("%s: X-Request-Id %q (seen: %v)", name, id, seen)
		}
		seen[id] = true
	}
}

// Measured on Tables 2.2.2 (issue 13): the scheme of a table created
// without an emoji is a 500; the table and its columns still read.
func TestSchemeWithoutEmoji(t *testing.T) {
	_, srv := Start(t, Options{TablesWithoutEmoji: []int{10}})
	resp, body := do(t, srv, "tables/18-v1-get-scheme", "")
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, `Argument #2 ($emoji) must be of type string, null given`) {
		t.Errorf("scheme: %d %s", resp.StatusCode, body)
	}
	if resp, body := do(t, srv, "tables/17-v1-get-table", ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"emoji":null`) {
		t.Errorf("table: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, srv, "tables/19-v1-list-columns", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("columns: %d", resp.StatusCode)
	}

	// A table created here without an emoji is learnt as such.
	_, srv = Start(t, Options{})
	if resp, _ := do(t, srv, "tables/18-v1-get-scheme", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("scheme of a table with an emoji: %d", resp.StatusCode)
	}
	e, _ := Lookup("tables/02-v2-create-table")
	req, _ := e.HTTPRequest(srv.URL)
	req.Body = io.NopCloser(strings.NewReader(`{"title":"Fixture Inventory","description":"Things we own","template":"custom"}`))
	req.ContentLength = -1
	r, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusOK || !strings.Contains(string(b), `"emoji":null`) {
		t.Fatalf("create without emoji: %d %s", r.StatusCode, b)
	}
	if resp, body := do(t, srv, "tables/18-v1-get-scheme", ""); resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("scheme after creating without emoji: %d %s", resp.StatusCode, body)
	}
}
