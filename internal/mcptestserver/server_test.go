package mcptestserver

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

func TestClientBothEras(t *testing.T) {
	s := Start(t)
	tests := []struct {
		name    string
		version string // requested; "" is the client default
		want    string // negotiated
	}{
		{"legacy", mcp.LATEST_LEGACY_PROTOCOL_VERSION, mcp.LATEST_LEGACY_PROTOCOL_VERSION},
		{"modern", "", mcp.LATEST_PROTOCOL_VERSION},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tr, err := transport.NewStreamableHTTP(s.URL, transport.WithHTTPHeaders(map[string]string{"X-Probe": tc.name}))
			if err != nil {
				t.Fatal(err)
			}
			var opts []client.ClientOption
			if tc.version != "" {
				opts = append(opts, client.WithProtocolVersion(tc.version))
			}
			c := client.NewClient(tr, opts...)
			defer c.Close()
			if err := c.Start(ctx); err != nil {
				t.Fatalf("start: %v", err)
			}
			init, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ClientInfo: mcp.Implementation{Name: "t", Version: "0"}}})
			if err != nil {
				t.Fatalf("initialize: %v", err)
			}
			if init.ProtocolVersion != tc.want {
				t.Fatalf("negotiated %s, want %s", init.ProtocolVersion, tc.want)
			}

			list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
			if err != nil {
				t.Fatalf("tools/list: %v", err)
			}
			got := map[string][]string{}
			for _, tool := range list.Tools {
				var scopes []string
				if tool.Meta != nil {
					for _, v := range asSlice(tool.Meta.AdditionalFields[ScopesMetaKey]) {
						scopes = append(scopes, v.(string))
					}
				}
				got[tool.Name] = scopes
			}
			for name, want := range ToolScopes {
				if s, ok := got[name]; !ok || !slices.Equal(s, want) {
					t.Errorf("tool %s: scopes %v (listed %v), want %v", name, s, ok, want)
				}
			}

			for _, tool := range []string{ToolEchoRead, ToolEchoStream} {
				res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: map[string]any{"text": "hi"}}})
				if err != nil {
					t.Fatalf("tools/call %s: %v", tool, err)
				}
				e, err := DecodeEcho(res)
				if err != nil {
					t.Fatal(err)
				}
				if e.Tool != tool || e.Arguments["text"] != "hi" || http.Header(e.Headers).Get("X-Probe") != tc.name {
					t.Errorf("echo of %s = %+v", tool, e)
				}
			}
		})
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func TestRawToolCallContentTypes(t *testing.T) {
	s := Start(t)
	tests := []struct {
		tool        string
		contentType string
		progress    bool
	}{
		{ToolEchoRead, "application/json", false},
		{ToolEchoStream, "text/event-stream", true},
	}
	for _, tc := range tests {
		t.Run(tc.tool, func(t *testing.T) {
			req, err := NewToolCallRequest(context.Background(), s.URL, tc.tool, map[string]any{"text": "x"})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType) {
				t.Fatalf("status %d, content type %q, want 200 %s; body %s", resp.StatusCode, resp.Header.Get("Content-Type"), tc.contentType, body)
			}
			if !strings.Contains(string(body), `\"tool\":\"`+tc.tool+`\"`) {
				t.Errorf("body does not echo the tool: %s", body)
			}
			if got := strings.Contains(string(body), "notifications/progress"); got != tc.progress {
				t.Errorf("progress notification present %v, want %v: %s", got, tc.progress, body)
			}
		})
	}
	if n := len(s.Requests()); n != len(tests) {
		t.Errorf("recorded %d requests, want %d", n, len(tests))
	}
}

// TestProgressAlwaysDelivered guards the workaround in streamHandler: without
// it mcp-go drops the progress notification in a few percent of calls.
func TestProgressAlwaysDelivered(t *testing.T) {
	s := Start(t)
	for i := range 200 {
		req, err := NewToolCallRequest(context.Background(), s.URL, ToolEchoStream, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), "notifications/progress") || !strings.Contains(string(body), `"result"`) {
			t.Fatalf("call %d: progress or result missing: %s", i, body)
		}
	}
}

// TestHostProtection documents why a proxy must rewrite Host: mcp-go refuses
// a non-loopback Host on a loopback connection.
func TestHostProtection(t *testing.T) {
	s := Start(t)
	req, err := NewToolCallRequest(context.Background(), s.URL, ToolEchoRead, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "gateway.example.com"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d for a foreign Host, want 403", resp.StatusCode)
	}
}
