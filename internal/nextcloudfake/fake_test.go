package nextcloudfake

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestTranscripts replays every recorded exchange, in recording order, and
// checks that the fake answers as Nextcloud did: same status, the headers
// clients act on, and a body of the same JSON shape (or the same XML root,
// or the same bytes).
func TestTranscripts(t *testing.T) {
	for _, app := range Apps {
		t.Run(app, func(t *testing.T) {
			_, srv := Start(t, Options{})
			client := srv.Client()
			// Redirects (OIDC authorize) are part of the recording.
			client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			ex, err := Exchanges(app)
			if err != nil {
				t.Fatal(err)
			}
			if len(ex) == 0 {
				t.Fatal("no recordings")
			}
			for _, e := range ex {
				req, err := e.HTTPRequest(srv.URL)
				if err != nil {
					t.Fatalf("%s: %v", e.Name, err)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s: %v", e.Name, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err := compare(e, resp, string(body)); err != nil {
					t.Errorf("%s (%s %s): %v", e.Name, e.Request.Method, e.Request.Path, err)
				}
			}
		})
	}
}

func compare(e Exchange, resp *http.Response, body string) error {
	if resp.StatusCode != e.Response.Status {
		return fmt.Errorf("status %d, recorded %d", resp.StatusCode, e.Response.Status)
	}
	for _, h := range []string{"Content-Type", "ETag", "WWW-Authenticate", "X-Notes-Chunk-Cursor", "Content-Location", "OC-FileId"} {
		want, _ := header(e.Response.Headers, h)
		if h == "Content-Type" && resp.StatusCode == http.StatusNotModified {
			continue // net/http drops it from 304 answers
		}
		if got := resp.Header.Get(h); got != want {
			return fmt.Errorf("header %s = %q, recorded %q", h, got, want)
		}
	}
	want := e.Response.Body
	var wj, gj any
	switch {
	case json.Unmarshal([]byte(want), &wj) == nil:
		if err := json.Unmarshal([]byte(body), &gj); err != nil {
			return fmt.Errorf("body is not JSON: %q", trunc(body))
		}
		return sameShape("$", wj, gj)
	case strings.HasPrefix(strings.TrimSpace(want), "<"):
		if xmlRoot(want) != xmlRoot(body) {
			return fmt.Errorf("XML root %q, recorded %q", xmlRoot(body), xmlRoot(want))
		}
	case want != body:
		return fmt.Errorf("body %q, recorded %q", trunc(body), trunc(want))
	}
	return nil
}

func trunc(s string) string { return s[:min(len(s), 200)] }

func xmlRoot(s string) string {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Space + " " + se.Name.Local
		}
	}
}

// sameShape compares JSON values by kind and object keys, recursively;
// values themselves may differ (ids, timestamps).
func sameShape(at string, want, got any) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: got %T, want object", at, got)
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Errorf("%s: missing key %q", at, k)
			}
			if err := sameShape(at+"."+k, wv, gv); err != nil {
				return err
			}
		}
		if len(g) != len(w) {
			return fmt.Errorf("%s: %d keys, want %d", at, len(g), len(w))
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Errorf("%s: got %T, want array", at, got)
		}
		if len(g) != len(w) {
			return fmt.Errorf("%s: %d elements, want %d", at, len(g), len(w))
		}
		for i := range w {
			if err := sameShape(fmt.Sprintf("%s[%d]", at, i), w[i], g[i]); err != nil {
				return err
			}
		}
	default:
		if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", got) {
			return fmt.Errorf("%s: got %T, want %T", at, got, want)
		}
	}
	return nil
}

// TestEnforcement spells out the rules the fake computes itself, as the
// transcripts show them, independently of replay.
func TestEnforcement(t *testing.T) {
	_, srv := Start(t, Options{})
	tests := []struct {
		name, method, path, auth string
		ocs                      bool
		status                   int
		body                     string
	}{
		{"ocs basic without header is CSRF", "GET", "/ocs/v2.php/cloud/user", "basic", false, 412, `{"message":"CSRF check failed"}`},
		{"ocs without credentials is 997", "GET", "/ocs/v2.php/cloud/user", "", true, 401, `{"ocs":{"meta":{"status":"failure","statuscode":997,"message":"Current user is not logged in"},"data":[]}}`},
		{"ocs wrong password is 997", "GET", "/ocs/v2.php/cloud/user", "wrong", true, 401, `{"ocs":{"meta":{"status":"failure","statuscode":997,"message":"Unauthorised"},"data":[]}}`},
		{"ocs bearer without header passes", "GET", "/ocs/v2.php/cloud/user", "bearer", false, 200, ""},
		{"notes bearer without header", "GET", "/index.php/apps/notes/api/v1/notes", "bearer", false, 401, `{"message":"CORS requires basic auth"}`},
		{"notes wrong password", "GET", "/index.php/apps/notes/api/v1/notes", "wrong", true, 401, `{"message":""}`},
		{"notes no auth", "GET", "/index.php/apps/notes/api/v1/notes", "", false, 401, `{"message":"CORS requires basic auth"}`},
		{"deck internal route needs header", "PUT", "/index.php/apps/deck/cards/21/reorder", "basic", false, 412, `{"message":"CSRF check failed"}`},
		{"deck api basic without header passes", "GET", "/index.php/apps/deck/api/v1.0/boards", "basic", false, 200, ""},
		{"unknown note", "GET", "/index.php/apps/notes/api/v1/notes/424242", "basic", true, 404, `{"errorType":"Exception"}`},
		{"unknown deck board is 403", "GET", "/index.php/apps/deck/api/v1.0/boards/424242/stacks", "basic", true, 403, `{"status":403,"message":"Permission denied"}`},
		{"unknown share", "DELETE", "/ocs/v2.php/apps/files_sharing/api/v1/shares/424242", "basic", true, 404, ""},
		{"unknown table is an empty 404", "GET", "/ocs/v2.php/apps/tables/api/2/tables/424242", "basic", true, 404, ""},
		{"unrecorded route", "GET", "/index.php/apps/notes/api/v1/nope", "basic", true, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			switch tt.auth {
			case "basic":
				req.SetBasicAuth(AdminUser, AdminPassword)
			case "wrong":
				req.SetBasicAuth(AdminUser, "wrong-password")
			case "bearer":
				req.Header.Set("Authorization", "Bearer "+AccessToken)
			}
			if tt.ocs {
				req.Header.Set("OCS-APIRequest", "true")
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, b)
			}
			if tt.body != "" && string(b) != tt.body {
				t.Errorf("body %s, want %s", b, tt.body)
			}
		})
	}
}

func TestDisabledApps(t *testing.T) {
	_, srv := Start(t, Options{DisabledApps: []string{"tables"}})
	req, _ := http.NewRequest("GET", srv.URL+"/ocs/v2.php/cloud/capabilities", nil)
	req.SetBasicAuth(AdminUser, AdminPassword)
	req.Header.Set("OCS-APIRequest", "true")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		OCS struct {
			Data struct {
				Capabilities map[string]any `json:"capabilities"`
			} `json:"data"`
		} `json:"ocs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	if _, ok := env.OCS.Data.Capabilities["tables"]; ok {
		t.Error("tables still in capabilities")
	}
	if _, ok := env.OCS.Data.Capabilities["notes"]; !ok {
		t.Error("notes missing from capabilities")
	}
}

// TestNotesIfMatch checks the ETag rule the fake computes: after a note
// was served, a PUT with another If-Match gets 412 and the current note,
// even where no such exchange was recorded.
func TestNotesIfMatch(t *testing.T) {
	_, srv := Start(t, Options{})
	do := func(method, etag, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+"/index.php/apps/notes/api/v1/notes/359", strings.NewReader(body))
		req.SetBasicAuth(AdminUser, AdminPassword)
		req.Header.Set("OCS-APIRequest", "true")
		if etag != "" {
			req.Header.Set("If-Match", `"`+etag+`"`)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, _ := do("GET", "", ""); st != 200 {
		t.Fatalf("GET: %d", st)
	}
	st, b := do("PUT", "not-the-current-etag", `{"content":"x"}`)
	if st != http.StatusPreconditionFailed || !strings.Contains(b, `"etag":"80e0d0abccaa35392f70e1b4cdd570b2"`) {
		t.Errorf("stale If-Match: %d %s", st, b)
	}
	if st, _ := do("PUT", "80e0d0abccaa35392f70e1b4cdd570b2", `{"content":"x"}`); st != 200 {
		t.Errorf("current If-Match: %d", st)
	}
}
