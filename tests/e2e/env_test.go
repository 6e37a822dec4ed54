package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/mcptestserver"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// scopesSupported is the test Caddyfile's scopes_supported, and so the
// default challenge scope.
const scopesSupported = "openid notes:read notes:write files:read"

// envOptions vary the test site.
type envOptions struct {
	// gatewayExtra are more lines inside the mcp_gateway block; $ISSUER in
	// them stands for the provider's issuer URL.
	gatewayExtra string
	// cacheTTL is the cache_ttl value; default 5m.
	cacheTTL string
	// noIntrospection leaves out the introspection block.
	noIntrospection bool
	// siteExtra are more lines in the site block, before the proxy; $MCP
	// in them stands for the MCP server's address.
	siteExtra string
	provider  oidctest.Options
}

// env is one test's world: provider, MCP server and Caddy with the gateway.
type env struct {
	provider *oidctest.Provider
	mcp      *mcptestserver.Server
	caddy    *caddyProcess
	// base is the site, http://127.0.0.1:<port>; resource its MCP endpoint.
	base     string
	resource string
}

func newEnv(t testing.TB, opts envOptions) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	e := &env{mcp: mcptestserver.Start(t), provider: oidctest.Start(t, opts.provider)}
	cacheTTL := opts.cacheTTL
	if cacheTTL == "" {
		cacheTTL = "5m"
	}
	gateway := []string{"cache_ttl " + cacheTTL, "scopes_supported " + scopesSupported, strings.ReplaceAll(opts.gatewayExtra, "$ISSUER", e.provider.Issuer())}
	if !opts.noIntrospection {
		gateway = append([]string{introspectionBlock}, gateway...)
	}
	e.startSite(t, site{
		upstream: e.mcp.Addr,
		gateway:  strings.Join(gateway, "\n"),
		// The test server echoes these, so tests see the placeholders.
		proxy: "header_up X-Test-Auth-User {http.auth.user.id}\nheader_up X-Test-Auth-Client {http.auth.user.client_id}\nheader_up X-Test-Auth-Scopes {http.auth.user.scopes}",
		extra: strings.ReplaceAll(opts.siteExtra, "$MCP", e.mcp.Addr),
	})
	return e
}

// introspectionBlock configures the provider's resource-server client.
const introspectionBlock = "introspection {\nclient_id {env.MCP_CLIENT_ID}\nclient_secret {env.MCP_CLIENT_SECRET}\n}"

// site is what varies in the test Caddyfile.
type site struct {
	upstream string // the MCP server's host:port
	gateway  string // lines inside mcp_gateway, after resource and issuer
	proxy    string // more lines inside reverse_proxy
	extra    string // more site lines, before the proxy
}

// startSite writes the test Caddyfile for e's provider and starts Caddy on
// free ports (retrying if one is taken meanwhile); e.base and e.resource
// are set.
func (e *env) startSite(t testing.TB, st site) {
	t.Helper()
	for range 3 {
		port, adminPort, httpsPort := freePort(t), freePort(t), freePort(t)
		e.base = fmt.Sprintf("http://127.0.0.1:%d", port)
		e.resource = e.base + "/mcp"
		caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%[3]d
	auto_https off
	http_port %[1]d
	https_port %[4]d
	persist_config off
	debug
}

http://127.0.0.1:%[1]d {
	mcp_gateway {
		resource %[2]s
		issuer %[5]s
%[6]s
	}
%[9]s
	reverse_proxy /mcp* %[7]s {
		header_up Host {upstream_hostport}
%[8]s
	}
	respond /other "passthrough" 200
}
`, port, e.resource, adminPort, httpsPort, e.provider.Issuer(), indent(st.gateway, "\t\t"), st.upstream, indent(st.proxy, "\t\t"), indent(st.extra, "\t"))
		var err error
		e.caddy, err = startCaddy(t, caddyfile, []string{
			"MCP_CLIENT_ID=" + oidctest.ResourceServerID,
			"MCP_CLIENT_SECRET=" + oidctest.ClientSecret,
		}, fmt.Sprintf("127.0.0.1:%d", adminPort), e.base+"/other")
		if errors.Is(err, errAddressInUse) {
			t.Logf("a reserved port was taken; retrying with others")
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("caddy: no free ports after 3 attempts")
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = prefix + strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}

// token gets a provider token for the test resource.
func (e *env) token(t testing.TB, opaque bool, scopes ...string) string {
	t.Helper()
	return e.provider.Token(t, oidctest.TokenRequest{Opaque: opaque, Scopes: scopes, Audience: []string{e.resource}})
}

// response is a fully read HTTP response.
type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(req.Context(), 15*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// callTool sends a raw tools/call for tool to the gateway. Each entry of
// headers is added (not set), so tests can send a header twice.
func (e *env) callTool(t *testing.T, tool string, headers [][2]string) response {
	t.Helper()
	req, err := mcptestserver.NewToolCallRequest(context.Background(), e.resource, tool, map[string]any{"text": "hello"})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		req.Header.Add(h[0], h[1])
	}
	return do(t, req)
}

// callToolStatus is callTool for use off the test goroutine: it reports
// transport failures as status 0 instead of failing the test.
func (e *env) callToolStatus(tok string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := mcptestserver.NewToolCallRequest(ctx, e.resource, mcptestserver.ToolEchoRead, nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// bearer is the Authorization header for tok.
func bearer(tok string) [][2]string { return [][2]string{{"Authorization", "Bearer " + tok}} }

// upstreamCalls counts the requests the MCP server has seen.
func (e *env) upstreamCalls() int { return len(e.mcp.Requests()) }
