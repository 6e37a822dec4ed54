package listfilter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/scopegate/scopegate/caddymodule/internal/listfilter"
)

// TestThroughMCPGo puts the ResponseWriter between a real mcp-go
// Streamable HTTP server and a real mcp-go client, in both protocol eras
// and both response forms, and checks what the client lists.
func TestThroughMCPGo(t *testing.T) {
	tests := []struct {
		name     string
		version  string // "" is the client's default (2026-07-28)
		progress bool   // the server sends a notification first: SSE
		wantSSE  bool
		paged    bool // pages of 3 with public cache hints
	}{
		{"legacy json", "2025-11-25", false, false, false},
		{"legacy sse", "2025-11-25", true, true, false},
		{"legacy sse paged", "2025-11-25", true, true, true},
		{"modern json", "", false, false, false},
		{"modern json paged with cache hints", "", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sawSSE atomic.Bool
			var observed atomic.Int32
			srv := newMCPServer(tt.progress, tt.paged)
			backend := server.NewStreamableHTTPServer(srv)
			gateway := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(body))
				var msg struct {
					ID     json.RawMessage `json:"id"`
					Method string          `json:"method"`
				}
				_ = json.Unmarshal(body, &msg)
				if _, ok := listfilter.ListFor(msg.Method); !ok {
					backend.ServeHTTP(w, r)
					return
				}
				r.Header.Del("Accept-Encoding")
				fw := listfilter.NewResponseWriter(w, &listfilter.Rewriter{
					RequestID: msg.ID,
					Allow:     func(it listfilter.Item) bool { return !strings.Contains(it.Name, "forbidden") },
					Observe:   func(_ listfilter.List, items []listfilter.Item) { observed.Add(int32(len(items))) },
				})
				backend.ServeHTTP(fw, r)
				if strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream") {
					sawSSE.Store(true)
				}
				if err := fw.Finish(); err != nil {
					t.Errorf("Finish: %v", err)
				}
			})
			ts := httptest.NewServer(gateway)
			defer ts.Close()

			trans, err := transport.NewStreamableHTTP(ts.URL)
			if err != nil {
				t.Fatal(err)
			}
			var opts []client.ClientOption
			if tt.version != "" {
				opts = append(opts, client.WithProtocolVersion(tt.version))
			}
			c := client.NewClient(trans, opts...)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			init := mcp.InitializeRequest{}
			init.Params.ClientInfo = mcp.Implementation{Name: "test", Version: "1"}
			if _, err := c.Initialize(ctx, init); err != nil {
				t.Fatalf("Initialize: %v", err)
			}
			// mcp-go now and then answers in JSON although asked to stream
			// (a race inside it); list again until the wanted form was seen.
			// Every listing must be filtered either way.
			for attempt := 0; attempt == 0 || (tt.wantSSE && !sawSSE.Load() && attempt < 20); attempt++ {
				observed.Store(0)
				var names []string
				var req mcp.ListToolsRequest
				for page := 0; ; page++ {
					res, err := c.ListTools(ctx, req)
					if err != nil {
						t.Fatalf("ListTools: %v", err)
					}
					for _, tl := range res.Tools {
						names = append(names, tl.Name)
					}
					if tt.paged && tt.version == "" && res.CacheScope != mcp.CacheScopePrivate {
						t.Fatalf("page %d cacheScope %q, want private", page, res.CacheScope)
					}
					if res.NextCursor == "" || page > 10 {
						break
					}
					req.Params.Cursor = res.NextCursor
				}
				slices.Sort(names)
				if want := []string{"notes_list", "notes_read"}; !slices.Equal(names, want) {
					t.Fatalf("client lists %v, want %v", names, want)
				}
				if observed.Load() != 4 {
					t.Fatalf("Observe saw %d entries, want 4", observed.Load())
				}
			}
			if sawSSE.Load() != tt.wantSSE {
				t.Fatalf("response was SSE: %v, want %v", sawSSE.Load(), tt.wantSSE)
			}
		})
	}
}

func newMCPServer(progress, paged bool) *server.MCPServer {
	var opts []server.ServerOption
	if paged {
		opts = append(opts, server.WithPaginationLimit(3), server.WithCacheHints(60000, mcp.CacheScopePublic))
	}
	if progress {
		// Asking for the upgrade makes the response an event stream
		// deterministically; the notification, when mcp-go delivers it in
		// time, precedes the response on the stream.
		var srv *server.MCPServer
		opts = append(opts, server.WithToolFilter(func(ctx context.Context, tools []mcp.Tool) []mcp.Tool {
			if s, ok := server.ClientSessionFromContext(ctx).(interface{ UpgradeToSSEWhenReceiveNotification() }); ok {
				s.UpgradeToSSEWhenReceiveNotification()
			}
			_ = srv.SendNotificationToClient(ctx, "notifications/message", map[string]any{"level": "info", "data": "listing"})
			return tools
		}))
		srv = server.NewMCPServer("test", "1", opts...)
		addTools(srv)
		return srv
	}
	srv := server.NewMCPServer("test", "1", opts...)
	addTools(srv)
	return srv
}

func addTools(srv *server.MCPServer) {
	for _, name := range []string{"notes_list", "notes_read", "forbidden_delete", "forbidden_share"} {
		tool := mcp.NewTool(name, mcp.WithDescription("test tool"))
		tool.Meta = mcp.NewMetaFromMap(map[string]any{"scopegate/scopes": []string{"notes:read"}})
		srv.AddTool(tool, func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("ok"), nil
		})
	}
}

// TestReadPageFromMCPGo walks an mcp-go server's paginated tools/list the
// way the gateway's discovery does: a modern-era request without a session,
// sent straight to the backend handler.
func TestReadPageFromMCPGo(t *testing.T) {
	backend := server.NewStreamableHTTPServer(newMCPServer(false, true))
	var (
		cursor string
		items  []listfilter.Item
	)
	for page := 0; page < 10; page++ {
		params := map[string]any{"_meta": map[string]any{
			"io.modelcontextprotocol/protocolVersion":    "2026-07-28",
			"io.modelcontextprotocol/clientCapabilities": map[string]any{},
		}}
		if cursor != "" {
			params["cursor"] = cursor
		}
		body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": page + 1, "method": "tools/list", "params": params})
		req := httptest.NewRequest(http.MethodPost, "/mcp", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
		req.Header.Set("Mcp-Method", "tools/list")
		rec := httptest.NewRecorder()
		backend.ServeHTTP(rec, req)
		p, err := listfilter.ReadPage(rec.Header().Get("Content-Type"), rec.Body.Bytes())
		if err != nil {
			t.Fatalf("page %d: %v (status %d, body %q)", page, err, rec.Code, rec.Body.String())
		}
		items = append(items, p.Items...)
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if len(items) != 4 {
		t.Fatalf("discovered %d tools, want 4", len(items))
	}
	for _, it := range items {
		if string(it.Meta) != `{"scopegate/scopes":["notes:read"]}` {
			t.Fatalf("tool %s _meta %s", it.Name, it.Meta)
		}
	}
}
