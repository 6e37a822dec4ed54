package nextcloud

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults for Options fields left zero.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultMaxResponseBytes = 16 << 20
	DefaultMaxRetries       = 3
	DefaultCacheTTL         = 60 * time.Second
)

// Options configure a Client.
type Options struct {
	// BaseURL is Nextcloud's root, e.g. "https://cloud.example.com" or
	// "https://example.com/nextcloud".
	BaseURL string
	// Base is the transport under the credential-injecting Transport;
	// http.DefaultTransport when nil.
	Base http.RoundTripper
	// Timeout bounds one HTTP exchange including retries' individual
	// attempts (not the whole retry sequence).
	Timeout time.Duration
	// MaxResponseBytes caps the response bodies read into memory, so a
	// huge file or a runaway listing cannot exhaust the backend.
	MaxResponseBytes int64
	// MaxRetries is how often a 429 or 423 answer is retried.
	MaxRetries int
	// CacheTTL is how long capabilities and the user id are cached per
	// credential.
	CacheTTL time.Duration
	// Sleep waits between retries; tests replace it. Defaults to a
	// context-aware timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client talks to one Nextcloud instance on behalf of whichever user's
// credentials are in the request context. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	hc      *http.Client
	maxBody int64
	retries int
	ttl     time.Duration
	sleep   func(ctx context.Context, d time.Duration) error
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]cacheEntry

	sharedMu sync.Mutex
	shared   map[any]any
}

// Shared returns the value built for key on this client, calling build
// only the first time. Families that derive their own client from this one
// (the DAV client of calendar and contacts) share it, and with it what it
// caches, such as discovered home sets.
func (c *Client) Shared(key any, build func() any) any {
	c.sharedMu.Lock()
	defer c.sharedMu.Unlock()
	if v, ok := c.shared[key]; ok {
		return v
	}
	if c.shared == nil {
		c.shared = map[any]any{}
	}
	v := build()
	c.shared[key] = v
	return v
}

type cacheEntry struct {
	caps    *Capabilities
	user    string
	expires time.Time
}

// New returns a client for the Nextcloud at opts.BaseURL.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(opts.BaseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("parsing Nextcloud base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("nextcloud base URL %q: want http(s)://host[/path]", opts.BaseURL)
	}
	c := &Client{
		base:    u,
		maxBody: opts.MaxResponseBytes,
		retries: opts.MaxRetries,
		ttl:     opts.CacheTTL,
		sleep:   opts.Sleep,
		now:     time.Now,
		cache:   map[string]cacheEntry{},
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxResponseBytes
	}
	if c.retries < 0 {
		c.retries = 0
	} else if c.retries == 0 {
		c.retries = DefaultMaxRetries
	}
	if c.ttl <= 0 {
		c.ttl = DefaultCacheTTL
	}
	if c.sleep == nil {
		c.sleep = SleepContext
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c.hc = &http.Client{
		Transport: &Transport{Base: opts.Base},
		Timeout:   timeout,
		// Nextcloud redirects only to login pages or elsewhere; following
		// would forward credentials to places we did not choose.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

// HTTPClient returns the client's *http.Client: it injects the credentials
// of each request's context and refuses requests without them. Packages
// with their own protocol code (CalDAV, CardDAV) use it with BaseURL.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// BaseURL returns Nextcloud's root URL without a trailing slash.
func (c *Client) BaseURL() string { return c.base.String() }

// URL resolves an absolute Nextcloud path ("/ocs/v2.php/...") against the
// base URL, keeping a base path such as "/nextcloud".
func (c *Client) URL(path string, q url.Values) string {
	u := *c.base
	full := c.base.EscapedPath() + path
	u.RawPath = full
	if p, err := url.PathUnescape(full); err == nil {
		u.Path = p
	} else {
		u.Path, u.RawPath = full, ""
	}
	if q != nil {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Request describes one call to Nextcloud. Path is absolute from the
// Nextcloud root and already escaped where needed (EscapedPath).
type Request struct {
	Method string
	// Path is the escaped path from Nextcloud's root.
	Path   string
	Query  url.Values
	Header http.Header
	// Body is sent as is; JSON, when non-nil, is marshalled instead and
	// Form is sent url-encoded.
	Body []byte
	JSON any
	Form url.Values
}

// Response is a fully read answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// ETag returns the response's ETag without quotes.
func (r *Response) ETag() string { return strings.Trim(r.Header.Get("ETag"), `"`) }

// Error is a Nextcloud answer with an unexpected status.
type Error struct {
	Method string
	Path   string
	Status int
	// OCSStatus is ocs.meta.statuscode when the answer had an envelope.
	OCSStatus int
	// Message is Nextcloud's own explanation, as far as one was given.
	Message string
	Body    []byte
	// RequestID is Nextcloud's X-Request-Id, the key of its log line.
	RequestID string
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, msg)
}

// IsStatus reports whether err is a Nextcloud *Error with one of codes.
func IsStatus(err error, codes ...int) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	for _, c := range codes {
		if e.Status == c {
			return true
		}
	}
	return false
}

// ErrTooLarge is returned when a response exceeds MaxResponseBytes.
var ErrTooLarge = errors.New("response too large")

// Do sends r and reads the whole answer. Statuses of 400 and above become
// *Error; 1xx-3xx are returned as they are (304 is a valid answer to a
// conditional GET), except where JSON was asked for and a redirect or an
// HTML page came back (faults.go). 429 and 423 are retried with backoff.
func (c *Client) Do(ctx context.Context, r *Request) (*Response, error) {
	body := r.Body
	ctype := ""
	switch {
	case r.JSON != nil:
		b, err := json.Marshal(r.JSON)
		if err != nil {
			return nil, fmt.Errorf("encoding request body: %w", err)
		}
		body, ctype = b, "application/json"
	case r.Form != nil:
		body, ctype = []byte(r.Form.Encode()), "application/x-www-form-urlencoded"
	}
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, r.Method, c.URL(r.Path, r.Query), rd)
		if err != nil {
			return nil, fmt.Errorf("building %s %s: %w", r.Method, r.Path, err)
		}
		for k, v := range r.Header {
			req.Header[k] = v
		}
		if ctype != "" && req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, NewTransportError(r.Method, r.Path, err)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
		resp.Body.Close()
		if err != nil {
			return nil, NewTransportError(r.Method, r.Path, fmt.Errorf("reading response: %w", err))
		}
		if int64(len(b)) > c.maxBody {
			return nil, fmt.Errorf("%s %s: %w (over %d bytes)", r.Method, r.Path, ErrTooLarge, c.maxBody)
		}
		out := &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
		if (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusLocked) && attempt < c.retries {
			if err := c.sleep(ctx, backoff(attempt, resp.Header.Get("Retry-After"))); err != nil {
				return nil, err
			}
			continue
		}
		if resp.StatusCode >= 400 {
			return out, statusError(r.Method, r.Path, req.URL.Hostname(), out)
		}
		if e := unexpectedAnswer(r.Method, r.Path, req.Header.Get("Accept"), out); e != nil {
			return out, e
		}
		return out, nil
	}
}

// backoff honours a Retry-After in seconds (capped, so one tool call cannot
// hang for minutes) and otherwise doubles from 250ms with jitter.
func backoff(attempt int, retryAfter string) time.Duration {
	if s, err := strconv.Atoi(retryAfter); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, 10*time.Second)
	}
	d := 250 * time.Millisecond << attempt
	return d + rand.N(d/2+1)
}

// SleepContext waits d, or less if ctx ends first (then it returns
// ctx.Err()); retry loops wait with it.
func SleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// appHeaders are sent on every app and OCS call: with bearer tokens the
// #[CORS] app routes answer 401 without OCS-APIRequest, and OCS answers
// 412 (CSRF) to basic auth without it.
func appHeaders(h http.Header) http.Header {
	if h == nil {
		h = http.Header{}
	}
	h.Set("OCS-APIRequest", "true")
	h.Set("Accept", "application/json")
	return h
}

// JSON calls an app route (/index.php/apps/...) that speaks plain JSON and
// decodes the answer into out (when non-nil and the body is not empty).
func (c *Client) JSON(ctx context.Context, method, path string, q url.Values, in, out any) (*Response, error) {
	r := &Request{Method: method, Path: path, Query: q, JSON: in, Header: appHeaders(nil)}
	resp, err := c.Do(ctx, r)
	if err != nil {
		return resp, err
	}
	if out != nil && len(bytes.TrimSpace(resp.Body)) > 0 {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return resp, fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
		}
	}
	return resp, nil
}

// DoApp sends r with the headers every app and OCS call needs.
func (c *Client) DoApp(ctx context.Context, r *Request) (*Response, error) {
	r.Header = appHeaders(r.Header)
	return c.Do(ctx, r)
}

type ocsEnvelope struct {
	OCS struct {
		Meta struct {
			Status     string `json:"status"`
			StatusCode int    `json:"statuscode"`
			Message    string `json:"message"`
		} `json:"meta"`
		Data json.RawMessage `json:"data"`
	} `json:"ocs"`
}

// OCS calls an OCS route (/ocs/v1.php or /ocs/v2.php) with JSON answers,
// checks ocs.meta and decodes ocs.data into out. in is sent as JSON, or
// url-encoded when it is url.Values.
func (c *Client) OCS(ctx context.Context, method, path string, q url.Values, in, out any) error {
	r := &Request{Method: method, Path: path, Query: q, Header: appHeaders(nil)}
	switch v := in.(type) {
	case nil:
	case url.Values:
		r.Form = v
	default:
		r.JSON = v
	}
	resp, err := c.Do(ctx, r)
	if err != nil {
		return err
	}
	var env ocsEnvelope
	if err := json.Unmarshal(resp.Body, &env); err != nil {
		return fmt.Errorf("%s %s: decoding OCS answer: %w", method, path, err)
	}
	// v1 reports success as 100 with HTTP 200; v2 copies the HTTP status.
	if sc := env.OCS.Meta.StatusCode; sc != 100 && sc != 200 {
		return &Error{Method: method, Path: path, Status: resp.Status, OCSStatus: sc, Message: env.OCS.Meta.Message, Body: resp.Body}
	}
	if out != nil {
		if err := json.Unmarshal(env.OCS.Data, out); err != nil {
			return fmt.Errorf("%s %s: decoding OCS data: %w", method, path, err)
		}
	}
	return nil
}

// newError extracts Nextcloud's explanation from the body shapes seen in
// practice: an OCS envelope (message in meta, or in data for Tables v2),
// {"message":...} (app routes, Deck), {"msg":...} (Cookbook), a bare JSON
// string (Cookbook), a Sabre <s:message> (DAV), or plain text.
func newError(method, path string, resp *Response) *Error {
	e := &Error{Method: method, Path: path, Status: resp.Status, Body: resp.Body}
	b := bytes.TrimSpace(resp.Body)
	if len(b) == 0 {
		return e
	}
	var env struct {
		OCS *struct {
			Meta struct {
				StatusCode int    `json:"statuscode"`
				Message    string `json:"message"`
			} `json:"meta"`
			Data json.RawMessage `json:"data"`
		} `json:"ocs"`
		Message any    `json:"message"`
		Msg     string `json:"msg"`
	}
	var s string
	switch {
	case json.Unmarshal(b, &s) == nil:
		e.Message = s
	case json.Unmarshal(b, &env) == nil:
		switch {
		case env.OCS != nil:
			e.OCSStatus = env.OCS.Meta.StatusCode
			e.Message = env.OCS.Meta.Message
			var d struct {
				Message string `json:"message"`
			}
			if e.Message == "" && json.Unmarshal(env.OCS.Data, &d) == nil {
				e.Message = d.Message
			}
		case env.Message != nil:
			e.Message = fmt.Sprint(env.Message)
		case env.Msg != "":
			e.Message = env.Msg
		}
	case bytes.Contains(b, []byte("<s:message>")):
		m := b[bytes.Index(b, []byte("<s:message>"))+len("<s:message>"):]
		if i := bytes.Index(m, []byte("</s:message>")); i >= 0 {
			e.Message = string(m[:i])
		}
	case !bytes.HasPrefix(b, []byte("<")):
		e.Message = string(b[:min(len(b), 300)])
	}
	e.Message = strings.TrimSpace(e.Message)
	return e
}

// credKey identifies the caller for the per-user caches without keeping
// the secret itself in memory as a map key.
func credKey(ctx context.Context) (string, bool) {
	cr, ok := CredentialsFrom(ctx)
	if !ok {
		return "", false
	}
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	cr.Apply(r)
	sum := sha256.Sum256([]byte(r.Header.Get("Authorization")))
	return string(sum[:]), true
}
