// Package nextcloudfake is the contract fake of Nextcloud 34's REST apps
// (Notes, Deck, Cookbook, Tables, OCS sharing and capabilities, WebDAV
// extras) for tests. It answers from the recorded exchanges in
// transcripts/, and computes what Nextcloud enforces before any app sees
// the request: credentials (997/401), the CSRF check (412 without
// OCS-APIRequest), the bearer-without-OCS-APIRequest 401 of #[CORS]
// routes, and Notes' If-Match check against the last note it served (412
// with the current note as the body). Its test holds it to every recorded
// exchange.
//
// Requests are matched to recordings by method, path, query and user,
// then by body, conditional headers and Depth; among equally good
// recordings the first not yet served wins, so a scenario replayed in
// recording order sees Nextcloud's state changes (412 on a stale ETag,
// 403 on a deleted Deck card). Objects no recording covers get the answer
// Nextcloud gives for unknown ones (Deck 403, Notes 404, ...), itself taken
// from a recording. Standard WebDAV verbs on user files can be served by a
// real WebDAV handler instead (Options.DAV). What a real Nextcloud was
// measured to do beyond the recordings is in rules.go: trusted_domains
// (400 with an HTML page for an untrusted Host), X-Request-Id on every
// answer, and Tables' 500 on the scheme of a table without an emoji.
package nextcloudfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Credentials the recordings were made with, in their redacted form.
const (
	AdminUser     = "admin"
	AdminPassword = "<app-password>"
	User2         = "user2"
	User2Password = "<user2-password>"
	AccessToken   = "<access-token>"
)

// Call is one request the fake received.
type Call struct {
	Method string
	// Path is the escaped request path.
	Path   string
	Query  string
	Header http.Header
	Body   string
}

// String is "METHOD /path?query", the form tests compare.
func (c Call) String() string {
	s := c.Method + " " + c.Path
	if c.Query != "" {
		s += "?" + c.Query
	}
	return s
}

// Options tune a Fake.
type Options struct {
	// DAV, when set, serves PROPFIND, GET, HEAD, PUT, DELETE, MKCOL,
	// MOVE, COPY and PROPPATCH under /remote.php/dav/files/ (after the
	// credential checks), e.g. a golang.org/x/net/webdav handler.
	DAV http.Handler
	// DisabledApps are removed from the capabilities answer.
	DisabledApps []string
	// TrustedDomains is Nextcloud's trusted_domains: a request for any
	// other Host is refused with 400 and an HTML page, except localhost,
	// 127.0.0.1 and [::1], which Nextcloud always trusts (rules.go).
	TrustedDomains []string
	// TablesWithoutEmoji are table ids to treat as created without an
	// emoji: their scheme answers Tables 2.2.2's 500 (rules.go).
	TablesWithoutEmoji []int
}

// Fake is an http.Handler impersonating Nextcloud.
type Fake struct {
	opts      Options
	exchanges []Exchange

	mu     sync.Mutex
	served map[int]bool
	calls  []Call
	// notes holds the last note record served per id, so If-Match is
	// enforced as Notes does it, beyond what was recorded.
	notes map[string]noteState
	// override answers chosen by tests, keyed by "METHOD path": each
	// request takes the first, the last one stays.
	override map[string][]Exchange
	// flows are the Login Flow v2 flows by login token; appPasswords the
	// app passwords they created ("user\x00password" -> client name).
	flows        map[string]*loginFlow
	appPasswords map[string]string
	// requests numbers the answers' X-Request-Id.
	requests int
	// emojiless are the ids of tables without an emoji (rules.go).
	emojiless map[string]bool
}

// New returns a fake serving every recorded app.
func New(opts Options) (*Fake, error) {
	f := &Fake{opts: opts, served: map[int]bool{}, override: map[string][]Exchange{}, notes: map[string]noteState{},
		flows: map[string]*loginFlow{}, appPasswords: map[string]string{}, emojiless: emojilessSet(opts.TablesWithoutEmoji)}
	for _, app := range Apps {
		ex, err := Exchanges(app)
		if err != nil {
			return nil, err
		}
		f.exchanges = append(f.exchanges, ex...)
	}
	return f, nil
}

// Start runs a fake on an httptest server closed with t.
func Start(t testing.TB, opts Options) (*Fake, *httptest.Server) {
	t.Helper()
	f, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// Calls returns the requests received so far.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// CallStrings returns Calls as "METHOD /path?query" strings.
func (f *Fake) CallStrings() []string {
	var out []string
	for _, c := range f.Calls() {
		out = append(out, c.String())
	}
	return out
}

// Reset forgets calls and which recordings were served.
func (f *Fake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
	f.served = map[int]bool{}
	f.notes = map[string]noteState{}
	f.emojiless = emojilessSet(f.opts.TablesWithoutEmoji)
}

// Serve makes the next matching requests (method and path as recorded)
// answer with the named recording, to put the fake in a state it was
// recorded in, e.g. "deck/66-get-card-after-delete-403".
func (f *Fake) Serve(name string) error {
	e, err := Lookup(name)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.override[e.Request.Method+" "+unescape(e.Request.Path)] = []Exchange{e}
	return nil
}

// ServeAs answers method and path (unescaped, any query) with the named
// recordings, one per request, the last one for all further requests: for
// calls whose recorded answer does not depend on the id in the path
// (DELETE answering "[]") where only another id was recorded, or for a
// paged listing (Notes chunks).
func (f *Fake) ServeAs(name, method, path string, more ...string) error {
	var seq []Exchange
	for _, n := range append([]string{name}, more...) {
		e, err := Lookup(n)
		if err != nil {
			return err
		}
		seq = append(seq, e)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.override[method+" "+path] = seq
	return nil
}

type routeKind int

const (
	routeOther routeKind = iota
	routeOCS
	routeDAV
	routeApp      // #[CORS] REST routes: Notes, Deck API, Cookbook, Tables v1
	routeInternal // Deck's internal web routes, CSRF-protected
)

func classify(p string) routeKind {
	switch {
	case strings.HasPrefix(p, "/ocs/v1.php/"), strings.HasPrefix(p, "/ocs/v2.php/"):
		return routeOCS
	case strings.HasPrefix(p, "/remote.php/dav"):
		return routeDAV
	case strings.HasPrefix(p, "/index.php/apps/deck/api/"),
		strings.HasPrefix(p, "/index.php/apps/notes/api/"),
		strings.HasPrefix(p, "/index.php/apps/cookbook/api/"),
		strings.HasPrefix(p, "/index.php/apps/tables/api/"):
		return routeApp
	case strings.HasPrefix(p, "/index.php/apps/deck/"):
		return routeInternal
	}
	return routeOther
}

type authState int

const (
	authNone authState = iota
	authOK
	authBad
)

type caller struct {
	state  authState
	user   string
	bearer bool
}

func authenticate(h http.Header) caller {
	a := h.Get("Authorization")
	if a == "" {
		return caller{state: authNone}
	}
	if tok, ok := strings.CutPrefix(a, "Bearer "); ok {
		if tok == AccessToken {
			return caller{state: authOK, user: AdminUser, bearer: true}
		}
		return caller{state: authBad, bearer: true}
	}
	r := &http.Request{Header: h}
	u, p, ok := r.BasicAuth()
	switch {
	case ok && u == AdminUser && (p == AdminPassword || p == "<admin-password>"):
		return caller{state: authOK, user: u}
	case ok && u == User2 && p == User2Password:
		return caller{state: authOK, user: u}
	}
	return caller{state: authBad}
}

// answer is a response the fake computed itself.
type answer struct {
	status int
	header map[string]string
	body   string
}

const jsonCT = "application/json; charset=utf-8"

// enforce returns what Nextcloud answers before the app sees the request,
// or nil when the request reaches the app.
func enforce(kind routeKind, c caller, h http.Header, p string) *answer {
	ocsHeader := h.Get("OCS-APIRequest") == "true"
	v1 := strings.HasPrefix(p, "/ocs/v1.php/")
	switch {
	case kind == routeOther:
		return nil
	case c.state != authOK:
		switch kind {
		case routeOCS:
			msg := "Current user is not logged in"
			hdr := map[string]string{"Content-Type": jsonCT}
			if c.state == authBad && !c.bearer {
				msg = "Unauthorised"
				hdr["WWW-Authenticate"] = `Basic realm="Authorisation Required"`
			}
			extra := ""
			if v1 {
				extra = `,"totalitems":"","itemsperpage":""`
			}
			return &answer{401, hdr, `{"ocs":{"meta":{"status":"failure","statuscode":997,"message":"` + msg + `"` + extra + `},"data":[]}}`}
		case routeDAV:
			return &answer{401, map[string]string{"Content-Type": "application/xml; charset=utf-8", "WWW-Authenticate": `Basic realm="Nextcloud", charset="UTF-8"`},
				"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:error xmlns:d=\"DAV:\" xmlns:s=\"http://sabredav.org/ns\">\n  <s:exception>Sabre\\DAV\\Exception\\NotAuthenticated</s:exception>\n  <s:message>No public access to this resource.</s:message>\n</d:error>\n"}
		default:
			msg := ""
			switch {
			case c.state == authNone:
				msg = "CORS requires basic auth"
			case c.bearer:
				msg = "Current user is not logged in"
			}
			return &answer{401, map[string]string{"Content-Type": jsonCT}, `{"message":"` + msg + `"}`}
		}
	case (kind == routeOCS || kind == routeInternal) && !c.bearer && !ocsHeader:
		return &answer{412, map[string]string{"X-User-Id": c.user, "Content-Type": jsonCT}, `{"message":"CSRF check failed"}`}
	case kind == routeApp && c.bearer && !ocsHeader:
		return &answer{401, map[string]string{"Content-Type": jsonCT}, `{"message":"CORS requires basic auth"}`}
	}
	return nil
}

func unescape(p string) string {
	if u, err := url.PathUnescape(p); err == nil {
		return u
	}
	return p
}

var davVerbs = map[string]bool{"PROPFIND": true, "GET": true, "HEAD": true, "PUT": true, "DELETE": true,
	"MKCOL": true, "MOVE": true, "COPY": true, "PROPPATCH": true, "OPTIONS": true}

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, Call{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)})
	f.mu.Unlock()

	w.Header().Set("X-Request-Id", f.nextRequestID())
	if a := f.untrustedDomain(r); a != nil {
		write(w, a.status, a.header, a.body)
		return
	}
	p := r.URL.Path
	if f.serveLoginFlow(w, r, body) {
		return
	}
	kind := classify(p)
	c := authenticate(r.Header)
	if u, pw, ok := f.appPasswordUser(r.Header); ok {
		c = caller{state: authOK, user: u}
		if f.serveAppPasswordUser(w, r, u, pw) {
			return
		}
	}
	if a := enforce(kind, c, r.Header, p); a != nil {
		write(w, a.status, a.header, a.body)
		return
	}
	if f.opts.DAV != nil && strings.HasPrefix(p, "/remote.php/dav/files/") && davVerbs[r.Method] {
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.opts.DAV.ServeHTTP(w, r)
		return
	}
	if a := f.staleNote(r, p); a != nil {
		write(w, a.status, a.header, a.body)
		return
	}
	if a := f.schemeWithoutEmoji(r, p); a != nil {
		write(w, a.status, a.header, a.body)
		return
	}
	e, ok := f.match(r, kind, c, body)
	if !ok {
		e, ok = fallback(r.Method, p)
		if !ok {
			write(w, http.StatusNotFound, map[string]string{"Content-Type": jsonCT},
				fmt.Sprintf(`{"message":"nextcloudfake: no recorded exchange for %s %s"}`, r.Method, r.URL.RequestURI()))
			return
		}
		w.Header().Set("X-Nextcloudfake-Fallback", e.Name)
	}
	respBody := e.Response.Body
	if p == "/ocs/v2.php/cloud/capabilities" && len(f.opts.DisabledApps) > 0 {
		respBody = dropCapabilities(respBody, f.opts.DisabledApps)
	}
	f.trackNote(p, e)
	respBody = f.tableEmoji(r, p, body, e.Response.Status, respBody)
	write(w, e.Response.Status, e.Response.Headers, respBody)
}

var noteItem = regexp.MustCompile(`^/index\.php/apps/notes/api/v1/notes/(\d+)$`)

type noteState struct {
	etag   string
	header map[string]string
	body   string
}

// trackNote remembers the note record an answer carried.
func (f *Fake) trackNote(p string, e Exchange) {
	if e.Response.Status != http.StatusOK || !strings.HasPrefix(p, "/index.php/apps/notes/api/v1/notes") {
		return
	}
	var n struct {
		ID   json.Number `json:"id"`
		ETag string      `json:"etag"`
	}
	if json.Unmarshal([]byte(e.Response.Body), &n) != nil || n.ID == "" || n.ETag == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notes[n.ID.String()] = noteState{etag: n.ETag, header: e.Response.Headers, body: e.Response.Body}
}

// staleNote answers a Notes PUT whose If-Match is not the note's current
// ETag as Notes does: 412 with the current note as the body.
func (f *Fake) staleNote(r *http.Request, p string) *answer {
	m := noteItem.FindStringSubmatch(p)
	im := strings.Trim(r.Header.Get("If-Match"), `"`)
	if m == nil || r.Method != http.MethodPut || im == "" {
		return nil
	}
	f.mu.Lock()
	cur, ok := f.notes[m[1]]
	f.mu.Unlock()
	if !ok || cur.etag == im {
		return nil
	}
	return &answer{http.StatusPreconditionFailed, cur.header, cur.body}
}

// fallbacks answer requests for objects no recording covers the way
// Nextcloud answers unknown or invisible objects, with a recorded answer:
// Deck says 403 (never 404), Notes and sharing 404 with their messages,
// Tables an empty 404, DAV a Sabre NotFound.
var fallbacks = []struct {
	method    string // empty: any
	pattern   *regexp.Regexp
	recording string
}{
	{"", regexp.MustCompile(`^/index\.php/apps/deck/api/v1\.[01]/boards/`), "deck/73-get-board-not-found-403"},
	{"", regexp.MustCompile(`^/ocs/v2\.php/apps/deck/api/v1\.0/cards/\d+/comments`), "deck/54-comments-list-unknown-card-403"},
	{"", regexp.MustCompile(`^/index\.php/apps/notes/api/v1/notes/\d+$`), "notes/18-get-note-not-found-404"},
	{"", regexp.MustCompile(`^/ocs/v2\.php/apps/files_sharing/api/v1/shares/\d+$`), "sharing/19-get-share-not-found-404"},
	{"", regexp.MustCompile(`^/ocs/v2\.php/apps/tables/api/2/tables/\d+`), "tables/15-v2-get-table-not-found-404"},
	{"", regexp.MustCompile(`^/index\.php/apps/tables/api/1/tables/\d+`), "tables/34-v1-get-table-not-found-404"},
	{"PROPFIND", regexp.MustCompile(`^/remote\.php/dav/files/`), "files/22-propfind-missing-404"},
	{"", regexp.MustCompile(`^/remote\.php/dav/files/`), "files/18-get-missing-file-404"},
}

func fallback(method, path string) (Exchange, bool) {
	for _, fb := range fallbacks {
		if (fb.method == "" || fb.method == method) && fb.pattern.MatchString(path) {
			e, err := Lookup(fb.recording)
			return e, err == nil
		}
	}
	return Exchange{}, false
}

func write(w http.ResponseWriter, status int, hdr map[string]string, body string) {
	for k, v := range hdr {
		w.Header()[k] = []string{v}
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func dropCapabilities(body string, apps []string) string {
	var env map[string]any
	if json.Unmarshal([]byte(body), &env) != nil {
		return body
	}
	ocs, _ := env["ocs"].(map[string]any)
	data, _ := ocs["data"].(map[string]any)
	caps, _ := data["capabilities"].(map[string]any)
	for _, a := range apps {
		delete(caps, a)
	}
	b, _ := json.Marshal(env)
	return string(b)
}

// recordedUser is the user a recording was made as, "" for requests the
// fake answers without checking credentials.
func recordedUser(e Exchange) (caller, bool) {
	h := http.Header{}
	if a, ok := e.Request.Headers["Authorization"]; ok {
		if m := readableBasic.FindStringSubmatch(a); m != nil {
			r := &http.Request{Header: http.Header{}}
			r.SetBasicAuth(m[1], m[2])
			a = r.Header.Get("Authorization")
		}
		h.Set("Authorization", a)
	}
	for k, v := range e.Request.Headers {
		if k != "Authorization" {
			h.Set(k, v)
		}
	}
	c := authenticate(h)
	kind := classify(e.Request.Path)
	// Recordings of enforced answers are reproduced by enforce, never
	// served as app data.
	return c, enforce(kind, c, h, e.Request.Path) == nil
}

func (f *Fake) match(r *http.Request, kind routeKind, c caller, body []byte) (Exchange, bool) {
	p := r.URL.Path
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq := f.override[r.Method+" "+p]; len(seq) > 0 {
		if len(seq) > 1 {
			f.override[r.Method+" "+p] = seq[1:]
		}
		return seq[0], true
	}
	best, bestScore := -1, -1
	for i, e := range f.exchanges {
		if e.Request.Method != r.Method || !strings.EqualFold(strings.TrimSuffix(unescape(e.Request.Path), "/"), strings.TrimSuffix(p, "/")) {
			continue
		}
		if !sameQuery(e.Request.Query, r.URL.RawQuery) {
			continue
		}
		rc, data := recordedUser(e)
		if !data {
			continue
		}
		if kind != routeOther && rc.user != c.user {
			continue
		}
		s := score(e, r, body)
		if f.served[i] {
			s = s*2 - 1 // fresh recordings win ties
		} else {
			s *= 2
		}
		if s > bestScore {
			best, bestScore = i, s
		}
	}
	if best < 0 {
		return Exchange{}, false
	}
	f.served[best] = true
	return f.exchanges[best], true
}

func sameQuery(a, b string) bool {
	qa, err1 := url.ParseQuery(a)
	qb, err2 := url.ParseQuery(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return reflect.DeepEqual(qa, qb)
}

// score ranks how well a recording fits the request beyond its route.
func score(e Exchange, r *http.Request, body []byte) int {
	s := 0
	if sameBody(e.Request.Body, body) {
		s += 8
	}
	for _, h := range []string{"If-Match", "If-None-Match", "If"} {
		v, ok := header(e.Request.Headers, h)
		got := r.Header.Get(h)
		switch {
		case ok && v == got:
			s += 4
		case !ok && got == "":
			s++
		}
	}
	for _, h := range []string{"Depth", "Overwrite", "OCS-APIRequest"} {
		v, _ := header(e.Request.Headers, h)
		if v == r.Header.Get(h) {
			s++
		}
	}
	if v, ok := header(e.Request.Headers, "Destination"); ok {
		if u, err := url.Parse(v); err == nil {
			if d, err := url.Parse(r.Header.Get("Destination")); err == nil && unescape(d.Path) == unescape(u.Path) {
				s += 4
			}
		}
	}
	return s
}

func sameBody(recorded string, got []byte) bool {
	if recorded == string(got) {
		return true
	}
	var a, b any
	if json.Unmarshal([]byte(recorded), &a) == nil && json.Unmarshal(got, &b) == nil {
		return reflect.DeepEqual(a, b)
	}
	if va, err := url.ParseQuery(recorded); err == nil && strings.Contains(recorded, "=") {
		if vb, err := url.ParseQuery(string(got)); err == nil {
			return reflect.DeepEqual(va, vb)
		}
	}
	return false
}
