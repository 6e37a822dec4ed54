package e2e

import (
	"context"
	"fmt"
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

// benchSite runs the built binary on a minimal Caddyfile without debug
// logging (which would dominate the cost): the gateway, with gatewayExtra,
// in front of static answers. It returns the process and the site's base.
func benchSite(b *testing.B, p *oidctest.Provider, gatewayExtra string) (*caddyProcess, string) {
	b.Helper()
	port, adminPort, httpsPort := freePort(b), freePort(b), freePort(b)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%[2]d
	auto_https off
	http_port %[1]d
	https_port %[3]d
	persist_config off
}

http://127.0.0.1:%[1]d {
	mcp_gateway {
		resource %[4]s/mcp
		issuer %[5]s
		%[6]s
		%[7]s
	}
	respond /other "passthrough" 200
	respond "nextcloud" 200
}
`, port, adminPort, httpsPort, base, p.Issuer(), indent(introspectionBlock, "\t\t"), gatewayExtra)
	proc, err := startCaddy(b, caddyfile, []string{
		"MCP_CLIENT_ID=" + oidctest.ResourceServerID,
		"MCP_CLIENT_SECRET=" + oidctest.ClientSecret,
	}, fmt.Sprintf("127.0.0.1:%d", adminPort), base+"/other")
	if err != nil {
		b.Fatal(err)
	}
	return proc, base
}

// BenchmarkFenceThroughBinary measures what the token fence costs requests
// outside the MCP endpoint, through the built binary, beside the same site
// with `fence off`: a Basic request and a bearer JWT of another audience
// (both forwarded), and a JWT of the MCP resource (refused with 401 when
// the fence is on). The path is answered by a static respond, so the
// gateway's share of the work is as large as it can be. Besides ns/op
// (the client shares the machine) it reports Caddy's own CPU time per
// request (caddy-cpu-ns/op, from /proc in 10 ms ticks: use thousands of
// iterations).
//
//	go test -run '^$' -bench FenceThroughBinary -benchtime 20000x -count 3 ./tests/e2e
func BenchmarkFenceThroughBinary(b *testing.B) {
	if testing.Short() {
		b.Skip("end-to-end benchmark: skipped with -short")
	}
	p := oidctest.Start(b, oidctest.Options{})
	type site struct {
		proc *caddyProcess
		base string
	}
	var sites [2]site
	for i, extra := range []string{"fence off", ""} {
		sites[i].proc, sites[i].base = benchSite(b, p, extra)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	foreign := p.Token(b, oidctest.TokenRequest{Scopes: []string{"notes:read"}, Audience: []string{"https://desktop.example/app"}})
	bound := p.Token(b, oidctest.TokenRequest{Scopes: []string{"notes:read"}, Audience: []string{sites[1].base + "/mcp"}})
	boundOff := p.Token(b, oidctest.TokenRequest{Scopes: []string{"notes:read"}, Audience: []string{sites[0].base + "/mcp"}})
	for _, kind := range []string{"basic", "foreign_jwt", "bound_jwt"} {
		for i, name := range []string{"fence_off", "fence_on"} {
			s := sites[i]
			b.Run(kind+"/"+name, func(b *testing.B) {
				var auth string
				want := http.StatusOK
				switch kind {
				case "basic":
					auth = "Basic YWxpY2U6YXBwLXBhc3N3b3Jk"
				case "foreign_jwt":
					auth = "Bearer " + foreign
				case "bound_jwt":
					auth = "Bearer " + boundOff
					if i == 1 {
						auth, want = "Bearer "+bound, http.StatusUnauthorized
					}
				}
				url := s.base + "/remote.php/dav/files/alice/important.txt"
				cpu0 := s.proc.CPUTime(b)
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
				cpu := s.proc.CPUTime(b) - cpu0
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "caddy-cpu-ns/op")
			})
		}
	}
}
