package mcpbackend

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzOriginAllowed: whatever the Origin and Host, an accepted Origin is
// one listed, or an http(s) origin whose host is an allowed host, or a
// loopback origin on a loopback Host.
func FuzzOriginAllowed(f *testing.F) {
	for _, s := range [][2]string{
		{"http://evil.example.com", "mcp.example.com"},
		{"https://mcp.example.com", "mcp.example.com"},
		{"https://mcp.example.com.evil", "mcp.example.com"},
		{"https://mcp.example.com@evil", "mcp.example.com"},
		{"null", "localhost"},
		{"http://localhost:1", "localhost:2"},
		{"http://[::1]:80", "mcp.example.com"},
		{"HTTPS://MCP.EXAMPLE.COM:443/", "mcp.example.com"},
		{"https://app.example.org", "x"},
	} {
		f.Add(s[0], s[1])
	}
	hosts := map[string]bool{"mcp.example.com": true}
	origins := map[string]bool{"https://app.example.org": true}
	f.Fuzz(func(t *testing.T, origin, host string) {
		r := &http.Request{Header: http.Header{"Origin": {origin}}, Host: host}
		if !originAllowed(r, hosts, origins) {
			return
		}
		o := strings.ToLower(strings.TrimSuffix(origin, "/"))
		if origins[o] {
			return
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
			t.Fatalf("accepted malformed origin %q", origin)
		}
		if isLoopback(u.Host) {
			if !isLoopback(host) {
				t.Fatalf("loopback origin %q accepted on Host %q", origin, host)
			}
			return
		}
		if u.Hostname() != "mcp.example.com" {
			t.Fatalf("origin %q accepted (host %q)", origin, u.Hostname())
		}
	})
}
