package caddymodule

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/caddymodule/internal/rpcmessage"
	"github.com/scopegate/scopegate/caddymodule/internal/sessionbind"
)

// bindSession is step 6. A legacy session (Mcp-Session-Id) belongs to the
// subject whose initialize created it. The MCP specification forbids
// sessions as authentication and asks servers to bind them to the user;
// mcp-go mints ids without binding them, so the gateway does, with no
// table: the client holds a wrapped id (sessionbind.Keyring: the backend's
// id under a MAC over it and the subject, keyed by a secret in Caddy
// storage), so every replica sharing the storage, and a restarted one,
// checks it alike. The client's id is unwrapped here for the backend, and
// the returned next handler wraps every Mcp-Session-Id the backend
// answers. A request with an id that does not verify for this subject is
// answered 404, as for a session that does not exist; answered reports
// that the request has been answered (404, or 503 when the keys cannot be
// read).
func (g *Gateway) bindSession(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, subject string) (_ caddyhttp.Handler, answered bool, _ error) {
	if vals := r.Header.Values(headerSession); len(vals) > 1 {
		return next, true, g.sessionNotFound(w)
	}
	sid := r.Header.Get(headerSession)
	if sid != "" {
		backendID, ok, err := g.sessionKeys.Unwrap(r.Context(), sid, subject)
		if err != nil {
			return next, true, g.sessionKeysUnavailable(w, err)
		}
		// A backend id this replica saw created for another subject (a
		// backend that handed one id out twice) stays refused, and so does
		// one ended through this replica: not every backend refuses an
		// ended session (mcp-go's default session manager does not).
		if !ok || g.sessions.Lookup(backendID, subject) == sessionbind.Foreign || g.sessionEnds.Check(backendID, "") {
			return next, true, g.sessionNotFound(w)
		}
		r.Header.Set(headerSession, backendID)
		sid = backendID
	}
	return &sessionWrapper{next: next, g: g, subject: subject, sent: sid}, false, nil
}

// ServeHTTP makes the sessionWrapper the handler bindSession returns: one
// allocation per request for the handler and the writer it wraps, instead
// of a closure, the wrapper and its embedded writer. Each request gets its
// own sessionWrapper, and the gateway calls it at most once.
func (s *sessionWrapper) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	s.ResponseWriterWrapper.ResponseWriter, s.r = w, r
	err := s.next.ServeHTTP(s, r)
	s.finish()
	return err
}

// setupSessionKeys prepares the resource's session key ring in storage,
// which is read (or created) on first need, not here: provisioning touches
// no storage.
func (g *Gateway) setupSessionKeys(storage certmagic.Storage) {
	g.sessionKeys = sessionbind.NewKeyring(storage, g.Resource, time.Duration(g.SessionKeyRotation), time.Duration(g.SessionKeyOverlap), nil)
	g.sessionKeys.Warn = func(err error) { g.logger.Warn("session keys", zap.Error(err)) }
}

// sessionKeysUnavailable answers a request whose session cannot be judged
// because the session keys cannot be read from (or created in) storage.
func (g *Gateway) sessionKeysUnavailable(w http.ResponseWriter, err error) error {
	g.logger.Error("session keys unavailable in storage; legacy sessions get 503", zap.Error(err))
	w.Header().Set("Retry-After", "10")
	return writeJSON(w, http.StatusServiceUnavailable, rpcmessage.ErrorBody(nil, rpcmessage.CodeInternalError, "sessions are unavailable: the gateway cannot read its session keys"))
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

// serveInitialize forwards an initialize; a subject holding its share of
// sessions gets 429 before the backend creates another. The session the
// response creates is bound by the sessionWrapper.
func (g *Gateway) serveInitialize(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, subject string) error {
	if g.sessions.Full(subject) {
		return tooManySessions(w)
	}
	// The keys must be at hand before the backend creates a session whose
	// id could then not be wrapped.
	if err := g.sessionKeys.Ready(r.Context()); err != nil {
		return g.sessionKeysUnavailable(w, err)
	}
	return next.ServeHTTP(w, r)
}

// writerOnly hides a writer's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// sessionWrapper replaces, when the headers are written, the backend's
// Mcp-Session-Id with its wrapped form for the subject: on every response
// of the endpoint (initialize, streams, DELETE), so that no raw backend id
// ever reaches the client. An id that cannot be wrapped is never passed
// on: that response is replaced by an error and its body dropped.
//
// A successful response naming a session other than the one the request
// was sent in creates it: it is counted against the subject's share on
// this replica (429 above it, the session dropped unbound) and remembered
// for the subject, so that a backend handing the same id to another
// subject later (echoing a client-sent id, say) cannot join two users in
// one session: that response is replaced by 502.
type sessionWrapper struct {
	caddyhttp.ResponseWriterWrapper // by value: see ServeHTTP
	next                            caddyhttp.Handler
	g                               *Gateway
	r                               *http.Request
	subject                         string
	sent                            string // the backend id the request carried
	done                            bool
	refused                         bool
}

func (s *sessionWrapper) WriteHeader(status int) {
	if s.done || status < 200 {
		s.ResponseWriterWrapper.WriteHeader(status)
		return
	}
	s.done = true
	sid := s.Header().Get(headerSession)
	if sid == "" {
		s.ResponseWriterWrapper.WriteHeader(status)
		return
	}
	if sid != s.sent && status < 300 {
		switch s.g.sessions.Bind(sid, s.subject) {
		case sessionbind.Taken:
			s.refuse()
			s.g.logger.Error("backend issued a session id bound to another subject; response refused")
			writeJSON(&s.ResponseWriterWrapper, http.StatusBadGateway,
				rpcmessage.ErrorBody(nil, rpcmessage.CodeInternalError, "the backend's session could not be bound to this user"))
			return
		case sessionbind.TooMany:
			// Raced past serveInitialize's check: the backend's new
			// session is dropped, unbound and unusable.
			s.refuse()
			tooManySessions(&s.ResponseWriterWrapper)
			return
		}
	}
	wrapped, err := s.g.sessionKeys.Wrap(s.r.Context(), sid, s.subject)
	if err != nil {
		s.refuse()
		if errors.Is(err, sessionbind.ErrBackendID) {
			s.g.logger.Error("backend issued a session id the gateway does not pass on; response refused", zap.Int("length", len(sid)))
			writeJSON(&s.ResponseWriterWrapper, http.StatusBadGateway,
				rpcmessage.ErrorBody(nil, rpcmessage.CodeInternalError, "the backend's session id could not be bound to this user"))
			return
		}
		s.g.sessionKeysUnavailable(&s.ResponseWriterWrapper, err)
		return
	}
	s.Header().Set(headerSession, wrapped)
	s.ResponseWriterWrapper.WriteHeader(status)
}

func (s *sessionWrapper) refuse() {
	s.refused = true
	s.Header().Del(headerSession)
}

// finish runs when the backend's handler returns. A handler that set
// headers and wrote nothing has not called WriteHeader; its headers are
// still to be sent (by the server, or with an error page), so a raw id
// in them is wrapped now, or removed.
func (s *sessionWrapper) finish() {
	if s.done {
		return
	}
	sid := s.Header().Get(headerSession)
	if sid == "" {
		return
	}
	if wrapped, err := s.g.sessionKeys.Wrap(s.r.Context(), sid, s.subject); err == nil && sid == s.sent {
		s.Header().Set(headerSession, wrapped)
		return
	}
	s.Header().Del(headerSession)
}

func (s *sessionWrapper) Write(p []byte) (int, error) {
	if !s.done {
		s.WriteHeader(http.StatusOK)
	}
	if s.refused {
		return len(p), nil
	}
	return s.ResponseWriterWrapper.Write(p)
}

// ReadFrom goes through Write, so the wrapping cannot be skipped.
func (s *sessionWrapper) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(writerOnly{s}, r)
}

// FlushError writes the headers through WriteHeader first: a flush
// reaching the connection through Unwrap would send them unwrapped.
func (s *sessionWrapper) FlushError() error {
	if !s.done {
		s.WriteHeader(http.StatusOK)
	}
	if s.refused {
		return nil
	}
	return http.NewResponseController(s.ResponseWriterWrapper.ResponseWriter).Flush()
}

// Flush is FlushError for callers that use http.Flusher.
func (s *sessionWrapper) Flush() { _ = s.FlushError() }
