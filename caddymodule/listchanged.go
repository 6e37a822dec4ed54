package caddymodule

import (
	"bytes"
	"io"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

const listChanged = "notifications/tools/list_changed"

// listChangedWatcher passes a response through untouched and unbuffered
// (flushes go straight to the client through Unwrap) while watching for
// notifications/tools/list_changed, after which the catalog is
// discovered anew. A false sighting (a tool result that quotes the method
// name) costs one extra tools/list; a missed one would leave the catalog
// stale, so the watch is a plain byte search across write boundaries.
type listChangedWatcher struct {
	*caddyhttp.ResponseWriterWrapper
	onChange func()
	// tail holds the last len(listChanged)-1 bytes seen, for a sighting
	// split across writes; buf backs it and the boundary check, so a
	// write allocates nothing.
	tail []byte
	buf  [2 * len(listChanged)]byte
}

func (w *listChangedWatcher) Write(p []byte) (int, error) {
	w.scan(p)
	return w.ResponseWriterWrapper.Write(p)
}

func (w *listChangedWatcher) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(writerOnly{w}, r)
}

func (w *listChangedWatcher) scan(p []byte) {
	const keep = len(listChanged) - 1
	// A sighting across the boundary: the held tail and p's first bytes.
	head := p[:min(len(p), keep)]
	boundary := append(append(w.buf[:0], w.tail...), head...)
	if bytes.Contains(boundary, []byte(listChanged)) || bytes.Contains(p, []byte(listChanged)) {
		w.onChange()
	}
	// Hold the last keep bytes of everything seen (boundary ends where
	// the tail and a short p end).
	if len(p) < keep {
		p = boundary
	}
	w.tail = append(w.tail[:0], p[max(0, len(p)-keep):]...)
}
