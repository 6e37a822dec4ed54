package caddymodule

import (
	"io"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/caddymodule/internal/rpcmessage"
	"github.com/scopegate/scopegate/caddymodule/internal/sessionbind"
)

// sessionOwned reports whether the request's legacy session, if it names
// one, was created for subject. The MCP specification forbids sessions as
// authentication and asks servers to bind them to the user; mcp-go mints
// ids without binding them, so the gateway does.
func (g *Gateway) sessionOwned(r *http.Request, subject string) bool {
	sid := r.Header.Get(headerSession)
	if sid == "" {
		return true
	}
	if len(r.Header.Values(headerSession)) > 1 {
		return false
	}
	return g.sessions.Lookup(sid, subject) == sessionbind.Owned
}

// sessionNotFound answers as the transport does for a session that does
// not exist, so another subject's session id reveals nothing.
func (g *Gateway) sessionNotFound(w http.ResponseWriter) error {
	return writeJSON(w, http.StatusNotFound, rpcmessage.ErrorBody(nil, rpcmessage.CodeInvalidRequest, "session not found"))
}

// methodCancelled is the notification that cancels an in-flight request.
const methodCancelled = "notifications/cancelled"

// dropCancellation answers a notifications/cancelled sent outside a legacy
// session with 202 and forwards nothing. Inside a session (step 6 made
// sure it is the sender's own) the backend can tell whose request id is
// meant; without one, mcp-go keys in-flight requests by an empty session
// and the request id alone, so another user's notification would cancel
// the first user's request. In the 2026-07-28 era a client cancels its
// own request by closing that request's response stream.
func (g *Gateway) dropCancellation(w http.ResponseWriter) error {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// serveInitialize forwards an initialize, binding the session it creates
// to subject; a subject holding its share of sessions gets 429 before the
// backend creates another.
func (g *Gateway) serveInitialize(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, subject string) error {
	if g.sessions.Full(subject) {
		return tooManySessions(w)
	}
	return next.ServeHTTP(&sessionRecorder{ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: w}, g: g, subject: subject}, r)
}

// sessionRecorder binds the session id an initialize response creates to
// the subject that asked for it, at the moment the headers are written.
// A backend that hands out an id still bound to another subject (echoing
// a client-sent id, say) would join two users in one session: that
// response is replaced by 502 and its body dropped.
type sessionRecorder struct {
	*caddyhttp.ResponseWriterWrapper
	g       *Gateway
	subject string
	done    bool
	refused bool
}

func (s *sessionRecorder) WriteHeader(status int) {
	if s.done || status < 200 {
		s.ResponseWriterWrapper.WriteHeader(status)
		return
	}
	s.done = true
	sid := s.Header().Get(headerSession)
	if sid == "" || status >= 300 {
		s.ResponseWriterWrapper.WriteHeader(status)
		return
	}
	switch s.g.sessions.Bind(sid, s.subject) {
	case sessionbind.Taken:
		s.refused = true
		s.Header().Del(headerSession)
		s.g.logger.Error("backend issued a session id bound to another subject; response refused")
		writeJSON(s.ResponseWriterWrapper, http.StatusBadGateway,
			rpcmessage.ErrorBody(nil, rpcmessage.CodeInternalError, "the backend's session could not be bound to this user"))
		return
	case sessionbind.TooMany:
		// Raced past tooManySessions: the backend's new session is
		// dropped, unbound and unusable.
		s.refused = true
		s.Header().Del(headerSession)
		tooManySessions(s.ResponseWriterWrapper)
		return
	}
	s.ResponseWriterWrapper.WriteHeader(status)
}

func (s *sessionRecorder) Write(p []byte) (int, error) {
	if !s.done {
		s.WriteHeader(http.StatusOK)
	}
	if s.refused {
		return len(p), nil
	}
	return s.ResponseWriterWrapper.Write(p)
}

// ReadFrom goes through Write, so the binding cannot be skipped.
func (s *sessionRecorder) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(writerOnly{s}, r)
}

// writerOnly hides a writer's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }
