package caddymodule

import (
	"bytes"
	"io"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

const listChanged = "notifications/tools/list_changed"

// listChangedWatcher passes a response through untouched and unbuffered
// (flushes go straight to the client through Unwrap) while watching for
// notifications/tools/list_changed, after which the catalog is discovered
// anew. Only a JSON member "method" whose value is that name counts (the
// shape of the notification, in an SSE data: line or a JSON body): the
// name as an id a client chose, inside a string (a quoted tool result, an
// error message) or as another member's value does not. Whatever still
// slips through costs one rate-limited tools/list walk.
type listChangedWatcher struct {
	caddyhttp.ResponseWriterWrapper // by value: one allocation fewer per request
	onChange                        func()
	m                               methodMatcher
}

func (w *listChangedWatcher) Write(p []byte) (int, error) {
	if w.m.scan(p) {
		w.onChange()
	}
	return w.ResponseWriterWrapper.Write(p)
}

func (w *listChangedWatcher) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(writerOnly{w}, r)
}

// The matcher's token sequence: the key, a colon, the value, JSON
// whitespace allowed between them.
const (
	methodKey   = `"method"`
	methodValue = `"` + listChanged + `"`
)

// methodMatcher recognises `"method" : "notifications/tools/list_changed"`
// byte by byte, across writes, without buffering or allocating. Inside a
// JSON string every quote is escaped, so the unescaped key-colon-value
// sequence occurs only as a real member. The value may escape its slashes
// (`\/`), as some JSON encoders do.
type methodMatcher struct {
	phase   uint8 // 0: in the key, 1: before the colon, 2: before the value, 3: in the value
	i       int   // bytes of the key or value matched
	escaped bool  // a backslash seen in the value, before a '/'
}

// scan feeds p and reports whether a notification completed in it.
func (m *methodMatcher) scan(p []byte) bool {
	found := false
	for len(p) > 0 {
		// At rest (nothing matched) only a quote changes the state: step
		// leaves it at rest for every other byte, so skip to the next.
		if *m == (methodMatcher{}) {
			j := bytes.IndexByte(p, '"')
			if j < 0 {
				return found
			}
			p = p[j:]
		}
		if m.step(p[0]) {
			found = true
		}
		p = p[1:]
	}
	return found
}

func (m *methodMatcher) step(c byte) bool {
	switch m.phase {
	case 0:
		if c == methodKey[m.i] {
			m.i++
			if m.i == len(methodKey) {
				m.phase, m.i = 1, 0
			}
			return false
		}
	case 1, 2:
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			return false
		case m.phase == 1 && c == ':':
			m.phase = 2
			return false
		case m.phase == 2 && c == '"':
			m.phase, m.i = 3, 1
			return false
		}
	case 3:
		want := methodValue[m.i]
		switch {
		case m.escaped:
			m.escaped = false
			if c != '/' || want != '/' {
				break
			}
			m.i++
			return false
		case c == '\\' && want == '/':
			m.escaped = true
			return false
		case c == want:
			m.i++
			if m.i == len(methodValue) {
				m.reset()
				return true
			}
			return false
		}
	}
	// Mismatch: start over; this byte may open a new key.
	m.reset()
	if c == '"' {
		m.i = 1
	}
	return false
}

func (m *methodMatcher) reset() { *m = methodMatcher{} }

// rediscoveryInterval is the least time between two catalog walks caused
// by list_changed notifications.
const rediscoveryInterval = 10 * time.Second

// rediscovery runs fn at most once per interval: the first notification at
// once, any later ones within the interval as one trailing run at its
// end, so a change is never missed and a flood costs two walks.
type rediscovery struct {
	fn       func()
	interval time.Duration
	// onChange is trigger as a func value, made once: every response
	// watched would otherwise allocate one.
	onChange func()

	mu      sync.Mutex
	last    time.Time
	timer   *time.Timer
	stopped bool
}

func newRediscovery(fn func(), interval time.Duration) *rediscovery {
	r := &rediscovery{fn: fn, interval: interval}
	r.onChange = r.trigger
	return r
}

func (r *rediscovery) trigger() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped || r.timer != nil {
		return // a trailing run is already due
	}
	now := time.Now()
	if wait := r.interval - now.Sub(r.last); r.last.IsZero() || wait <= 0 {
		r.last = now
		go r.fn()
	} else {
		r.timer = time.AfterFunc(wait, r.fire)
	}
}

func (r *rediscovery) fire() {
	r.mu.Lock()
	r.timer = nil
	if r.stopped {
		r.mu.Unlock()
		return
	}
	r.last = time.Now()
	r.mu.Unlock()
	r.fn()
}

// stop cancels a pending run; later triggers do nothing.
func (r *rediscovery) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
}
