package notes_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/scopegate/scopegate/internal/nextcloudfake/backendtest"
	"github.com/scopegate/scopegate/mcpbackend/notes"
)

const base = "/index.php/apps/notes/api/v1"

func TestTools(t *testing.T) {
	cases := []backendtest.Case{
		{Name: "create", Tool: "nc_notes_create_note",
			Args:  map[string]any{"title": "Fixture shopping list", "content": "# Fixture shopping list\n\n- milk\n- eggs\n- bread", "category": "Personal"},
			Calls: []string{"POST " + base + "/notes"}, Structured: "note", Contains: []string{`"id":359`}},
		{Name: "create without title fails before calling", Tool: "nc_notes_create_note",
			Args: map[string]any{"content": "x", "category": ""}, WantError: true, Contains: []string{"invalid arguments"}},
		{Name: "update", Tool: "nc_notes_update_note",
			Args:  map[string]any{"note_id": 359, "etag": "80e0d0abccaa35392f70e1b4cdd570b2", "title": "Fixture shopping list", "content": "# Fixture shopping list\n\n- milk\n- eggs\n- bread\n- butter"},
			Calls: []string{"PUT " + base + "/notes/359"}, Structured: "note", Contains: []string{"butter"}},
		{Name: "update stale etag", Tool: "nc_notes_update_note",
			Args:  map[string]any{"note_id": 359, "etag": "80e0d0abccaa35392f70e1b4cdd570b2", "content": "# Fixture shopping list\n\nconflicting edit"},
			Serve: []string{"notes/14-update-note-stale-etag-412"},
			Calls: []string{"PUT " + base + "/notes/359"}, WantError: true, Contains: []string{"HTTP 412", "fb2895c18e56581bd8a5e29a46f57814"}},
		{Name: "update missing note", Tool: "nc_notes_update_note",
			Args:  map[string]any{"note_id": 999999, "etag": "x", "content": "x"},
			Calls: []string{"PUT " + base + "/notes/999999"}, WantError: true, Contains: []string{"nc_notes_update_note failed: updating note 999999 (HTTP 404)"}},
		{Name: "append", Tool: "nc_notes_append_content",
			Args:  map[string]any{"note_id": 359, "content": "butter"},
			Calls: []string{"GET " + base + "/notes/359", "PUT " + base + "/notes/359"}, Structured: "note"},
		{Name: "append to missing note", Tool: "nc_notes_append_content",
			Args:  map[string]any{"note_id": 999999, "content": "x"},
			Calls: []string{"GET " + base + "/notes/999999"}, WantError: true, Contains: []string{"HTTP 404"}},
		{Name: "search reads all chunks", Tool: "nc_notes_search_notes", Args: map[string]any{"query": "fixture meeting"},
			ServeAs:    map[string]string{"GET " + base + "/notes": "notes/06-list-notes-chunk-1,notes/07-list-notes-chunk-2"},
			Calls:      []string{"GET " + base + "/notes?chunkSize=100", "GET " + base + "/notes?chunkCursor=1795749112-1795749110-359&chunkSize=100"},
			Structured: "results", Contains: []string{`"title":"Fixture meeting minutes"`, `"title":"Fixture shopping list"`}},
		{Name: "search unauthorised", Tool: "nc_notes_search_notes", Args: map[string]any{"query": "x"},
			ServeAs: map[string]string{"GET " + base + "/notes": "notes/33-list-notes-wrong-credentials-401"},
			Calls:   []string{"GET " + base + "/notes?chunkSize=100"}, WantError: true, Contains: []string{"HTTP 401"}},
		{Name: "get", Tool: "nc_notes_get_note", Args: map[string]any{"note_id": 359},
			Calls: []string{"GET " + base + "/notes/359"}, Structured: "note", Contains: []string{"80e0d0abccaa35392f70e1b4cdd570b2"}},
		{Name: "get missing", Tool: "nc_notes_get_note", Args: map[string]any{"note_id": 999999},
			Calls: []string{"GET " + base + "/notes/999999"}, WantError: true, Contains: []string{"nc_notes_get_note failed: reading note 999999 (HTTP 404)"}},
		{Name: "get attachment", Tool: "nc_notes_get_attachment", Args: map[string]any{"note_id": 359, "attachment_filename": "diagram.svg"},
			Calls:    []string{"GET " + base + "/notes/359", "GET " + base + "/settings", "GET /remote.php/dav/files/admin/Notes/Personal/.attachments.359/diagram.svg"},
			Contains: []string{`<circle cx="2"`}},
		{Name: "get attachment missing", Tool: "nc_notes_get_attachment", Args: map[string]any{"note_id": 359, "attachment_filename": "nope.png"},
			Calls:     []string{"GET " + base + "/notes/359", "GET " + base + "/settings", "GET /remote.php/dav/files/admin/Notes/Personal/.attachments.359/nope.png"},
			WantError: true, Contains: []string{"HTTP 404"}},
		{Name: "get attachment path traversal", Tool: "nc_notes_get_attachment", Args: map[string]any{"note_id": 359, "attachment_filename": "../x"},
			WantError: true},
		{Name: "delete", Tool: "nc_notes_delete_note", Args: map[string]any{"note_id": 359},
			ServeAs:  map[string]string{"DELETE " + base + "/notes/359": "notes/30-delete-note"},
			Calls:    []string{"GET " + base + "/notes/359", "GET " + base + "/settings", "DELETE " + base + "/notes/359", "DELETE /remote.php/dav/files/admin/Notes/Personal/.attachments.359/"},
			Contains: []string{"deleted"}},
		{Name: "delete missing", Tool: "nc_notes_delete_note", Args: map[string]any{"note_id": 362},
			Serve: []string{"notes/31-get-note-after-delete-404"},
			Calls: []string{"GET " + base + "/notes/362"}, WantError: true, Contains: []string{"HTTP 404"}},
	}
	backendtest.Run(t, "notes", notes.Tools, cases, backendtest.Options{})
}

// TestCategoryChangeMovesAttachments checks, against a real WebDAV server,
// that a note's attachments follow it into its new category (Notes moves
// only the note's file).
func TestCategoryChangeMovesAttachments(t *testing.T) {
	var dav *backendtest.DAV
	h := backendtest.Start(t, "notes", notes.Tools, backendtest.Options{NewDAV: func(t testing.TB) http.Handler {
		dav = backendtest.NewDAV(t, map[string]string{
			"/Notes/":                                    "",
			"/Notes/Personal/":                           "",
			"/Notes/Personal/.attachments.359/":          "",
			"/Notes/Personal/.attachments.359/photo.svg": "<svg/>",
			"/Notes/Work/":                               "",
		})
		return dav
	}})
	h.Fake.Reset()
	res := h.Call(t, "nc_notes_update_note", map[string]any{"note_id": 359, "etag": "80e0d0abccaa35392f70e1b4cdd570b2", "category": "Work"})
	if res.IsError {
		t.Fatalf("tool error: %s", backendtest.Text(res))
	}
	want := []string{"GET " + base + "/notes/359", "PUT " + base + "/notes/359", "GET " + base + "/settings", "MOVE /remote.php/dav/files/admin/Notes/Personal/.attachments.359/"}
	got := slices.DeleteFunc(h.Fake.CallStrings(), func(s string) bool { return s == "GET /ocs/v2.php/cloud/capabilities" })
	if !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	if _, err := dav.FS.Stat(context.Background(), "/Notes/Work/.attachments.359/photo.svg"); err != nil {
		t.Errorf("attachment not moved: %v", err)
	}
}
