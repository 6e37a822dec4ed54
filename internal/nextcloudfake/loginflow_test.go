package nextcloudfake

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLoginFlowAsRecorded holds the fake's Login Flow v2 to the
// recordings in transcripts/loginflow: the answers' statuses, headers and
// body shapes, single use, the poll ignoring credentials, and a deleted
// app password answered like a wrong one.
func TestLoginFlowAsRecorded(t *testing.T) {
	f, srv := Start(t, Options{})
	do := func(method, path, body string, h map[string]string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	same := func(name string, resp *http.Response, body string, exactBody bool) {
		t.Helper()
		e := recorded(name)
		if resp.StatusCode != e.Response.Status {
			t.Errorf("%s: status %d, recorded %d", name, resp.StatusCode, e.Response.Status)
		}
		for k, v := range e.Response.Headers {
			if k == "X-User-Id" {
				continue
			}
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s %q, recorded %q", name, k, got, v)
			}
		}
		if exactBody && body != e.Response.Body {
			t.Errorf("%s: body %q, recorded %q", name, body, e.Response.Body)
		}
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}

	resp, body := do("POST", "/index.php/login/v2", "", map[string]string{"User-Agent": "Scopegate MCP (nextcloud_mcp)"})
	same("02-init-with-user-agent", resp, body, false)
	var start struct {
		Poll  struct{ Token, Endpoint string }
		Login string
	}
	if err := json.Unmarshal([]byte(body), &start); err != nil || len(start.Poll.Token) != 128 || !strings.HasSuffix(start.Poll.Endpoint, "/index.php/login/v2/poll") || !strings.Contains(start.Login, "/index.php/login/v2/flow/") {
		t.Fatalf("start: %v %s", err, body)
	}
	poll := "token=" + url.QueryEscape(start.Poll.Token)
	resp, body = do("POST", "/index.php/login/v2/poll", poll, form)
	same("03-poll-before-approval-404", resp, body, true)
	resp, body = do("POST", "/index.php/login/v2/poll", "", form)
	same("18-poll-missing-token", resp, body, true)
	resp, body = do("POST", "/index.php/login/v2/poll", "token=unknown", form)
	same("17-poll-unknown-token", resp, body, true)

	pw, err := f.ApproveLogin(start.Login, "wtbob")
	if err != nil || len(pw) != 72 {
		t.Fatalf("approve: %v", err)
	}
	// The poll ignores credentials: another user's Basic auth gets it (24).
	resp, body = do("POST", "/index.php/login/v2/poll", poll, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic YWRtaW46eA=="})
	same("12-poll-after-approval-200", resp, body, false)
	var got struct{ Server, LoginName, AppPassword string }
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.LoginName != "wtbob" || got.AppPassword != pw {
		t.Fatalf("poll result: %s", body)
	}
	resp, body = do("POST", "/index.php/login/v2/poll", poll, form)
	same("13-poll-again-after-success", resp, body, true)

	basic := map[string]string{"OCS-APIRequest": "true", "Accept": "application/json"}
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth("wtbob", pw)
	basic["Authorization"] = req.Header.Get("Authorization")
	resp, body = do("GET", "/ocs/v2.php/cloud/user?format=json", "", basic)
	same("14-cloud-user-with-app-password", resp, body, true)
	resp, body = do("DELETE", "/ocs/v2.php/core/apppassword", "", basic)
	same("19-delete-app-password", resp, body, true)
	resp, body = do("GET", "/ocs/v2.php/cloud/user?format=json", "", basic)
	same("20-cloud-user-with-deleted-app-password", resp, body, true)
	resp, body = do("DELETE", "/ocs/v2.php/core/apppassword", "", basic)
	same("21-delete-app-password-again", resp, body, true)
}
