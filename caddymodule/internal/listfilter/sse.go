package listfilter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// DefaultMaxEventSize bounds one SSE event held while it is incomplete.
const DefaultMaxEventSize = 16 << 20

// ErrEventTooLarge is returned by SSEWriter.Write when an event grows past
// the size limit. The writer has then emitted an error event and refuses
// all further input.
var ErrEventTooLarge = errors.New("sse: event too large")

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("sse: write after close")

var bom = []byte{0xEF, 0xBB, 0xBF}

// SSEWriter rewrites a text/event-stream on its way to dst. It parses the
// stream into events by the WHATWG rules (lines end in CR, LF or CRLF, a
// leading BOM is ignored, "data" lines of one event are joined with LF, an
// empty line ends an event) and writes every complete event to dst as soon
// as it is complete, holding back only an incomplete trailing event.
//
// Events are re-serialised rather than copied, so that the client reads
// exactly what was filtered, whatever line endings or field splitting the
// upstream used:
//   - comment lines, and "id", "event" and "retry" fields, are kept (in
//     order, with the last "event" written once); unknown fields, which
//     readers ignore, are dropped; lines end in LF;
//   - an event whose data is a JSON-RPC response is filtered with the
//     Rewriter and written as one compact "data:" line;
//   - an event whose data is a request or notification (progress, logging,
//     server requests), or empty (priming events), keeps its data;
//   - an event whose data cannot be read unambiguously, a response that
//     cannot be filtered, or any other data, is replaced by an
//     "event: message" carrying a JSON-RPC error with code -32603 and the
//     response's id (or Rewriter.RequestID). The raw data never passes.
//
// At Close an incomplete event is dropped, as a WHATWG reader drops it at
// the end of the stream.
//
// An SSEWriter is not safe for concurrent use.
type SSEWriter struct {
	dst io.Writer
	rw  *Rewriter
	// MaxEventSize bounds one incomplete event; 0 means DefaultMaxEventSize.
	MaxEventSize int

	bomSeen int  // bytes of a leading BOM matched; -1 once decided
	skipLF  bool // the last line ended in CR: an LF next belongs to it
	line    []byte
	ev      event
	out     []byte
	err     error
	onFail  func(error) // ReadPage learns of replaced events through it
	bufs    *sseBuffers // where the buffers came from, to return at Close
}

// event is an event being collected, already in canonical form.
type event struct {
	fields    []byte // comment, id and retry lines, each ending in LF
	eventType []byte // value of the last "event" field
	hasType   bool
	data      []byte // data lines, each followed by LF (WHATWG data buffer)
	hasData   bool
}

func (e *event) size() int { return len(e.fields) + len(e.eventType) + len(e.data) }

func (e *event) reset() {
	e.fields, e.eventType, e.data = e.fields[:0], e.eventType[:0], e.data[:0]
	e.hasType, e.hasData = false, false
}

// NewSSEWriter returns a writer that filters the event stream written to it
// through rw and writes the result to dst.
func NewSSEWriter(dst io.Writer, rw *Rewriter) *SSEWriter {
	s := &SSEWriter{dst: dst, rw: rw}
	if b, ok := bufPool.Get().(*sseBuffers); ok {
		s.line, s.ev.data, s.out, s.bufs = b.line, b.data, b.out, b
	}
	return s
}

// sseBuffers are the buffers of a closed SSEWriter, kept for the next one:
// a list event of 45 KB would otherwise grow a line and a data buffer from
// nothing for every response. Nothing handed to the Rewriter's callbacks or
// to dst outlives a Write (Item.Meta is a copy), so reuse is safe.
type sseBuffers struct{ line, data, out []byte }

var bufPool sync.Pool

// maxPooledBuffer bounds each buffer kept: a rare huge event must not stay
// in memory.
const maxPooledBuffer = 256 << 10

func (s *SSEWriter) release() {
	b := s.bufs
	if b == nil {
		b = new(sseBuffers)
	}
	s.bufs = nil
	keep := func(p []byte) []byte {
		if cap(p) > maxPooledBuffer {
			return nil
		}
		return p[:0]
	}
	b.line, b.data, b.out = keep(s.line), keep(s.ev.data), keep(s.out)
	bufPool.Put(b)
}

// Write parses p and writes every event it completes to dst. It returns
// len(p) unless writing to dst fails or an event grows too large.
func (s *SSEWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n := len(p)
	// A BOM may arrive split across writes; hold its bytes until decided.
	for s.bomSeen >= 0 && len(p) > 0 {
		if p[0] != bom[s.bomSeen] {
			matched := s.bomSeen
			s.bomSeen = -1
			s.feed(bom[:matched])
			break
		}
		s.bomSeen++
		p = p[1:]
		if s.bomSeen == len(bom) {
			s.bomSeen = -1
		}
	}
	s.feed(p)
	if err := s.emit(); err != nil {
		return 0, err
	}
	if s.err != nil {
		return n, s.err
	}
	return n, nil
}

// Flush writes complete events (Write already has) and flushes dst. It
// implements http.Flusher-style use for plain writers.
func (s *SSEWriter) Flush() error {
	if err := s.emit(); err != nil {
		return err
	}
	return flush(s.dst)
}

// Close ends the stream: an incomplete event is dropped. It writes nothing
// and returns the writer's error, if any.
func (s *SSEWriter) Close() error {
	if s.err == nil {
		s.err = ErrClosed
		s.release()
		s.line, s.ev, s.out = nil, event{}, nil
		return nil
	}
	if s.err == ErrClosed {
		return nil
	}
	return s.err
}

// flush flushes w the way http.ResponseController would, for writers that
// are not http.ResponseWriters too.
func flush(w io.Writer) error {
	switch f := w.(type) {
	case interface{ FlushError() error }:
		return f.FlushError()
	case http.Flusher:
		f.Flush()
	case http.ResponseWriter:
		err := http.NewResponseController(f).Flush()
		if errors.Is(err, http.ErrNotSupported) {
			return nil
		}
		return err
	}
	return nil
}

// emit writes what has been produced so far to dst.
func (s *SSEWriter) emit() error {
	if len(s.out) == 0 {
		return nil
	}
	_, err := s.dst.Write(s.out)
	s.out = s.out[:0]
	if err != nil {
		s.err = fmt.Errorf("sse: %w", err)
		return s.err
	}
	return nil
}

func (s *SSEWriter) limit() int {
	if s.MaxEventSize > 0 {
		return s.MaxEventSize
	}
	return DefaultMaxEventSize
}

// feed splits p into lines and processes them.
func (s *SSEWriter) feed(p []byte) {
	for len(p) > 0 && s.err == nil {
		if s.skipLF {
			s.skipLF = false
			if p[0] == '\n' {
				p = p[1:]
				continue
			}
		}
		i := lineEnd(p)
		if i < 0 {
			s.line = append(s.line, p...)
			s.checkSize()
			return
		}
		s.skipLF = p[i] == '\r'
		if len(s.line) == 0 {
			s.process(p[:i], false)
		} else {
			s.line = append(s.line, p[:i]...)
			s.process(s.line, true)
			s.line = s.line[:0]
		}
		p = p[i+1:]
		s.checkSize()
	}
}

func (s *SSEWriter) checkSize() {
	if len(s.line)+s.ev.size() <= s.limit() {
		return
	}
	// Fail closed: the event cannot be filtered within bounds.
	s.out = append(s.out, "event: message\ndata: "...)
	s.out = append(s.out, errorBody(s.rw.RequestID, "list response too large to filter")...)
	s.out = append(s.out, "\n\n"...)
	s.line, s.ev = nil, event{}
	s.err = ErrEventTooLarge
}

// lineEnd returns the index of the first CR or LF in p, or -1. Two
// IndexByte scans are much faster than a byte loop over a 45 KB data line.
func lineEnd(p []byte) int {
	i := bytes.IndexByte(p, '\n')
	scan := p
	if i >= 0 {
		scan = p[:i]
	}
	if j := bytes.IndexByte(scan, '\r'); j >= 0 {
		return j
	}
	return i
}

func hasLineEnd(p []byte) bool { return lineEnd(p) >= 0 }

// process handles one line (without its terminator). owned reports that
// line is s.line, whose buffer process may take.
func (s *SSEWriter) process(line []byte, owned bool) {
	if len(line) == 0 {
		s.dispatch()
		return
	}
	if line[0] == ':' {
		s.ev.fields = append(s.ev.fields, line...)
		s.ev.fields = append(s.ev.fields, '\n')
		return
	}
	field, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "data":
		if owned && len(s.ev.data) == 0 {
			// A long line, collected across writes: its buffer becomes
			// the data buffer rather than being copied into it.
			n := copy(line, value)
			s.line, s.ev.data = s.ev.data[:0], append(line[:n], '\n')
		} else {
			s.ev.data = append(s.ev.data, value...)
			s.ev.data = append(s.ev.data, '\n')
		}
		s.ev.hasData = true
	case "event":
		s.ev.eventType = append(s.ev.eventType[:0], value...)
		s.ev.hasType = true
	case "id", "retry":
		s.ev.fields = append(s.ev.fields, field...)
		s.ev.fields = append(s.ev.fields, ": "...)
		s.ev.fields = append(s.ev.fields, value...)
		s.ev.fields = append(s.ev.fields, '\n')
	}
}

// dispatch writes the completed event to s.out.
func (s *SSEWriter) dispatch() {
	ev := &s.ev
	defer ev.reset()
	if len(ev.fields) == 0 && !ev.hasType && !ev.hasData {
		return // a blank line with nothing before it
	}
	s.out = append(s.out, ev.fields...)
	if !ev.hasData {
		// No data: readers dispatch nothing but still take id and retry.
		if ev.hasType {
			s.writeType(ev.eventType)
		}
		s.out = append(s.out, '\n')
		return
	}
	data := ev.data[:len(ev.data)-1] // WHATWG: drop the last LF
	if len(bytes.TrimLeft(data, " \t\r\n")) == 0 {
		s.passData(ev, data)
		return
	}
	out, isResponse, id, err := s.rw.rewrite(data)
	switch {
	case err != nil:
		if s.onFail != nil {
			s.onFail(err)
		}
		if id == nil {
			id = s.rw.RequestID
		}
		s.writeType([]byte("message"))
		s.out = append(s.out, "data: "...)
		s.out = append(s.out, errorBody(id, "list response could not be filtered")...)
		s.out = append(s.out, "\n\n"...)
	case !isResponse && !s.rw.keep(data):
		// Dropped: the event keeps its id and retry fields, which readers
		// take without dispatching anything.
		s.out = append(s.out, '\n')
	case !isResponse:
		s.passData(ev, data)
	default:
		if ev.hasType {
			s.writeType(ev.eventType)
		}
		s.out = append(s.out, "data: "...)
		if !hasLineEnd(out) {
			s.out = append(s.out, out...)
			s.out = append(s.out, "\n\n"...)
			return
		}
		// Compact: the data must fit one line, and JSON whitespace may
		// contain CR or LF. Compact keeps string contents as they are.
		buf := bytes.NewBuffer(s.out)
		if err := json.Compact(buf, out); err != nil {
			// Cannot happen: rewrite returned valid JSON. Fail closed anyway;
			// s.out still ends in "data: ".
			s.out = append(s.out, errorBody(id, "list response could not be filtered")...)
		} else {
			s.out = buf.Bytes()
		}
		s.out = append(s.out, "\n\n"...)
	}
}

func (s *SSEWriter) writeType(t []byte) {
	s.out = append(s.out, "event: "...)
	s.out = append(s.out, t...)
	s.out = append(s.out, '\n')
}

// passData writes data unchanged, one "data:" line per line of it.
func (s *SSEWriter) passData(ev *event, data []byte) {
	if ev.hasType {
		s.writeType(ev.eventType)
	}
	for {
		i := bytes.IndexByte(data, '\n')
		s.out = append(s.out, "data: "...)
		if i < 0 {
			s.out = append(s.out, data...)
			s.out = append(s.out, "\n\n"...)
			return
		}
		s.out = append(s.out, data[:i]...)
		s.out = append(s.out, '\n')
		data = data[i+1:]
	}
}
