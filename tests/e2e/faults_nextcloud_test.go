package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/oidctest"
)

// Pages Nextcloud and the proxies before it answer with instead of JSON.
const (
	// phpErrorPage is Nextcloud's generic 500 page (a crashed app).
	phpErrorPage = `<!DOCTYPE html><html class="ng-csp" data-placeholder-focus="false" lang="en"><head><title>Nextcloud</title></head><body id="body-login"><div class="guest-box"><h2>Internal Server Error</h2><p>The server was unable to complete your request.</p><p>If this happens again, please send the technical details below to the server administrator.</p><p>More details can be found in the server log.</p></div></body></html>`
	// maintenancePage is what every route answers in maintenance mode,
	// with X-Nextcloud-Maintenance-Mode: 1.
	maintenancePage = `<!DOCTYPE html><html lang="en"><head><title>Nextcloud</title></head><body id="body-login"><div class="guest-box"><h2>Maintenance mode</h2><p>This Nextcloud instance is currently in maintenance mode, which may take a while.</p><p>This page will refresh itself when the instance is available again.</p></div></body></html>`
	// proxyPage is a reverse proxy's own error page.
	proxyPage = "<html>\r\n<head><title>%d</title></head>\r\n<body>\r\n<center><h1>%d</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	// loginPage is an SSO proxy's login form, answered 200.
	loginPage = `<!DOCTYPE html><html><head><title>Sign in</title></head><body><form method="post" action="/login"><input name="user"><input name="password" type="password"></form></body></html>`
)

var htmlType = map[string]string{"Content-Type": "text/html; charset=UTF-8"}

// updateArgs update the recorded note 359.
var updateArgs = map[string]any{"note_id": 359, "etag": "0123456789abcdef", "content": "changed"}

// TestFaultNextcloud: Nextcloud down, slow, answering 500/502/503/507 and
// HTML pages where JSON belongs, for reads and writes through
// nextcloud_mcp behind mcp_gateway. Each answer is a tool error
// (isError, HTTP 200: the gateway let an authenticated call through and
// the tool reports what Nextcloud did) with a message that says what
// happened; a write never reports success it did not get, and a write
// whose answer never came says that it may have been applied.
func TestFaultNextcloud(t *testing.T) {
	t.Parallel()
	front, frontURL := newFaultFront(t)
	s := startNCFaultSite(t,
		ncSiteSpec{name: "fast", nextcloud: frontURL, timeout: "2s"},
		// A port nothing listens on: Nextcloud is down.
		ncSiteSpec{name: "down", nextcloud: "http://127.0.0.1:" + itoa(freePort(t)), timeout: "2s"},
	)
	fast, down := s.sites["fast"], s.sites["down"]
	{
		// The front passes what it has no fault for: the tools work.
		tok := ncToken(t, fast)
		if o := callNC(t, fast, tok, readTool, readArgs); o.status != http.StatusOK || o.isError || o.rpcErr != "" {
			t.Fatalf("read without a fault: %s", o)
		}
	}

	// With Nextcloud down, the gateway still judges every call: no token
	// is 401, a token without the tool's scope 403 (the backend declares
	// its tools' scopes without asking Nextcloud).
	for _, e := range []*env{down, fast} {
		if r := e.post(t, "", modernMessage("1", "tools/call", map[string]any{"name": writeTool, "arguments": writeArgs}), modernHeaders("tools/call", writeTool)...); r.status != http.StatusUnauthorized {
			t.Errorf("%s: a call without a token: %s, want 401", e.base, statusOf(r))
		}
		readOnly := e.provider.Token(t, oidctest.TokenRequest{Scopes: []string{"notes:read"}, Audience: []string{e.resource}})
		r := e.post(t, readOnly, modernMessage("1", "tools/call", map[string]any{"name": writeTool, "arguments": writeArgs}), modernHeaders("tools/call", writeTool)...)
		if r.status != http.StatusForbidden || !strings.Contains(r.header.Get("WWW-Authenticate"), "insufficient_scope") {
			t.Errorf("%s: a write with a read-only token: %s, want 403 insufficient_scope", e.base, statusOf(r))
		}
	}

	tests := []struct {
		name  string
		site  *env
		fault *ncFault
		tool  string
		args  map[string]any
		// want are fragments of the tool error's text, all required.
		want []string
		// cancelled: the backend must have given up on the held request.
		cancelled bool
	}{
		{name: "down read", site: down, tool: readTool, args: readArgs,
			want: []string{"cannot reach Nextcloud: connection refused"}},
		{name: "down write", site: down, tool: writeTool, args: writeArgs,
			want: []string{"cannot reach Nextcloud: connection refused"}},
		{name: "slow read", site: fast, fault: ptr(hang(false)), tool: readTool, args: readArgs,
			want: []string{"GET /index.php/apps/notes/api/v1/notes/359", "Nextcloud did not answer in time"}, cancelled: true},
		{name: "slow write applied", site: fast, fault: ptr(hang(true)), tool: writeTool, args: writeArgs,
			want: []string{"POST /index.php/apps/notes/api/v1/notes", "Nextcloud did not answer in time", "may have applied it all the same"}, cancelled: true},
		{name: "connection dropped after write", site: fast, fault: ptr(dropAfterApply()), tool: updateTool, args: updateArgs,
			want: []string{"PUT /index.php/apps/notes/api/v1/notes/359", "Nextcloud closed the connection", "may have applied it all the same"}},
		{name: "500 HTML page", site: fast, fault: ptr(ncAnswer(500, htmlType, phpErrorPage)), tool: readTool, args: readArgs,
			want: []string{"(HTTP 500): Nextcloud internal error"}},
		{name: "500 JSON message", site: fast, fault: ptr(ncAnswer(500, map[string]string{"Content-Type": "application/json", "X-Request-Id": "req-fault-500"}, `{"message":"An internal error occurred"}`)),
			tool: writeTool, args: writeArgs,
			want: []string{"(HTTP 500): An internal error occurred (Nextcloud request id req-fault-500)"}},
		{name: "502 proxy page", site: fast, fault: ptr(ncAnswer(502, htmlType, sprintf(proxyPage, 502, 502))), tool: readTool, args: readArgs,
			want: []string{"(HTTP 502)", "proxy in front of Nextcloud"}},
		{name: "503 maintenance mode", site: fast, fault: ptr(ncAnswer(503, map[string]string{"Content-Type": "text/html; charset=UTF-8", "X-Nextcloud-Maintenance-Mode": "1", "Retry-After": "120"}, maintenancePage)),
			tool: writeTool, args: writeArgs,
			want: []string{"(HTTP 503)", "maintenance mode"}},
		{name: "503 unavailable", site: fast, fault: ptr(ncAnswer(503, htmlType, sprintf(proxyPage, 503, 503))), tool: readTool, args: readArgs,
			want: []string{"(HTTP 503)", "unavailable", "retry later"}},
		{name: "504 proxy timeout", site: fast, fault: ptr(ncAnswer(504, htmlType, sprintf(proxyPage, 504, 504))), tool: updateTool, args: updateArgs,
			want: []string{"(HTTP 504)", "may have applied it all the same"}},
		{name: "507 on write", site: fast, fault: ptr(ncAnswer(507, nil, "")), tool: writeTool, args: writeArgs,
			want: []string{"(HTTP 507)", "storage", "not saved"}},
		{name: "507 on update", site: fast, fault: ptr(ncAnswer(507, map[string]string{"Content-Type": "application/json"}, `{"message":"Not enough free space"}`)), tool: updateTool, args: updateArgs,
			want: []string{"(HTTP 507): Not enough free space"}},
		{name: "HTML 200 on read", site: fast, fault: ptr(ncAnswer(200, htmlType, loginPage)), tool: readTool, args: readArgs,
			want: []string{"HTML page instead of JSON"}},
		{name: "HTML 200 on update", site: fast, fault: ptr(ncAnswer(200, htmlType, loginPage)), tool: updateTool, args: updateArgs,
			want: []string{"HTML page instead of JSON", "may have applied it all the same"}},
		{name: "redirect to a login page on write", site: fast, fault: ptr(ncAnswer(302, map[string]string{"Location": "https://sso.example.com/login?rd=x"}, "")), tool: writeTool, args: writeArgs,
			want: []string{"(HTTP 302)", "redirected"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := ncToken(t, tc.site)
			if tc.fault != nil {
				front.set(tok, *tc.fault)
			}
			o := callNC(t, tc.site, tok, tc.tool, tc.args)
			t.Logf("%s: %s", tc.tool, o)
			if o.status != http.StatusOK || o.rpcErr != "" || !o.isError {
				t.Fatalf("%s, want HTTP 200 with a tool error", o)
			}
			for _, w := range tc.want {
				if !strings.Contains(o.text, w) {
					t.Errorf("tool error %q lacks %q", o.text, w)
				}
			}
			if strings.Contains(o.text, "127.0.0.1") {
				t.Errorf("tool error %q shows Nextcloud's internal address", o.text)
			}
			if tc.fault == nil {
				return
			}
			if faulted := front.faulted(tok); len(faulted) == 0 {
				t.Errorf("no request met the fault: %v", front.requests(tok))
			}
			if tc.cancelled {
				// The backend's giving up reaches the front a moment
				// after the tool's answer.
				front.waitCancelled(t, tok)
			}
		})
	}
}
