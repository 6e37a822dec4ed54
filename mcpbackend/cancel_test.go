package mcpbackend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/mcpbackend"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

// waitTool blocks until it is cancelled or released, and reports which.
func waitTool(release <-chan struct{}) mcpbackend.Family {
	return func(*nextcloud.Client) []tooldef.Tool {
		return []tooldef.Tool{{
			Def: mcp.NewTool("test_wait", mcp.WithDescription("waits"),
				tooldef.Annotations(true, false, true, false)),
			Scopes: []string{"notes:read"},
			App:    "notes",
			Handler: func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				select {
				case <-ctx.Done():
					return mcp.NewToolResultText("cancelled"), nil
				case <-release:
					return mcp.NewToolResultText("finished"), nil
				}
			},
		}}
	}
}

func cancelServer(t *testing.T, stateless bool, release <-chan struct{}) string {
	t.Helper()
	_, nc := nextcloudfake.Start(t, nextcloudfake.Options{})
	c, err := nextcloud.New(nextcloud.Options{BaseURL: nc.URL})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := mcpbackend.New(mcpbackend.Config{
		Client:      c,
		Credentials: mcpbackend.FixedCredentials(nextcloud.Basic{Username: nextcloudfake.AdminUser, Password: nextcloudfake.AdminPassword}),
		Families:    map[string]mcpbackend.Family{"notes": waitTool(release)},
		Stateless:   stateless,
		Subject:     func(r *http.Request) string { return r.Header.Get(mcpbackend.HeaderSubject) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	hs := httptest.NewServer(srv.Handler)
	t.Cleanup(hs.Close)
	return hs.URL
}

const modern = "2026-07-28"

func post(t *testing.T, url, subject string, msg map[string]any, h map[string]string) (*http.Response, string) {
	t.Helper()
	b, _ := json.Marshal(msg)
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set(mcpbackend.HeaderSubject, subject)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func modernMeta() map[string]any {
	return map[string]any{
		"io.modelcontextprotocol/protocolVersion":    modern,
		"io.modelcontextprotocol/clientCapabilities": map[string]any{},
		"io.modelcontextprotocol/clientInfo":         map[string]any{"name": "t", "version": "1"},
	}
}

// TestCancellationIsScopedToTheSubject: in the 2026-07-28 era every request
// has the same (empty) session, so a notifications/cancelled of one user
// must not reach another user's request with the same id. The victim's
// call runs until released; the attacker's cancellation must leave it
// running, and the victim's own must end it.
func TestCancellationIsScopedToTheSubject(t *testing.T) {
	release := make(chan struct{})
	url := cancelServer(t, false, release)
	call := func(subject string) <-chan string {
		out := make(chan string, 1)
		go func() {
			_, body := post(t, url, subject, map[string]any{
				"jsonrpc": "2.0", "id": 7, "method": "tools/call",
				"params": map[string]any{"name": "test_wait", "arguments": map[string]any{}, "_meta": modernMeta()},
			}, map[string]string{"Mcp-Protocol-Version": modern, "Mcp-Method": "tools/call", "Mcp-Name": "test_wait"})
			out <- body
		}()
		return out
	}
	cancel := func(subject string) {
		resp, body := post(t, url, subject, map[string]any{
			"jsonrpc": "2.0", "method": "notifications/cancelled",
			"params": map[string]any{"requestId": 7, "reason": "test", "_meta": modernMeta()},
		}, map[string]string{"Mcp-Protocol-Version": modern, "Mcp-Method": "notifications/cancelled"})
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("notifications/cancelled: HTTP %d %s", resp.StatusCode, body)
		}
	}

	victim := call("alice")
	// Give the call time to be in flight; the attacker's notification
	// must find nothing of theirs to cancel, however often it is sent.
	time.Sleep(300 * time.Millisecond)
	for range 5 {
		cancel("mallory")
		cancel("") // and no subject at all
	}
	select {
	case body := <-victim:
		t.Fatalf("alice's request ended after another subject's notifications/cancelled: %s", body)
	case <-time.After(500 * time.Millisecond):
	}
	close(release)
	select {
	case body := <-victim:
		if !strings.Contains(body, "finished") {
			t.Fatalf("alice's request: %s", body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("alice's request did not finish")
	}
}

// TestOwnCancellationStillWorks: the subject's own notifications/cancelled
// ends its request, in both eras.
func TestOwnCancellationStillWorks(t *testing.T) {
	for _, era := range []string{modern, "legacy-stateless"} {
		t.Run(era, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release)
			url := cancelServer(t, era != modern, release)
			h := map[string]string{"Mcp-Protocol-Version": modern, "Mcp-Method": "tools/call", "Mcp-Name": "test_wait"}
			params := map[string]any{"name": "test_wait", "arguments": map[string]any{}, "_meta": modernMeta()}
			cparams := map[string]any{"requestId": "r-1", "_meta": modernMeta()}
			if era != modern {
				h = map[string]string{"Mcp-Protocol-Version": "2025-11-25"}
				params = map[string]any{"name": "test_wait", "arguments": map[string]any{}}
				cparams = map[string]any{"requestId": "r-1"}
			}
			done := make(chan string, 1)
			go func() {
				_, body := post(t, url, "alice", map[string]any{"jsonrpc": "2.0", "id": "r-1", "method": "tools/call", "params": params}, h)
				done <- body
			}()
			ch := map[string]string{"Mcp-Protocol-Version": h["Mcp-Protocol-Version"]}
			if era == modern {
				ch["Mcp-Method"] = "notifications/cancelled"
			}
			deadline := time.After(30 * time.Second)
			for {
				post(t, url, "alice", map[string]any{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": cparams}, ch)
				select {
				case body := <-done:
					if strings.Contains(body, "finished") {
						t.Fatalf("not cancelled: %s", body)
					}
					return
				case <-time.After(200 * time.Millisecond):
				case <-deadline:
					t.Fatal(fmt.Sprint("the subject's own cancellation did not end its request"))
				}
			}
		})
	}
}

// TestCancelledStillValidatedByMCPGo: the notification still reaches
// mcp-go (with a neutral requestId), so its checks apply: an unknown
// legacy session answers 404, not 202.
func TestCancelledStillValidatedByMCPGo(t *testing.T) {
	url := cancelServer(t, false, make(chan struct{}))
	resp, body := post(t, url, "alice", map[string]any{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": map[string]any{"requestId": 1}},
		map[string]string{"Mcp-Protocol-Version": "2025-11-25", "Mcp-Session-Id": "mcp-session-unknown"})
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown session: HTTP %d %s", resp.StatusCode, body)
	}
}
