package caddymodule

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/scopegate/scopegate/caddymodule/internal/tokenverifier"
)

// wellKnownPRM is RFC 9728's well-known prefix. The document is served at
// the prefix followed by the resource's path (which MCP clients try first)
// and at the bare prefix.
const wellKnownPRM = "/.well-known/oauth-protected-resource"

// protectedResourceMetadata is the RFC 9728 §2 document.
type protectedResourceMetadata struct {
	Resource                          string   `json:"resource"`
	AuthorizationServers              []string `json:"authorization_servers"`
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported            []string `json:"bearer_methods_supported"`
	ResourceSigningAlgValuesSupported []string `json:"resource_signing_alg_values_supported"`
}

// serveMetadata answers the metadata URLs: GET and HEAD with the document,
// OPTIONS as a CORS preflight, so browser-based clients can read it.
func (g *Gateway) serveMetadata(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Content-Type, MCP-Protocol-Version")
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodGet, http.MethodHead:
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		return writeJSONRPCError(w, http.StatusMethodNotAllowed, nil, codeInvalidRequest, "method not allowed")
	}
	g.awaitCatalog()
	doc := protectedResourceMetadata{
		Resource:                          g.Resource,
		AuthorizationServers:              g.AuthorizationServers,
		ScopesSupported:                   g.advertisedScopes(),
		BearerMethodsSupported:            []string{"header"},
		ResourceSigningAlgValuesSupported: tokenverifier.DefaultAlgorithms,
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	h.Set("Content-Type", "application/json")
	// Short: the scope catalog behind scopes_supported can change.
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	_, err = w.Write(body)
	return err
}

// advertisedScopes is scopes_supported: the configured override, else the
// base scopes plus every scope of the catalog, so that clients reading the
// metadata ask for everything the deployment offers.
func (g *Gateway) advertisedScopes() []string {
	if len(g.ScopesSupported) > 0 {
		return g.ScopesSupported
	}
	return g.catalog.AllScopes() // read-only: marshalled or joined, never changed
}

// awaitCatalog gives the first discovery a moment before scopes are
// advertised (in the metadata document or a 401 challenge), so that a
// client's first look already lists every scope. Only the first caller
// waits: a backend that stays down must not slow every 401.
func (g *Gateway) awaitCatalog() {
	if len(g.ScopesSupported) > 0 {
		return
	}
	g.discoverer.Ensure()
	if g.disc.waited.Swap(true) {
		return
	}
	select {
	case <-g.discoverer.Ready():
	case <-time.After(metadataCatalogWait):
	}
}

// metadataCatalogWait bounds that moment: a backend that is down must not
// hold up clients' discovery for long.
const metadataCatalogWait = 2 * time.Second

// challengeScopes is the scope parameter of 401 challenges: the configured
// challenge_scopes, else least privilege — the base scopes and the scopes
// of the tools annotated readOnlyHint — so that a client following the
// spec's scope selection asks the user for reading only, and writes are
// granted by step-up when first needed. A catalog without annotations
// gives scopes_supported, as does a backend not discovered in time. A
// configured scopes_supported is the operator's vocabulary: it stays the
// challenge, as before (challenge_scopes narrows it).
func (g *Gateway) challengeScopes() []string {
	if len(g.ChallengeScopes) > 0 {
		return g.ChallengeScopes
	}
	if len(g.ScopesSupported) > 0 {
		return g.ScopesSupported
	}
	g.awaitCatalog()
	if lp, ok := g.catalog.LeastPrivilegeScopes(); ok {
		return lp
	}
	return g.advertisedScopes()
}
