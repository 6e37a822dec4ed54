package nextcloud

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Capabilities is the part of /ocs/v2.php/cloud/capabilities the backend
// uses: which apps answer, and their versions.
type Capabilities struct {
	Version string
	// Apps maps capability keys (app ids such as "notes", "deck") to
	// their raw capability object.
	Apps map[string]json.RawMessage
}

// Enabled reports whether app publishes capabilities. "files" and "dav"
// are part of every Nextcloud and count as enabled even if absent.
func (c *Capabilities) Enabled(app string) bool {
	if c == nil {
		return false
	}
	if _, ok := c.Apps[app]; ok {
		return true
	}
	return app == "dav" || app == "files"
}

// AppVersion returns the "version" string an app publishes, if any.
func (c *Capabilities) AppVersion(app string) string {
	var v struct {
		Version any `json:"version"`
	}
	if c == nil || json.Unmarshal(c.Apps[app], &v) != nil {
		return ""
	}
	if s, ok := v.Version.(string); ok {
		return s
	}
	return ""
}

// Capabilities returns the instance capabilities as seen by the caller,
// cached per credential for CacheTTL: tools/list asks on every listing,
// and apps can be enabled per user group.
func (c *Client) Capabilities(ctx context.Context) (*Capabilities, error) {
	key, ok := credKey(ctx)
	if !ok {
		return nil, ErrNoCredentials
	}
	c.mu.Lock()
	e, hit := c.cache[key]
	c.mu.Unlock()
	if hit && e.caps != nil && c.now().Before(e.expires) {
		return e.caps, nil
	}
	var data struct {
		Version struct {
			String string `json:"string"`
		} `json:"version"`
		Capabilities map[string]json.RawMessage `json:"capabilities"`
	}
	if err := c.OCS(ctx, http.MethodGet, "/ocs/v2.php/cloud/capabilities", nil, nil, &data); err != nil {
		return nil, err
	}
	caps := &Capabilities{Version: data.Version.String, Apps: data.Capabilities}
	c.mu.Lock()
	e = c.cache[key]
	if !c.now().Before(e.expires) {
		e = cacheEntry{}
	}
	e.caps, e.expires = caps, c.now().Add(c.ttl)
	c.cache[key] = e
	c.pruneLocked()
	c.mu.Unlock()
	return caps, nil
}

// pruneLocked drops expired entries so the cache cannot grow with every
// token ever seen.
func (c *Client) pruneLocked() {
	if len(c.cache) < 1024 {
		return
	}
	now := c.now()
	for k, e := range c.cache {
		if !now.Before(e.expires) {
			delete(c.cache, k)
		}
	}
}

// User returns the caller's Nextcloud user id: the login of basic
// credentials, otherwise the principal from DAV current-user-principal
// (bearer tokens do not name their user), cached per credential.
func (c *Client) User(ctx context.Context) (string, error) {
	cr, ok := CredentialsFrom(ctx)
	if !ok {
		return "", ErrNoCredentials
	}
	if u := cr.User(); u != "" {
		return u, nil
	}
	key, _ := credKey(ctx)
	c.mu.Lock()
	e, hit := c.cache[key]
	c.mu.Unlock()
	if hit && e.user != "" && c.now().Before(e.expires) {
		return e.user, nil
	}
	const body = `<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>`
	resp, err := c.Do(ctx, &Request{Method: "PROPFIND", Path: "/remote.php/dav/", Body: []byte(body),
		Header: http.Header{"Depth": {"0"}, "Content-Type": {"application/xml; charset=utf-8"}}})
	if err != nil {
		return "", err
	}
	var ms struct {
		Href string `xml:"response>propstat>prop>current-user-principal>href"`
	}
	if err := xml.Unmarshal(resp.Body, &ms); err != nil {
		return "", fmt.Errorf("decoding current-user-principal: %w", err)
	}
	const prefix = "/remote.php/dav/principals/users/"
	i := strings.Index(ms.Href, prefix)
	if i < 0 {
		return "", errors.New("no user principal in current-user-principal answer")
	}
	user, err := url.PathUnescape(strings.TrimSuffix(ms.Href[i+len(prefix):], "/"))
	if err != nil || user == "" {
		return "", fmt.Errorf("bad principal href %q", ms.Href)
	}
	c.mu.Lock()
	e = c.cache[key]
	if !c.now().Before(e.expires) {
		e = cacheEntry{expires: c.now().Add(c.ttl)}
	}
	e.user = user
	c.cache[key] = e
	c.mu.Unlock()
	return user, nil
}
