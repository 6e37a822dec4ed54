package caddymodule

import (
	"net/http"
	"sync"

	"github.com/scopegate/scopegate/caddymodule/internal/rpcmessage"
)

// Per-subject limits. One valid token, however low its scopes, must not be
// able to hold unbounded listening streams (each a connection and a
// goroutine pair, here and at the backend) nor crowd other users out of
// the session store.
const (
	defaultStreamsPerSubject  = 16
	defaultSessionsPerSubject = 100
)

// subjectCounter counts the open GET listening streams of each subject.
// Its map holds only subjects with a stream open, so its size is bounded by
// the open connections.
type subjectCounter struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

func newSubjectCounter(max int) *subjectCounter {
	if max <= 0 {
		max = defaultStreamsPerSubject
	}
	return &subjectCounter{max: max, open: map[string]int{}}
}

// acquire takes one of subject's streams; false when all are in use.
func (c *subjectCounter) acquire(subject string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[subject] >= c.max {
		return false
	}
	c.open[subject]++
	return true
}

// release gives back a stream taken by acquire.
func (c *subjectCounter) release(subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[subject]--; c.open[subject] <= 0 {
		delete(c.open, subject)
	}
}

// tooManyStreams answers a GET above the subject's stream limit.
func tooManyStreams(w http.ResponseWriter) error {
	w.Header().Set("Retry-After", "30")
	return writeJSON(w, http.StatusTooManyRequests, rpcmessage.ErrorBody(nil, rpcmessage.CodeInvalidRequest,
		"too many open listening streams for this user; close one first"))
}

// tooManySessions answers an initialize above the subject's session limit.
func tooManySessions(w http.ResponseWriter) error {
	w.Header().Set("Retry-After", "60")
	return writeJSON(w, http.StatusTooManyRequests, rpcmessage.ErrorBody(nil, rpcmessage.CodeInvalidRequest,
		"too many sessions for this user; end unused sessions (HTTP DELETE) or wait until idle ones expire"))
}
