package davclient

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/emersion/go-webdav"

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

type homesEntry struct {
	homes   Homes
	expires time.Time
}

const (
	homesTTL      = 10 * time.Minute
	maxHomesCache = 1024
)

// Homes discovers the user's principal and home sets the standard way
// (RFC 6764 well-known URI, then current-user-principal, then the home-set
// properties) and falls back to Nextcloud's /remote.php/dav/ layout for
// whatever the server does not answer.
func (c *Client) Homes(ctx context.Context) (Homes, error) {
	key := credentialsKey(ctx)
	c.mu.Lock()
	if e, ok := c.homes[key]; ok && time.Now().Before(e.expires) {
		c.mu.Unlock()
		return e.homes, nil
	}
	c.mu.Unlock()

	h, fromServer, err := c.discover(ctx)
	if err != nil {
		return Homes{}, err
	}
	if !fromServer {
		// An assumed layout is not remembered: the next call asks again,
		// in case the server's answer was a passing failure.
		return h, nil
	}
	c.mu.Lock()
	if len(c.homes) >= maxHomesCache {
		clear(c.homes)
	}
	c.homes[key] = homesEntry{homes: h, expires: time.Now().Add(homesTTL)}
	c.mu.Unlock()
	return h, nil
}

// credentialsKey identifies the caller without keeping their secret.
func credentialsKey(ctx context.Context) string {
	creds, ok := nextcloud.CredentialsFrom(ctx)
	if !ok {
		return ""
	}
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	creds.Apply(r)
	sum := sha256.Sum256([]byte(r.Header.Get("Authorization")))
	return string(sum[:])
}

// discover finds the homes; fromServer tells whether the server named
// both home sets.
func (c *Client) discover(ctx context.Context) (h Homes, fromServer bool, err error) {
	var firstErr error
	for _, root := range c.davRoots(ctx) {
		wc, err := webdav.NewClient(c.doer, c.resolve(root))
		if err != nil {
			return Homes{}, false, fmt.Errorf("davclient: %w", err)
		}
		p, err := wc.FindCurrentUserPrincipal(ctx)
		if err == nil && p != "" {
			h.Principal = p
			break
		}
		if firstErr == nil {
			firstErr = err
		}
		// Wrong credentials will not get better at another root.
		if StatusOf(err) == http.StatusUnauthorized {
			return Homes{}, false, fmt.Errorf("finding the current user principal: %w", err)
		}
	}

	if h.Principal != "" {
		if home, err := c.cal.FindCalendarHomeSet(ctx, h.Principal); err == nil && home != "" {
			h.Calendars = home
		}
		if home, err := c.card.FindAddressBookHomeSet(ctx, h.Principal); err == nil && home != "" {
			h.AddressBooks = home
		}
	}
	if h.Calendars != "" && h.AddressBooks != "" {
		return h, true, nil
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
		return Homes{}, false, fmt.Errorf("finding the current user principal: %w", firstErr)
	}
	nc := c.base.JoinPath("remote.php", "dav").Path
	if h.Calendars == "" {
		h.Calendars = nc + "/calendars/" + url.PathEscape(user) + "/"
	}
	if h.AddressBooks == "" {
		h.AddressBooks = nc + "/addressbooks/users/" + url.PathEscape(user) + "/"
	}
	return h, false, nil
}

// davRoots lists where to ask for current-user-principal, best first: the
// configured root, the context path the well-known URI redirects to, the
// Nextcloud DAV root and the base URL itself.
func (c *Client) davRoots(ctx context.Context) []string {
	if c.root != "" {
		return []string{c.root}
	}
	var roots []string
	if r := c.wellKnown(ctx); r != "" {
		roots = append(roots, r)
	}
	roots = append(roots, c.base.JoinPath("remote.php", "dav").Path+"/", c.base.Path)
	out := roots[:0]
	seen := map[string]bool{}
	for _, r := range roots {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
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
