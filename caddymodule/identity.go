package caddymodule

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/caddymodule/internal/tokenverifier"
)

// Headers the gateway sets for the upstream. Any client-sent header with
// this prefix is removed first, so the upstream can trust them.
const (
	identityHeaderPrefix = "X-Scopegate-"
	headerSubject        = "X-Scopegate-Subject"
	headerClientID       = "X-Scopegate-Client-Id"
	headerScopes         = "X-Scopegate-Scopes"
	// headerUser and varUser carry the configured user claim (string
	// contract: mcpbackend.GatewayUserVar); absent without user_claim.
	headerUser = "X-Scopegate-User"
	varUser    = "scopegate_user"
	// varSubject is the request variable that tells an in-process
	// nextcloud_mcp a gateway authenticated the request (a string
	// contract: mcpbackend.GatewaySubjectVar).
	varSubject = "scopegate_subject"
)

// setIdentity passes the verified identity on: as X-Scopegate-* headers
// for the upstream and as {http.auth.user.*} placeholders for the rest of
// the Caddy config (the access log's user_id comes from
// http.auth.user.id).
func (g *Gateway) setIdentity(r *http.Request, id tokenverifier.Identity) {
	for name := range r.Header {
		if len(name) >= len(identityHeaderPrefix) && strings.EqualFold(name[:len(identityHeaderPrefix)], identityHeaderPrefix) {
			delete(r.Header, name)
		}
	}
	scopes := strings.Join(id.Scopes, " ")
	r.Header.Set(headerSubject, id.Subject)
	r.Header.Set(headerClientID, id.ClientID)
	r.Header.Set(headerScopes, scopes)
	if !*g.ForwardToken {
		r.Header.Del("Authorization")
	}
	caddyhttp.SetVar(r.Context(), varSubject, id.Subject)
	if id.User != "" {
		r.Header.Set(headerUser, id.User)
		caddyhttp.SetVar(r.Context(), varUser, id.User)
	}
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set("http.auth.user.id", id.Subject)
		repl.Set("http.auth.user.client_id", id.ClientID)
		repl.Set("http.auth.user.scopes", scopes)
	}
}
