package caddymodule

import (
	"net/http"
	"strings"
)

// originAllowed implements the Streamable HTTP transport's DNS-rebinding
// rule: an Origin header that is present and not allowed gets 403. The
// resource's own origin is always allowed; requests without Origin (non-
// browser clients) are not affected.
func (g *Gateway) originAllowed(r *http.Request) bool {
	values := r.Header.Values("Origin")
	if len(values) == 0 {
		return true
	}
	if len(values) > 1 {
		return false
	}
	return g.origins[strings.ToLower(strings.TrimSuffix(values[0], "/"))]
}
