package backendtest

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/webdav"
)

// DAV is a real WebDAV server (golang.org/x/net/webdav on an in-memory
// file system) for the admin's files, with the conditional requests
// Nextcloud's Sabre honours and x/net/webdav leaves out: If-Match,
// If-None-Match and an etag in a tagged If header.
type DAV struct {
	FS      webdav.FileSystem
	handler *webdav.Handler
}

// NewDAV returns a DAV server holding files (path → content; a path
// ending in "/" is a folder).
func NewDAV(t testing.TB, files map[string]string) *DAV {
	t.Helper()
	fs := webdav.NewMemFS()
	ctx := context.Background()
	for _, p := range slices.Sorted(maps.Keys(files)) {
		content := files[p]
		if strings.HasSuffix(p, "/") {
			if err := fs.Mkdir(ctx, strings.TrimSuffix(p, "/"), 0o755); err != nil && !os.IsExist(err) {
				t.Fatal(err)
			}
			continue
		}
		f, err := fs.OpenFile(ctx, p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return &DAV{FS: fs, handler: &webdav.Handler{
		Prefix: "/remote.php/dav/files/admin", FileSystem: fs, LockSystem: webdav.NewMemLS(),
	}}
}

// etag asks the server itself, so the value matches what clients saw.
func (d *DAV) etag(r *http.Request, p string) (string, bool) {
	req := httptest.NewRequest(http.MethodHead, p, nil).WithContext(r.Context())
	rec := httptest.NewRecorder()
	d.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return "", false
	}
	return rec.Header().Get("ETag"), true
}

var taggedIf = regexp.MustCompile(`^<([^>]+)>\s*\(\[("[^"]*")\]\)$`)

func (d *DAV) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut || r.Method == http.MethodDelete || r.Method == "MOVE" || r.Method == "COPY" {
		cur, exists := d.etag(r, r.URL.Path)
		failed := false
		if m := r.Header.Get("If-Match"); m != "" {
			failed = !exists || (m != "*" && m != cur)
		}
		if m := r.Header.Get("If-None-Match"); m != "" && exists && (m == "*" || m == cur) {
			failed = true
		}
		if m := taggedIf.FindStringSubmatch(r.Header.Get("If")); m != nil {
			if u, err := url.Parse(m[1]); err == nil {
				dest, ok := d.etag(r, path.Clean(u.Path))
				failed = failed || !ok || dest != m[2]
			}
			r.Header.Del("If") // handled; x/net/webdav would read it as a lock condition
		}
		if failed {
			w.Header().Set("Content-Type", "application/xml; charset=utf-8")
			w.WriteHeader(http.StatusPreconditionFailed)
			w.Write([]byte(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns"><s:exception>Sabre\DAV\Exception\PreconditionFailed</s:exception><s:message>precondition failed</s:message></d:error>`))
			return
		}
	}
	d.handler.ServeHTTP(w, r)
}
