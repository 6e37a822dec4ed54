package mcpbackend

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// cancelScope answers notifications/cancelled itself, so that a client
// can cancel only its own requests.
//
// mcp-go keys the requests in flight by "<session id>:<request id>", and a
// 2026-07-28 request has no session: every one is keyed ":<id>", so any
// caller's notifications/cancelled {requestId: 7} would cancel whichever
// request 7 runs, another user's included (the same holds for stateless
// legacy requests). mcp-go offers no hook to change that key, so the
// notification never reaches it: this handler keeps its own table of
// requests in flight, keyed by the authenticated subject, the
// Mcp-Session-Id header and the request id, and cancels the matching one.
// The notification then still goes to mcp-go (which validates the session
// and headers and answers as the transport prescribes), but with its
// requestId replaced by a random value of this process that no request
// can carry, so mcp-go's own table never matches.
type cancelScope struct {
	subject func(*http.Request) string
	next    http.Handler
	// neutral is the requestId mcp-go sees in every notifications/cancelled.
	neutral json.RawMessage

	mu       sync.Mutex
	inflight map[string]*inflightEntry
}

type inflightEntry struct{ cancel context.CancelFunc }

func newCancelScope(subject func(*http.Request) string, next http.Handler) *cancelScope {
	if subject == nil {
		subject = func(*http.Request) string { return "" }
	}
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	neutral, _ := json.Marshal("scopegate-cancelled-" + hex.EncodeToString(nonce))
	return &cancelScope{subject: subject, next: next, neutral: neutral, inflight: map[string]*inflightEntry{}}
}

// neutralize returns body with params.requestId replaced by c.neutral.
func (c *cancelScope) neutralize(body []byte) ([]byte, bool) {
	var msg map[string]json.RawMessage
	if json.Unmarshal(body, &msg) != nil {
		return nil, false
	}
	var params map[string]json.RawMessage
	if json.Unmarshal(msg["params"], &params) != nil || params == nil {
		return nil, false
	}
	params["requestId"] = c.neutral
	p, err := json.Marshal(params)
	if err != nil {
		return nil, false
	}
	msg["params"] = p
	out, err := json.Marshal(msg)
	return out, err == nil
}

// message is the part of a JSON-RPC message read here, with the same
// decoder mcp-go uses, so both see the same method and id.
type message struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params struct {
		RequestID json.RawMessage `json:"requestId"`
	} `json:"params"`
}

const methodCancelled = "notifications/cancelled"

func (c *cancelScope) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Body == nil {
		c.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		http.Error(w, "reading the request body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var m message
	if json.Unmarshal(body, &m) != nil {
		c.next.ServeHTTP(w, r) // mcp-go answers the parse error
		return
	}
	scope := c.subject(r) + "\x00" + r.Header.Get("Mcp-Session-Id") + "\x00"
	switch {
	case m.Method == methodCancelled && isAbsent(m.ID):
		if id := compactID(m.Params.RequestID); id != "" {
			c.cancel(scope + id)
		}
		out, ok := c.neutralize(body)
		if !ok {
			// Never forward the original: answer as for any accepted
			// notification.
			w.WriteHeader(http.StatusAccepted)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(out))
		r.ContentLength = int64(len(out))
		r.Header.Set("Content-Length", strconv.Itoa(len(out)))
		c.next.ServeHTTP(w, r)
	case m.Method != "" && !isAbsent(m.ID):
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		key, e := scope+compactID(m.ID), &inflightEntry{cancel: cancel}
		c.mu.Lock()
		c.inflight[key] = e
		c.mu.Unlock()
		defer c.forget(key, e)
		c.next.ServeHTTP(w, r.WithContext(ctx))
	default:
		c.next.ServeHTTP(w, r)
	}
}

func (c *cancelScope) cancel(key string) {
	c.mu.Lock()
	e := c.inflight[key]
	delete(c.inflight, key)
	c.mu.Unlock()
	if e != nil {
		e.cancel()
	}
}

func (c *cancelScope) forget(key string, e *inflightEntry) {
	c.mu.Lock()
	if c.inflight[key] == e {
		delete(c.inflight, key)
	}
	c.mu.Unlock()
}

// size is the number of requests in flight (tests).
func (c *cancelScope) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.inflight)
}

func isAbsent(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// compactID is a request id in canonical form: 7, "7" and " 7 " stay
// distinct as JSON-RPC says, whitespace does not matter.
func compactID(raw json.RawMessage) string {
	if isAbsent(raw) {
		return ""
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return ""
	}
	return b.String()
}
