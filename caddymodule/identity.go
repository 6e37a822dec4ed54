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
	// One allocation for the three values instead of one each (this runs
	// on every request); each header gets a slice of capacity one, so an
	// Add to one of them can never write into the next.
	vals := [...]string{id.Subject, id.ClientID, scopes}
	shared := vals[:]
	r.Header[headerSubject] = shared[0:1:1]
	r.Header[headerClientID] = shared[1:2:2]
	r.Header[headerScopes] = shared[2:3:3]
	if !*g.ForwardToken {
		r.Header.Del("Authorization")
	}
	subject := any(id.Subject) // boxed once for the variable and the placeholder
	caddyhttp.SetVar(r.Context(), varSubject, subject)
	if id.User != "" {
		r.Header.Set(headerUser, id.User)
		caddyhttp.SetVar(r.Context(), varUser, id.User)
	}
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set("http.auth.user.id", subject)
		repl.Set("http.auth.user.client_id", id.ClientID)
		repl.Set("http.auth.user.scopes", scopes)
	}
}
