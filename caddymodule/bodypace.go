package caddymodule

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
)

// How long a client may take to send a POST body. A deadline that grows
// with the declared Content-Length would let a client declaring 1 MiB
// trickle a byte every few seconds for an hour; so, as mature servers do,
// the time is bounded instead: a short grace for the first bytes, then a
// minimum rate over a sliding window, and a cap on the whole body.
const (
	defaultBodyGrace      = 10 * time.Second
	defaultBodyMinBytes   = 1 << 10
	defaultBodyRateWindow = 5 * time.Second
	// defaultBodyTimeout is per MiB of max_body_size (at least once): a
	// whole 1 MiB body must arrive within a minute, about 17 KiB/s.
	defaultBodyTimeout = 60 * time.Second
)

// Labels of the slow-body counter, a bounded set.
const (
	slowMinRate = "min_rate" // fewer than the minimum bytes in a window
	slowTimeout = "timeout"  // the whole body took longer than the cap
)

// bodyPace bounds the time a body may take.
type bodyPace struct {
	grace    time.Duration // before the minimum rate applies
	window   time.Duration // the sliding window of the minimum rate
	minBytes int64         // in every window after the grace; ≤ 0: no rate
	total    time.Duration // the whole body
}

// setupBody derives the pace from the options and their defaults.
func (g *Gateway) setupBody() {
	g.body = g.bodyPace()
	g.slowLog = newOnceLog(slowLogSize, slowLogTTL)
}

func (g *Gateway) bodyPace() bodyPace {
	p := bodyPace{grace: defaultBodyGrace, window: defaultBodyRateWindow, minBytes: defaultBodyMinBytes}
	if g.BodyGrace > 0 {
		p.grace = time.Duration(g.BodyGrace)
	}
	if g.BodyRateWindow > 0 {
		p.window = time.Duration(g.BodyRateWindow)
	}
	if g.BodyMinBytes != 0 {
		p.minBytes = g.BodyMinBytes
	}
	p.total = defaultBodyTimeout * time.Duration((g.maxBodySize()+1<<20-1)>>20)
	if g.BodyTimeout > 0 {
		p.total = time.Duration(g.BodyTimeout)
	}
	return p
}

// validateBody rejects body limits that make no sense.
func (g *Gateway) validateBody() error {
	if g.BodyGrace < 0 || g.BodyRateWindow < 0 || g.BodyTimeout < 0 {
		return errors.New("mcp_gateway: body_grace, body_min_rate's window and body_timeout must not be negative")
	}
	return nil
}

// pace is the gateway's pace for r. A shorter read_body of the Caddy
// server still applies: the gateway's deadlines replace the server's on
// the connection while it reads.
func (g *Gateway) pace(r *http.Request) bodyPace {
	p := g.body
	if p.total == 0 { // not provisioned (unit tests)
		p = g.bodyPace()
	}
	if srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok && srv.ReadTimeout > 0 && srv.ReadTimeout < p.total {
		p.total = srv.ReadTimeout
	}
	return p
}

// slowBodyError is a body that came too slowly.
type slowBodyError struct {
	reason string // slowMinRate or slowTimeout
	read   int64
	after  time.Duration
	pace   bodyPace
}

func (e *slowBodyError) Error() string {
	if e.reason == slowTimeout {
		return fmt.Sprintf("not complete within %s", e.pace.total)
	}
	return fmt.Sprintf("too slow: less than %s in %s", humanize.IBytes(uint64(e.pace.minBytes)), e.pace.window)
}

// readPaced reads r's body, at most limit bytes, at the pace or fails
// with a *slowBodyError. A stalled read is interrupted by read deadlines
// on the connection (HTTP/1) or stream (HTTP/2).
func readPaced(w http.ResponseWriter, r *http.Request, limit int64, pace bodyPace) ([]byte, error) {
	p := &paceReader{
		src:  http.MaxBytesReader(w, r.Body, limit),
		pace: pace,
		now:  time.Now,
	}
	// The controller and the first marks live inside p: this runs on
	// every POST, and each would otherwise be an allocation of its own.
	p.rc = *http.NewResponseController(w)
	p.deadlines = &p.rc
	p.marks = p.firstMarks[:0]
	p.start = p.now()
	body, err := readAll(p, r.ContentLength, limit)
	p.release()
	return body, err
}

// readAll reads src to its end. The buffer grows as bytes arrive, never
// beyond the declared length or the limit (plus one byte to see the end),
// so a client that declares a large body and sends little is charged
// memory only for what it sent.
func readAll(src io.Reader, declared, limit int64) ([]byte, error) {
	most := limit + 1
	if declared >= 0 && declared < limit {
		most = declared + 1
	}
	b := make([]byte, 0, min(512, most))
	for {
		if len(b) == cap(b) {
			grown := make([]byte, len(b), max(min(2*int64(cap(b)), most), int64(cap(b))+512))
			copy(grown, b)
			b = grown
		}
		n, err := src.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// paceReader enforces a bodyPace. Before each read it computes the moment
// the pace would be broken if nothing more arrived, and sets it as the
// read deadline.
type paceReader struct {
	src  io.Reader
	pace bodyPace
	// deadlines sets the read deadline; nil once it proved unsupported
	// (then the pace is checked only between reads).
	deadlines deadlineSetter
	now       func() time.Time
	rc        http.ResponseController // what deadlines points to in readPaced

	start time.Time
	read  int64
	// marks record arrivals (time, bytes read so far) not yet irrelevant
	// to the window; marks[head:] are live.
	marks      []paceMark
	firstMarks [2]paceMark
	head       int
	set        time.Time // the deadline last set
}

// deadlineSetter is what paceReader needs of an http.ResponseController.
type deadlineSetter interface{ SetReadDeadline(time.Time) error }

// deadlineFunc is a deadlineSetter made of a function.
type deadlineFunc func(time.Time) error

func (f deadlineFunc) SetReadDeadline(t time.Time) error { return f(t) }

type paceMark struct {
	at time.Time
	n  int64
}

func (p *paceReader) Read(b []byte) (int, error) {
	dl, reason := p.deadline()
	if now := p.now(); !now.Before(dl) {
		return 0, p.slow(reason, now)
	}
	if p.deadlines != nil && !dl.Equal(p.set) {
		if err := p.deadlines.SetReadDeadline(dl); err != nil {
			p.deadlines = nil
		} else {
			p.set = dl
		}
	}
	n, err := p.src.Read(b)
	now := p.now()
	if n > 0 {
		p.record(now, int64(n))
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, p.slow(reason, now)
	}
	return n, err
}

func (p *paceReader) slow(reason string, now time.Time) error {
	return &slowBodyError{reason: reason, read: p.read, after: now.Sub(p.start), pace: p.pace}
}

// release lifts the read deadline. HTTP/1 lifts it itself at the body's
// end (its background read must not time out: that would cancel the
// request's context); HTTP/2 keeps a timer per stream.
func (p *paceReader) release() {
	if p.deadlines != nil && !p.set.IsZero() {
		_ = p.deadlines.SetReadDeadline(time.Time{})
	}
}

// deadline is when the pace breaks if no more bytes arrive, and which
// bound breaks then.
//
// The last window must hold minBytes. With no more arrivals, the bytes in
// the window ending at t are those that came after t-window; they fall
// below minBytes once the window no longer covers the arrival that took
// the count above read-minBytes (the anchor). So the pace breaks at
// anchor+window, but never before the grace ends.
func (p *paceReader) deadline() (time.Time, string) {
	end := p.start.Add(p.pace.total)
	if p.pace.minBytes <= 0 {
		return end, slowTimeout
	}
	dl := p.start.Add(p.pace.grace)
	if t := p.anchor().Add(p.pace.window); t.After(dl) {
		dl = t
	}
	if end.Before(dl) {
		return end, slowTimeout
	}
	return dl, slowMinRate
}

// anchor is when the bytes read first exceeded read-minBytes; the start
// while fewer than minBytes were read.
func (p *paceReader) anchor() time.Time {
	threshold := p.read - p.pace.minBytes
	if threshold < 0 {
		return p.start
	}
	// The threshold only grows: a mark at or below it never counts again.
	for p.head < len(p.marks) && p.marks[p.head].n <= threshold {
		p.head++
	}
	return p.marks[p.head].at
}

// record notes an arrival. Arrivals closer than a 32nd of the window
// share one mark (dated by the earliest, so the pace is never more
// lenient than exact): at most about 33 marks are live.
func (p *paceReader) record(now time.Time, n int64) {
	p.read += n
	if last := len(p.marks) - 1; last >= p.head && now.Sub(p.marks[last].at) < p.pace.window/32 {
		p.marks[last].n = p.read
		return
	}
	if p.head > 32 && p.head*2 > len(p.marks) {
		p.marks = append(p.marks[:0], p.marks[p.head:]...)
		p.head = 0
	}
	p.marks = append(p.marks, paceMark{at: now, n: p.read})
}

// A client address is logged once per slowLogTTL; the set is bounded.
const (
	slowLogSize = 4096
	slowLogTTL  = time.Hour
)

// onceLog remembers keys already logged, so that an attack of many
// connections from one address makes one log line, not thousands. When
// full it forgets the oldest key.
type onceLog struct {
	mu   sync.Mutex
	seen map[string]time.Time
	size int
	ttl  time.Duration
}

func newOnceLog(size int, ttl time.Duration) *onceLog {
	return &onceLog{seen: make(map[string]time.Time), size: size, ttl: ttl}
}

// first reports whether key was not logged within the TTL, and records it.
func (o *onceLog) first(key string, now time.Time) bool {
	if o == nil {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if at, ok := o.seen[key]; ok && now.Sub(at) < o.ttl {
		return false
	}
	if len(o.seen) >= o.size {
		var oldest string
		var oldestAt time.Time
		for k, at := range o.seen {
			if now.Sub(at) >= o.ttl {
				delete(o.seen, k)
			} else if oldest == "" || at.Before(oldestAt) {
				oldest, oldestAt = k, at
			}
		}
		if len(o.seen) >= o.size {
			delete(o.seen, oldest)
		}
	}
	o.seen[key] = now
	return true
}
