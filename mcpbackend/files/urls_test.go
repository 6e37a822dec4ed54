package files_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/nextcloudfake/backendtest"
	"github.com/scopegate/scopegate/mcpbackend/files"
)

// The backend calls Nextcloud by an internal URL (http://nextcloud:80 in
// the Compose deployment): no answer may carry it, since the client
// cannot reach it and should not learn it (issue 18). A file's resource
// names its DAV path, as the notes attachment does.
func TestAnswersCarryNoInternalURL(t *testing.T) {
	h := backendtest.Start(t, "files", files.Tools, backendtest.Options{NewDAV: func(t testing.TB) http.Handler { return realDAV(t) }})
	res := h.Call(t, "nc_webdav_read_file", map[string]any{"path": "Fixtures/hello.txt", "parse_document": "raw"})
	if res.IsError || len(res.Content) != 1 {
		t.Fatalf("read: %s", backendtest.Text(res))
	}
	r, ok := res.Content[0].(mcp.EmbeddedResource)
	if !ok {
		t.Fatalf("content %T, want an embedded resource", res.Content[0])
	}
	blob, ok := r.Resource.(mcp.BlobResourceContents)
	if !ok {
		t.Fatalf("resource %T", r.Resource)
	}
	if strings.HasPrefix(blob.URI, h.NC.BaseURL()) || blob.URI != root+"Fixtures/hello.txt" {
		t.Errorf("resource URI %q, want the DAV path %q and never the backend's Nextcloud URL %s", blob.URI, root+"Fixtures/hello.txt", h.NC.BaseURL())
	}
}
