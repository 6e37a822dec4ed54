package caddymodule

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// arrival is n bytes that arrive after a pause.
type arrival struct {
	after time.Duration
	n     int
}

// scriptedBody plays arrivals on a fake clock, as a connection with read
// deadlines would: a read blocks until the next arrival, or fails with
// os.ErrDeadlineExceeded at the deadline if that comes first (or at the
// same time).
type scriptedBody struct {
	now      time.Time
	deadline time.Time
	script   []arrival
	set      int // deadlines set
}

func (s *scriptedBody) clock() time.Time { return s.now }

func (s *scriptedBody) setDeadline(t time.Time) error {
	s.deadline = t
	s.set++
	return nil
}

func (s *scriptedBody) Read(b []byte) (int, error) {
	if len(s.script) == 0 {
		return 0, io.EOF
	}
	next := s.now.Add(s.script[0].after)
	// As with a net.Conn, bytes arriving at the deadline's very instant
	// come too late.
	if !s.deadline.IsZero() && !next.Before(s.deadline) {
		if s.now.Before(s.deadline) {
			s.now = s.deadline
		}
		s.script[0].after = next.Sub(s.now)
		return 0, fmt.Errorf("read tcp: %w", os.ErrDeadlineExceeded)
	}
	s.now = next
	n := min(len(b), s.script[0].n)
	s.script[0].n -= n
	s.script[0].after = 0
	if s.script[0].n == 0 {
		s.script = s.script[1:]
	}
	return n, nil
}

// steady is total bytes in reads of size, one every interval.
func steady(total, size int, interval time.Duration) []arrival {
	var out []arrival
	for total > 0 {
		n := min(size, total)
		out = append(out, arrival{interval, n})
		total -= n
	}
	return out
}

func TestPaceReader(t *testing.T) {
	defaults := bodyPace{grace: 10 * time.Second, window: 5 * time.Second, minBytes: 1 << 10, total: 60 * time.Second}
	noRate := defaults
	noRate.minBytes = -1
	cases := []struct {
		name   string
		pace   bodyPace
		script []arrival
		reason string        // "" when the body completes
		at     time.Duration // when it is cut, from the start
	}{
		{name: "small body at once", pace: defaults, script: []arrival{{0, 300}}},
		{name: "small body within the grace", pace: defaults, script: []arrival{{9 * time.Second, 300}}},
		{name: "nothing within the grace", pace: defaults, script: []arrival{{11 * time.Second, 300}}, reason: slowMinRate, at: 10 * time.Second},
		{name: "1 MiB at 64 KiB/s", pace: defaults, script: steady(1<<20, 8<<10, time.Second/8)},
		{name: "1 MiB at 64 KiB/s in 1 KiB reads", pace: defaults, script: steady(1<<20, 1<<10, time.Second/64)},
		{name: "1 MiB at 20 KiB/s", pace: defaults, script: steady(1<<20, 1<<10, time.Second/20)},
		{name: "a byte every 2s", pace: defaults, script: steady(1<<20, 1, 2*time.Second), reason: slowMinRate, at: 10 * time.Second},
		{name: "just above the minimum rate, until the cap", pace: defaults, script: steady(1<<20, 1<<10, 4*time.Second), reason: slowTimeout, at: 60 * time.Second},
		{name: "fast start then stall within the grace", pace: defaults,
			script: append(steady(512<<10, 64<<10, 0), arrival{time.Hour, 1}), reason: slowMinRate, at: 10 * time.Second},
		{name: "fast start for 8s then stall", pace: defaults,
			script: append(steady(512<<10, 8<<10, time.Second/8), arrival{time.Hour, 1}), reason: slowMinRate, at: 13 * time.Second},
		{name: "slow after a fast start", pace: defaults,
			script: append(steady(512<<10, 8<<10, time.Second/8), steady(1<<10, 1, time.Second)...), reason: slowMinRate, at: 13 * time.Second},
		{name: "a long pause after the grace", pace: defaults,
			script: append(steady(64<<10, 1<<10, time.Second/4), arrival{6 * time.Second, 1 << 10}), reason: slowMinRate, at: 21 * time.Second},
		{name: "rate off: a trickle lasts until the cap", pace: noRate, script: steady(1<<20, 1, 2*time.Second), reason: slowTimeout, at: 60 * time.Second},
		{name: "rate off: a stall lasts until the cap", pace: noRate, script: []arrival{{0, 10}, {time.Hour, 1}}, reason: slowTimeout, at: 60 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := 0
			for _, a := range tc.script {
				want += a.n
			}
			src := &scriptedBody{now: time.Unix(1e9, 0), script: tc.script}
			start := src.now
			p := &paceReader{src: src, pace: tc.pace, deadlines: deadlineFunc(src.setDeadline), now: src.clock, start: start}
			body, err := readAll(p, -1, 2<<20)
			var slow *slowBodyError
			switch {
			case tc.reason == "" && err != nil:
				t.Fatalf("cut after %d bytes at %s: %v", len(body), src.now.Sub(start), err)
			case tc.reason == "" && len(body) != want:
				t.Fatalf("read %d bytes, want %d", len(body), want)
			case tc.reason == "":
			case !errors.As(err, &slow):
				t.Fatalf("read %d bytes until %s, err %v; want cut for %s", len(body), src.now.Sub(start), err, tc.reason)
			case slow.reason != tc.reason || slow.after > tc.at || slow.after < tc.at-tc.pace.window/32:
				// Arrivals closer than a 32nd of the window share a mark
				// dated by the first: the cut may come that much earlier.
				t.Errorf("cut for %s after %s, want %s after %s", slow.reason, slow.after, tc.reason, tc.at)
			}
			if len(p.marks)-p.head > 40 {
				t.Errorf("%d live marks", len(p.marks)-p.head)
			}
		})
	}
}

// TestPaceReaderWithoutDeadlines: where read deadlines are unsupported
// (a recorder), the pace is still checked between reads.
func TestPaceReaderWithoutDeadlines(t *testing.T) {
	src := &scriptedBody{now: time.Unix(1e9, 0), script: steady(100, 1, 3*time.Second)}
	p := &paceReader{src: src, pace: bodyPace{grace: 10 * time.Second, window: 5 * time.Second, minBytes: 1024, total: time.Minute},
		deadlines: deadlineFunc(func(time.Time) error { return http.ErrNotSupported }), now: src.clock, start: src.now}
	body, err := io.ReadAll(p)
	var slow *slowBodyError
	if !errors.As(err, &slow) || slow.reason != slowMinRate || len(body) != 4 {
		t.Errorf("read %d bytes, err %v; want 4 bytes and a min_rate cut", len(body), err)
	}
}

func TestReadAllGrowsWithArrivals(t *testing.T) {
	cases := []struct {
		name            string
		body            string
		declared, limit int64
		maxCap          int
	}{
		{"declares 1 MiB, sends 100 bytes", strings.Repeat("a", 100), 1 << 20, 1 << 20, 512},
		{"declared length exactly", strings.Repeat("a", 3000), 3000, 1 << 20, 3001},
		{"chunked", strings.Repeat("a", 5000), -1, 1 << 20, 8192},
		{"small declared body", "{}", 2, 1 << 20, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := readAll(strings.NewReader(tc.body), tc.declared, tc.limit)
			if err != nil || string(b) != tc.body {
				t.Fatalf("read %d bytes, %v", len(b), err)
			}
			if cap(b) > tc.maxCap {
				t.Errorf("buffer of %d bytes for %d read, want at most %d", cap(b), len(b), tc.maxCap)
			}
		})
	}
}

func TestOnceLog(t *testing.T) {
	o := newOnceLog(3, time.Hour)
	now := time.Unix(1e9, 0)
	if !o.first("a", now) || o.first("a", now.Add(time.Minute)) {
		t.Fatal("a logged twice within the TTL, or not at all")
	}
	if !o.first("a", now.Add(2*time.Hour)) {
		t.Error("a not logged again after the TTL")
	}
	for i := range 10 {
		o.first(fmt.Sprint("k", i), now.Add(3*time.Hour+time.Duration(i)*time.Second))
	}
	if len(o.seen) > 3 {
		t.Errorf("%d keys kept, bound 3", len(o.seen))
	}
	if o.first("k9", now.Add(3*time.Hour+time.Minute)) {
		t.Error("the newest key was forgotten")
	}
}

// countingBody counts the bytes read from it.
type countingBody struct {
	r    io.Reader
	read int
}

func (c *countingBody) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.read += n
	return n, err
}

func (c *countingBody) Close() error { return nil }

// TestBodyNotReadBeforeAuthentication: a client without valid
// credentials gets its 401 before a byte of its body is read, whatever
// its Content-Type (issue 9, finding 5).
func TestBodyNotReadBeforeAuthentication(t *testing.T) {
	g := testGateway(t)
	for _, tc := range []struct {
		name, auth, origin, ctype, body string
		code                            int
	}{
		{"form without credentials", "", "", "application/x-www-form-urlencoded", "access_token=abc&" + strings.Repeat("a=b&", 1<<16), http.StatusUnauthorized},
		{"form with an invalid token", "Bearer stale", "", "application/x-www-form-urlencoded", "a=b", http.StatusUnauthorized},
		{"json without credentials", "", "", "application/json", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, http.StatusUnauthorized},
		{"json from a foreign origin", "Bearer good", "https://evil.example", "application/json", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &countingBody{r: strings.NewReader(tc.body)}
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r.Body, r.ContentLength = body, int64(len(tc.body))
			r.Header.Set("Content-Type", tc.ctype)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			res := serve(t, g, r)
			if res.code != tc.code || body.read != 0 {
				t.Errorf("status %d after reading %d body bytes; want %d having read none", res.code, body.read, tc.code)
			}
			// Nor is the body drained by net/http after the answer.
			if c := res.header.Get("Connection"); c != "close" {
				t.Errorf("Connection %q, want close", c)
			}
		})
	}
}

// TestFormToken: an authenticated client's form body that carries
// access_token is refused; the token there is never used.
func TestFormToken(t *testing.T) {
	g := testGateway(t)
	for _, tc := range []struct {
		ctype, body string
		code        int
	}{
		{"application/x-www-form-urlencoded", "access_token=abc", 400},
		{"application/x-www-form-urlencoded; charset=utf-8", "a=1&ACCESS_TOKEN=abc", 400},
		{"application/json", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"access_token":"x"}}`, 299},
	} {
		r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", tc.ctype)
		r.Header.Set("Accept", "application/json, text/event-stream")
		r.Header.Set("Authorization", "Bearer good")
		res := serve(t, g, r)
		if res.code != tc.code {
			t.Errorf("%s %q: status %d, want %d (%s)", tc.ctype, tc.body, res.code, tc.code, res.body)
		}
		// A body read whole leaves the connection open.
		if c := res.header.Get("Connection"); c != "" {
			t.Errorf("%s %q: Connection %q after the body was read", tc.ctype, tc.body, c)
		}
	}
}

// TestTrailersDropped: request trailers never reach the backend, nor the
// header announcing them (issue 19, point 6).
func TestTrailersDropped(t *testing.T) {
	g := testGateway(t)
	msg := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Body, r.ContentLength, r.TransferEncoding = io.NopCloser(bytes.NewReader([]byte(msg))), -1, []string{"chunked"}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	r.Header.Set("Authorization", "Bearer good")
	r.Header.Set("Trailer", "Mcp-Method, X-Scopegate-Subject")
	r.Trailer = http.Header{"Mcp-Method": {"tools/call"}, "X-Scopegate-Subject": {"root"}}
	res := serve(t, g, r)
	if res.reached == nil {
		t.Fatalf("not forwarded: %d %s", res.code, res.body)
	}
	if res.reached.Trailer != nil || res.reached.Header.Get("Trailer") != "" {
		t.Errorf("backend sees trailers %v, Trailer header %q", res.reached.Trailer, res.reached.Header.Get("Trailer"))
	}
}

// FuzzPaceReader plays arbitrary arrival scripts and holds every cut to
// the rule: a min_rate cut comes after the grace, when the last window
// (less the 32nd by which arrivals are grouped) brought fewer than the
// minimum; a timeout cut at the cap; a body read whole never broke the
// exact rule.
func FuzzPaceReader(f *testing.F) {
	f.Add([]byte{0, 20})
	f.Add([]byte{20, 1, 20, 1, 20, 1, 20, 1, 20, 1, 20, 1})
	f.Add([]byte{1, 255, 1, 255, 1, 255, 1, 255, 60, 255, 1, 1})
	f.Add([]byte{99, 64, 49, 64, 51, 64, 5, 64})
	f.Fuzz(func(t *testing.T, data []byte) {
		pace := bodyPace{grace: 10 * time.Second, window: 5 * time.Second, minBytes: 1 << 10, total: 60 * time.Second}
		// Each pair: a pause in tenths of a second, then 16×n bytes.
		var script []arrival
		for i := 0; i+1 < len(data); i += 2 {
			script = append(script, arrival{time.Duration(data[i]) * 100 * time.Millisecond, 16 * int(data[i+1])})
		}
		start := time.Unix(1e9, 0)
		// The arrivals' times, for the oracle.
		type at struct {
			t time.Duration
			n int
		}
		var arrivals []at
		var now time.Duration
		sent := 0
		for _, a := range script {
			now += a.after
			arrivals = append(arrivals, at{now, a.n})
			sent += a.n
		}
		inWindow := func(from, to time.Duration) int { // bytes in (from, to]
			n := 0
			for _, a := range arrivals {
				if a.t > from && a.t <= to {
					n += a.n
				}
			}
			return n
		}
		src := &scriptedBody{now: start, script: slices.Clone(script)}
		p := &paceReader{src: src, pace: pace, deadlines: deadlineFunc(src.setDeadline), now: src.clock, start: start}
		body, err := readAll(p, -1, 1<<30)
		var slow *slowBodyError
		switch {
		case err == nil:
			if len(body) != sent {
				t.Fatalf("read %d of %d bytes", len(body), sent)
			}
			end := now
			if end > pace.total {
				t.Fatalf("complete at %s, past the cap", end)
			}
			// The exact rule: from the grace on, every window before
			// the end holds the minimum. It can only break at the
			// grace or when an arrival leaves the window.
			checks := []time.Duration{pace.grace}
			for _, a := range arrivals {
				checks = append(checks, a.t+pace.window)
			}
			for _, c := range checks {
				if c >= pace.grace && c < end && inWindow(c-pace.window, c) < int(pace.minBytes) {
					t.Fatalf("passed a body whose window ending at %s held %d bytes", c, inWindow(c-pace.window, c))
				}
			}
		case !errors.As(err, &slow):
			t.Fatalf("error %v", err)
		case slow.reason == slowTimeout:
			if slow.after != pace.total {
				t.Fatalf("timeout cut at %s", slow.after)
			}
		default:
			c := slow.after
			if c < pace.grace {
				t.Fatalf("min_rate cut at %s, within the grace", c)
			}
			if n := inWindow(c-pace.window+pace.window/32, c-1); n >= int(pace.minBytes) {
				t.Fatalf("min_rate cut at %s although %d bytes came in the last window", c, n)
			}
			// Every byte that came before the cut was read; those coming
			// at its very instant may or may not be.
			if int64(len(body)) != slow.read || len(body) < inWindow(-1, c-1) || len(body) > inWindow(-1, c) {
				t.Fatalf("read %d bytes, reported %d; %d arrived before the cut, %d by it", len(body), slow.read, inWindow(-1, c-1), inWindow(-1, c))
			}
		}
	})
}

func TestSetContentLength(t *testing.T) {
	for _, tc := range []struct {
		name string
		sent []string
	}{
		{"absent", nil},
		{"one", []string{"999"}},
		{"two", []string{"1", "2"}}, // replaced by exactly one value
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.sent != nil {
				h["Content-Length"] = tc.sent
			}
			setContentLength(h, 42)
			if got := h.Values("Content-Length"); len(got) != 1 || got[0] != "42" {
				t.Fatalf("Content-Length = %q, want [42]", got)
			}
		})
	}
}
