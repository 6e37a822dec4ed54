package caddymodule

import (
	"io"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// CORS for browser-based MCP clients of an allowed origin. A preflight
// carries no credentials by design, so it is answered here rather than
// challenged; the real request is then authenticated like any other. The
// browser may read the headers an MCP client needs: the session id, and
// WWW-Authenticate to start authorization.
//
// On the MCP endpoint the gateway owns CORS: it decides which origins may
// read answers, so the upstream's CORS headers (server-everything sends
// Access-Control-Allow-Origin: * of its own) are replaced by the gateway's
// when the response headers are written. Two Allow-Origin values would be
// rejected by browsers; the upstream's "*" would grant what the gateway
// refused. Vary is merged, each value once.
const (
	corsAllowMethods  = "GET, POST, DELETE, OPTIONS"
	corsAllowHeaders  = "Authorization, Content-Type, Accept, Last-Event-ID, Mcp-Session-Id, Mcp-Protocol-Version, Mcp-Method, Mcp-Name"
	corsExposeHeaders = "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate"
)

// isPreflight reports whether r is a CORS preflight.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// ownCORS returns w wrapped so that the response carries exactly the
// gateway's CORS headers for r: the allowed origin of r may read it, and
// nothing the upstream said about CORS survives.
func ownCORS(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	cw := &corsWriter{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w}}
	if origin := r.Header.Get("Origin"); origin != "" {
		cw.own = http.Header{}
		cw.own.Set("Access-Control-Allow-Origin", origin)
		cw.own.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		cw.varyOrigin = true
	}
	return cw
}

// preflight answers a CORS preflight from an allowed origin.
func preflight(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	if cw, ok := w.(*corsWriter); ok {
		if cw.own == nil {
			cw.own = http.Header{}
		}
		h = cw.own
	}
	h.Set("Access-Control-Allow-Methods", corsAllowMethods)
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// corsWriter puts the gateway's CORS headers in place of any others when
// the header is written, however it is written (WriteHeader, Write,
// ReadFrom, a flush).
type corsWriter struct {
	// Embedded by value: one allocation per request instead of two.
	caddyhttp.ResponseWriterWrapper
	// own are the CORS headers to send; nil for a request without Origin.
	own        http.Header
	varyOrigin bool
	wrote      bool
}

func (c *corsWriter) WriteHeader(status int) {
	if !c.wrote {
		c.fix()
		c.wrote = status >= 200
	}
	c.ResponseWriterWrapper.WriteHeader(status)
}

func (c *corsWriter) Write(p []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriterWrapper.Write(p)
}

// ReadFrom goes through Write, so the header cannot escape the fix.
func (c *corsWriter) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(writerOnly{c}, r)
}

// FlushError is what http.ResponseController (reverse_proxy) calls; a
// flush before any write writes the header.
func (c *corsWriter) FlushError() error {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(c.ResponseWriterWrapper.ResponseWriter).Flush()
}

// Flush is FlushError for callers that use http.Flusher.
func (c *corsWriter) Flush() { _ = c.FlushError() }

func (c *corsWriter) fix() {
	h := c.Header()
	for k := range h {
		if len(k) >= len("Access-Control-") && strings.EqualFold(k[:len("Access-Control-")], "Access-Control-") {
			delete(h, k)
		}
	}
	for k, v := range c.own {
		h[k] = v
	}
	mergeVary(h, c.varyOrigin)
}

// mergeVary rewrites Vary as one value naming each field once (and
// Origin when the response depends on it).
func mergeVary(h http.Header, origin bool) {
	var fields []string
	seen := map[string]bool{}
	add := func(f string) {
		if f = strings.TrimSpace(f); f != "" && !seen[strings.ToLower(f)] {
			seen[strings.ToLower(f)] = true
			fields = append(fields, f)
		}
	}
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			add(f)
		}
	}
	if origin {
		add("Origin")
	}
	if len(fields) == 0 {
		return
	}
	h.Set("Vary", strings.Join(fields, ", "))
}
