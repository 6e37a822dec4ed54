// Package soak holds Scopegate's soak test: hundreds of concurrent MCP
// clients drive the built Caddy binary (mcp_gateway in front of a recording
// mcp-go backend, tokens from internal/oidctest) for a fixed duration with a
// mix of allowed, denied and stepped-up calls, lists, listening streams,
// expired and random tokens, in both protocol eras. At the end it proves
// from the backend's record that every allowed request arrived exactly once
// and no refused one arrived at all, and it fails when Caddy's resident
// memory or goroutine count keeps growing.
//
// `make soak` runs it for SOAK_DURATION (default 10m); the full suite
// (`make test`) runs it for the default 60 s; `go test -short` skips it.
// Flags: -soak.duration, -soak.clients, -soak.fault (see soak_test.go).
package soak
