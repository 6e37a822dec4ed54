package files_test

import (
	"net/http"
	"testing"

	"github.com/scopegate/scopegate/internal/nextcloudfake/backendtest"
	"github.com/scopegate/scopegate/mcpbackend/files"
)

const root = "/remote.php/dav/files/admin/"

func realDAV(t testing.TB) http.Handler {
	return backendtest.NewDAV(t, map[string]string{
		"/Fixtures/":          "",
		"/Fixtures/Reports/":  "",
		"/Fixtures/hello.txt": "Hello from the fixture recorder.\n",
		"/Fixtures/other.txt": "other\n",
		"/Documents/":         "",
	})
}

// TestStandardVerbs drives the tools that use plain WebDAV against a real
// WebDAV server (x/net/webdav) behind the fake's credential checks.
func TestStandardVerbs(t *testing.T) {
	cases := []backendtest.Case{
		{Name: "list root", Tool: "nc_webdav_list_directory", Args: map[string]any{},
			Calls: []string{"PROPFIND " + root}, Structured: "items", Contains: []string{`"path":"Fixtures/"`, `"is_directory":true`}},
		{Name: "list folder", Tool: "nc_webdav_list_directory", Args: map[string]any{"path": "Fixtures"},
			Calls: []string{"PROPFIND " + root + "Fixtures/"}, Structured: "items", Contains: []string{`"name":"hello.txt"`}},
		{Name: "list missing folder", Tool: "nc_webdav_list_directory", Args: map[string]any{"path": "nope"},
			Calls: []string{"PROPFIND " + root + "nope/"}, WantError: true, Contains: []string{"HTTP 404"}},
		{Name: "list rejects dot-dot", Tool: "nc_webdav_list_directory", Args: map[string]any{"path": "../user2"}, WantError: true},
		{Name: "read", Tool: "nc_webdav_read_file", Args: map[string]any{"path": "Fixtures/hello.txt"},
			Calls: []string{"GET " + root + "Fixtures/hello.txt"}, Contains: []string{"Hello from the fixture recorder."}},
		{Name: "read missing", Tool: "nc_webdav_read_file", Args: map[string]any{"path": "Fixtures/nope.txt"},
			Calls: []string{"GET " + root + "Fixtures/nope.txt"}, WantError: true, Contains: []string{"nc_webdav_read_file failed: reading \"/Fixtures/nope.txt\" (HTTP 404)"}},
		{Name: "write new", Tool: "nc_webdav_write_file", Args: map[string]any{"path": "Fixtures/new.md", "content": "# new", "content_type": "text/markdown"},
			Calls: []string{"PUT " + root + "Fixtures/new.md"}, Structured: "file", Contains: []string{`"created":true`}},
		{Name: "write existing without etag", Tool: "nc_webdav_write_file", Args: map[string]any{"path": "Fixtures/hello.txt", "content": "x"},
			Calls: []string{"PUT " + root + "Fixtures/hello.txt"}, WantError: true, Contains: []string{"already exists (HTTP 412)"}},
		{Name: "write with any etag", Tool: "nc_webdav_write_file", Args: map[string]any{"path": "Fixtures/hello.txt", "content": "x", "if_match": "*"},
			Calls: []string{"PUT " + root + "Fixtures/hello.txt"}, Structured: "file"},
		{Name: "write stale etag", Tool: "nc_webdav_write_file", Args: map[string]any{"path": "Fixtures/hello.txt", "content": "x", "if_match": "stale"},
			Calls: []string{"PUT " + root + "Fixtures/hello.txt"}, WantError: true, Contains: []string{"changed since its etag was read"}},
		{Name: "write into missing folder", Tool: "nc_webdav_write_file", Args: map[string]any{"path": "missing-dir/file.txt", "content": "x"},
			Calls: []string{"PUT " + root + "missing-dir/file.txt"}, WantError: true, Contains: []string{"parent folder does not exist"}},
		{Name: "mkdir", Tool: "nc_webdav_create_directory", Args: map[string]any{"path": "Fixtures/New"},
			Calls: []string{"MKCOL " + root + "Fixtures/New"}, Contains: []string{"created"}},
		{Name: "mkdir with parents", Tool: "nc_webdav_create_directory", Args: map[string]any{"path": "a/b"},
			Calls: []string{"MKCOL " + root + "a/b", "MKCOL " + root + "a", "MKCOL " + root + "a/b"}, Contains: []string{"created"}},
		{Name: "mkdir existing", Tool: "nc_webdav_create_directory", Args: map[string]any{"path": "Fixtures"},
			Calls: []string{"MKCOL " + root + "Fixtures", "PROPFIND " + root + "Fixtures"}, Contains: []string{"already exists"}},
		{Name: "mkdir over a file", Tool: "nc_webdav_create_directory", Args: map[string]any{"path": "Fixtures/hello.txt"},
			Calls: []string{"MKCOL " + root + "Fixtures/hello.txt", "PROPFIND " + root + "Fixtures/hello.txt"}, WantError: true, Contains: []string{"HTTP 405"}},
		{Name: "mkdir below a file", Tool: "nc_webdav_create_directory", Args: map[string]any{"path": "Fixtures/hello.txt/sub"},
			Calls:     []string{"MKCOL " + root + "Fixtures/hello.txt/sub", "PROPFIND " + root + "Fixtures/hello.txt/sub"},
			WantError: true, Contains: []string{"creating folder \"/Fixtures/hello.txt/sub\" (HTTP 405)"}},
		{Name: "mkdir root refused", Tool: "nc_webdav_create_directory", Args: map[string]any{"path": "/"}, WantError: true},
		{Name: "delete file", Tool: "nc_webdav_delete_resource", Args: map[string]any{"path": "Fixtures/hello.txt"},
			Calls: []string{"PROPFIND " + root + "Fixtures/hello.txt", "DELETE " + root + "Fixtures/hello.txt"}, Contains: []string{"File \"/Fixtures/hello.txt\" deleted"}},
		{Name: "delete folder", Tool: "nc_webdav_delete_resource", Args: map[string]any{"path": "Fixtures/Reports"},
			Calls: []string{"PROPFIND " + root + "Fixtures/Reports", "DELETE " + root + "Fixtures/Reports/"}, Contains: []string{"Folder"}},
		{Name: "delete missing", Tool: "nc_webdav_delete_resource", Args: map[string]any{"path": "nope.txt"},
			Calls: []string{"PROPFIND " + root + "nope.txt"}, WantError: true, Contains: []string{"HTTP 404"}},
		{Name: "move", Tool: "nc_webdav_move_resource", Args: map[string]any{"source_path": "Fixtures/hello.txt", "destination_path": "Fixtures/Reports/hello-moved.txt"},
			Calls: []string{"MOVE " + root + "Fixtures/hello.txt"}, Contains: []string{"destination created"}},
		{Name: "move onto existing", Tool: "nc_webdav_move_resource", Args: map[string]any{"source_path": "Fixtures/other.txt", "destination_path": "Fixtures/hello.txt"},
			Calls: []string{"MOVE " + root + "Fixtures/other.txt"}, WantError: true, Contains: []string{"set overwrite"}},
		{Name: "move overwrite", Tool: "nc_webdav_move_resource", Args: map[string]any{"source_path": "Fixtures/other.txt", "destination_path": "Fixtures/hello.txt", "overwrite": true},
			Calls: []string{"MOVE " + root + "Fixtures/other.txt"}, Contains: []string{"destination replaced"}},
		{Name: "move with stale destination etag", Tool: "nc_webdav_move_resource", Args: map[string]any{"source_path": "Fixtures/other.txt", "destination_path": "Fixtures/hello.txt", "if_destination_match": "00000000000000000000000000000000"},
			Calls: []string{"MOVE " + root + "Fixtures/other.txt"}, WantError: true, Contains: []string{"HTTP 412"}},
		{Name: "move missing source", Tool: "nc_webdav_move_resource", Args: map[string]any{"source_path": "nope.txt", "destination_path": "nope2.txt"},
			Calls: []string{"MOVE " + root + "nope.txt"}, WantError: true, Contains: []string{"moving \"/nope.txt\""}}, // x/net/webdav answers 403 where Nextcloud answers 404
		{Name: "copy", Tool: "nc_webdav_copy_resource", Args: map[string]any{"source_path": "Fixtures/hello.txt", "destination_path": "Fixtures/hello-copy.txt"},
			Calls: []string{"COPY " + root + "Fixtures/hello.txt"}, Contains: []string{"copying"}},
		{Name: "copy onto existing", Tool: "nc_webdav_copy_resource", Args: map[string]any{"source_path": "Fixtures/hello.txt", "destination_path": "Fixtures/other.txt"},
			Calls: []string{"COPY " + root + "Fixtures/hello.txt"}, WantError: true, Contains: []string{"HTTP 412"}},
	}
	backendtest.Run(t, "files", files.Tools, cases, backendtest.Options{NewDAV: func(t testing.TB) http.Handler { return realDAV(t) }})
}

// TestNextcloudExtras covers SEARCH and comments, which only Nextcloud
// serves: the fake answers from the recordings.
func TestNextcloudExtras(t *testing.T) {
	cases := []backendtest.Case{
		{Name: "search by name", Tool: "nc_webdav_search_files", Args: map[string]any{"scope": "Fixtures", "name_pattern": "%hello%"},
			Serve: []string{"files/33-search-by-name-like"},
			Calls: []string{"SEARCH /remote.php/dav/"}, Structured: "items", Contains: []string{`"path":"Fixtures/hello.txt"`, `"file_id":372`}},
		{Name: "search bad scope", Tool: "nc_webdav_search_files", Args: map[string]any{"scope": "x"},
			Serve: []string{"files/37-search-bad-scope-500"},
			Calls: []string{"SEARCH /remote.php/dav/"}, WantError: true, Contains: []string{"HTTP 500"}},
		{Name: "find by name", Tool: "nc_webdav_find_by_name", Args: map[string]any{"pattern": "hello", "scope": "Fixtures"},
			Serve: []string{"files/33-search-by-name-like"},
			Calls: []string{"SEARCH /remote.php/dav/"}, Structured: "items", Contains: []string{"hello-moved.txt"}},
		{Name: "find by name needs a pattern", Tool: "nc_webdav_find_by_name", Args: map[string]any{"pattern": ""}, WantError: true},
		{Name: "find by type", Tool: "nc_webdav_find_by_type", Args: map[string]any{"mime_type": "text/markdown"},
			Serve: []string{"files/34-search-by-mimetype"},
			Calls: []string{"SEARCH /remote.php/dav/"}, Structured: "items"},
		{Name: "find by type failure", Tool: "nc_webdav_find_by_type", Args: map[string]any{"mime_type": "text/markdown"},
			Serve: []string{"files/37-search-bad-scope-500"},
			Calls: []string{"SEARCH /remote.php/dav/"}, WantError: true},
		{Name: "favorites", Tool: "nc_webdav_list_favorites", Args: map[string]any{},
			Serve: []string{"files/35-search-favorites"},
			Calls: []string{"SEARCH /remote.php/dav/"}, Structured: "items", Contains: []string{`"favorite":true`}},
		{Name: "favorites failure", Tool: "nc_webdav_list_favorites", Args: map[string]any{"scope": "../x"}, WantError: true},
		{Name: "list comments", Tool: "nc_webdav_list_comments", Args: map[string]any{"path": "Fixtures/hello.txt"},
			Serve:      []string{"files/19-propfind-file-depth0-fileid"},
			Calls:      []string{"PROPFIND " + root + "Fixtures/hello.txt", "REPORT /remote.php/dav/comments/files/372"},
			Structured: "comments", Contains: []string{"@user2 please review"}},
		{Name: "list comments of missing file", Tool: "nc_webdav_list_comments", Args: map[string]any{"path": "Fixtures/nope/"},
			Calls: []string{"PROPFIND " + root + "Fixtures/nope"}, WantError: true, Contains: []string{"HTTP 404"}},
		{Name: "create comment", Tool: "nc_webdav_create_comment", Args: map[string]any{"path": "Fixtures/hello.txt", "message": "Looks good, ship it!"},
			Serve:      []string{"files/19-propfind-file-depth0-fileid"},
			Calls:      []string{"PROPFIND " + root + "Fixtures/hello.txt", "POST /remote.php/dav/comments/files/372"},
			Structured: "comment", Contains: []string{`"id":17`}},
		{Name: "create comment fails", Tool: "nc_webdav_create_comment", Args: map[string]any{"path": "Fixtures/hello.txt", "message": "x"},
			Serve: []string{"files/19-propfind-file-depth0-fileid", "files/44-comment-post-bad-json-500"},
			Calls: []string{"PROPFIND " + root + "Fixtures/hello.txt", "POST /remote.php/dav/comments/files/372"}, WantError: true, Contains: []string{"HTTP 500"}},
	}
	backendtest.Run(t, "files", files.Tools, cases, backendtest.Options{})
}
