package davclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

// Homes are the collections of the current user.
type Homes struct {
	// Principal is the current-user-principal href, empty when the
	// server did not tell and the Nextcloud layout was assumed.
	Principal string
	// Calendars is the calendar-home-set href (RFC 4791 §6.2.1).
	Calendars string
	// AddressBooks is the addressbook-home-set href (RFC 6352 §7.1.1).
	AddressBooks string
}

// homesEntry is what discovery learnt of one user: the homes and, from
// the same PROPFIND on the principal, the scheduling outbox and calendar
// user addresses free/busy lookups need.
type homesEntry struct {
	homes     Homes
	outbox    string
	addresses []string
	expires   time.Time
}

// homesTTL bounds how long a discovered layout is trusted; a home that
// answers 404 or credentials that answer 401 drop it before that.
// maxHomesCache bounds the memory: when full, expired entries go first,
// then everything.
const (
	homesTTL      = 10 * time.Minute
	maxHomesCache = 1024
)

// Homes discovers the user's principal and home sets the standard way
// (the DAV root's current-user-principal, then the home-set properties of
// the principal in one PROPFIND) and falls back to Nextcloud's
// /remote.php/dav/ layout for whatever the server does not answer. The
// answer is cached per user for homesTTL, so a user's later calls go
// straight to their collections.
func (c *Client) Homes(ctx context.Context) (Homes, error) {
	e, err := c.homesEntry(ctx)
	return e.homes, err
}

func (c *Client) homesEntry(ctx context.Context) (homesEntry, error) {
	key := cacheKey(ctx)
	now := time.Now()
	c.mu.Lock()
	if e, ok := c.homes[key]; ok && now.Before(e.expires) {
		c.mu.Unlock()
		return e, nil
	}
	c.mu.Unlock()

	e, fromServer, err := c.discover(ctx)
	if err != nil {
		return homesEntry{}, err
	}
	if !fromServer {
		// An assumed layout is not remembered: the next call asks again,
		// in case the server's answer was a passing failure.
		return e, nil
	}
	e.expires = now.Add(homesTTL)
	c.mu.Lock()
	if len(c.homes) >= maxHomesCache {
		for k, old := range c.homes {
			if !now.Before(old.expires) {
				delete(c.homes, k)
			}
		}
		if len(c.homes) >= maxHomesCache {
			clear(c.homes)
		}
	}
	c.homes[key] = e
	c.mu.Unlock()
	return e, nil
}

// forgetHomes drops the caller's cached discovery, after an answer that
// says it no longer holds: the credentials were refused (401) or a home
// is gone (404).
func (c *Client) forgetHomes(ctx context.Context) {
	key := cacheKey(ctx)
	c.mu.Lock()
	delete(c.homes, key)
	c.mu.Unlock()
}

// ForgetHomesOn drops the caller's discovery when err says it is stale
// (a home answered 404, or the credentials 401), and returns err.
func (c *Client) ForgetHomesOn(ctx context.Context, err error) error {
	if s := StatusOf(err); s == http.StatusNotFound || s == http.StatusUnauthorized {
		c.forgetHomes(ctx)
	}
	return err
}

// cacheKey identifies the caller: the login name of basic credentials
// (so an app password's rotation keeps the cache; a wrong password gets
// the same hrefs, which grant nothing, and its 401 drops them), otherwise
// a hash of the Authorization header, never the secret itself.
func cacheKey(ctx context.Context) string {
	creds, ok := nextcloud.CredentialsFrom(ctx)
	if !ok {
		return ""
	}
	if u := creds.User(); u != "" {
		return "user\x00" + u
	}
	return credentialsKey(ctx)
}

// credentialsKey identifies the caller's exact credentials by a hash of
// the Authorization header they send, never the secret itself.
func credentialsKey(ctx context.Context) string {
	creds, ok := nextcloud.CredentialsFrom(ctx)
	if !ok {
		return ""
	}
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	creds.Apply(r)
	sum := sha256.Sum256([]byte(r.Header.Get("Authorization")))
	return "auth\x00" + string(sum[:])
}

// principalProps are asked of the principal in one PROPFIND: both home
// sets and the scheduling properties (RFC 4791 §6.2.1, RFC 6352 §7.1.1,
// RFC 6638 §2.1, §2.4.1).
var principalProps = []emptyProp{
	{xml.Name{Space: nsCalDAV, Local: "calendar-home-set"}},
	{xml.Name{Space: nsCardDAV, Local: "addressbook-home-set"}},
	{xml.Name{Space: nsCalDAV, Local: "schedule-outbox-URL"}},
	{xml.Name{Space: nsCalDAV, Local: "calendar-user-address-set"}},
}

type principalMultistatus struct {
	Responses []struct {
		Propstats []struct {
			Status string `xml:"DAV: status"`
			Prop   struct {
				CalendarHome struct {
					Href string `xml:"DAV: href"`
				} `xml:"urn:ietf:params:xml:ns:caldav calendar-home-set"`
				AddressBookHome struct {
					Href string `xml:"DAV: href"`
				} `xml:"urn:ietf:params:xml:ns:carddav addressbook-home-set"`
				Outbox struct {
					Href string `xml:"DAV: href"`
				} `xml:"urn:ietf:params:xml:ns:caldav schedule-outbox-URL"`
				Addresses struct {
					Hrefs []string `xml:"DAV: href"`
				} `xml:"urn:ietf:params:xml:ns:caldav calendar-user-address-set"`
			} `xml:"DAV: prop"`
		} `xml:"DAV: propstat"`
	} `xml:"DAV: response"`
}

var currentUserPrincipalProps = []emptyProp{{xml.Name{Space: nsDAV, Local: "current-user-principal"}}}

type principalAnswer struct {
	Responses []struct {
		Propstats []struct {
			Status string `xml:"DAV: status"`
			Prop   struct {
				Principal struct {
					Href string `xml:"DAV: href"`
				} `xml:"DAV: current-user-principal"`
			} `xml:"DAV: prop"`
		} `xml:"DAV: propstat"`
	} `xml:"DAV: response"`
}

// currentUserPrincipal asks root for the current-user-principal (RFC
// 5397), sending the path as given: Nextcloud's root is recorded with its
// trailing slash.
func (c *Client) currentUserPrincipal(ctx context.Context, root string) (string, error) {
	var pf propfindBody
	pf.Prop.Props = currentUserPrincipalProps
	body, err := xml.Marshal(pf)
	if err != nil {
		return "", fmt.Errorf("encoding PROPFIND: %w", err)
	}
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/xml; charset=utf-8")
	hdr.Set("Depth", "0")
	resp, err := c.send(ctx, "PROPFIND", root, bytes.NewReader(append([]byte(xml.Header), body...)), hdr)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var ms principalAnswer
	if err := xml.NewDecoder(resp.Body).Decode(&ms); err != nil {
		return "", fmt.Errorf("decoding PROPFIND %s: %w", root, err)
	}
	for _, r := range ms.Responses {
		for _, ps := range r.Propstats {
			if strings.Contains(ps.Status, " 200") && strings.TrimSpace(ps.Prop.Principal.Href) != "" {
				return hrefPath(strings.TrimSpace(ps.Prop.Principal.Href)), nil
			}
		}
	}
	return "", nil
}

// principalHomes reads the home sets and scheduling properties of the
// principal at href.
func (c *Client) principalHomes(ctx context.Context, href string) (homesEntry, error) {
	var pf propfindBody
	pf.Prop.Props = principalProps
	body, err := xml.Marshal(pf)
	if err != nil {
		return homesEntry{}, fmt.Errorf("encoding PROPFIND: %w", err)
	}
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/xml; charset=utf-8")
	hdr.Set("Depth", "0")
	resp, err := c.send(ctx, "PROPFIND", href, bytes.NewReader(append([]byte(xml.Header), body...)), hdr)
	if err != nil {
		return homesEntry{}, err
	}
	defer resp.Body.Close()
	var ms principalMultistatus
	if err := xml.NewDecoder(resp.Body).Decode(&ms); err != nil {
		return homesEntry{}, fmt.Errorf("decoding the principal's properties: %w", err)
	}
	var e homesEntry
	for _, r := range ms.Responses {
		for _, ps := range r.Propstats {
			if !strings.Contains(ps.Status, " 200") {
				continue
			}
			p := ps.Prop
			if h := strings.TrimSpace(p.CalendarHome.Href); h != "" {
				e.homes.Calendars = hrefPath(h)
			}
			if h := strings.TrimSpace(p.AddressBookHome.Href); h != "" {
				e.homes.AddressBooks = hrefPath(h)
			}
			if h := strings.TrimSpace(p.Outbox.Href); h != "" {
				e.outbox = hrefPath(h)
			}
			for _, a := range p.Addresses.Hrefs {
				e.addresses = append(e.addresses, strings.TrimSpace(a))
			}
		}
	}
	return e, nil
}

// hrefPath is the path of an href, which servers may send as a full URL.
func hrefPath(href string) string {
	if u, err := url.Parse(href); err == nil && u.Path != "" {
		return u.Path
	}
	return href
}

// discover finds the homes; fromServer tells whether the server named
// both home sets.
func (c *Client) discover(ctx context.Context) (e homesEntry, fromServer bool, err error) {
	var firstErr error
	tried := map[string]bool{}
	principal := ""
	for next := c.davRoots(ctx); ; {
		root, ok := next()
		if !ok {
			break
		}
		if tried[root] {
			continue
		}
		tried[root] = true
		p, err := c.currentUserPrincipal(ctx, root)
		if err == nil && p != "" {
			principal = p
			break
		}
		if firstErr == nil {
			firstErr = err
		}
		// Wrong credentials will not get better at another root.
		if StatusOf(err) == http.StatusUnauthorized {
			return homesEntry{}, false, fmt.Errorf("finding the current user principal: %w", err)
		}
	}

	if principal != "" {
		if got, err := c.principalHomes(ctx, principal); err == nil {
			e = got
		} else if StatusOf(err) == http.StatusUnauthorized {
			return homesEntry{}, false, fmt.Errorf("reading the principal's home sets: %w", err)
		}
		e.homes.Principal = principal
	}
	h := &e.homes
	if h.Calendars != "" && h.AddressBooks != "" {
		return e, true, nil
	}

	// Nextcloud's layout, for servers that hide the principal or its
	// home sets; the user id is the principal's last segment, or the
	// login name of basic credentials.
	user := ""
	if h.Principal != "" {
		user = path.Base(strings.TrimSuffix(h.Principal, "/"))
	} else if creds, ok := nextcloud.CredentialsFrom(ctx); ok {
		user = creds.User()
	}
	if user == "" || user == "/" || user == "." {
		if firstErr == nil {
			firstErr = errors.New("the server named no principal")
		}
		return homesEntry{}, false, fmt.Errorf("finding the current user principal: %w", firstErr)
	}
	nc := c.base.JoinPath("remote.php", "dav").Path
	if h.Calendars == "" {
		h.Calendars = nc + "/calendars/" + url.PathEscape(user) + "/"
	}
	if h.AddressBooks == "" {
		h.AddressBooks = nc + "/addressbooks/users/" + url.PathEscape(user) + "/"
	}
	return e, false, nil
}

// davRoots yields where to ask for current-user-principal, best first:
// the configured root; else Nextcloud's DAV root, which answers at once
// on the server this backend is made for; then the context path the
// well-known URI redirects to (RFC 6764), looked up only when needed; and
// the base URL itself.
func (c *Client) davRoots(ctx context.Context) func() (string, bool) {
	if c.root != "" {
		done := false
		return func() (string, bool) {
			if done {
				return "", false
			}
			done = true
			return c.root, true
		}
	}
	step := 0
	return func() (string, bool) {
		for {
			step++
			switch step {
			case 1:
				return c.base.JoinPath("remote.php", "dav").Path + "/", true
			case 2:
				if r := c.wellKnown(ctx); r != "" {
					return r, true
				}
			case 3:
				return c.base.Path, true
			default:
				return "", false
			}
		}
	}
}

// wellKnown follows /.well-known/caldav by hand (RFC 6764 §5): Go's client
// would turn the PROPFIND into a GET on a 301.
func (c *Client) wellKnown(ctx context.Context) string {
	hc := *c.hc
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	u := c.base.JoinPath(".well-known", "caldav")
	req, err := http.NewRequestWithContext(ctx, "PROPFIND", u.String(), nil)
	if err != nil {
		return ""
	}
	req.Header.Set("Depth", "0")
	resp, err := hc.Do(req)
	if err != nil {
		return ""
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		loc, err := resp.Location()
		if err != nil || loc.Host != u.Host {
			return ""
		}
		return loc.Path
	}
	return ""
}
