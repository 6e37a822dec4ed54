package wholepath

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// The Nextcloud user every valid bearer token signs in as: Nextcloud's
// user_oidc maps a token to one account, and the recordings the fake
// answers from were made as admin.
const ncUser = nextcloudfake.AdminUser

// DAV prefixes of Nextcloud's layout that the front serves from Radicale.
// Radicale keeps a user's calendars and address books under /<user>/; the
// prefix is stripped and handed to Radicale as X-Script-Name, so every href
// it answers carries the Nextcloud prefix again.
var radicalePrefixes = []string{
	"/remote.php/dav/calendars",
	"/remote.php/dav/addressbooks/users",
}

const principalPath = "/remote.php/dav/principals/users/" + ncUser

// principalAnswer is Nextcloud's answer to a Depth 0 PROPFIND of the user's
// principal for the properties CalDAV/CardDAV discovery asks.
const principalAnswer = `<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:response><d:href>` + principalPath + `/</d:href><d:propstat><d:prop>` +
	`<d:current-user-principal><d:href>` + principalPath + `/</d:href></d:current-user-principal>` +
	`<cal:calendar-home-set><d:href>/remote.php/dav/calendars/` + ncUser + `/</d:href></cal:calendar-home-set>` +
	`<card:addressbook-home-set><d:href>/remote.php/dav/addressbooks/users/` + ncUser + `/</d:href></card:addressbook-home-set>` +
	`<d:displayname>` + ncUser + `</d:displayname>` +
	`</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>
`

// frontRequest is what the front saw of one request, before rewriting.
type frontRequest struct {
	Method, Path  string
	Authorization string
	Header        http.Header
	Upstream      string // "radicale", "fake" or "front"
}

// front is the in-test Nextcloud: one origin on a loopback port that
// answers like an instance with user_oidc's bearer validation. It checks
// every bearer token at the provider's introspection endpoint (as
// user_oidc does for opaque tokens), answers the DAV service discovery
// Nextcloud answers itself (the .well-known redirects and the principal's
// home sets), sends calendar and address book DAV traffic to Radicale,
// and everything else to the contract fake. A valid
// token becomes the credential each peer knows: the recorded bearer token
// for the fake, basic credentials of the same user for Radicale. Invalid
// tokens reach the fake unchanged, so it answers Nextcloud's 401.
type front struct {
	URL      string
	fake     *nextcloudfake.Fake
	fakeURL  *url.URL
	radicale *url.URL
	provider *oidctest.Provider

	mu       sync.Mutex
	verdicts map[string]bool
	seen     []frontRequest
}

func startFront(t *testing.T, fake *nextcloudfake.Fake, fakeURL, radicaleURL string, p *oidctest.Provider) *front {
	t.Helper()
	f := &front{fake: fake, provider: p, verdicts: map[string]bool{}}
	var err error
	if f.fakeURL, err = url.Parse(fakeURL); err != nil {
		t.Fatal(err)
	}
	if f.radicale, err = url.Parse(strings.TrimSuffix(radicaleURL, "/")); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.URL = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return f
}

// requests returns what the front saw so far.
func (f *front) requests() []frontRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]frontRequest(nil), f.seen...)
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	seen := frontRequest{Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), Header: r.Header.Clone()}
	record := func(upstream string) {
		seen.Upstream = upstream
		f.mu.Lock()
		f.seen = append(f.seen, seen)
		f.mu.Unlock()
	}

	// Nextcloud's .htaccess: CalDAV/CardDAV service discovery.
	if r.URL.Path == "/.well-known/caldav" || r.URL.Path == "/.well-known/carddav" {
		record("front")
		http.Redirect(w, r, "/remote.php/dav/", http.StatusMovedPermanently)
		return
	}

	tok, isBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	valid := isBearer && f.active(r.Context(), tok)

	// The user's principal, which the fake has no recording of: answered
	// as Nextcloud answers it, naming the home sets of its DAV layout.
	if r.Method == "PROPFIND" && strings.TrimSuffix(r.URL.Path, "/") == principalPath {
		record("front")
		if !valid {
			w.Header().Set("WWW-Authenticate", `Basic realm="Nextcloud", charset="UTF-8"`)
			http.Error(w, "not authenticated", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, principalAnswer)
		return
	}

	for _, prefix := range radicalePrefixes {
		rest, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
			continue
		}
		record("radicale")
		if isBearer && !valid {
			w.Header().Set("WWW-Authenticate", `Basic realm="Nextcloud", charset="UTF-8"`)
			http.Error(w, "invalid bearer token", http.StatusUnauthorized)
			return
		}
		proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(f.radicale)
			pr.Out.URL.Path = f.radicale.Path + rest
			pr.Out.URL.RawPath = ""
			pr.Out.Header.Set("X-Script-Name", prefix)
			if valid {
				pr.Out.SetBasicAuth(ncUser, "via-bearer")
			}
		}}
		proxy.ServeHTTP(w, r)
		return
	}

	record("fake")
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(f.fakeURL)
		pr.Out.Host = r.Host
		if valid {
			pr.Out.Header.Set("Authorization", "Bearer "+nextcloudfake.AccessToken)
		}
	}}
	proxy.ServeHTTP(w, r)
}

// active asks the provider's introspection endpoint about a token, with
// the resource server's credentials, and remembers the answer.
func (f *front) active(ctx context.Context, tok string) bool {
	f.mu.Lock()
	v, ok := f.verdicts[tok]
	f.mu.Unlock()
	if ok {
		return v
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	form := url.Values{"token": {tok}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.provider.IntrospectionEndpoint(), strings.NewReader(form.Encode()))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(oidctest.ResourceServerID, oidctest.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var body struct {
		Active bool `json:"active"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &body) != nil {
		return false
	}
	f.mu.Lock()
	f.verdicts[tok] = body.Active
	f.mu.Unlock()
	return body.Active
}
