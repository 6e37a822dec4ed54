// Package davclient is the CalDAV/CardDAV plumbing shared by the calendar,
// tasks and contacts tools: principal and home-set discovery, the
// requests go-webdav does not offer (calendar properties and privileges,
// MKCALENDAR with properties, PROPPATCH, extended MKCOL, calendar-query
// by UID, scheduling free/busy), write preconditions, retries of
// throttled requests and the mapping of DAV failures to errors a model
// can act on.
//
// It speaks standard DAV first and knows Nextcloud's layout and quirks as a
// fallback, so the same tools work against Nextcloud, Radicale or any
// compliant server.
package davclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-webdav/caldav"
	"github.com/emersion/go-webdav/carddav"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

// Config is what the tool families are built from.
type Config struct {
	// BaseURL is the server's base URL: a Nextcloud instance
	// (https://cloud.example.com/, with any path prefix) or a plain DAV
	// server's root.
	BaseURL string
	// HTTPClient sends every request. Its transport is expected to add
	// the caller's credentials (nextcloud.Transport does); nil means
	// http.DefaultClient.
	HTTPClient *http.Client
	// DAVRoot pins the DAV context path (e.g. "/remote.php/dav/") and
	// skips the /.well-known lookup; empty means discover it.
	DAVRoot string
}

// FromNextcloud returns the client for the Nextcloud behind c, sending
// through c's HTTP client (which adds each request's credentials and
// does not follow redirects). It is one client per c, shared by the
// families that ask.
func FromNextcloud(c *nextcloud.Client) (*Client, error) {
	type built struct {
		d   *Client
		err error
	}
	b := c.Shared(sharedKey{}, func() any {
		d, err := New(Config{BaseURL: c.BaseURL(), HTTPClient: c.HTTPClient()})
		return built{d, err}
	}).(built)
	return b.d, b.err
}

// sharedKey names the DAV client among the values shared on a Nextcloud
// client: calendar and contacts use one, and so discover homes once.
type sharedKey struct{}

// Client talks CalDAV and CardDAV to one server. It is safe for concurrent
// use; discovered home sets are cached per user, collection listings
// briefly per set of credentials (collectioncache.go).
type Client struct {
	base *url.URL
	hc   *http.Client
	doer *doer
	root string

	cal  *caldav.Client
	card *carddav.Client

	mu    sync.Mutex
	homes map[string]homesEntry
	cols  map[string]collectionsEntry

	// noTextFilter is set once the server refused a text-match filter.
	noTextFilter atomic.Bool
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("davclient: empty base URL")
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("davclient: parsing base URL: %w", err)
	}
	if base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("davclient: base URL %q is not absolute", cfg.BaseURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	d := &doer{hc: hc, sleep: nextcloud.SleepContext}
	endpoint := base.String()
	cal, err := caldav.NewClient(d, endpoint)
	if err != nil {
		return nil, fmt.Errorf("davclient: %w", err)
	}
	card, err := carddav.NewClient(d, endpoint)
	if err != nil {
		return nil, fmt.Errorf("davclient: %w", err)
	}
	c := &Client{
		base:  base,
		hc:    hc,
		doer:  d,
		root:  cfg.DAVRoot,
		cal:   cal,
		card:  card,
		homes: map[string]homesEntry{},
		cols:  map[string]collectionsEntry{},
	}
	d.refused = c.refused
	return c, nil
}

// CalDAV returns the go-webdav CalDAV client. Requests made with a context
// from WithPrecondition carry that precondition.
func (c *Client) CalDAV() *caldav.Client { return c.cal }

// CardDAV returns the go-webdav CardDAV client, with the same context
// conventions as CalDAV.
func (c *Client) CardDAV() *carddav.Client { return c.card }

// Precondition guards a write (RFC 7232). The zero value sends none.
type Precondition struct {
	// IfMatch is the ETag the object must still have (quoted or not).
	IfMatch string
	// IfNoneMatch makes the write create-only (If-None-Match: *).
	IfNoneMatch bool
}

type preconditionKey struct{}
type webcalKey struct{}

// WithPrecondition returns a context whose DAV requests carry p. It exists
// because go-webdav's Put methods take no precondition arguments; the
// client's HTTP layer reads it from the request context instead.
func WithPrecondition(ctx context.Context, p Precondition) context.Context {
	return context.WithValue(ctx, preconditionKey{}, p)
}

// withWebcalCaching sets Nextcloud's X-NC-CalDAV-Webcal-Caching header
// for the requests made with ctx. "On" (the default) lets subscriptions be
// queried like calendars; "Off" makes them show as what they are.
func withWebcalCaching(ctx context.Context, v string) context.Context {
	return context.WithValue(ctx, webcalKey{}, v)
}

// QuoteETag returns etag as an HTTP entity tag, quoting a bare value.
func QuoteETag(etag string) string {
	if etag == "" || etag == "*" || strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") {
		return etag
	}
	return `"` + etag + `"`
}

// UnquoteETag strips the quotes of a strong entity tag.
func UnquoteETag(etag string) string {
	return strings.TrimSuffix(strings.TrimPrefix(etag, `"`), `"`)
}

// doer is the webdav.HTTPClient every library call goes through: it adds
// the headers the library cannot and turns every non-2xx answer into an
// *HTTPError carrying the server's own explanation.
type doer struct {
	hc    *http.Client
	sleep func(context.Context, time.Duration) error
	// refused is told of every final non-2xx answer, so the caller's
	// caches do not outlive what the server says (Client.refused).
	refused func(context.Context, int)
}

// maxRetries and retryCap bound the waiting on a server that asks to be
// called again later (429 Too Many Requests, 503 Service Unavailable).
const (
	maxRetries = 2
	retryCap   = 5 * time.Second
)

// retryAfter tells how long to wait before retrying a refused request,
// or false when it should not be retried: only throttling answers are,
// and only when the body can be sent again.
func retryAfter(req *http.Request, resp *http.Response, attempt int) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0, false
	}
	if attempt >= maxRetries || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
		return 0, false
	}
	wait := time.Duration(500<<attempt) * time.Millisecond
	if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s >= 0 {
		wait = time.Duration(s) * time.Second
	}
	if wait > retryCap {
		return 0, false
	}
	return wait, true
}

func (d *doer) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if p, ok := ctx.Value(preconditionKey{}).(Precondition); ok {
		switch req.Method {
		case http.MethodPut, http.MethodDelete:
			if p.IfMatch != "" {
				req.Header.Set("If-Match", QuoteETag(p.IfMatch))
			}
			if p.IfNoneMatch {
				req.Header.Set("If-None-Match", "*")
			}
		}
	}
	webcal, _ := ctx.Value(webcalKey{}).(string)
	if webcal == "" {
		webcal = "On"
	}
	req.Header.Set("X-NC-CalDAV-Webcal-Caching", webcal)
	for attempt := 0; ; attempt++ {
		resp, err := d.hc.Do(req)
		if err != nil {
			return nil, nextcloud.NewTransportError(req.Method, req.URL.Path, err)
		}
		if resp.StatusCode/100 == 2 {
			return resp, nil
		}
		wait, again := retryAfter(req, resp, attempt)
		if !again {
			defer resp.Body.Close()
			if d.refused != nil {
				d.refused(ctx, resp.StatusCode)
			}
			return nil, newHTTPError(req, resp)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		if err := d.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s %s: waiting to retry: %w", req.Method, req.URL.Path, err)
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("%s %s: rewinding the body: %w", req.Method, req.URL.Path, err)
			}
			req.Body = body
		}
	}
}

// refused drops what the caller's caches hold once the server refuses a
// request: the collection lists always (the collection may be gone or
// changed), the discovery too when the credentials were refused.
func (c *Client) refused(ctx context.Context, status int) {
	c.ForgetCollections(ctx)
	if status == http.StatusUnauthorized {
		c.forgetHomes(ctx)
	}
}

// send performs a request built by this package, with the same header and
// error handling as library requests. The caller closes the body.
func (c *Client) send(ctx context.Context, method, path string, body io.Reader, header http.Header) (*http.Response, error) {
	u := c.resolve(path)
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", method, path, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return c.doer.Do(req)
}

// resolve turns a server href (an absolute path, or a full URL) into a URL.
func (c *Client) resolve(href string) string {
	ref, err := url.Parse(href)
	if err != nil {
		return c.base.String() + strings.TrimPrefix(href, "/")
	}
	return c.base.ResolveReference(ref).String()
}

// pollInterval and pollTries bound the wait for a new collection to show:
// Nextcloud creates calendars asynchronously enough for an immediate
// PROPFIND to miss them.
var (
	pollInterval = 200 * time.Millisecond
	pollTries    = 40
)
