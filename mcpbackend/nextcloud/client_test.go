package nextcloud_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

func admin() context.Context {
	return nextcloud.WithCredentials(context.Background(), nextcloud.Basic{Username: nextcloudfake.AdminUser, Password: nextcloudfake.AdminPassword})
}

func newClient(t *testing.T, url string, opts ...func(*nextcloud.Options)) *nextcloud.Client {
	t.Helper()
	o := nextcloud.Options{BaseURL: url, Sleep: func(context.Context, time.Duration) error { return nil }}
	for _, f := range opts {
		f(&o)
	}
	c, err := nextcloud.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOCSAgainstFake(t *testing.T) {
	fake, srv := nextcloudfake.Start(t, nextcloudfake.Options{})
	c := newClient(t, srv.URL)
	var user struct {
		ID string `json:"id"`
	}
	if err := c.OCS(admin(), "GET", "/ocs/v2.php/cloud/user", nil, nil, &user); err != nil {
		t.Fatal(err)
	}
	if user.ID != "admin" {
		t.Errorf("id %q", user.ID)
	}
	calls := fake.Calls()
	if got := calls[0].Header.Get("OCS-APIRequest"); got != "true" {
		t.Errorf("OCS-APIRequest %q", got)
	}

	// Wrong password: 401 with OCS 997 and Nextcloud's message.
	bad := nextcloud.WithCredentials(context.Background(), nextcloud.Basic{Username: "admin", Password: "wrong-password"})
	err := c.OCS(bad, "GET", "/ocs/v2.php/cloud/user", nil, nil, nil)
	var e *nextcloud.Error
	if !errors.As(err, &e) || e.Status != 401 || e.OCSStatus != 997 || e.Message != "Unauthorised" {
		t.Fatalf("got %#v", err)
	}
	res, gerr := nextcloud.ToolError("nc_x", "reading the user", err)
	if gerr != nil || !res.IsError {
		t.Fatalf("ToolError: %v %v", res, gerr)
	}
	if got := res.Content[0]; !strings.Contains(toText(got), "nc_x failed: reading the user (HTTP 401): Unauthorised") {
		t.Errorf("text %q", toText(got))
	}
}

func TestNoCredentialsIsAFault(t *testing.T) {
	_, srv := nextcloudfake.Start(t, nextcloudfake.Options{})
	c := newClient(t, srv.URL)
	err := c.OCS(context.Background(), "GET", "/ocs/v2.php/cloud/user", nil, nil, nil)
	if !errors.Is(err, nextcloud.ErrNoCredentials) {
		t.Fatalf("got %v", err)
	}
	if _, gerr := nextcloud.ToolError("nc_x", "x", err); gerr == nil {
		t.Error("missing credentials must be a Go error, not a tool result")
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"ocs v2 meta", `{"ocs":{"meta":{"status":"failure","statuscode":404,"message":"Wrong share ID, share does not exist"},"data":[]}}`, 404, "Wrong share ID, share does not exist"},
		{"tables data.message", `{"ocs":{"meta":{"status":"failure","statuscode":400,"message":""},"data":{"message":"Cannot create row: data input is invalid."}}}`, 400, "Cannot create row: data input is invalid."},
		{"app message", `{"status":403,"message":"Permission denied"}`, 403, "Permission denied"},
		{"cookbook msg", `{"msg":"Another recipe with that name already exists","line":1,"file":"x"}`, 409, "Another recipe with that name already exists"},
		{"json string", `"The provided URL is not allowed."`, 400, "The provided URL is not allowed."},
		{"sabre", `<?xml version="1.0"?><d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns"><s:message>File not found</s:message></d:error>`, 404, "File not found"},
		{"empty", ``, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			_, err := newClient(t, srv.URL).JSON(admin(), "GET", "/x", nil, nil, nil)
			var e *nextcloud.Error
			if !errors.As(err, &e) || e.Status != tt.status || e.Message != tt.want {
				t.Fatalf("got %#v", err)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	for _, status := range []int{429, 423} {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) < 3 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(status)
				return
			}
			w.Write([]byte(`[]`))
		}))
		var slept []time.Duration
		c := newClient(t, srv.URL, func(o *nextcloud.Options) {
			o.Sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
		})
		if _, err := c.JSON(admin(), "POST", "/x", nil, map[string]int{"a": 1}, nil); err != nil {
			t.Fatalf("%d: %v", status, err)
		}
		if n.Load() != 3 || len(slept) != 2 || slept[0] != time.Second {
			t.Errorf("%d: %d attempts, slept %v", status, n.Load(), slept)
		}
		srv.Close()
	}
}

func TestResponseLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 2000)))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, func(o *nextcloud.Options) { o.MaxResponseBytes = 1000 })
	if _, err := c.Do(admin(), &nextcloud.Request{Method: "GET", Path: "/big"}); !errors.Is(err, nextcloud.ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
}

func TestUserAndCapabilities(t *testing.T) {
	fake, srv := nextcloudfake.Start(t, nextcloudfake.Options{DisabledApps: []string{"cookbook"}})
	c := newClient(t, srv.URL)
	ctx := nextcloud.WithCredentials(context.Background(), nextcloud.Bearer(nextcloudfake.AccessToken))
	caps, err := c.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Enabled("notes") || caps.Enabled("cookbook") || caps.AppVersion("deck") != "1.18.3" {
		t.Errorf("caps %v", caps.Apps)
	}
	if _, err := c.Capabilities(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := c.User(ctx)
	if err != nil || u != "admin" {
		t.Fatalf("user %q %v", u, err)
	}
	if _, err := c.User(ctx); err != nil {
		t.Fatal(err)
	}
	// One capabilities call and one principal lookup: both cached.
	want := []string{"GET /ocs/v2.php/cloud/capabilities", "PROPFIND /remote.php/dav/"}
	if got := fake.CallStrings(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("calls %v, want %v", got, want)
	}
}

func TestFilesPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/remote.php/dav/files/admin/"},
		{"/Documents/a b.md", "/remote.php/dav/files/admin/Documents/a%20b.md"},
		{"Notes/Über/#1?.md", "/remote.php/dav/files/admin/Notes/%C3%9Cber/%231%3F.md"},
	}
	for _, tt := range tests {
		if got := nextcloud.FilesPath("admin", tt.in); got != tt.want {
			t.Errorf("FilesPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if _, err := nextcloud.CleanPath("a/../../etc"); err == nil {
		t.Error("CleanPath accepted ..")
	}
}

func TestURL(t *testing.T) {
	tests := []struct {
		base, path, want string
		q                url.Values
	}{
		{"https://cloud.example.com", "/ocs/v2.php/cloud/user", "https://cloud.example.com/ocs/v2.php/cloud/user", nil},
		{"https://example.com/nextcloud/", "/remote.php/dav/files/a%20b/x%2Cy", "https://example.com/nextcloud/remote.php/dav/files/a%20b/x%2Cy", nil},
		{"http://127.0.0.1:8080", "/index.php/apps/notes/api/v1/notes", "http://127.0.0.1:8080/index.php/apps/notes/api/v1/notes?chunkSize=100", url.Values{"chunkSize": {"100"}}},
	}
	for _, tt := range tests {
		c, err := nextcloud.New(nextcloud.Options{BaseURL: tt.base})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.URL(tt.path, tt.q); got != tt.want {
			t.Errorf("URL(%q) on %q = %q, want %q", tt.path, tt.base, got, tt.want)
		}
	}
	for _, bad := range []string{"", "ftp://x", "cloud.example.com", "http://"} {
		if _, err := nextcloud.New(nextcloud.Options{BaseURL: bad}); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}
