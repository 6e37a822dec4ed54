package caddymodule

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/scopegate/scopegate/caddymodule/internal/rpcmessage"
)

// challenge is one WWW-Authenticate Bearer challenge (RFC 6750 §3,
// RFC 9728 §5.1).
type challenge struct {
	// Error is empty when the request carried no credentials: RFC 6750
	// §3.1 says no error code then.
	Error            string
	Scope            []string
	ResourceMetadata string
	Description      string
}

// String renders the challenge. Values are sanitised to the characters
// RFC 6750 allows in them, so nothing a client sent can break the header.
func (c challenge) String() string {
	var b strings.Builder
	b.WriteString("Bearer ")
	var params []string
	if c.Error == "" {
		params = append(params, param("resource_metadata", c.ResourceMetadata))
		if len(c.Scope) > 0 {
			params = append(params, param("scope", scopeValue(c.Scope)))
		}
	} else {
		params = append(params, param("error", sanitize(c.Error)))
		if len(c.Scope) > 0 {
			params = append(params, param("scope", scopeValue(c.Scope)))
		}
		params = append(params, param("resource_metadata", c.ResourceMetadata))
		if c.Description != "" {
			params = append(params, param("error_description", c.Description))
		}
	}
	b.WriteString(strings.Join(params, ", "))
	return b.String()
}

func param(name, value string) string {
	return name + `="` + sanitize(value) + `"`
}

// sanitize keeps only %x20-21 / %x23-5B / %x5D-7E: the characters RFC 6750
// allows in error_description, which also need no quoting.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == 0x20 || r == 0x21 || (r >= 0x23 && r <= 0x5B) || (r >= 0x5D && r <= 0x7E) {
			return r
		}
		return -1
	}, s)
}

// scopeValue joins scope tokens (RFC 6749 §3.3: %x21 / %x23-5B / %x5D-7E),
// dropping any token that would need escaping.
func scopeValue(scopes []string) string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		if s != "" && !strings.ContainsAny(s, " \"\\") && sanitize(s) == s {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}

// challenge answers 401 with a Bearer challenge pointing at the metadata
// document. errCode is "" when no credentials were sent.
func (g *Gateway) challenge(w http.ResponseWriter, errCode, description string) error {
	c := challenge{ResourceMetadata: g.metadataURL, Scope: g.challengeScopes()}
	if errCode != "" {
		c.Error, c.Description = errCode, description
	}
	w.Header().Set("WWW-Authenticate", c.String())
	return writeJSONRPCError(w, http.StatusUnauthorized, nil, codeUnauthorized, description)
}

// unavailable answers 503: the token could not be judged, and a security
// gateway never lets an unjudged token through.
func (g *Gateway) unavailable(w http.ResponseWriter, _ error) error {
	w.Header().Set("Retry-After", "10")
	return writeJSONRPCError(w, http.StatusServiceUnavailable, nil, codeUnavailable, "authorization server unavailable, retry later")
}

// writeError answers a request the gateway refuses outright.
func (g *Gateway) writeError(w http.ResponseWriter, status int, msg string) error {
	code := codeInvalidRequest
	if status == http.StatusForbidden {
		code = codeForbidden
	}
	return writeJSONRPCError(w, status, nil, code, msg)
}

// JSON-RPC error codes the gateway uses: the spec's invalid request and
// method not found, and codes in the implementation-defined server range.
const (
	codeInvalidRequest = rpcmessage.CodeInvalidRequest
	codeMethodNotFound = -32601
	codeInvalidParams  = -32602
	codeUnauthorized   = -32001
	codeForbidden      = -32003
	codeUnavailable    = -32004
)

// writeJSONRPCError writes a JSON-RPC error response. MCP clients read the
// status and WWW-Authenticate; the body tells a human what happened.
func writeJSONRPCError(w http.ResponseWriter, status int, id json.RawMessage, code int, msg string) error {
	return writeJSON(w, status, rpcmessage.ErrorBody(id, code, msg))
}

// writeJSON writes a JSON body the gateway answers with itself: never
// cached, its own length.
func writeJSON(w http.ResponseWriter, status int, body []byte) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}
