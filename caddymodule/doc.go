// Package caddymodule provides the mcp_gateway Caddy HTTP handler.
package caddymodule
