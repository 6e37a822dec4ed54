package davtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Exchange is one recorded request and the response Nextcloud sent, in the
// fixture format of testdata/nextcloud-34 (see its README upstream).
type Exchange struct {
	Description string `json:"description"`
	Request     struct {
		Method  string            `json:"method"`
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	} `json:"request"`
	Response struct {
		Status  int            `json:"status"`
		Headers map[string]any `json:"headers"`
		Body    string         `json:"body"`
	} `json:"response"`
}

// Fixture loads a recorded exchange by its path under
// testdata/nextcloud-34, e.g. "calendar/23".
func Fixture(t testing.TB, name string) Exchange {
	t.Helper()
	dir, file := filepath.Split(name)
	matches, err := filepath.Glob(filepath.Join(testdata(), "nextcloud-34", dir, file+"-*.json"))
	if err != nil || len(matches) != 1 {
		t.Fatalf("fixture %s: found %v (%v)", name, matches, err)
	}
	raw, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	var ex Exchange
	if err := json.Unmarshal(raw, &ex); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return ex
}

func testdata() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata")
}

// Replay serves recorded Nextcloud answers: a request gets the response of
// the fixture with the same method and path (and, when several match, the
// same If-Match, If-None-Match and Depth headers); a PUT may also match a
// recorded PUT into the same collection. Anything else is a 404, and is
// recorded in Unmatched so tests can tell what the client sent.
type Replay struct {
	*httptest.Server

	mu        sync.Mutex
	exchanges []Exchange
	handlers  map[string]http.HandlerFunc
	// Requests are the requests received, bodies included.
	Requests  []*http.Request
	Unmatched []string
}

// NewReplay serves the named fixtures ("core/15", "calendar/01", ...).
func NewReplay(t testing.TB, names ...string) *Replay {
	t.Helper()
	r := &Replay{}
	for _, n := range names {
		r.exchanges = append(r.exchanges, Fixture(t, n))
	}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

// Handle answers method and path with h instead of a recording, for
// exchanges no fixture holds.
func (r *Replay) Handle(method, path string, h http.HandlerFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.handlers == nil {
		r.handlers = map[string]http.HandlerFunc{}
	}
	r.handlers[method+" "+path] = h
}

func (r *Replay) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	kept := req.Clone(req.Context())
	kept.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.Requests = append(r.Requests, kept)
	if h, ok := r.handlers[req.Method+" "+req.URL.Path]; ok {
		r.mu.Unlock()
		req.Body = io.NopCloser(bytes.NewReader(body))
		h(w, req)
		return
	}
	var best *Exchange
	score := -1
	for i := range r.exchanges {
		ex := &r.exchanges[i]
		if ex.Request.Method != req.Method {
			continue
		}
		s := 0
		switch {
		case strings.TrimSuffix(ex.Request.Path, "/") == strings.TrimSuffix(req.URL.Path, "/"):
			s = 10
		case req.Method == http.MethodPut && path.Dir(ex.Request.Path) == path.Dir(req.URL.Path):
			// Clients name new objects themselves; a PUT into the same
			// collection gets the recorded answer.
		default:
			continue
		}
		for _, h := range []string{"If-Match", "If-None-Match", "Depth"} {
			if ex.Request.Headers[h] == req.Header.Get(h) {
				s++
			}
		}
		if s > score {
			best, score = ex, s
		}
	}
	if best == nil {
		r.Unmatched = append(r.Unmatched, req.Method+" "+req.URL.Path)
	}
	r.mu.Unlock()

	if best == nil {
		http.NotFound(w, req)
		return
	}
	for k, v := range best.Response.Headers {
		switch vv := v.(type) {
		case string:
			w.Header().Set(k, vv)
		case []any:
			for _, one := range vv {
				if s, ok := one.(string); ok {
					w.Header().Add(k, s)
				}
			}
		}
	}
	w.WriteHeader(best.Response.Status)
	_, _ = w.Write([]byte(best.Response.Body))
}

// Sent returns the requests received with the given method.
func (r *Replay) Sent(method string) []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*http.Request
	for _, req := range r.Requests {
		if req.Method == method {
			out = append(out, req)
		}
	}
	return out
}
