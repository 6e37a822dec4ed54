// Package mcpbackend is the Nextcloud MCP server and the nextcloud_mcp Caddy
// handler that mounts it in-process. It knows MCP and Nextcloud and nothing
// of OAuth: every tool declares its required scopes in _meta (see tooldef)
// and the gateway in front of it enforces them.
//
// # Caddyfile
//
//	nextcloud_mcp [<matcher>] {
//	    nextcloud       http://127.0.0.1:8080          # Nextcloud's base URL
//	    credentials     bearer | basic <user> <app-password> | app_password [<key>]
//	    apps            notes files sharing deck cookbook tables   # default: all
//	    scope_separator ":"                          # or "." ("notes.read")
//	    allowed_hosts   mcp.example.com              # public Host names served
//	    allowed_origins https://app.example.com      # more browser origins
//	    external_gateway                             # mcp_gateway runs in another process
//	    stateless                                    # no legacy-era sessions
//	    timeout         30s                          # per Nextcloud request
//	}
//
// bearer forwards the MCP request's own "Authorization: Bearer" token to
// Nextcloud, where user_oidc validates it; basic sends one user's app
// password (single-user deployments); app_password uses each user's own
// app password, obtained once through Nextcloud's Login Flow v2 and kept
// encrypted in Caddy storage (see apppassword.go). Nothing else from the MCP request is
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
// # Only behind mcp_gateway
//
// The backend enforces no scopes: mcp_gateway does. So it serves only
// requests that an mcp_gateway of the same Caddy process let through,
// which it knows by the request variable scopegate_subject the gateway
// sets (GatewaySubjectVar); any other request gets 401 and is logged.
// external_gateway says the gateway runs elsewhere (in front, through a
// reverse_proxy): then every request is served and the X-Scopegate-Subject
// header names the user.
//
// # DNS-rebinding protection
//
// mcp-go refuses non-loopback Host headers on loopback connections, which
// breaks in-process serving behind Caddy. It is replaced, not switched off:
// only loopback Host values and the allowed_hosts are served, on every
// connection; anything else gets 403. A browser's Origin, when present,
// must name an allowed host (a loopback origin only on a loopback Host)
// or be one of allowed_origins; otherwise 403, as the Streamable HTTP
// transport requires of every server.
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
