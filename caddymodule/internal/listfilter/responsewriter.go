package listfilter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// DefaultMaxBodySize bounds a buffered application/json list response.
const DefaultMaxBodySize = 16 << 20

// Reasons a ResponseWriter refuses to pass a response on.
var (
	ErrEncoded        = errors.New("listfilter: response has a content encoding")
	ErrUnexpectedType = errors.New("listfilter: response is neither json nor an event stream")
	ErrBodyTooLarge   = errors.New("listfilter: response too large to filter")
)

type mode uint8

const (
	modeUnset   mode = iota
	modePass         // bodies that carry no list: 202, 204, non-2xx text
	modeJSON         // buffered until Finish
	modeSSE          // streamed event by event
	modeRefused      // an error response has been written instead
)

// ResponseWriter is the writer the gateway hands to the next handler for a
// list request. At WriteHeader it chooses by status and Content-Type:
//
//   - application/json (any status): the body is buffered, up to a size
//     limit, and rewritten by Finish, which writes the status, a corrected
//     Content-Length and the filtered body;
//   - text/event-stream (any status): the status is written at once and the
//     stream is rewritten event by event through an SSEWriter; every
//     complete event is written as soon as it is complete and flushes reach
//     the client (Content-Length is removed);
//   - 202 or 204, and non-2xx responses of other types (error pages): passed
//     on unchanged;
//   - anything else, any Content-Encoding, or 101 Switching Protocols:
//     refused. Other 1xx responses pass and the choice waits for the final
//     status.
//
// A refused response, an oversized JSON body, or a JSON body that cannot be
// filtered is replaced by HTTP 502 with a JSON-RPC error (code -32603,
// Rewriter.RequestID); the upstream body is discarded. The request must be
// sent upstream without Accept-Encoding so that bodies arrive unencoded.
//
// It embeds caddyhttp.ResponseWriterWrapper; ReadFrom is overridden so that
// io.Copy cannot bypass the filter, and FlushError is defined so that
// http.ResponseController (as reverse_proxy uses) flushes through it.
type ResponseWriter struct {
	*caddyhttp.ResponseWriterWrapper
	rw *Rewriter
	// MaxBodySize bounds a buffered JSON body; 0 means DefaultMaxBodySize.
	MaxBodySize int

	mode    mode
	status  int
	buf     *bytes.Buffer // the JSON body, from jsonBufs
	sse     *SSEWriter
	refusal error
}

// jsonBufs keeps the buffers of JSON bodies between responses: growing a
// 45 KB buffer from nothing for every list costs more than filtering it.
var jsonBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledJSON bounds a buffer kept for reuse.
const maxPooledJSON = 1 << 20

func (w *ResponseWriter) releaseBuf() {
	if w.buf == nil {
		return
	}
	if w.buf.Cap() <= maxPooledJSON {
		w.buf.Reset()
		jsonBufs.Put(w.buf)
	}
	w.buf = nil
}

// NewResponseWriter wraps w so that list responses written to it are
// filtered through rw.
func NewResponseWriter(w http.ResponseWriter, rw *Rewriter) *ResponseWriter {
	return &ResponseWriter{ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: w}, rw: rw}
}

// WriteHeader chooses how the body will be treated; see the type's doc.
func (w *ResponseWriter) WriteHeader(status int) {
	if w.mode != modeUnset {
		return
	}
	if status == http.StatusSwitchingProtocols {
		// After a 101 the connection would be hijacked through Unwrap,
		// past the filter. A list request has no business upgrading.
		w.refuse(ErrUnexpectedType)
		return
	}
	if status >= 100 && status < 200 {
		w.ResponseWriter.WriteHeader(status) // informational: no body follows
		return
	}
	h := w.Header()
	if ce := h.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		w.refuse(ErrEncoded)
		return
	}
	ct, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	switch {
	case ct == "text/event-stream":
		w.mode = modeSSE
		h.Del("Content-Length")
		w.sse = NewSSEWriter(w.ResponseWriter, w.rw)
		w.ResponseWriter.WriteHeader(status)
	case ct == "application/json":
		w.mode, w.status = modeJSON, status
		w.buf = jsonBufs.Get().(*bytes.Buffer)
		if n, err := strconv.Atoi(h.Get("Content-Length")); err == nil && n > 0 && n <= w.limit() {
			w.buf.Grow(n)
		}
	case status == http.StatusAccepted || status == http.StatusNoContent || status >= 300:
		w.mode = modePass
		w.ResponseWriter.WriteHeader(status)
	default:
		w.refuse(fmt.Errorf("%w: %q with status %d", ErrUnexpectedType, ct, status))
	}
}

// refuse replaces the response with a 502 JSON-RPC error.
func (w *ResponseWriter) refuse(reason error) {
	w.refusal = reason
	w.mode = modeRefused
	w.releaseBuf()
	body := w.rw.ErrorResponse()
	h := w.Header()
	for _, k := range []string{"Content-Encoding", "Etag", "Last-Modified", "Accept-Ranges"} {
		h.Del(k)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.ResponseWriter.WriteHeader(http.StatusBadGateway)
	_, _ = w.ResponseWriter.Write(body)
}

// Write filters, buffers or passes p according to the mode.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	if w.mode == modeUnset {
		w.WriteHeader(http.StatusOK)
	}
	switch w.mode {
	case modePass:
		return w.ResponseWriter.Write(p)
	case modeSSE:
		return w.sse.Write(p)
	case modeJSON:
		if w.buf.Len()+len(p) > w.limit() {
			w.refuse(ErrBodyTooLarge)
			return len(p), nil
		}
		return w.buf.Write(p)
	}
	return len(p), nil // refused: the upstream body is discarded
}

func (w *ResponseWriter) limit() int {
	if w.MaxBodySize > 0 {
		return w.MaxBodySize
	}
	return DefaultMaxBodySize
}

// ReadFrom copies r through Write; the wrapper's ReadFrom would write to
// the underlying writer unfiltered.
func (w *ResponseWriter) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(writerOnly{w}, r)
}

type writerOnly struct{ io.Writer }

// FlushError writes complete SSE events and flushes the client connection.
// While a JSON body is buffered it does nothing.
func (w *ResponseWriter) FlushError() error {
	switch w.mode {
	case modeSSE:
		return w.sse.Flush()
	case modePass, modeRefused:
		return flush(w.ResponseWriter)
	}
	return nil
}

// Flush is FlushError for callers that use http.Flusher.
func (w *ResponseWriter) Flush() { _ = w.FlushError() }

// Finish completes the response after the next handler returned without
// error: it writes the filtered JSON body, or ends the event stream
// (dropping an incomplete event). It returns why the response was replaced
// by an error, if it was; the client has then already been answered.
func (w *ResponseWriter) Finish() error {
	switch w.mode {
	case modeJSON:
		out, err := w.rw.RewriteJSON(w.buf.Bytes())
		if err != nil {
			w.refuse(err)
			return err
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		w.ResponseWriter.WriteHeader(w.status)
		_, err = w.ResponseWriter.Write(out)
		w.releaseBuf() // out may be the buffer's bytes: only after Write
		w.mode = modePass
		return err
	case modeSSE:
		if err := w.sse.Close(); err != nil {
			return err
		}
	case modeRefused:
		return w.refusal
	}
	return nil
}
