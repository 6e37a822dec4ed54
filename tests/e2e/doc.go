// Package e2e holds Scopegate's end-to-end tests: the real Caddy binary with
// the mcp_gateway handler, in front of a real mcp-go server, authenticating
// tokens from a real OpenID provider (internal/oidctest), all over loopback
// HTTP.
//
// The Caddy binary is $SCOPEGATE_CADDY when set (CI builds it with xcaddy),
// otherwise `go build ./cmd/caddy` once per test run. Every test skips under
// `go test -short`.
//
// Each test starts its own provider, MCP server and Caddy (newEnv), so tests
// run in parallel and share no cache state. On failure the test log shows
// the Caddyfile and Caddy's debug log.
package e2e
