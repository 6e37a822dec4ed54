package e2e

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/scopegate/scopegate/internal/mcptestserver"
	"github.com/scopegate/scopegate/internal/oidctest"
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

// BenchmarkFenceThroughBinary measures what the token fence costs requests
// outside the MCP endpoint, through the built binary, beside the same site
// with `fence off`: a Basic request and a bearer JWT of another audience
// (both forwarded), and a JWT of the MCP resource (refused with 401 when
// the fence is on). The path has no handler, so Caddy answers at once and
// the gateway's share of the work is as large as it can be. Besides ns/op
// it reports Caddy's own CPU time per request (caddy-cpu-ns/op, from
// /proc, 10 ms ticks: use thousands of iterations).
//
//	go test -run '^$' -bench FenceThroughBinary -benchtime 20000x -count 3 ./tests/e2e
func BenchmarkFenceThroughBinary(b *testing.B) {
	on := newEnv(b, envOptions{})
	off := newEnv(b, envOptions{gatewayExtra: "fence off"})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	type tokenSet struct{ foreign, bound string }
	toks := map[*env]tokenSet{}
	for _, e := range []*env{on, off} {
		toks[e] = tokenSet{
			foreign: e.provider.Token(b, oidctest.TokenRequest{Scopes: []string{"notes:read"}, Audience: []string{"https://desktop.example/app"}}),
			bound:   e.token(b, false, "notes:read"),
		}
	}
	for _, kind := range []string{"basic", "foreign_jwt", "bound_jwt"} {
		for _, site := range []struct {
			name string
			e    *env
		}{{"fence_off", off}, {"fence_on", on}} {
			b.Run(kind+"/"+site.name, func(b *testing.B) {
				var auth string
				want := http.StatusOK
				switch kind {
				case "basic":
					auth = "Basic YWxpY2U6YXBwLXBhc3N3b3Jk"
				case "foreign_jwt":
					auth = "Bearer " + toks[site.e].foreign
				case "bound_jwt":
					auth = "Bearer " + toks[site.e].bound
					if site.e == on {
						want = http.StatusUnauthorized
					}
				}
				url := site.e.base + "/remote.php/dav/files/alice/important.txt"
				cpu0 := site.e.caddy.CPUTime(b)
				b.ResetTimer()
				for b.Loop() {
					req, err := http.NewRequest(http.MethodGet, url, nil)
					if err != nil {
						b.Fatal(err)
					}
					req.Header.Set("Authorization", auth)
					resp, err := client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != want {
						b.Fatalf("status %d, want %d", resp.StatusCode, want)
					}
				}
				b.StopTimer()
				cpu := site.e.caddy.CPUTime(b) - cpu0
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "caddy-cpu-ns/op")
			})
		}
	}
}
