package deck_test

import (
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/nextcloudfake/backendtest"
	"github.com/scopegate/scopegate/mcpbackend/deck"
)

const (
	api   = "/index.php/apps/deck/api/v1.0"
	api11 = "/index.php/apps/deck/api/v1.1"
	ocs   = "/ocs/v2.php/apps/deck/api/v1.0"
	card  = api + "/boards/12/stacks/22/cards/20"

	forbidden   = "deck/73-get-board-not-found-403"
	cardDeleted = "deck/66-get-card-after-delete-403"
	commentsNo  = "deck/54-comments-list-unknown-card-403"
)

func ids(b, s, c int) map[string]any {
	return map[string]any{"board_id": b, "stack_id": s, "card_id": c}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestTools(t *testing.T) {
	longMsg := strings.Repeat("x", 1001)
	cases := []backendtest.Case{
		{Name: "boards", Tool: "deck_get_boards", Args: map[string]any{}, Calls: []string{"GET " + api + "/boards"}, Structured: "boards", Contains: []string{"MCP Board"}},
		{Name: "boards unauthorised", Tool: "deck_get_boards", Args: map[string]any{}, Serve: []string{"deck/74-list-boards-wrong-password-401"},
			Calls: []string{"GET " + api + "/boards"}, WantError: true, Contains: []string{"HTTP 401"}},
		{Name: "board", Tool: "deck_get_board", Args: map[string]any{"board_id": 12, "include_acl": false}, Calls: []string{"GET " + api + "/boards/12"}, Structured: "board", Contains: []string{"Fixture Sprint Board"}},
		{Name: "board not found is 403", Tool: "deck_get_board", Args: map[string]any{"board_id": 999999}, Calls: []string{"GET " + api + "/boards/999999"},
			WantError: true, Contains: []string{"deck_get_board failed: reading board 999999 (HTTP 403): Permission denied"}},
		{Name: "stacks", Tool: "deck_get_stacks", Args: map[string]any{"board_id": 12}, Calls: []string{"GET " + api + "/boards/12/stacks"}, Structured: "stacks", Contains: []string{`"description_preview"`, "Write fixtures"}},
		{Name: "stacks forbidden", Tool: "deck_get_stacks", Args: map[string]any{"board_id": 9}, ServeAs: map[string]string{"GET " + api + "/boards/9/stacks": forbidden},
			Calls: []string{"GET " + api + "/boards/9/stacks"}, WantError: true, Contains: []string{"HTTP 403"}},
		{Name: "stack", Tool: "deck_get_stack", Args: map[string]any{"board_id": 12, "stack_id": 22, "detail": "full"}, Calls: []string{"GET " + api + "/boards/12/stacks/22"}, Structured: "stack", Contains: []string{`"ETag"`}},
		{Name: "stack forbidden", Tool: "deck_get_stack", Args: map[string]any{"board_id": 12, "stack_id": 9}, ServeAs: map[string]string{"GET " + api + "/boards/12/stacks/9": forbidden},
			Calls: []string{"GET " + api + "/boards/12/stacks/9"}, WantError: true},
		{Name: "archived stacks", Tool: "deck_get_archived_stacks", Args: map[string]any{"board_id": 12}, Calls: []string{"GET " + api + "/boards/12/stacks/archived"}, Structured: "stacks", Contains: []string{"Review fixtures"}},
		{Name: "archived stacks forbidden", Tool: "deck_get_archived_stacks", Args: map[string]any{"board_id": 9}, ServeAs: map[string]string{"GET " + api + "/boards/9/stacks/archived": forbidden},
			Calls: []string{"GET " + api + "/boards/9/stacks/archived"}, WantError: true},
		{Name: "cards", Tool: "deck_get_cards", Args: map[string]any{"board_id": 12, "stack_id": 22}, Calls: []string{"GET " + api + "/boards/12/stacks/22"}, Structured: "cards", Contains: []string{"Write fixtures"}},
		{Name: "cards filtered by label", Tool: "deck_get_cards", Args: map[string]any{"board_id": 12, "stack_id": 22, "label": "nope"}, Calls: []string{"GET " + api + "/boards/12/stacks/22"}, Contains: []string{`{"cards":[]}`}},
		{Name: "cards forbidden", Tool: "deck_get_cards", Args: map[string]any{"board_id": 12, "stack_id": 9}, ServeAs: map[string]string{"GET " + api + "/boards/12/stacks/9": forbidden},
			Calls: []string{"GET " + api + "/boards/12/stacks/9"}, WantError: true},
		{Name: "overview", Tool: "deck_get_board_overview", Args: map[string]any{"board_id": 12}, Calls: []string{"GET " + api + "/boards/12", "GET " + api + "/boards/12/stacks"}, Structured: "overview", Contains: []string{`"card_count":2`}},
		{Name: "overview forbidden", Tool: "deck_get_board_overview", Args: map[string]any{"board_id": 999999}, Calls: []string{"GET " + api + "/boards/999999"}, WantError: true},
		{Name: "card", Tool: "deck_get_card", Args: ids(12, 22, 20), Calls: []string{"GET " + card}, Structured: "card", Contains: []string{"Write fixtures"}},
		{Name: "deleted card", Tool: "deck_get_card", Args: ids(12, 22, 20), Serve: []string{cardDeleted}, Calls: []string{"GET " + card}, WantError: true, Contains: []string{"(HTTP 403): Card is deleted"}},
		{Name: "labels", Tool: "deck_get_labels", Args: map[string]any{"board_id": 12}, Calls: []string{"GET " + api + "/boards/12"}, Structured: "labels"},
		{Name: "labels forbidden", Tool: "deck_get_labels", Args: map[string]any{"board_id": 999999}, Calls: []string{"GET " + api + "/boards/999999"}, WantError: true},
		{Name: "label", Tool: "deck_get_label", Args: map[string]any{"board_id": 12, "label_id": 55}, Calls: []string{"GET " + api + "/boards/12/labels/55"}, Structured: "label", Contains: []string{"Fixture"}},
		{Name: "label forbidden", Tool: "deck_get_label", Args: map[string]any{"board_id": 12, "label_id": 9}, ServeAs: map[string]string{"GET " + api + "/boards/12/labels/9": forbidden},
			Calls: []string{"GET " + api + "/boards/12/labels/9"}, WantError: true},

		{Name: "create board", Tool: "deck_create_board", Args: map[string]any{"title": "Fixture Sprint Board", "color": "#0082c9"}, Calls: []string{"POST " + api + "/boards"}, Structured: "board", Contains: []string{`"id":12`}},
		{Name: "create board bad colour", Tool: "deck_create_board", Args: map[string]any{"title": "x", "color": "blue"}, WantError: true, Contains: []string{"6 hex digits"}},
		{Name: "create board unauthorised", Tool: "deck_create_board", Args: map[string]any{"title": "x", "color": "000000"}, ServeAs: map[string]string{"POST " + api + "/boards": "deck/74-list-boards-wrong-password-401"},
			Calls: []string{"POST " + api + "/boards"}, WantError: true, Contains: []string{"HTTP 401"}},
		{Name: "create stack", Tool: "deck_create_stack", Args: map[string]any{"board_id": 12, "title": "To do", "order": 0}, Calls: []string{"POST " + api + "/boards/12/stacks"}, Structured: "stack"},
		{Name: "create stack forbidden", Tool: "deck_create_stack", Args: map[string]any{"board_id": 9, "title": "x", "order": 0}, ServeAs: map[string]string{"POST " + api + "/boards/9/stacks": forbidden},
			Calls: []string{"POST " + api + "/boards/9/stacks"}, WantError: true},
		{Name: "update stack", Tool: "deck_update_stack", Args: map[string]any{"board_id": 12, "stack_id": 22, "title": "To do (this sprint)", "order": 0}, Calls: []string{"PUT " + api + "/boards/12/stacks/22"}, Structured: "stack", Contains: []string{"this sprint"}},
		{Name: "update stack title only reads first", Tool: "deck_update_stack", Args: map[string]any{"board_id": 12, "stack_id": 22, "title": "To do (this sprint)"},
			Calls: []string{"GET " + api + "/boards/12/stacks/22", "PUT " + api + "/boards/12/stacks/22"}, Structured: "stack"},
		{Name: "update stack forbidden", Tool: "deck_update_stack", Args: map[string]any{"board_id": 12, "stack_id": 9, "title": "x", "order": 1}, ServeAs: map[string]string{"PUT " + api + "/boards/12/stacks/9": forbidden},
			Calls: []string{"PUT " + api + "/boards/12/stacks/9"}, WantError: true},
		{Name: "delete stack", Tool: "deck_delete_stack", Args: map[string]any{"board_id": 12, "stack_id": 23}, Calls: []string{"DELETE " + api + "/boards/12/stacks/23"}, Structured: "stack"},
		{Name: "delete stack forbidden", Tool: "deck_delete_stack", Args: map[string]any{"board_id": 12, "stack_id": 9}, ServeAs: map[string]string{"DELETE " + api + "/boards/12/stacks/9": forbidden},
			Calls: []string{"DELETE " + api + "/boards/12/stacks/9"}, WantError: true},

		{Name: "create card", Tool: "deck_create_card", Args: map[string]any{"board_id": 12, "stack_id": 22, "title": "Write fixtures", "description": "Record real exchanges\n\n- notes\n- deck", "duedate": "2026-12-10T17:00:00+00:00"},
			Calls: []string{"POST " + api + "/boards/12/stacks/22/cards"}, Structured: "card", Contains: []string{`"id":20`}},
		{Name: "create card without title", Tool: "deck_create_card", Args: map[string]any{"board_id": 12, "stack_id": 22, "description": "no title"}, WantError: true},
		{Name: "create card forbidden", Tool: "deck_create_card", Args: map[string]any{"board_id": 12, "stack_id": 9, "title": "x"}, ServeAs: map[string]string{"POST " + api + "/boards/12/stacks/9/cards": forbidden},
			Calls: []string{"POST " + api + "/boards/12/stacks/9/cards"}, WantError: true},
		{Name: "update card sends the whole card", Tool: "deck_update_card", Args: with(ids(12, 22, 20), "title", "Write fixtures (all apps)"),
			Calls: []string{"GET " + card, "PUT " + card}, Structured: "card", Contains: []string{"all apps"}},
		{Name: "update deleted card", Tool: "deck_update_card", Args: with(ids(12, 22, 20), "title", "x"), Serve: []string{cardDeleted}, Calls: []string{"GET " + card}, WantError: true, Contains: []string{"Card is deleted"}},
		{Name: "delete card", Tool: "deck_delete_card", Args: ids(12, 22, 20), Calls: []string{"DELETE " + card}, Structured: "card"},
		{Name: "delete deleted card", Tool: "deck_delete_card", Args: ids(12, 22, 20), ServeAs: map[string]string{"DELETE " + card: cardDeleted}, Calls: []string{"DELETE " + card}, WantError: true},
		{Name: "archive", Tool: "deck_archive_card", Args: ids(12, 22, 21), Calls: []string{"PUT " + api + "/boards/12/stacks/22/cards/21/archive"}, Structured: "card", Contains: []string{`"archived":true`}},
		{Name: "archive deleted", Tool: "deck_archive_card", Args: ids(12, 22, 9), ServeAs: map[string]string{"PUT " + api + "/boards/12/stacks/22/cards/9/archive": cardDeleted},
			Calls: []string{"PUT " + api + "/boards/12/stacks/22/cards/9/archive"}, WantError: true},
		{Name: "unarchive", Tool: "deck_unarchive_card", Args: ids(12, 22, 21), Calls: []string{"PUT " + api + "/boards/12/stacks/22/cards/21/unarchive"}, Structured: "card"},
		{Name: "unarchive deleted", Tool: "deck_unarchive_card", Args: ids(12, 22, 9), ServeAs: map[string]string{"PUT " + api + "/boards/12/stacks/22/cards/9/unarchive": cardDeleted},
			Calls: []string{"PUT " + api + "/boards/12/stacks/22/cards/9/unarchive"}, WantError: true},
		{Name: "reorder into other stack", Tool: "deck_reorder_card", Args: with(ids(12, 22, 21), "order", 0, "target_stack_id", 23),
			Calls: []string{"GET " + api + "/boards/12/stacks", "PUT /index.php/apps/deck/cards/21/reorder"}, Structured: "cards"},
		{Name: "reorder into foreign stack", Tool: "deck_reorder_card", Args: with(ids(12, 22, 21), "order", 0, "target_stack_id", 99),
			Calls: []string{"GET " + api + "/boards/12/stacks"}, WantError: true, Contains: []string{"not a stack of board 12"}},
		{Name: "move to board", Tool: "deck_move_card_to_board", Args: map[string]any{"card_id": 21, "source_board_id": 12, "source_stack_id": 23, "target_board_id": 13, "target_stack_id": 23},
			ServeAs: map[string]string{"GET " + api + "/boards/13/stacks": "deck/12-get-stacks"},
			Calls:   []string{"GET " + api + "/boards/13/stacks", "GET " + api + "/boards/12/stacks/23/cards/21", "PUT /index.php/apps/deck/cards/21"}, Structured: "card"},
		{Name: "move to foreign stack", Tool: "deck_move_card_to_board", Args: map[string]any{"card_id": 21, "source_board_id": 12, "source_stack_id": 23, "target_board_id": 13, "target_stack_id": 99},
			ServeAs: map[string]string{"GET " + api + "/boards/13/stacks": "deck/12-get-stacks"},
			Calls:   []string{"GET " + api + "/boards/13/stacks"}, WantError: true},

		{Name: "create label", Tool: "deck_create_label", Args: map[string]any{"board_id": 12, "title": "Fixture", "color": "31CC7C"}, Calls: []string{"POST " + api + "/boards/12/labels"}, Structured: "label", Contains: []string{`"id":55`}},
		{Name: "create label forbidden", Tool: "deck_create_label", Args: map[string]any{"board_id": 9, "title": "x", "color": "000000"}, ServeAs: map[string]string{"POST " + api + "/boards/9/labels": forbidden},
			Calls: []string{"POST " + api + "/boards/9/labels"}, WantError: true},
		{Name: "update label", Tool: "deck_update_label", Args: map[string]any{"board_id": 12, "label_id": 55, "title": "Fixture label", "color": "317CCC"}, Calls: []string{"PUT " + api + "/boards/12/labels/55"}, Structured: "label"},
		{Name: "update label forbidden", Tool: "deck_update_label", Args: map[string]any{"board_id": 12, "label_id": 9, "title": "x", "color": "000000"}, ServeAs: map[string]string{"PUT " + api + "/boards/12/labels/9": forbidden},
			Calls: []string{"PUT " + api + "/boards/12/labels/9"}, WantError: true},
		{Name: "delete label", Tool: "deck_delete_label", Args: map[string]any{"board_id": 12, "label_id": 55}, Calls: []string{"DELETE " + api + "/boards/12/labels/55"}, Structured: "label"},
		{Name: "delete label forbidden", Tool: "deck_delete_label", Args: map[string]any{"board_id": 12, "label_id": 9}, ServeAs: map[string]string{"DELETE " + api + "/boards/12/labels/9": forbidden},
			Calls: []string{"DELETE " + api + "/boards/12/labels/9"}, WantError: true},
		{Name: "assign label", Tool: "deck_assign_label_to_card", Args: with(ids(12, 22, 20), "label_id", 55), Calls: []string{"PUT " + card + "/assignLabel"}, Structured: "card"},
		{Name: "assign label on deleted card", Tool: "deck_assign_label_to_card", Args: with(ids(12, 22, 9), "label_id", 55),
			ServeAs: map[string]string{"PUT " + api + "/boards/12/stacks/22/cards/9/assignLabel": cardDeleted}, Calls: []string{"PUT " + api + "/boards/12/stacks/22/cards/9/assignLabel"}, WantError: true},
		{Name: "remove label", Tool: "deck_remove_label_from_card", Args: with(ids(12, 22, 20), "label_id", 55), Calls: []string{"PUT " + card + "/removeLabel"}, Structured: "card"},
		{Name: "remove label on deleted card", Tool: "deck_remove_label_from_card", Args: with(ids(12, 22, 9), "label_id", 55),
			ServeAs: map[string]string{"PUT " + api + "/boards/12/stacks/22/cards/9/removeLabel": cardDeleted}, Calls: []string{"PUT " + api + "/boards/12/stacks/22/cards/9/removeLabel"}, WantError: true},
		{Name: "assign user", Tool: "deck_assign_user_to_card", Args: with(ids(12, 22, 20), "user_id", "admin"), Calls: []string{"PUT " + card + "/assignUser"}, Structured: "assignment"},
		{Name: "assign non-member", Tool: "deck_assign_user_to_card", Args: with(ids(12, 22, 20), "user_id", "user2"), Calls: []string{"PUT " + card + "/assignUser"},
			WantError: true, Contains: []string{"(HTTP 400): The user is not part of the board"}},
		{Name: "unassign user", Tool: "deck_unassign_user_from_card", Args: with(ids(12, 22, 20), "user_id", "admin"), Calls: []string{"PUT " + card + "/unassignUser"}, Structured: "assignment"},
		{Name: "unassign not assigned", Tool: "deck_unassign_user_from_card", Args: with(ids(12, 22, 20), "user_id", "admin"), Serve: []string{"deck/29-unassign-user-not-assigned-404"},
			Calls: []string{"PUT " + card + "/unassignUser"}, WantError: true, Contains: []string{"HTTP 404"}},
		{Name: "add dependency", Tool: "deck_assign_dependent_card", Args: with(ids(12, 22, 20), "dependent_card_id", 21), Calls: []string{"POST " + card + "/dependentCards/21"}, Structured: "card"},
		{Name: "add dependency on deleted card", Tool: "deck_assign_dependent_card", Args: with(ids(12, 22, 20), "dependent_card_id", 9),
			ServeAs: map[string]string{"POST " + card + "/dependentCards/9": cardDeleted}, Calls: []string{"POST " + card + "/dependentCards/9"}, WantError: true},
		{Name: "remove dependency", Tool: "deck_remove_dependent_card", Args: with(ids(12, 22, 20), "dependent_card_id", 21), Calls: []string{"DELETE " + card + "/dependentCards/21"}, Structured: "card"},
		{Name: "remove dependency on deleted card", Tool: "deck_remove_dependent_card", Args: with(ids(12, 22, 20), "dependent_card_id", 9),
			ServeAs: map[string]string{"DELETE " + card + "/dependentCards/9": cardDeleted}, Calls: []string{"DELETE " + card + "/dependentCards/9"}, WantError: true},

		{Name: "comments", Tool: "deck_get_card_comments", Args: map[string]any{"card_id": 20, "order": "oldest"}, Calls: []string{"GET " + ocs + "/cards/20/comments?limit=20&offset=0"},
			Structured: "comments", Contains: []string{`"reply_to":19`}},
		{Name: "comments of unknown card", Tool: "deck_get_card_comments", Args: map[string]any{"card_id": 999999}, ServeAs: map[string]string{"GET " + ocs + "/cards/999999/comments": commentsNo},
			Calls: []string{"GET " + ocs + "/cards/999999/comments?limit=20&offset=0"}, WantError: true, Contains: []string{"(HTTP 403): Permission denied"}},
		{Name: "comment", Tool: "deck_create_card_comment", Args: map[string]any{"card_id": 20, "message": "Fixtures look good @user2"}, Calls: []string{"POST " + ocs + "/cards/20/comments"}, Structured: "comments", Contains: []string{`"id":19`}},
		{Name: "comment too long", Tool: "deck_create_card_comment", Args: map[string]any{"card_id": 20, "message": longMsg}, WantError: true, Contains: []string{"Deck allows 1000"}},
		{Name: "comment split", Tool: "deck_create_card_comment", Args: map[string]any{"card_id": 20, "message": longMsg, "overflow": "split"},
			Calls: []string{"POST " + ocs + "/cards/20/comments", "POST " + ocs + "/cards/20/comments"}, Structured: "comments"},
		{Name: "comment on unknown card", Tool: "deck_create_card_comment", Args: map[string]any{"card_id": 9, "message": "x"}, ServeAs: map[string]string{"POST " + ocs + "/cards/9/comments": commentsNo},
			Calls: []string{"POST " + ocs + "/cards/9/comments"}, WantError: true},
		{Name: "update comment", Tool: "deck_update_card_comment", Args: map[string]any{"card_id": 20, "comment_id": 19, "message": "Fixtures look great @user2"}, Calls: []string{"PUT " + ocs + "/cards/20/comments/19"}, Structured: "comment"},
		{Name: "update comment refused", Tool: "deck_update_card_comment", Args: map[string]any{"card_id": 20, "comment_id": 9, "message": "x"}, ServeAs: map[string]string{"PUT " + ocs + "/cards/20/comments/9": commentsNo},
			Calls: []string{"PUT " + ocs + "/cards/20/comments/9"}, WantError: true},
		{Name: "delete comment", Tool: "deck_delete_card_comment", Args: map[string]any{"card_id": 20, "comment_id": 19}, Calls: []string{"DELETE " + ocs + "/cards/20/comments/19"}, Contains: []string{"Comment 19 deleted"}},
		{Name: "delete comment refused", Tool: "deck_delete_card_comment", Args: map[string]any{"card_id": 20, "comment_id": 9}, ServeAs: map[string]string{"DELETE " + ocs + "/cards/20/comments/9": commentsNo},
			Calls: []string{"DELETE " + ocs + "/cards/20/comments/9"}, WantError: true},

		{Name: "attach file", Tool: "deck_attach_file", Args: map[string]any{"card_id": 20, "path": "Fixtures-deck-spec.md"}, Calls: []string{"POST /ocs/v2.php/apps/files_sharing/api/v1/shares"},
			Structured: "share", Contains: []string{`"share_type":12`}},
		{Name: "attach missing file", Tool: "deck_attach_file", Args: map[string]any{"card_id": 20, "path": "nope.txt"}, Serve: []string{"sharing/06-create-share-path-not-found-404"},
			Calls: []string{"POST /ocs/v2.php/apps/files_sharing/api/v1/shares"}, WantError: true, Contains: []string{"Wrong path"}},
		{Name: "attach note", Tool: "deck_attach_note", Args: map[string]any{"card_id": 20, "note_id": 359},
			Calls: []string{"GET /index.php/apps/notes/api/v1/notes/359", "POST /ocs/v2.php/apps/files_sharing/api/v1/shares"}, Structured: "share"},
		{Name: "attach missing note", Tool: "deck_attach_note", Args: map[string]any{"card_id": 20, "note_id": 999999},
			Calls: []string{"GET /index.php/apps/notes/api/v1/notes/999999"}, WantError: true, Contains: []string{"HTTP 404"}},
		{Name: "attachments", Tool: "deck_list_attachments", Args: ids(12, 22, 20), Calls: []string{"GET " + api11 + "/boards/12/stacks/22/cards/20/attachments"}, Structured: "attachments", Contains: []string{"checklist.txt"}},
		{Name: "attachments of deleted card", Tool: "deck_list_attachments", Args: ids(12, 22, 9), ServeAs: map[string]string{"GET " + api11 + "/boards/12/stacks/22/cards/9/attachments": cardDeleted},
			Calls: []string{"GET " + api11 + "/boards/12/stacks/22/cards/9/attachments"}, WantError: true},
		{Name: "delete attachment by its type", Tool: "deck_delete_attachment", Args: with(ids(12, 22, 20), "attachment_id", 41),
			Calls: []string{"GET " + api11 + "/boards/12/stacks/22/cards/20/attachments", "DELETE " + api11 + "/boards/12/stacks/22/cards/20/attachments/file/41"}, Structured: "attachment"},
		{Name: "delete unknown attachment", Tool: "deck_delete_attachment", Args: with(ids(12, 22, 20), "attachment_id", 999),
			Calls: []string{"GET " + api11 + "/boards/12/stacks/22/cards/20/attachments"}, WantError: true, Contains: []string{"has no attachment 999"}},
	}
	backendtest.Run(t, "deck", deck.Tools, cases, backendtest.Options{})
}
