package nextcloudfake

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"
)

// DAVApps are the transcript folders of Nextcloud's CalDAV and CardDAV
// exchanges. The CalDAV/CardDAV tools are tested against a real DAV server
// (Radicale); these recordings show what only Nextcloud does, and a
// DAVReplay serves them.
var DAVApps = []string{"calendar", "contacts"}

// Fixture returns a recorded exchange by its full name
// ("calendar/23-put-vevent-update-stale-if-match-412") or by its folder and
// number alone ("calendar/23").
func Fixture(name string) (Exchange, error) {
	if e, err := Lookup(name); err == nil {
		return e, nil
	}
	app, num, _ := strings.Cut(name, "/")
	matches, err := fs.Glob(transcripts, "transcripts/"+app+"/"+num+"-*.json")
	if err != nil || len(matches) != 1 {
		return Exchange{}, fmt.Errorf("no single exchange %q (found %v)", name, matches)
	}
	return Lookup(app + "/" + strings.TrimSuffix(path.Base(matches[0]), ".json"))
}

// MustFixture is Fixture for tests.
func MustFixture(t testing.TB, name string) Exchange {
	t.Helper()
	e, err := Fixture(name)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// DAVReplay serves recorded Nextcloud DAV answers: a request gets the
// response of the exchange with the same method and path (and, when
// several match, the same If-Match, If-None-Match and Depth headers); a
// PUT may also match a recorded PUT into the same collection, since
// clients name new objects themselves. Anything else is a 404 and is
// listed in Unmatched, so a test can tell what the client sent.
type DAVReplay struct {
	*httptest.Server

	mu        sync.Mutex
	exchanges []Exchange
	handlers  map[string]http.HandlerFunc
	requests  []*http.Request
	unmatched []string
}

// NewDAVReplay serves the named exchanges ("core/15", "calendar/01", ...).
func NewDAVReplay(t testing.TB, names ...string) *DAVReplay {
	t.Helper()
	r := &DAVReplay{}
	for _, n := range names {
		r.exchanges = append(r.exchanges, MustFixture(t, n))
	}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

// Handle answers method and path with h instead of a recording, for
// exchanges no recording holds. A path ending in "/" also answers requests
// for the objects directly in that collection, whose names clients choose
// (a new event's UID).
func (r *DAVReplay) Handle(method, path string, h http.HandlerFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.handlers == nil {
		r.handlers = map[string]http.HandlerFunc{}
	}
	r.handlers[method+" "+path] = h
}

// Sent returns the requests received with the given method, bodies kept.
func (r *DAVReplay) Sent(method string) []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*http.Request
	for _, req := range r.requests {
		if req.Method == method {
			out = append(out, req)
		}
	}
	return out
}

// Requests returns every request received, in order, bodies kept: what a
// test counts round trips with.
func (r *DAVReplay) Requests() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.requests...)
}

// Unmatched lists "METHOD path" of requests no recording answered.
func (r *DAVReplay) Unmatched() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.unmatched...)
}

func (r *DAVReplay) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	kept := req.Clone(req.Context())
	kept.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.requests = append(r.requests, kept)
	h, ok := r.handlers[req.Method+" "+req.URL.Path]
	if !ok && !strings.HasSuffix(req.URL.Path, "/") {
		h, ok = r.handlers[req.Method+" "+path.Dir(req.URL.Path)+"/"]
	}
	if ok {
		r.mu.Unlock()
		req.Body = io.NopCloser(bytes.NewReader(body))
		h(w, req)
		return
	}
	best := r.best(req)
	if best == nil {
		r.unmatched = append(r.unmatched, req.Method+" "+req.URL.Path)
	}
	r.mu.Unlock()

	if best == nil {
		http.NotFound(w, req)
		return
	}
	for k, v := range best.Response.Headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(best.Response.Status)
	_, _ = io.WriteString(w, best.Response.Body)
}

// best picks the recording that answers req; r.mu is held.
func (r *DAVReplay) best(req *http.Request) *Exchange {
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
		default:
			continue
		}
		for _, h := range []string{"If-Match", "If-None-Match", "Depth"} {
			if v, _ := header(ex.Request.Headers, h); v == req.Header.Get(h) {
				s++
			}
		}
		if s > score {
			best, score = ex, s
		}
	}
	return best
}
