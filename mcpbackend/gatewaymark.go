package mcpbackend

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// GatewaySubjectVar is the Caddy request variable mcp_gateway sets on
// every request it lets through to the MCP endpoint: the verified token's
// subject, or "" for the gateway's own tool discovery. It is a string
// contract (caddymodule sets the same name without importing this
// package): request variables are set only by handlers of the same Caddy
// process, never by a client, so its presence proves that a gateway has
// authenticated the request and enforced its scopes.
const GatewaySubjectVar = "scopegate_subject"

// HeaderSubject is the header mcp_gateway sets to the verified subject
// (after removing any a client sent). It is trusted only with
// external_gateway, where the gateway runs in another process and the
// request variable cannot cross.
const HeaderSubject = "X-Scopegate-Subject"

// gatewaySubject returns who mcp_gateway authenticated for r, and false
// when no gateway did.
func (h *Handler) gatewaySubject(r *http.Request) (string, bool) {
	if h.ExternalGateway {
		return r.Header.Get(HeaderSubject), true
	}
	v, ok := caddyhttp.GetVar(r.Context(), GatewaySubjectVar).(string)
	return v, ok
}

// GatewayUserVar and HeaderUser carry mcp_gateway's user_claim: the
// Nextcloud user id the token names when the provider's subject is not it
// (string contracts like GatewaySubjectVar). Absent without user_claim.
const (
	GatewayUserVar = "scopegate_user"
	HeaderUser     = "X-Scopegate-User"
)

// gatewayUser returns the user mcp_gateway's user_claim named for r, or
// "" when the gateway set none; the header counts only with
// external_gateway, as for the subject.
func (h *Handler) gatewayUser(r *http.Request) string {
	if h.ExternalGateway {
		return r.Header.Get(HeaderUser)
	}
	v, _ := caddyhttp.GetVar(r.Context(), GatewayUserVar).(string)
	return v
}

// notFromGateway is the answer to a request that no mcp_gateway of this
// Caddy process handled: nothing checked its token or its scopes, so the
// backend must not act on it.
const notFromGateway = "nextcloud_mcp: this request did not pass mcp_gateway, which authenticates MCP clients and enforces scopes; " +
	"put mcp_gateway in front of nextcloud_mcp in the same route, or set external_gateway when the gateway runs in another process"
