package listfilter

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func newRW(rec http.ResponseWriter) *ResponseWriter {
	return NewResponseWriter(rec, &Rewriter{Allow: denyForbidden, RequestID: json.RawMessage(`5`)})
}

const refusedBody = `{"jsonrpc":"2.0","id":5,"error":{"code":-32603,"message":"list response could not be filtered"}}`

func TestResponseWriterJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	w := newRW(rec)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(listData)))
	w.WriteHeader(http.StatusOK)
	// Nothing reaches the client before Finish.
	if _, err := io.WriteString(w, listData[:20]); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if rec.Body.Len() != 0 || rec.Flushed {
		t.Fatalf("buffered JSON leaked early: %q flushed=%v", rec.Body.String(), rec.Flushed)
	}
	if _, err := io.WriteString(w, listData[20:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusOK || rec.Body.String() != filteredData {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
	if got := rec.Header().Get("Content-Length"); got != strconv.Itoa(len(filteredData)) {
		t.Fatalf("Content-Length %q, want %d", got, len(filteredData))
	}
}

func TestResponseWriterReadFromIsFiltered(t *testing.T) {
	rec := httptest.NewRecorder()
	w := newRW(rec)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	// io.Copy prefers ReaderFrom; the embedded wrapper's would bypass us.
	if _, err := io.Copy(w, strings.NewReader(listData)); err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	if rec.Body.String() != filteredData {
		t.Fatalf("got %q", rec.Body.String())
	}
}

func TestResponseWriterSSE(t *testing.T) {
	rec := httptest.NewRecorder()
	w := newRW(rec)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Content-Length", "999")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, progressEvent+"data: "+listData[:10]); err != nil {
		t.Fatal(err)
	}
	// reverse_proxy flushes through http.ResponseController.
	if err := http.NewResponseController(w).Flush(); err != nil {
		t.Fatal(err)
	}
	if !rec.Flushed || rec.Body.String() != progressEvent {
		t.Fatalf("progress not flushed at once: flushed=%v %q", rec.Flushed, rec.Body.String())
	}
	if rec.Header().Get("Content-Length") != "" {
		t.Fatalf("Content-Length kept on a rewritten stream")
	}
	if _, err := io.WriteString(w, listData[10:]+"\n\n"); err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	if want := progressEvent + "data: " + filteredData + "\n\n"; rec.Body.String() != want {
		t.Fatalf("got %q, want %q", rec.Body.String(), want)
	}
}

func TestResponseWriterRefuses(t *testing.T) {
	tests := []struct {
		name    string
		header  map[string]string
		status  int
		body    string
		max     int
		wantErr error
	}{
		{"encoded body", map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}, 200, listData, 0, ErrEncoded},
		{"encoded stream", map[string]string{"Content-Type": "text/event-stream", "Content-Encoding": "br"}, 200, "data: " + listData + "\n\n", 0, ErrEncoded},
		{"unexpected type", map[string]string{"Content-Type": "text/plain"}, 200, listData, 0, ErrUnexpectedType},
		{"no type", nil, 200, listData, 0, ErrUnexpectedType},
		{"too large", map[string]string{"Content-Type": "application/json"}, 200, listData, 10, ErrBodyTooLarge},
		{"unparsable json", map[string]string{"Content-Type": "application/json"}, 200, listData[:40], 0, ErrMalformed},
		{"protocol switch", map[string]string{"Upgrade": "raw"}, http.StatusSwitchingProtocols, listData, 0, ErrUnexpectedType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			w := newRW(rec)
			w.MaxBodySize = tt.max
			for k, v := range tt.header {
				w.Header().Set(k, v)
			}
			w.WriteHeader(tt.status)
			if _, err := io.WriteString(w, tt.body); err != nil {
				t.Fatal(err)
			}
			if err := w.Finish(); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Finish = %v, want %v", err, tt.wantErr)
			}
			if rec.Code != http.StatusBadGateway || rec.Body.String() != refusedBody {
				t.Fatalf("got %d %q", rec.Code, rec.Body.String())
			}
			if rec.Header().Get("Content-Encoding") != "" || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("headers %v", rec.Header())
			}
		})
	}
}

func TestResponseWriterPasses(t *testing.T) {
	tests := []struct {
		name   string
		ct     string
		status int
		body   string
	}{
		{"accepted", "", http.StatusAccepted, ""},
		{"error page", "text/html", http.StatusBadGateway, "<h1>down</h1>"},
		{"json error status still filtered but error passes", "application/json", http.StatusNotFound, `{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"x"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			w := newRW(rec)
			if tt.ct != "" {
				w.Header().Set("Content-Type", tt.ct)
			}
			w.WriteHeader(tt.status)
			if _, err := io.WriteString(w, tt.body); err != nil {
				t.Fatal(err)
			}
			if err := w.Finish(); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tt.status || rec.Body.String() != tt.body {
				t.Fatalf("got %d %q", rec.Code, rec.Body.String())
			}
		})
	}
}

func TestResponseWriterInformationalPasses(t *testing.T) {
	// A real server: httptest.ResponseRecorder takes a 1xx as final.
	ts := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		w := newRW(rw)
		w.Header().Set("Link", "</x>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		if _, err := io.WriteString(w, listData); err != nil {
			t.Error(err)
		}
		if err := w.Finish(); err != nil {
			t.Error(err)
		}
	}))
	defer ts.Close()
	res, err := http.Post(ts.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || string(body) != filteredData {
		t.Fatalf("got %d %q", res.StatusCode, body)
	}
}

func TestResponseWriterImplicitOK(t *testing.T) {
	rec := httptest.NewRecorder()
	w := newRW(rec)
	w.Header().Set("Content-Type", "application/json")
	if _, err := io.WriteString(w, listData); err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusOK || rec.Body.String() != filteredData {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
}
