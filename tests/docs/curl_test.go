package docs

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/mcpbackend"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

// TestTroubleshootingCurlListsTools sends the tools/list request that
// docs/troubleshooting.md tells admins to send with curl, headers and
// body as written, to the backend, and expects the tool list back: a
// request the backend refuses would send readers hunting for a fault that
// is in the documentation.
func TestTroubleshootingCurlListsTools(t *testing.T) {
	raw, err := os.ReadFile(troubleshooting)
	if err != nil {
		t.Fatal(err)
	}
	// The curl command that has a body, with its continuation lines.
	cmd := ""
	for _, block := range strings.Split(string(raw), "curl ")[1:] {
		block = strings.ReplaceAll(block, "\\\n", " ")
		line, _, _ := strings.Cut(block, "\n")
		if strings.Contains(line, " -d '") {
			cmd = line
			break
		}
	}
	if cmd == "" {
		t.Fatalf("%s has no curl command with a body (-d '...')", troubleshooting)
	}
	body := regexp.MustCompile(` -d '([^']*)'`).FindStringSubmatch(cmd)[1]
	req := httptest.NewRequest(http.MethodPost, "http://localhost/mcp", strings.NewReader(body))
	for _, h := range regexp.MustCompile(` -H '([^']*)'`).FindAllStringSubmatch(cmd, -1) {
		k, v, ok := strings.Cut(h[1], ": ")
		if !ok {
			t.Fatalf("header %q is not Name: value", h[1])
		}
		req.Header.Set(k, v)
	}
	if !strings.Contains(cmd, `-H "Authorization: Bearer $TOKEN"`) {
		t.Errorf("the curl command sends no bearer token: %s", cmd)
	}
	client, err := nextcloud.New(nextcloud.Options{BaseURL: "http://nextcloud.invalid"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := mcpbackend.New(mcpbackend.Config{Client: client, Credentials: func(*http.Request) (nextcloud.Credentials, bool) { return nil, false }})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(t.Context())
	rec := httptest.NewRecorder()
	srv.Handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("the documented request gets HTTP %d: %s", rec.Code, rec.Body.String())
	}
	var resp struct {
		Result struct {
			Tools []struct {
				Name string `json:"name"`
			} `json:"tools"`
		} `json:"result"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("the answer is not one JSON-RPC response (%v): %.300s", err, rec.Body.String())
	}
	if len(resp.Result.Tools) < 100 {
		t.Errorf("the documented request lists %d tools: %.300s", len(resp.Result.Tools), rec.Body.String())
	}
}
