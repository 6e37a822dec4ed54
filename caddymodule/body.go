package caddymodule

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/caddymodule/internal/rpcmessage"
)

// defaultMaxBodySize caps a POST body; a JSON-RPC message is small.
const defaultMaxBodySize = 1 << 20

// readMessage reads and classifies the body of a POST. On failure the
// client has been answered and ok is false. It runs only after the token
// was verified: an unauthenticated client never gets a byte of its body
// buffered.
func (g *Gateway) readMessage(w http.ResponseWriter, r *http.Request) (msg rpcmessage.Message, ok bool, err error) {
	limit := g.maxBodySize()
	body, rerr := readPaced(w, r, limit, g.pace(r))
	if rerr != nil {
		var tooBig *http.MaxBytesError
		var slow *slowBodyError
		switch {
		case errors.As(rerr, &tooBig):
			return msg, false, writeJSONRPCError(w, http.StatusRequestEntityTooLarge, nil, rpcmessage.CodeInvalidRequest,
				"request body larger than "+strconv.FormatInt(limit, 10)+" bytes")
		case errors.As(rerr, &slow):
			return msg, false, g.slowBody(w, r, slow)
		}
		return msg, false, writeJSONRPCError(w, http.StatusBadRequest, nil, rpcmessage.CodeParseError, "reading request body failed")
	}
	w.Header().Del("Connection") // set by closeUntilBodyRead
	// The backend reads exactly the bytes that were judged, and nothing
	// the client sent after them: request trailers (HTTP/1.1 chunked or
	// HTTP/2) could carry Mcp-Method or X-Scopegate-* past every check.
	jb := &judgedBody{}
	jb.Reset(body)
	r.Body = jb
	r.ContentLength = int64(len(body))
	setContentLength(r.Header, len(body))
	r.TransferEncoding = nil
	r.Trailer = nil
	r.Header.Del("Trailer")

	if formCarriesToken(r.Header, body) {
		return msg, false, writeJSONRPCError(w, http.StatusBadRequest, nil, rpcmessage.CodeInvalidRequest,
			"access tokens are accepted only in the Authorization header, not in a form body")
	}
	msg, perr := rpcmessage.Parse(body)
	if perr != nil {
		return msg, false, writeJSON(w, http.StatusBadRequest, rpcmessage.ErrorBodyFor(nil, perr))
	}
	if herr := rpcmessage.CheckHeaders(r.Header, msg); herr != nil {
		return msg, false, writeJSON(w, http.StatusBadRequest, rpcmessage.ErrorBodyFor(msg.ID, herr))
	}
	return msg, true, nil
}

// judgedBody is the body the backend reads: the bytes that were judged.
// One allocation, where io.NopCloser(bytes.NewReader(b)) costs two.
type judgedBody struct{ bytes.Reader }

func (*judgedBody) Close() error { return nil }

// setContentLength sets the Content-Length header to n, reusing the
// slice of the single value the client sent (the request's own).
func setContentLength(h http.Header, n int) {
	v := strconv.Itoa(n)
	if vals := h["Content-Length"]; len(vals) == 1 {
		vals[0] = v
		return
	}
	h.Set("Content-Length", v)
}

func (g *Gateway) maxBodySize() int64 {
	if g.MaxBodySize > 0 {
		return g.MaxBodySize
	}
	return defaultMaxBodySize
}

// slowBody answers a client that sent its body too slowly: 408, and the
// connection closed, for a client holding it open is the attack. The
// first such client from an address is logged; all are counted.
func (g *Gateway) slowBody(w http.ResponseWriter, r *http.Request, e *slowBodyError) error {
	g.metrics.slowBody(e.reason)
	addr := clientAddress(r)
	if g.slowLog.first(addr, time.Now()) {
		g.logger.Warn("request body too slow; connection closed (further ones from this address are only counted)",
			zap.String("remote", addr), zap.String("reason", e.reason), zap.Int64("bytes_read", e.read),
			zap.Duration("after", e.after))
	}
	w.Header().Set("Connection", "close")
	return writeJSONRPCError(w, http.StatusRequestTimeout, nil, rpcmessage.CodeInvalidRequest, "request body "+e.Error())
}

// clientAddress is Caddy's client IP (trusted proxies considered), else
// the connection's address without its port.
func clientAddress(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// closeUntilBodyRead marks an HTTP/1 response to close its connection
// while the request's body is unread; readMessage lifts the mark once it
// has read the body. Every answer the gateway gives before that (a
// foreign origin, a missing or invalid token, a foreign session, an
// unavailable provider)
// is sent at once and the connection closed: otherwise net/http, behind Caddy's
// body wrappers, first drains up to 256 KiB of a body the gateway never
// wanted, waiting on a client that may never send it. HTTP/2 resets the
// stream instead.
func closeUntilBodyRead(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 && r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		w.Header().Set("Connection", "close")
	}
}
