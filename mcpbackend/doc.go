// Package mcpbackend is the Nextcloud MCP server and the nextcloud_mcp Caddy
// handler that mounts it in-process. It knows MCP and Nextcloud and nothing
// of OAuth: every tool declares its required scopes in _meta (see tooldef)
// and the gateway in front of it enforces them.
//
// # Caddyfile
//
//	nextcloud_mcp [<matcher>] {
//	    nextcloud       http://127.0.0.1:8080          # Nextcloud's base URL
//	    credentials     bearer | basic <user> <app-password>
//	    apps            notes files sharing deck cookbook tables   # default: all
//	    scope_separator ":"                          # or "." ("notes.read")
//	    allowed_hosts   mcp.example.com              # public Host names served
//	    stateless                                    # no legacy-era sessions
//	    timeout         30s                          # per Nextcloud request
//	}
//
// bearer forwards the MCP request's own "Authorization: Bearer" token to
// Nextcloud, where user_oidc validates it; basic sends one user's app
// password (single-user deployments). Nothing else from the MCP request is
// ever sent to Nextcloud. Values may use placeholders such as
// {env.NC_APP_PASSWORD} or {file./run/secrets/nc}; they are resolved once
// at provisioning.
//
// The handler is terminal: it answers and never calls the next handler. Its
// directive is ordered before reverse_proxy, so in a site block it runs after
// mcp_gateway and before the reverse_proxy to Nextcloud itself; to be
// explicit, put both in a handle block for the MCP path:
//
//	handle /mcp* {
//	    mcp_gateway { ... }
//	    nextcloud_mcp { ... }
//	}
//
// # DNS-rebinding protection
//
// mcp-go refuses non-loopback Host headers on loopback connections, which
// breaks in-process serving behind Caddy. It is replaced, not switched off:
// only loopback Host values and the allowed_hosts are served, on every
// connection; anything else gets 403.
//
// # Protocol eras
//
// The Streamable HTTP handler serves clients of MCP 2025-11-25 and older
// (initialize, sessions validated in memory unless stateless) and of
// 2026-07-28 (stateless, server/discover) on the same endpoint.
//
// # Tool families
//
// A family is a func(*nextcloud.Client) []tooldef.Tool; DefaultFamilies
// lists them by their apps name. Tools of apps that the caller's Nextcloud
// does not have enabled (capabilities, cached per credential) are left out
// of tools/list, and calling one answers a tool error saying so.
package mcpbackend
