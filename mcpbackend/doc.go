// Package mcpbackend is the Nextcloud MCP server and the nextcloud_mcp Caddy
// handler that mounts it in-process. It knows MCP and Nextcloud and nothing
// of OAuth: every tool declares its required scopes in _meta (see tooldef)
// and the gateway in front of it enforces them.
package mcpbackend
