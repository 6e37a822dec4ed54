package listfilter

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

const (
	progressEvent = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":\"p\",\"progress\":1}}\n\n"
	listData      = `{"jsonrpc":"2.0","id":5,"result":{"tools":[{"name":"allowed_a"},{"name":"forbidden_b"},{"name":"allowed_c"}],"nextCursor":"n"}}`
	filteredData  = `{"jsonrpc":"2.0","id":5,"result":{"tools":[{"name":"allowed_a"},{"name":"allowed_c"}],"nextCursor":"n"}}`
)

// rewriteSSE writes the chunks to a fresh SSEWriter, closes it and returns
// the output.
func rewriteSSE(t testing.TB, chunks ...string) string {
	t.Helper()
	var out bytes.Buffer
	s := NewSSEWriter(&out, &Rewriter{Allow: denyForbidden, RequestID: json.RawMessage(`5`)})
	for _, c := range chunks {
		if n, err := s.Write([]byte(c)); err != nil || n != len(c) {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return out.String()
}

func TestSSERewrite(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "list event filtered, id and event kept",
			in:   "id: 7\nevent: message\ndata: " + listData + "\n\n",
			want: "id: 7\nevent: message\ndata: " + filteredData + "\n\n",
		},
		{
			name: "multi-line data joined, compacted to one line",
			in:   "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\ndata:  \"result\":{\"tools\":[{\"name\":\"forbidden_x\"},\ndata: {\"name\":\"ok\"}]}}\n\n",
			want: "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[{\"name\":\"ok\"}]}}\n\n",
		},
		{
			name: "mixed CR, LF and CRLF line ends",
			in:   "id: 1\revent: message\r\ndata: " + listData + "\n\r\n",
			want: "id: 1\nevent: message\ndata: " + filteredData + "\n\n",
		},
		{
			name: "leading BOM ignored",
			in:   "\uFEFFdata: " + listData + "\n\n",
			want: "data: " + filteredData + "\n\n",
		},
		{
			// Later, the BOM is part of the field name "\uFEFFdata", which
			// readers ignore: the second event has no data and vanishes.
			name: "BOM only at stream start",
			in:   "data: x\n\n\uFEFFdata: y\n\n",
			want: "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32603,\"message\":\"list response could not be filtered\"}}\n\n",
		},
		{
			name: "comments and retry kept",
			in:   ": keepalive\n\n:x\nretry: 3000\ndata: " + listData + "\n\n",
			want: ": keepalive\n\n:x\nretry: 3000\ndata: " + filteredData + "\n\n",
		},
		{
			name: "priming event with empty data passes",
			in:   "id: 0\ndata:\n\n",
			want: "id: 0\ndata: \n\n",
		},
		{
			name: "id-only event passes",
			in:   "id: 9\n\n",
			want: "id: 9\n\n",
		},
		{
			name: "notification passes unchanged, multi-line kept",
			in:   "event: message\ndata: {\"jsonrpc\":\"2.0\",\ndata:  \"method\":\"notifications/message\",\"params\":{\"data\":\"forbidden_b seen\"}}\n\n",
			want: "event: message\ndata: {\"jsonrpc\":\"2.0\",\ndata:  \"method\":\"notifications/message\",\"params\":{\"data\":\"forbidden_b seen\"}}\n\n",
		},
		{
			name: "server request passes",
			in:   "data: {\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"elicitation/create\",\"params\":{}}\n\n",
			want: "data: {\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"elicitation/create\",\"params\":{}}\n\n",
		},
		{
			name: "unparsable list event replaced by error event with the request id",
			in:   "id: 3\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[{\"name\":\"forbidden_b\"}]\n\n",
			want: "id: 3\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32603,\"message\":\"list response could not be filtered\"}}\n\n",
		},
		{
			name: "unparsable event without a readable id gets the request id",
			in:   "data: {\"jsonrpc\":\"2.0\",\"result\":{\"tools\":[{\"name\":\"forbidden_b\"}]\n\n",
			want: "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32603,\"message\":\"list response could not be filtered\"}}\n\n",
		},
		{
			name: "ambiguous list event replaced, response id echoed",
			in:   "data: {\"jsonrpc\":\"2.0\",\"id\":\"q\",\"result\":{\"tools\":[],\"Tools\":[{\"name\":\"forbidden_b\"}]}}\n\n",
			want: "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"q\",\"error\":{\"code\":-32603,\"message\":\"list response could not be filtered\"}}\n\n",
		},
		{
			name: "batch in an event replaced",
			in:   "data: [" + listData + "]\n\n",
			want: "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32603,\"message\":\"list response could not be filtered\"}}\n\n",
		},
		{
			name: "incomplete event at end of stream dropped",
			in:   progressEvent + "data: " + listData + "\n",
			want: progressEvent,
		},
		{
			name: "unknown fields dropped, field without colon",
			in:   "foo: bar\ndata\n\n",
			want: "data: \n\n",
		},
		{
			name: "value spacing preserved beyond the one stripped space",
			in:   "id:  two spaces\nevent:x\ndata:  {\"jsonrpc\":\"2.0\",\"method\":\"m\"}\n\n",
			want: "id:  two spaces\nevent: x\ndata:  {\"jsonrpc\":\"2.0\",\"method\":\"m\"}\n\n",
		},
		{
			name: "cacheScope made private in stream",
			in:   "data: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[],\"ttlMs\":10}}\n\n",
			want: "data: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[],\"ttlMs\":10,\"cacheScope\":\"private\"}}\n\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rewriteSSE(t, tt.in); got != tt.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestSSESplitAtEveryByte writes a stream in two parts at every possible
// boundary, and byte by byte, and expects the same output every time.
func TestSSESplitAtEveryByte(t *testing.T) {
	in := "\uFEFF: hi\r\nid: 1\r\n\r\n" + progressEvent + "id: 2\revent: message\rdata: {\"jsonrpc\":\"2.0\",\"id\":5,\r\ndata: \"result\":{\"tools\":[{\"name\":\"forbidden_b\"},{\"name\":\"ok\"}]}}\r\n\r\n"
	want := rewriteSSE(t, in)
	if strings.Contains(want, "forbidden") || !strings.Contains(want, `"ok"`) || !strings.Contains(want, "notifications/progress") {
		t.Fatalf("unexpected reference output %q", want)
	}
	for i := 0; i <= len(in); i++ {
		if got := rewriteSSE(t, in[:i], in[i:]); got != want {
			t.Fatalf("split at %d:\n%q\nwant\n%q", i, got, want)
		}
	}
	chunks := make([]string, len(in))
	for i := 0; i < len(in); i++ { // bytes, not runes: the BOM is split too
		chunks[i] = in[i : i+1]
	}
	if got := rewriteSSE(t, chunks...); got != want {
		t.Fatalf("byte by byte:\n%q\nwant\n%q", got, want)
	}
}

// TestSSECRLFAcrossWrites checks that a CR ending one write and the LF
// starting the next are one line end, not a line end and an empty line.
func TestSSECRLFAcrossWrites(t *testing.T) {
	got := rewriteSSE(t, "data: {\"jsonrpc\":\"2.0\",\"method\":\"a\"}\r", "\ndata: more\r", "\n\r", "\n")
	// Joined data is not JSON: it is replaced, and must be one event.
	if evs := parseSSE(got); len(evs) != 1 {
		t.Fatalf("got %d events from %q, want 1", len(evs), got)
	}
}

// TestSSEEmitsCompleteEventsImmediately checks that an event is written to
// the destination in the Write that completes it, while a partial event is
// held back.
func TestSSEEmitsCompleteEventsImmediately(t *testing.T) {
	var out bytes.Buffer
	s := NewSSEWriter(&out, &Rewriter{Allow: denyForbidden})
	if _, err := s.Write([]byte(progressEvent + "data: {\"jsonrpc\":\"2.0\",\"id\":5,")); err != nil {
		t.Fatal(err)
	}
	if out.String() != progressEvent {
		t.Fatalf("after first write: %q, want the progress event only", out.String())
	}
	if _, err := s.Write([]byte("\"result\":{\"tools\":[{\"name\":\"forbidden\"}]}}\n")); err != nil {
		t.Fatal(err)
	}
	if out.String() != progressEvent {
		t.Fatalf("event emitted before its blank line: %q", out.String())
	}
	if _, err := s.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	if want := progressEvent + "data: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[]}}\n\n"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

func TestSSEFlushReachesDestination(t *testing.T) {
	rec := httptest.NewRecorder()
	s := NewSSEWriter(rec, &Rewriter{Allow: denyForbidden})
	if _, err := s.Write([]byte(progressEvent)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if !rec.Flushed || rec.Body.String() != progressEvent {
		t.Fatalf("flushed=%v body=%q", rec.Flushed, rec.Body.String())
	}
}

func TestSSEEventTooLarge(t *testing.T) {
	var out bytes.Buffer
	s := NewSSEWriter(&out, &Rewriter{Allow: denyForbidden, RequestID: json.RawMessage(`1`)})
	s.MaxEventSize = 64
	_, err := s.Write([]byte("data: " + listData))
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("Write error %v, want ErrEventTooLarge", err)
	}
	if strings.Contains(out.String(), "forbidden") {
		t.Fatalf("raw data leaked: %q", out.String())
	}
	evs := parseSSE(out.String())
	if len(evs) != 1 || !strings.Contains(evs[0].Data, `"error"`) {
		t.Fatalf("want one error event, got %q", out.String())
	}
	if _, err := s.Write([]byte("\n\n")); err == nil {
		t.Fatalf("writer accepted input after failing")
	}
	if err := s.Close(); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("Close = %v", err)
	}
}

func TestSSEWriteAfterClose(t *testing.T) {
	s := NewSSEWriter(&bytes.Buffer{}, &Rewriter{Allow: denyForbidden})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("data: x\n\n")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v", err)
	}
}

// TestSSEClientReading checks the output with an independent WHATWG
// reader: the client sees the filtered list and the other events.
func TestSSEClientReading(t *testing.T) {
	out := rewriteSSE(t, "retry: 10\r\n"+progressEvent+"id: 4\r\ndata: "+listData+"\r\n\r\n")
	evs := parseSSE(out)
	if len(evs) != 2 {
		t.Fatalf("got %d events from %q", len(evs), out)
	}
	if evs[1].ID != "4" || evs[1].Type != "message" || evs[1].Data != filteredData {
		t.Fatalf("list event = %+v", evs[1])
	}
}

func BenchmarkRewriteSSE110(b *testing.B) {
	body := fixture(b)
	var stream bytes.Buffer
	stream.WriteString("id: 0\ndata:\n\n")
	stream.WriteString(progressEvent)
	stream.WriteString("event: message\ndata: ")
	stream.Write(body)
	stream.WriteString("\n\n")
	in := stream.Bytes()
	rw := &Rewriter{Allow: denyForbidden}
	var out bytes.Buffer
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		out.Reset()
		s := NewSSEWriter(&out, rw)
		// Upstream writes arrive in chunks of the proxy's 32 KiB buffer.
		for p := in; len(p) > 0; {
			n := min(len(p), 32<<10)
			if _, err := s.Write(p[:n]); err != nil {
				b.Fatal(err)
			}
			p = p[n:]
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
