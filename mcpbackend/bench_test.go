package mcpbackend_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/internal/nextcloudfake/backendtest"
	"github.com/scopegate/scopegate/mcpbackend/notes"
)

// BenchmarkToolCall compares one nc_notes_get_note through the whole
// backend (MCP client → Streamable HTTP → tool → Nextcloud client → fake)
// with the same Nextcloud request made directly; the difference is the
// backend's own overhead per call.
func BenchmarkToolCall(b *testing.B) {
	h := backendtest.Start(b, "notes", notes.Tools, backendtest.Options{})
	nc := h.NC.BaseURL()

	b.Run("direct", func(b *testing.B) {
		client := &http.Client{}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			req, _ := http.NewRequest(http.MethodGet, nc+"/index.php/apps/notes/api/v1/notes/359", nil)
			req.SetBasicAuth(nextcloudfake.AdminUser, nextcloudfake.AdminPassword)
			req.Header.Set("OCS-APIRequest", "true")
			req.Header.Set("Accept", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
			if i%1000 == 0 {
				h.Fake.Reset()
			}
		}
	})

	b.Run("backend", func(b *testing.B) {
		req := mcp.CallToolRequest{}
		req.Params.Name = "nc_notes_get_note"
		req.Params.Arguments = map[string]any{"note_id": 359}
		ctx := context.Background()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			res, err := h.Client.CallTool(ctx, req)
			if err != nil {
				b.Fatal(err)
			}
			if res.IsError {
				b.Fatalf("tool error: %v", res.Content)
			}
			if i%1000 == 0 {
				h.Fake.Reset()
			}
		}
	})
}
