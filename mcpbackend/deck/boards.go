package deck

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

const (
	boardDesc = "The board: id, title, color, archived, labels, acl, users, permissions, owner, deletedAt."
	stackDesc = "The stack: id, title, boardId, order, cards."
	cardDesc  = "The card: id, title, description, stackId, type, order, duedate, done, archived, labels, assignedUsers, owner, ETag."
	labelDesc = "The label: id, title, color, boardId."
)

// cardFields are the typed fields of a Deck card (done and duedate are
// null when unset).
var cardFields = map[string]string{
	"id": "integer", "title": "string", "description": "string", "stackId": "integer", "type": "string",
	"order": "integer", "archived": "boolean", "done": "string|null", "duedate": "string|null",
	"labels": "array|null", "assignedUsers": "array|null", "ETag": "string",
}

// GetBoards is deck_get_boards.
func GetBoards(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_get_boards", desc: "List the Deck boards the user can see (soft-deleted boards have deletedAt set).", ro: true, idempotent: true,
		key: "boards", outType: "array", outDesc: "Boards: id, title, color, archived, owner, permissions, deletedAt.",
		what: what("listing boards"),
		call: jsonCall(c, http.MethodGet, func(map[string]int) string { return api + "/boards" }, nil)}.tool()
}

// GetBoard is deck_get_board.
func GetBoard(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_get_board", desc: "Read a board with its labels, sharing (acl) and users.", ro: true, idempotent: true,
		ids: []string{"board_id"},
		opts: []mcp.ToolOption{
			mcp.WithBoolean("include_acl", mcp.DefaultBool(true), mcp.Description("Include who the board is shared with.")),
			mcp.WithBoolean("include_users", mcp.DefaultBool(true), mcp.Description("Include the users with access.")),
			mcp.WithBoolean("include_labels", mcp.DefaultBool(true), mcp.Description("Include the board's labels.")),
		},
		key: "board", outDesc: boardDesc, what: what("reading board %d", "board_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			var board map[string]any
			if _, err := c.JSON(ctx, http.MethodGet, fmt.Sprintf("%s/boards/%d", api, id["board_id"]), nil, nil, &board); err != nil {
				return nil, err
			}
			for arg, field := range map[string]string{"include_acl": "acl", "include_users": "users", "include_labels": "labels"} {
				if !req.GetBool(arg, true) {
					delete(board, field)
				}
			}
			return json.Marshal(board)
		}}.tool()
}

// GetLabels is deck_get_labels.
func GetLabels(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_get_labels", desc: "List a board's labels.", ro: true, idempotent: true,
		ids: []string{"board_id"}, key: "labels", outType: "array", outDesc: "Labels: id, title, color.",
		what: what("reading board %d", "board_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			var board struct {
				Labels json.RawMessage `json:"labels"`
			}
			if _, err := c.JSON(ctx, http.MethodGet, fmt.Sprintf("%s/boards/%d", api, id["board_id"]), nil, nil, &board); err != nil {
				return nil, err
			}
			if board.Labels == nil {
				return json.RawMessage("[]"), nil
			}
			return board.Labels, nil
		}}.tool()
}

// GetLabel is deck_get_label.
func GetLabel(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_get_label", desc: "Read one label of a board.", ro: true, idempotent: true,
		ids: []string{"board_id", "label_id"}, key: "label", outDesc: labelDesc,
		what: what("reading label %d of board %d", "label_id", "board_id"),
		call: jsonCall(c, http.MethodGet, func(id map[string]int) string {
			return fmt.Sprintf("%s/boards/%d/labels/%d", api, id["board_id"], id["label_id"])
		}, nil)}.tool()
}

// CreateBoard is deck_create_board.
func CreateBoard(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_create_board", desc: "Create a board.",
		opts: []mcp.ToolOption{
			mcp.WithString("title", mcp.Required(), mcp.Description("Board title.")),
			mcp.WithString("color", mcp.Required(), mcp.Description("Colour as 6 hex digits without '#', e.g. 0082c9.")),
		},
		key: "board", outDesc: boardDesc, what: what("creating the board"),
		call: jsonCall(c, http.MethodPost, func(map[string]int) string { return api + "/boards" },
			func(req mcp.CallToolRequest, _ map[string]int) (any, error) {
				title, err := requireString(req, "title")
				if err != nil {
					return nil, err
				}
				color, err := hexColor(req.GetString("color", ""))
				return map[string]string{"title": title, "color": color}, err
			})}.tool()
}

func hexColor(s string) (string, error) {
	if len(s) > 0 && s[0] == '#' {
		s = s[1:]
	}
	if len(s) != 6 {
		return "", fmt.Errorf("color %q: want 6 hex digits", s)
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return "", fmt.Errorf("color %q: want 6 hex digits", s)
		}
	}
	return s, nil
}

// CreateLabel is deck_create_label.
func CreateLabel(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_create_label", desc: "Create a label on a board.",
		ids: []string{"board_id"},
		opts: []mcp.ToolOption{
			mcp.WithString("title", mcp.Required(), mcp.Description("Label title.")),
			mcp.WithString("color", mcp.Required(), mcp.Description("Colour as 6 hex digits, e.g. 31CC7C.")),
		},
		key: "label", outDesc: labelDesc, what: what("creating a label on board %d", "board_id"),
		call: jsonCall(c, http.MethodPost, func(id map[string]int) string { return fmt.Sprintf("%s/boards/%d/labels", api, id["board_id"]) },
			func(req mcp.CallToolRequest, _ map[string]int) (any, error) {
				title, err := requireString(req, "title")
				if err != nil {
					return nil, err
				}
				color, err := hexColor(req.GetString("color", ""))
				return map[string]string{"title": title, "color": color}, err
			})}.tool()
}

// UpdateLabel is deck_update_label.
func UpdateLabel(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_update_label", desc: "Rename or recolour a label; what is not given stays.",
		ids: []string{"board_id", "label_id"}, idempotent: true,
		opts: []mcp.ToolOption{
			mcp.WithString("title", mcp.Description("New title.")),
			mcp.WithString("color", mcp.Description("New colour (6 hex digits).")),
		},
		key: "label", outDesc: labelDesc, what: what("updating label %d of board %d", "label_id", "board_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			p := fmt.Sprintf("%s/boards/%d/labels/%d", api, id["board_id"], id["label_id"])
			args := req.GetArguments()
			title, hasTitle := args["title"].(string)
			color, hasColor := args["color"].(string)
			if !hasTitle && !hasColor {
				return nil, argError{fmt.Errorf("give title or color")}
			}
			if hasColor {
				var err error
				if color, err = hexColor(color); err != nil {
					return nil, argError{err}
				}
			}
			// Deck wants both fields: fill in the current ones.
			if !hasTitle || !hasColor {
				var cur struct{ Title, Color string }
				if _, err := c.JSON(ctx, http.MethodGet, p, nil, nil, &cur); err != nil {
					return nil, err
				}
				if !hasTitle {
					title = cur.Title
				}
				if !hasColor {
					color = cur.Color
				}
			}
			var out json.RawMessage
			_, err := c.JSON(ctx, http.MethodPut, p, nil, map[string]string{"title": title, "color": color}, &out)
			return out, err
		}}.tool()
}

// DeleteLabel is deck_delete_label.
func DeleteLabel(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_delete_label", desc: "Delete a label from a board (and from its cards).",
		ids: []string{"board_id", "label_id"}, destructive: true, idempotent: true,
		key: "label", outDesc: labelDesc, what: what("deleting label %d of board %d", "label_id", "board_id"),
		call: jsonCall(c, http.MethodDelete, func(id map[string]int) string {
			return fmt.Sprintf("%s/boards/%d/labels/%d", api, id["board_id"], id["label_id"])
		}, nil)}.tool()
}

// The board tools below go beyond the reference inventory, which could
// create boards but never remove, archive or change one (issue 13: found
// by a user of a real Nextcloud 34). They use Deck's own board routes:
// DELETE /boards/{b} (a soft delete, deck/69), POST
// /boards/{b}/undo_delete (deck/72) and PUT /boards/{b}, which replaces
// title, color and archived together (deck/06; one missing is a 400,
// deck/07).

// DeleteBoard is deck_delete_board.
func DeleteBoard(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_delete_board", desc: "Delete a board with its stacks and cards. Deck deletes softly: the board gets deletedAt set, disappears from the apps and can be restored with deck_restore_board until Deck's cleanup removes it for good.",
		ids: []string{"board_id"}, destructive: true, idempotent: true,
		key: "board", outDesc: boardDesc, what: what("deleting board %d", "board_id"),
		call: jsonCall(c, http.MethodDelete, func(id map[string]int) string { return fmt.Sprintf("%s/boards/%d", api, id["board_id"]) }, nil)}.tool()
}

// RestoreBoard is deck_restore_board.
func RestoreBoard(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_restore_board", desc: "Restore a board deleted with deck_delete_board (deletedAt back to 0).",
		ids: []string{"board_id"}, idempotent: true,
		key: "board", outDesc: boardDesc, what: what("restoring board %d", "board_id"),
		call: jsonCall(c, http.MethodPost, func(id map[string]int) string { return fmt.Sprintf("%s/boards/%d/undo_delete", api, id["board_id"]) }, nil)}.tool()
}

// ArchiveBoard is deck_archive_board.
func ArchiveBoard(c *nextcloud.Client) tooldef.Tool {
	// Destructive as issue 13 asks: the board becomes read-only and leaves
	// the users' board lists, which a client should confirm first.
	return spec{name: "deck_archive_board", desc: "Archive a board: it keeps its stacks and cards but leaves the list of active boards and becomes read-only until unarchived (deck_unarchive_board).",
		ids: []string{"board_id"}, destructive: true, idempotent: true,
		key: "board", outDesc: boardDesc, what: what("archiving board %d", "board_id"),
		call: putBoard(c, func(mcp.CallToolRequest, *boardState) error { return nil }, ptr(true))}.tool()
}

// UnarchiveBoard is deck_unarchive_board.
func UnarchiveBoard(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_unarchive_board", desc: "Bring an archived board back to the active boards.",
		ids: []string{"board_id"}, idempotent: true,
		key: "board", outDesc: boardDesc, what: what("unarchiving board %d", "board_id"),
		call: putBoard(c, func(mcp.CallToolRequest, *boardState) error { return nil }, ptr(false))}.tool()
}

// UpdateBoard is deck_update_board.
func UpdateBoard(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_update_board", desc: "Rename or recolour a board; what is not given stays.",
		ids: []string{"board_id"}, idempotent: true,
		opts: []mcp.ToolOption{
			mcp.WithString("title", mcp.Description("New title.")),
			mcp.WithString("color", mcp.Description("New colour as 6 hex digits, e.g. 0082c9.")),
		},
		key: "board", outDesc: boardDesc, what: what("updating board %d", "board_id"),
		call: putBoard(c, func(req mcp.CallToolRequest, b *boardState) error {
			args := req.GetArguments()
			title, hasTitle := args["title"].(string)
			color, hasColor := args["color"].(string)
			if !hasTitle && !hasColor {
				return fmt.Errorf("give title or color")
			}
			if hasTitle {
				if strings.TrimSpace(title) == "" {
					return fmt.Errorf("title must not be empty")
				}
				b.Title = title
			}
			if hasColor {
				hc, err := hexColor(color)
				if err != nil {
					return err
				}
				b.Color = hc
			}
			return nil
		}, nil)}.tool()
}

// boardState is what Deck's board PUT takes, all three fields required.
type boardState struct {
	Title    string `json:"title"`
	Color    string `json:"color"`
	Archived bool   `json:"archived"`
}

func ptr[T any](v T) *T { return &v }

// putBoard reads the board, applies change (and archived, when set) and
// PUTs the whole state back. The arguments are checked before any call.
func putBoard(c *nextcloud.Client, change func(mcp.CallToolRequest, *boardState) error, archived *bool) func(context.Context, mcp.CallToolRequest, map[string]int) (json.RawMessage, error) {
	return func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
		if err := change(req, &boardState{}); err != nil {
			return nil, argError{err}
		}
		p := fmt.Sprintf("%s/boards/%d", api, id["board_id"])
		var b boardState
		if _, err := c.JSON(ctx, http.MethodGet, p, nil, nil, &b); err != nil {
			return nil, err
		}
		if err := change(req, &b); err != nil {
			return nil, argError{err}
		}
		if archived != nil {
			b.Archived = *archived
		}
		var out json.RawMessage
		_, err := c.JSON(ctx, http.MethodPut, p, nil, b, &out)
		return out, err
	}
}

const aclDesc = "The share: id (for deck_unshare_board), participant, type, boardId, permissionEdit, permissionShare, permissionManage."

// ShareBoard is deck_share_board (beyond the reference): POST
// /boards/{b}/acl, recorded as deck/58.
func ShareBoard(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_share_board", desc: "Share a board with a user, a group or a team. Sharing lets them read it; the permissions add editing, resharing and managing.",
		ids: []string{"board_id"},
		opts: []mcp.ToolOption{
			mcp.WithString("participant", mcp.Required(), mcp.Description("User id, group id or team id.")),
			mcp.WithInteger("type", mcp.DefaultNumber(0), mcp.Description("0 user, 1 group, 7 team.")),
			mcp.WithBoolean("permission_edit", mcp.DefaultBool(false), mcp.Description("May edit cards and stacks.")),
			mcp.WithBoolean("permission_share", mcp.DefaultBool(false), mcp.Description("May share the board further.")),
			mcp.WithBoolean("permission_manage", mcp.DefaultBool(false), mcp.Description("May change the board, its labels and its sharing.")),
		},
		key: "share", outDesc: aclDesc, fields: map[string]string{"id": "integer"},
		what: what("sharing board %d", "board_id"),
		call: jsonCall(c, http.MethodPost, func(id map[string]int) string { return fmt.Sprintf("%s/boards/%d/acl", api, id["board_id"]) },
			func(req mcp.CallToolRequest, _ map[string]int) (any, error) {
				who, err := requireString(req, "participant")
				if err != nil {
					return nil, err
				}
				typ := req.GetInt("type", 0)
				if typ != 0 && typ != 1 && typ != 7 {
					return nil, fmt.Errorf("type must be 0 (user), 1 (group) or 7 (team), not %d", typ)
				}
				return map[string]any{"type": typ, "participant": who,
					"permissionEdit":   req.GetBool("permission_edit", false),
					"permissionShare":  req.GetBool("permission_share", false),
					"permissionManage": req.GetBool("permission_manage", false)}, nil
			})}.tool()
}

// UnshareBoard is deck_unshare_board (beyond the reference): DELETE
// /boards/{b}/acl/{id}, recorded as deck/62.
func UnshareBoard(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_unshare_board", desc: "Stop sharing a board with one participant (the share id is in deck_get_board's acl).",
		ids: []string{"board_id", "acl_id"}, destructive: true, idempotent: true,
		key: "share", outDesc: aclDesc, fields: map[string]string{"id": "integer"},
		what: what("removing share %d of board %d", "acl_id", "board_id"),
		call: jsonCall(c, http.MethodDelete, func(id map[string]int) string {
			return fmt.Sprintf("%s/boards/%d/acl/%d", api, id["board_id"], id["acl_id"])
		}, nil)}.tool()
}
