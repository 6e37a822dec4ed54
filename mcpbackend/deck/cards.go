package deck

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

var cardIDs = []string{"board_id", "stack_id", "card_id"}

// GetCard is deck_get_card.
func GetCard(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_get_card", desc: "Read a card with labels, assignees, attachments count and dependencies. Deck answers 403 for deleted cards.", ro: true, idempotent: true,
		ids: cardIDs, key: "card", outDesc: cardDesc, fields: cardFields, what: what("reading card %d", "card_id"),
		call: jsonCall(c, http.MethodGet, cardPath, nil)}.tool()
}

// CreateCard is deck_create_card.
func CreateCard(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_create_card", desc: "Create a card in a stack.",
		ids: []string{"board_id", "stack_id"},
		opts: []mcp.ToolOption{
			mcp.WithString("title", mcp.Required(), mcp.Description("Card title.")),
			mcp.WithString("type", mcp.DefaultString("plain"), mcp.Description("Card type; 'plain'.")),
			mcp.WithInteger("order", mcp.DefaultNumber(999), mcp.Description("Position in the stack; 999 appends.")),
			mcp.WithString("description", mcp.Description("Markdown description.")),
			mcp.WithString("duedate", mcp.Description("Due date, ISO 8601 (e.g. 2026-12-10T17:00:00+00:00).")),
		},
		key: "card", outDesc: cardDesc, fields: cardFields, what: what("creating a card in stack %d", "stack_id"),
		call: jsonCall(c, http.MethodPost, func(id map[string]int) string {
			return fmt.Sprintf("%s/boards/%d/stacks/%d/cards", api, id["board_id"], id["stack_id"])
		}, func(req mcp.CallToolRequest, _ map[string]int) (any, error) {
			title, err := requireString(req, "title")
			if err != nil {
				return nil, err
			}
			body := map[string]any{"title": title, "type": req.GetString("type", "plain"), "order": req.GetInt("order", 999)}
			for _, k := range []string{"description", "duedate"} {
				if v, ok := req.GetArguments()[k].(string); ok {
					body[k] = v
				}
			}
			return body, nil
		})}.tool()
}

// fullCard is what Deck's card PUT requires: the whole card.
type fullCard struct {
	Title       string `json:"title"`
	Type        string `json:"type"`
	Owner       any    `json:"owner"`
	Description string `json:"description"`
	Order       int    `json:"order"`
	Duedate     any    `json:"duedate"`
	Archived    bool   `json:"archived"`
	Done        any    `json:"done,omitempty"`
	DeletedAt   int64  `json:"deletedAt"`
}

// UpdateCard is deck_update_card.
func UpdateCard(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_update_card", desc: "Change fields of a card; the others are kept (Deck's update replaces the whole card, so it is read first). done takes an ISO 8601 time to mark the card done, or an empty string to clear it.",
		ids: cardIDs, idempotent: true,
		opts: []mcp.ToolOption{
			mcp.WithString("title", mcp.Description("New title.")),
			mcp.WithString("description", mcp.Description("New description.")),
			mcp.WithString("type", mcp.Description("New type.")),
			mcp.WithString("owner", mcp.Description("New owner user id.")),
			mcp.WithInteger("order", mcp.Description("New position.")),
			mcp.WithString("duedate", mcp.Description("New due date (ISO 8601), or empty to clear.")),
			mcp.WithBoolean("archived", mcp.Description("Archive or unarchive.")),
			mcp.WithString("done", mcp.Description("Done time (ISO 8601), or empty to mark not done.")),
		},
		key: "card", outDesc: cardDesc, fields: cardFields, what: what("updating card %d", "card_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			p := cardPath(id)
			var cur struct {
				fullCard
				Owner struct {
					UID string `json:"uid"`
				} `json:"owner"`
			}
			if _, err := c.JSON(ctx, http.MethodGet, p, nil, nil, &cur); err != nil {
				return nil, err
			}
			card := cur.fullCard
			card.Owner = cur.Owner.UID
			args := req.GetArguments()
			changed := false
			if v, ok := args["title"].(string); ok {
				card.Title, changed = v, true
			}
			if v, ok := args["description"].(string); ok {
				card.Description, changed = v, true
			}
			if v, ok := args["type"].(string); ok {
				card.Type, changed = v, true
			}
			if v, ok := args["owner"].(string); ok {
				card.Owner, changed = v, true
			}
			if _, ok := args["order"]; ok {
				card.Order, changed = req.GetInt("order", card.Order), true
			}
			if v, ok := args["duedate"].(string); ok {
				card.Duedate, changed = nullIfEmpty(v), true
			}
			if v, ok := args["archived"].(bool); ok {
				card.Archived, changed = v, true
			}
			doneGiven := false
			if v, ok := args["done"].(string); ok {
				card.Done, changed, doneGiven = nullIfEmpty(v), true, true
			}
			if !changed {
				return nil, argError{fmt.Errorf("nothing to change")}
			}
			body, err := json.Marshal(card)
			if err != nil {
				return nil, err
			}
			var m map[string]any
			_ = json.Unmarshal(body, &m)
			delete(m, "deletedAt")
			if doneGiven {
				m["done"] = card.Done // explicit null clears the flag
			}
			var out json.RawMessage
			_, err = c.JSON(ctx, http.MethodPut, p, nil, m, &out)
			return out, err
		}}.tool()
}

func nullIfEmpty(s string) any {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return s
}

// DeleteCard is deck_delete_card.
func DeleteCard(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_delete_card", desc: "Delete a card.", ids: cardIDs, destructive: true, idempotent: true,
		key: "card", outDesc: cardDesc, fields: cardFields, what: what("deleting card %d", "card_id"),
		call: jsonCall(c, http.MethodDelete, cardPath, nil)}.tool()
}

func cardAction(c *nextcloud.Client, name, desc, action string, idempotent bool) tooldef.Tool {
	return spec{name: name, desc: desc, ids: cardIDs, idempotent: idempotent,
		key: "card", outDesc: cardDesc, fields: cardFields, what: what(action+" card %d", "card_id"),
		call: jsonCall(c, http.MethodPut, func(id map[string]int) string { return cardPath(id) + "/" + action }, nil)}.tool()
}

// ArchiveCard is deck_archive_card.
func ArchiveCard(c *nextcloud.Client) tooldef.Tool {
	return cardAction(c, "deck_archive_card", "Archive a card.", "archive", false)
}

// UnarchiveCard is deck_unarchive_card.
func UnarchiveCard(c *nextcloud.Client) tooldef.Tool {
	return cardAction(c, "deck_unarchive_card", "Bring an archived card back.", "unarchive", false)
}

// stackInBoard checks that stack belongs to board; Deck's internal routes
// would otherwise move a card into another user's board.
func stackInBoard(ctx context.Context, c *nextcloud.Client, board, stackID int) error {
	stacks, err := getStacks(ctx, c, board, false)
	if err != nil {
		return err
	}
	for _, raw := range stacks {
		var s stack
		if json.Unmarshal(raw, &s) == nil && s.ID == stackID {
			return nil
		}
	}
	return argError{fmt.Errorf("stack %d is not a stack of board %d", stackID, board)}
}

// ReorderCard is deck_reorder_card.
func ReorderCard(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_reorder_card", desc: "Move a card to a position, in its stack or another stack of the same board. (The REST API ignores the target stack, so Deck's own web route is used.)",
		ids: cardIDs,
		opts: []mcp.ToolOption{
			mcp.WithInteger("order", mcp.Required(), mcp.Description("New position (0 first).")),
			mcp.WithInteger("target_stack_id", mcp.Required(), mcp.Description("Stack to put the card in; the current stack to only reorder.")),
		},
		key: "cards", outType: "array", outDesc: "The target stack's cards after the move.", what: what("moving card %d", "card_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			order, err := req.RequireInt("order")
			if err != nil {
				return nil, argError{err}
			}
			target, err := req.RequireInt("target_stack_id")
			if err != nil {
				return nil, argError{err}
			}
			if target != id["stack_id"] {
				if err := stackInBoard(ctx, c, id["board_id"], target); err != nil {
					return nil, err
				}
			}
			var out json.RawMessage
			_, err = c.JSON(ctx, http.MethodPut, fmt.Sprintf("%s/cards/%d/reorder", internal, id["card_id"]), nil,
				map[string]int{"order": order, "stackId": target}, &out)
			return out, err
		}}.tool()
}

// MoveCardToBoard is deck_move_card_to_board.
func MoveCardToBoard(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_move_card_to_board", desc: "Move a card to a stack of another board (Deck's web route; the REST API cannot).",
		ids: []string{"card_id"},
		opts: []mcp.ToolOption{
			mcp.WithInteger("source_board_id", mcp.Required(), mcp.Description("Board the card is on.")),
			mcp.WithInteger("source_stack_id", mcp.Required(), mcp.Description("Stack the card is in.")),
			mcp.WithInteger("target_board_id", mcp.Required(), mcp.Description("Board to move it to.")),
			mcp.WithInteger("target_stack_id", mcp.Required(), mcp.Description("Stack of the target board.")),
			mcp.WithInteger("order", mcp.DefaultNumber(0), mcp.Description("Position in the target stack.")),
		},
		key: "card", outDesc: cardDesc, fields: cardFields, what: what("moving card %d", "card_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			more, err := ids(req, "source_board_id", "source_stack_id", "target_board_id", "target_stack_id")
			if err != nil {
				return nil, argError{err}
			}
			if err := stackInBoard(ctx, c, more["target_board_id"], more["target_stack_id"]); err != nil {
				return nil, err
			}
			var cur struct {
				fullCard
				ID int `json:"id"`
			}
			src := map[string]int{"board_id": more["source_board_id"], "stack_id": more["source_stack_id"], "card_id": id["card_id"]}
			if _, err := c.JSON(ctx, http.MethodGet, cardPath(src), nil, nil, &cur); err != nil {
				return nil, err
			}
			body := map[string]any{
				"id": id["card_id"], "title": cur.Title, "type": cur.Type, "stackId": more["target_stack_id"],
				"order": req.GetInt("order", 0), "description": cur.Description, "duedate": cur.Duedate, "deletedAt": cur.DeletedAt,
			}
			var out json.RawMessage
			if _, err := c.JSON(ctx, http.MethodPut, internal+"/cards/"+strconv.Itoa(id["card_id"]), nil, body, &out); err != nil {
				return nil, err
			}
			// The web route's update drops the done state; set it again.
			if cur.Done != nil {
				if _, err := c.JSON(ctx, http.MethodPut, internal+"/cards/"+strconv.Itoa(id["card_id"])+"/done", nil, nil, &out); err != nil {
					return nil, err
				}
			}
			return out, nil
		}}.tool()
}

func cardBodyAction(c *nextcloud.Client, name, desc, action, arg, field string, destructive, idempotent bool, result string) tooldef.Tool {
	opt := mcp.WithInteger(arg, mcp.Required(), mcp.Description(argDesc[arg]))
	if arg == "user_id" {
		opt = mcp.WithString(arg, mcp.Required(), mcp.Description("User id (the user must be a member of the board)."))
	}
	resDesc, resFields := cardDesc, cardFields
	if result == "assignment" {
		resDesc, resFields = "The assignment: id, participant, cardId, type.", map[string]string{"id": "integer", "cardId": "integer", "participant": "object"}
	}
	return spec{name: name, desc: desc, ids: cardIDs, opts: []mcp.ToolOption{opt}, destructive: destructive, idempotent: idempotent,
		key: result, outDesc: resDesc, fields: resFields, what: what(strings.ToLower(desc[:1])+strings.TrimSuffix(desc[1:], ".")+" (card %d)", "card_id"),
		call: jsonCall(c, http.MethodPut, func(id map[string]int) string { return cardPath(id) + "/" + action },
			func(req mcp.CallToolRequest, _ map[string]int) (any, error) {
				if arg == "user_id" {
					u, err := requireString(req, arg)
					return map[string]any{field: u}, err
				}
				v, err := req.RequireInt(arg)
				return map[string]any{field: v}, err
			})}.tool()
}

// AssignLabelToCard is deck_assign_label_to_card.
func AssignLabelToCard(c *nextcloud.Client) tooldef.Tool {
	return cardBodyAction(c, "deck_assign_label_to_card", "Put a label on a card.", "assignLabel", "label_id", "labelId", false, false, "card")
}

// RemoveLabelFromCard is deck_remove_label_from_card.
func RemoveLabelFromCard(c *nextcloud.Client) tooldef.Tool {
	return cardBodyAction(c, "deck_remove_label_from_card", "Take a label off a card.", "removeLabel", "label_id", "labelId", false, true, "card")
}

// AssignUserToCard is deck_assign_user_to_card.
func AssignUserToCard(c *nextcloud.Client) tooldef.Tool {
	return cardBodyAction(c, "deck_assign_user_to_card", "Assign a board member to a card.", "assignUser", "user_id", "userId", false, false, "assignment")
}

// UnassignUserFromCard is deck_unassign_user_from_card.
func UnassignUserFromCard(c *nextcloud.Client) tooldef.Tool {
	return cardBodyAction(c, "deck_unassign_user_from_card", "Remove a user's assignment from a card.", "unassignUser", "user_id", "userId", true, true, "assignment")
}

// dependencies need Deck 1.18.0 or later.
func requireDeck(ctx context.Context, c *nextcloud.Client, min string) error {
	caps, err := c.Capabilities(ctx)
	if err != nil {
		return err
	}
	if v := caps.AppVersion(app); !versionAtLeast(v, min) {
		return argError{fmt.Errorf("card dependencies need Deck %s or later (this instance has %q)", min, v)}
	}
	return nil
}

func versionAtLeast(v, min string) bool {
	a, b := strings.Split(v, "."), strings.Split(min, ".")
	for i := range b {
		var x, y int
		if i < len(a) {
			x, _ = strconv.Atoi(a[i])
		}
		y, _ = strconv.Atoi(b[i])
		if x != y {
			return x > y
		}
	}
	return true
}

func dependent(c *nextcloud.Client, name, desc, method string, destructive bool) tooldef.Tool {
	return spec{name: name, desc: desc, ids: append(append([]string{}, cardIDs...), "dependent_card_id"),
		destructive: destructive, idempotent: destructive,
		key: "card", outDesc: cardDesc, fields: cardFields, what: what("linking cards %d and %d", "card_id", "dependent_card_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			if err := requireDeck(ctx, c, "1.18.0"); err != nil {
				return nil, err
			}
			var out json.RawMessage
			_, err := c.JSON(ctx, method, fmt.Sprintf("%s/dependentCards/%d", cardPath(id), id["dependent_card_id"]), nil, nil, &out)
			return out, err
		}}.tool()
}

// AssignDependentCard is deck_assign_dependent_card.
func AssignDependentCard(c *nextcloud.Client) tooldef.Tool {
	return dependent(c, "deck_assign_dependent_card", "Mark another card as depending on this one (Deck 1.18.0 or later).", http.MethodPost, false)
}

// RemoveDependentCard is deck_remove_dependent_card.
func RemoveDependentCard(c *nextcloud.Client) tooldef.Tool {
	return dependent(c, "deck_remove_dependent_card", "Remove a card dependency (Deck 1.18.0 or later).", http.MethodDelete, true)
}
