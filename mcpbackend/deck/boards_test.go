package deck_test

import (
	"encoding/json"
	"testing"

	"github.com/scopegate/scopegate/internal/nextcloudfake/backendtest"
	"github.com/scopegate/scopegate/mcpbackend/deck"
)

// Board lifecycle tools beyond the reference (issue 13: a real Nextcloud
// user could create boards but not delete, archive or rename them).
func TestBoardLifecycle(t *testing.T) {
	cases := []backendtest.Case{
		{Name: "delete board", Tool: "deck_delete_board", Args: map[string]any{"board_id": 13}, Calls: []string{"DELETE " + api + "/boards/13"},
			Structured: "board", Contains: []string{`"deletedAt":17`}},
		{Name: "delete board forbidden", Tool: "deck_delete_board", Args: map[string]any{"board_id": 9}, Calls: []string{"DELETE " + api + "/boards/9"},
			WantError: true, Contains: []string{"deck_delete_board failed: deleting board 9 (HTTP 403): Permission denied"}},
		{Name: "restore board", Tool: "deck_restore_board", Args: map[string]any{"board_id": 13}, Calls: []string{"POST " + api + "/boards/13/undo_delete"},
			Structured: "board", Contains: []string{`"deletedAt":0`}},
		{Name: "restore board forbidden", Tool: "deck_restore_board", Args: map[string]any{"board_id": 9}, Calls: []string{"POST " + api + "/boards/9/undo_delete"}, WantError: true},
		{Name: "archive board", Tool: "deck_archive_board", Args: map[string]any{"board_id": 12}, Calls: []string{"GET " + api + "/boards/12", "PUT " + api + "/boards/12"}, Structured: "board"},
		{Name: "archive board forbidden", Tool: "deck_archive_board", Args: map[string]any{"board_id": 9}, Calls: []string{"GET " + api + "/boards/9"}, WantError: true},
		{Name: "unarchive board", Tool: "deck_unarchive_board", Args: map[string]any{"board_id": 12}, Calls: []string{"GET " + api + "/boards/12", "PUT " + api + "/boards/12"}, Structured: "board"},
		{Name: "update board", Tool: "deck_update_board", Args: map[string]any{"board_id": 12, "color": "#e9322d"}, Calls: []string{"GET " + api + "/boards/12", "PUT " + api + "/boards/12"},
			Structured: "board", Contains: []string{`"color":"e9322d"`}},
		{Name: "share board", Tool: "deck_share_board", Args: map[string]any{"board_id": 12, "participant": "user2", "permission_edit": true}, Calls: []string{"POST " + api + "/boards/12/acl"},
			Structured: "share", Contains: []string{`"id":5`, `"uid":"user2"`}},
		{Name: "share board with type 0", Tool: "deck_share_board", Args: map[string]any{"board_id": 12, "participant": "user2", "type": 0}, Calls: []string{"POST " + api + "/boards/12/acl"}, Structured: "share"},
		{Name: "share board bad type", Tool: "deck_share_board", Args: map[string]any{"board_id": 12, "participant": "user2", "type": 3}, WantError: true, Contains: []string{"type must be 0 (user), 1 (group) or 7 (team), not 3"}},
		{Name: "share board forbidden", Tool: "deck_share_board", Args: map[string]any{"board_id": 9, "participant": "user2"}, Calls: []string{"POST " + api + "/boards/9/acl"}, WantError: true, Contains: []string{"HTTP 403"}},
		{Name: "unshare board", Tool: "deck_unshare_board", Args: map[string]any{"board_id": 12, "acl_id": 5}, Calls: []string{"DELETE " + api + "/boards/12/acl/5"}, Structured: "share"},
		{Name: "unshare board forbidden", Tool: "deck_unshare_board", Args: map[string]any{"board_id": 9, "acl_id": 5}, Calls: []string{"DELETE " + api + "/boards/9/acl/5"}, WantError: true},
		{Name: "update board nothing", Tool: "deck_update_board", Args: map[string]any{"board_id": 12}, WantError: true, Contains: []string{"give title or color"}},
		{Name: "update board bad colour", Tool: "deck_update_board", Args: map[string]any{"board_id": 12, "color": "red"}, WantError: true, Contains: []string{"6 hex digits"}},
	}
	backendtest.Run(t, "deck", deck.Tools, cases, backendtest.Options{})
}

// Deck's board PUT replaces title, color and archived together (deck/06,
// deck/07: all three required): the tools send the current values of the
// ones they do not change.
func TestBoardPutBodies(t *testing.T) {
	tests := []struct {
		tool string
		args map[string]any
		want map[string]any
	}{
		{"deck_archive_board", map[string]any{"board_id": 12}, map[string]any{"title": "Fixture Sprint Board", "color": "0082c9", "archived": true}},
		{"deck_unarchive_board", map[string]any{"board_id": 12}, map[string]any{"title": "Fixture Sprint Board", "color": "0082c9", "archived": false}},
		{"deck_update_board", map[string]any{"board_id": 12, "title": "Sprint 2"}, map[string]any{"title": "Sprint 2", "color": "0082c9", "archived": false}},
	}
	h := backendtest.Start(t, "deck", deck.Tools, backendtest.Options{})
	h.Call(t, "deck_share_board", map[string]any{"board_id": 12, "participant": "user2", "permission_edit": true})
	if calls := h.Fake.Calls(); len(calls) == 0 || !sameJSON(calls[len(calls)-1].Body, `{"type":0,"participant":"user2","permissionEdit":true,"permissionShare":false,"permissionManage":false}`) {
		t.Errorf("share sent %v, want deck/58's body", calls)
	}
	for _, tt := range tests {
		h := backendtest.Start(t, "deck", deck.Tools, backendtest.Options{})
		if res := h.Call(t, tt.tool, tt.args); res.IsError {
			t.Fatalf("%s: %s", tt.tool, backendtest.Text(res))
		}
		var got map[string]any
		for _, c := range h.Fake.Calls() {
			if c.Method == "PUT" {
				if err := json.Unmarshal([]byte(c.Body), &got); err != nil {
					t.Fatal(err)
				}
			}
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s sent %v, want %v", tt.tool, got, tt.want)
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%s sent %s=%v, want %v", tt.tool, k, got[k], v)
			}
		}
	}
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// The annotations a client decides confirmations by.
func TestBoardAnnotations(t *testing.T) {
	want := map[string][2]bool{ // destructive, read-only
		"deck_delete_board": {true, false}, "deck_archive_board": {true, false}, "deck_unshare_board": {true, false},
		"deck_restore_board": {false, false}, "deck_unarchive_board": {false, false}, "deck_update_board": {false, false}, "deck_share_board": {false, false},
	}
	seen := 0
	for _, tl := range deck.Tools(nil) {
		w, ok := want[tl.Def.Name]
		if !ok {
			continue
		}
		seen++
		a := tl.Def.Annotations
		if *a.DestructiveHint != w[0] || *a.ReadOnlyHint != w[1] {
			t.Errorf("%s: destructive %v read-only %v, want %v", tl.Def.Name, *a.DestructiveHint, *a.ReadOnlyHint, w)
		}
		if len(tl.Scopes) != 1 || tl.Scopes[0] != "deck:write" {
			t.Errorf("%s: scopes %v", tl.Def.Name, tl.Scopes)
		}
	}
	if seen != len(want) {
		t.Errorf("%d of %d board tools registered", seen, len(want))
	}
}
