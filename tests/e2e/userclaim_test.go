package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// TestAppPasswordUserClaimThroughTheBinary: the built binary with
// mcp_gateway user_claim preferred_username in front of nextcloud_mcp in
// app_password mode. A token whose sub is not a Nextcloud user id but
// whose claim names admin connects with admin's approval; a token of
// another subject whose claim names user2 gets admin's approval refused;
// a token without the claim is refused by the gateway (fail closed).
func TestAppPasswordUserClaimThroughTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	provider := oidctest.Start(t, oidctest.Options{})
	fake, nc := nextcloudfake.Start(t, nextcloudfake.Options{})
	base := appPasswordSite(t, provider, nc.URL, t.TempDir(), "user_claim preferred_username")
	mint := func(sub string, claims map[string]any) string {
		return provider.MintJWT(t, oidctest.MintRequest{Audience: []string{base + "/mcp"}, Subject: sub, Scopes: []string{"openid", "notes:read"}, Claims: claims})
	}
	note := map[string]any{"note_id": 359}

	// A token without the claim never reaches the backend.
	req, _ := http.NewRequest("POST", base+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	req.Header.Set("Authorization", "Bearer "+mint("opaque-sub-1", nil))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body)+resp.Header.Get("WWW-Authenticate"), "preferred_username") {
		t.Errorf("token without preferred_username: %d %s %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}

	// sub is an opaque id; the claim names admin: admin's approval connects.
	c := appClient(t, base+"/mcp", mint("opaque-sub-1", map[string]any{"preferred_username": nextcloudfake.AdminUser}), mcp.ClientCapabilities{})
	res, text := appCall(t, c, "nc_notes_get_note", note)
	link := appLoginURL.FindString(text)
	if !res.IsError || link == "" {
		t.Fatalf("first call: %s", text)
	}
	if _, err := fake.ApproveLogin(link, nextcloudfake.AdminUser); err != nil {
		t.Fatal(err)
	}
	if user := waitAppConnected(t, c); user != nextcloudfake.AdminUser {
		t.Fatalf("connected as %q", user)
	}
	if res, text := appCall(t, c, "nc_notes_get_note", note); res.IsError {
		t.Fatalf("connected call: %s", text)
	}

	// The subject is admin's id, but the claim names user2: admin's
	// approval is refused, and the app password revoked.
	before := fake.AppPasswords(nextcloudfake.AdminUser)
	c2 := appClient(t, base+"/mcp", mint(nextcloudfake.AdminUser, map[string]any{"preferred_username": nextcloudfake.User2}), mcp.ClientCapabilities{})
	_, text = appCall(t, c2, "nc_notes_get_note", note)
	link2 := appLoginURL.FindString(text)
	if link2 == "" {
		t.Fatalf("second subject's first call: %s", text)
	}
	if _, err := fake.ApproveLogin(link2, nextcloudfake.AdminUser); err != nil {
		t.Fatal(err)
	}
	waitRefused(t, c2)
	if ok, _ := appConnected(t, c2); ok {
		t.Error("connected with an account the claim does not name")
	}
	if n := fake.AppPasswords(nextcloudfake.AdminUser); n != before {
		t.Errorf("refused app password not revoked: admin holds %d, had %d", n, before)
	}
}

// waitRefused waits until the caller's connection status reports an
// approval by another account.
func waitRefused(t *testing.T, c *client.Client) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, _ := appCall(t, c, "nc_connection_status", nil)
		b, _ := json.Marshal(res.StructuredContent)
		if strings.Contains(string(b), "not yours") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("approval by another account was not refused: %s", b)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
