package nextcloud

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// FilesRoot is the DAV root of a user's files.
func FilesRoot(user string) string {
	return "/remote.php/dav/files/" + url.PathEscape(user)
}

// FilesPath returns the escaped DAV path of p (slash-separated, relative to
// the user's root; leading and trailing slashes are ignored) for user.
func FilesPath(user, p string) string {
	out := FilesRoot(user) + "/"
	p = strings.Trim(p, "/")
	if p == "" {
		return out
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return out + strings.Join(segs, "/")
}

// CleanPath rejects user-supplied paths that would leave the user's files
// (".." segments) and normalises the rest.
func CleanPath(p string) (string, error) {
	p = strings.Trim(strings.TrimSpace(p), "/")
	for s := range strings.SplitSeq(p, "/") {
		if s == ".." || s == "." {
			return "", fmt.Errorf("path %q: '.' and '..' segments are not allowed", p)
		}
	}
	return p, nil
}

// PropfindFiles is the property set asked for on files: standard DAV
// properties plus Nextcloud's oc:/nc: ones (file id, permissions, size
// of folders, favourite flag).
const PropfindFiles = `<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">
  <d:prop>
    <d:getlastmodified/>
    <d:getetag/>
    <d:getcontenttype/>
    <d:getcontentlength/>
    <d:resourcetype/>
    <d:displayname/>
    <oc:fileid/>
    <oc:permissions/>
    <oc:size/>
    <oc:favorite/>
    <nc:has-preview/>
  </d:prop>
</d:propfind>`

// Resource is one entry of a multistatus answer about files.
type Resource struct {
	// Href is the unescaped DAV path as Nextcloud sent it.
	Href string `json:"-"`
	// Path is relative to the user's files root; folders end in "/".
	Path         string `json:"path"`
	Name         string `json:"name"`
	IsDir        bool   `json:"is_directory"`
	ContentType  string `json:"content_type,omitempty"`
	Size         int64  `json:"size"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	FileID       int64  `json:"file_id,omitempty"`
	Permissions  string `json:"permissions,omitempty"`
	Favorite     bool   `json:"favorite"`
}

type multistatus struct {
	Responses []struct {
		Href      string `xml:"DAV: href"`
		Propstats []struct {
			Status string `xml:"DAV: status"`
			Prop   struct {
				DisplayName   string    `xml:"DAV: displayname"`
				ContentType   string    `xml:"DAV: getcontenttype"`
				ContentLength string    `xml:"DAV: getcontentlength"`
				ETag          string    `xml:"DAV: getetag"`
				LastModified  string    `xml:"DAV: getlastmodified"`
				Collection    *struct{} `xml:"DAV: resourcetype>collection"`
				FileID        string    `xml:"http://owncloud.org/ns fileid"`
				Permissions   string    `xml:"http://owncloud.org/ns permissions"`
				Size          string    `xml:"http://owncloud.org/ns size"`
				Favorite      string    `xml:"http://owncloud.org/ns favorite"`
			} `xml:"DAV: prop"`
		} `xml:"DAV: propstat"`
	} `xml:"DAV: response"`
}

// ParseResources decodes a PROPFIND or SEARCH multistatus about files of
// user. Properties in non-200 propstats are ignored.
func ParseResources(body []byte, user string) ([]Resource, error) {
	var ms multistatus
	if err := xml.Unmarshal(body, &ms); err != nil {
		return nil, fmt.Errorf("decoding multistatus: %w", err)
	}
	root := "/remote.php/dav/files/" + user + "/"
	out := make([]Resource, 0, len(ms.Responses))
	for _, r := range ms.Responses {
		href, err := url.PathUnescape(r.Href)
		if err != nil {
			href = r.Href
		}
		res := Resource{Href: href}
		if i := strings.Index(href, root); i >= 0 {
			res.Path = href[i+len(root):]
		} else {
			res.Path = href
		}
		for _, ps := range r.Propstats {
			if !strings.Contains(ps.Status, " 200 ") {
				continue
			}
			p := ps.Prop
			res.Name = p.DisplayName
			res.ContentType = p.ContentType
			res.ETag = strings.Trim(p.ETag, `"`)
			res.LastModified = p.LastModified
			if t, err := http.ParseTime(p.LastModified); err == nil {
				res.LastModified = t.UTC().Format(time.RFC3339)
			}
			res.IsDir = p.Collection != nil
			res.FileID, _ = strconv.ParseInt(p.FileID, 10, 64)
			res.Permissions = p.Permissions
			res.Favorite = p.Favorite == "1"
			if n, err := strconv.ParseInt(p.ContentLength, 10, 64); err == nil {
				res.Size = n
			} else if n, err := strconv.ParseInt(p.Size, 10, 64); err == nil {
				res.Size = n
			}
		}
		if res.Name == "" {
			res.Name = lastSegment(res.Path)
		}
		out = append(out, res)
	}
	return out, nil
}

func lastSegment(p string) string {
	p = strings.TrimSuffix(p, "/")
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

// Propfind asks for PropfindFiles on path (escaped) with the given depth.
func (c *Client) Propfind(ctx context.Context, user, path, depth string) ([]Resource, error) {
	resp, err := c.Do(ctx, &Request{Method: "PROPFIND", Path: path, Body: []byte(PropfindFiles),
		Header: http.Header{"Depth": {depth}, "Content-Type": {"application/xml; charset=utf-8"}, "OCS-APIRequest": {"true"}}})
	if err != nil {
		return nil, err
	}
	return ParseResources(resp.Body, user)
}

// AbsoluteURL returns the full URL of an escaped Nextcloud path, as DAV's
// Destination and If headers need it.
func (c *Client) AbsoluteURL(path string) string { return c.URL(path, nil) }

// DAV sends a WebDAV request; OCS-APIRequest is set because Nextcloud's
// CSRF check also guards some DAV plugins (comments) for cookie-less
// clients, and it is harmless elsewhere.
func (c *Client) DAV(ctx context.Context, r *Request) (*Response, error) {
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Set("OCS-APIRequest", "true")
	return c.Do(ctx, r)
}
