package caddymodule

import (
	"bytes"
	"io"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

var listChanged = []byte("notifications/tools/list_changed")

// listChangedWatcher passes a response through untouched and unbuffered
// (flushes go straight to the client through Unwrap) while watching for
// notifications/tools/list_changed, after which the catalog is
// discovered anew. A false sighting (a tool result that quotes the method
// name) costs one extra tools/list; a missed one would leave the catalog
// stale, so the watch is a plain byte search across write boundaries.
type listChangedWatcher struct {
	*caddyhttp.ResponseWriterWrapper
	onChange func()
	tail     []byte
}

func (w *listChangedWatcher) Write(p []byte) (int, error) {
	w.scan(p)
	return w.ResponseWriterWrapper.Write(p)
}

func (w *listChangedWatcher) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(writerOnly{w}, r)
}

func (w *listChangedWatcher) scan(p []byte) {
	keep := len(listChanged) - 1
	// A sighting across the boundary: the held tail and p's first bytes.
	head := p
	if len(head) > keep {
		head = head[:keep]
	}
	boundary := append(append(make([]byte, 0, len(w.tail)+len(head)), w.tail...), head...)
	if bytes.Contains(boundary, listChanged) || bytes.Contains(p, listChanged) {
		w.onChange()
	}
	// Hold the last keep bytes of everything seen.
	if len(p) >= keep {
		w.tail = append(w.tail[:0], p[len(p)-keep:]...)
		return
	}
	all := append(append(make([]byte, 0, len(w.tail)+len(p)), w.tail...), p...)
	if len(all) > keep {
		all = all[len(all)-keep:]
	}
	w.tail = all
}
