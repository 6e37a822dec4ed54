package e2e

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/scopegate/scopegate/internal/mcptestserver"
)

// BenchmarkToolsCallThroughBinary measures one tools/call round trip over
// loopback HTTP, side by side in one run: straight to the MCP server,
// through the built Caddy's reverse_proxy alone, and through mcp_gateway
// (cached token, body classified, scopes decided) and the same proxy. The
// ratios, not the absolute times, are what this noisy shared machine can
// tell.
//
//	go test -run '^$' -bench ThroughBinary -benchtime 2000x ./tests/e2e
func BenchmarkToolsCallThroughBinary(b *testing.B) {
	e := newEnv(b, envOptions{siteExtra: "handle_path /plain* {\n\trewrite * /mcp\n\treverse_proxy $MCP {\n\theader_up Host {upstream_hostport}\n\t}\n}"})
	tok := e.token(b, false, "notes:read")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for _, tc := range []struct{ name, url string }{
		{"direct", "http://" + e.mcp.Addr + "/mcp"},
		{"caddy", e.base + "/plain"},
		{"gateway", e.resource},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req, err := mcptestserver.NewToolCallRequest(context.Background(), tc.url, mcptestserver.ToolEchoRead, map[string]any{"text": "hi"})
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: status %d", tc.name, resp.StatusCode)
				}
			}
		})
	}
}
