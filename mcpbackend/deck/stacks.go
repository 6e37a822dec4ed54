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

// card is the part of a Deck card the filters read.
type card struct {
	ID          int    `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	StackID     int    `json:"stackId"`
	Order       int    `json:"order"`
	Archived    bool   `json:"archived"`
	Done        any    `json:"done"`
	Duedate     any    `json:"duedate"`
	Labels      []struct {
		ID    int    `json:"id"`
		Title string `json:"title"`
	} `json:"labels"`
	AssignedUsers []struct {
		Participant struct {
			UID string `json:"uid"`
		} `json:"participant"`
	} `json:"assignedUsers"`
}

type stack struct {
	ID    int               `json:"id"`
	Title string            `json:"title"`
	Order int               `json:"order"`
	Cards []json.RawMessage `json:"cards"`
}

// filter is the card selection and shaping shared by the listing tools.
type filter struct {
	detail     string // summary | full
	status     string // open | done | archived | all
	label      string
	assignedTo string
	maxLen     int // full detail: cut descriptions after this many runes (0: keep)
	previewLen int // summary detail: description preview length
}

const defaultPreview = 200

func filterOpts(withStatus bool) []mcp.ToolOption {
	opts := []mcp.ToolOption{
		mcp.WithString("detail", mcp.Enum("summary", "full"), mcp.DefaultString("summary"), mcp.Description("'summary': id, title, dates, labels, assignees and a description preview; 'full': the whole card.")),
	}
	if withStatus {
		opts = append(opts, mcp.WithString("status", mcp.Enum("open", "done", "archived", "all"), mcp.DefaultString("open"), mcp.Description("Which cards: open (not done, not archived), done, archived or all.")))
	}
	return append(opts,
		mcp.WithString("label", mcp.Description("Only cards with this label title.")),
		mcp.WithString("assigned_to", mcp.Description("Only cards assigned to this user id.")),
		mcp.WithInteger("description_max_length", mcp.Min(0), mcp.Description("With detail 'full', cut descriptions after this many characters.")),
		mcp.WithInteger("description_preview_length", mcp.DefaultNumber(defaultPreview), mcp.Min(0), mcp.Description("With detail 'summary', the length of the description preview.")),
	)
}

func filterFrom(req mcp.CallToolRequest, status string) filter {
	return filter{
		detail:     req.GetString("detail", "summary"),
		status:     req.GetString("status", status),
		label:      req.GetString("label", ""),
		assignedTo: req.GetString("assigned_to", ""),
		maxLen:     req.GetInt("description_max_length", 0),
		previewLen: req.GetInt("description_preview_length", defaultPreview),
	}
}

func cut(s string, n int) string {
	r := []rune(s)
	if n <= 0 || len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func (f filter) keep(c card) bool {
	done := c.Done != nil
	switch f.status {
	case "open", "":
		if c.Archived || done {
			return false
		}
	case "done":
		if !done {
			return false
		}
	case "archived":
		if !c.Archived {
			return false
		}
	}
	if f.label != "" {
		found := false
		for _, l := range c.Labels {
			found = found || strings.EqualFold(l.Title, f.label)
		}
		if !found {
			return false
		}
	}
	if f.assignedTo != "" {
		found := false
		for _, a := range c.AssignedUsers {
			found = found || a.Participant.UID == f.assignedTo
		}
		if !found {
			return false
		}
	}
	return true
}

// apply selects and shapes cards.
func (f filter) apply(raw []json.RawMessage) []any {
	out := []any{}
	for _, r := range raw {
		var c card
		if json.Unmarshal(r, &c) != nil || !f.keep(c) {
			continue
		}
		if f.detail == "full" {
			var m map[string]any
			if json.Unmarshal(r, &m) == nil {
				if d, ok := m["description"].(string); ok {
					m["description"] = cut(d, f.maxLen)
				}
				out = append(out, m)
			}
			continue
		}
		labels := []string{}
		for _, l := range c.Labels {
			labels = append(labels, l.Title)
		}
		users := []string{}
		for _, a := range c.AssignedUsers {
			users = append(users, a.Participant.UID)
		}
		out = append(out, map[string]any{
			"id": c.ID, "title": c.Title, "stackId": c.StackID, "order": c.Order,
			"duedate": c.Duedate, "done": c.Done, "archived": c.Archived,
			"labels": labels, "assigned_users": users,
			"description_preview": cut(c.Description, f.previewLen),
		})
	}
	return out
}

// shapeStacks applies f to the cards of every stack, or drops cards.
func shapeStacks(stacks []json.RawMessage, f filter, withCards bool) ([]any, error) {
	out := make([]any, 0, len(stacks))
	for _, raw := range stacks {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		var s stack
		_ = json.Unmarshal(raw, &s)
		if withCards {
			m["cards"] = f.apply(s.Cards)
		} else {
			delete(m, "cards")
		}
		out = append(out, m)
	}
	return out, nil
}

func getStacks(ctx context.Context, c *nextcloud.Client, board int, archived bool) ([]json.RawMessage, error) {
	p := fmt.Sprintf("%s/boards/%d/stacks", api, board)
	if archived {
		p += "/archived"
	}
	var stacks []json.RawMessage
	_, err := c.JSON(ctx, http.MethodGet, p, nil, nil, &stacks)
	return stacks, err
}

// GetStacks is deck_get_stacks.
func GetStacks(c *nextcloud.Client) tooldef.Tool {
	opts := append([]mcp.ToolOption{mcp.WithBoolean("include_cards", mcp.DefaultBool(true), mcp.Description("Include the stacks' cards."))}, filterOpts(true)...)
	return spec{name: "deck_get_stacks", desc: "List a board's stacks (columns) with their cards, filtered.", ro: true, idempotent: true,
		ids: []string{"board_id"}, opts: opts, key: "stacks", outType: "array", outDesc: "Stacks: id, title, order, cards.",
		what: what("listing the stacks of board %d", "board_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			f := filterFrom(req, "open")
			stacks, err := getStacks(ctx, c, id["board_id"], f.status == "archived")
			if err != nil {
				return nil, err
			}
			out, err := shapeStacks(stacks, f, req.GetBool("include_cards", true))
			if err != nil {
				return nil, err
			}
			return json.Marshal(out)
		}}.tool()
}

// GetArchivedStacks is deck_get_archived_stacks.
func GetArchivedStacks(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_get_archived_stacks", desc: "List a board's stacks with their archived cards.", ro: true, idempotent: true,
		ids: []string{"board_id"}, opts: filterOpts(false), key: "stacks", outType: "array", outDesc: "Stacks with archived cards.",
		what: what("listing the archived cards of board %d", "board_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			stacks, err := getStacks(ctx, c, id["board_id"], true)
			if err != nil {
				return nil, err
			}
			out, err := shapeStacks(stacks, filterFrom(req, "archived"), true)
			if err != nil {
				return nil, err
			}
			return json.Marshal(out)
		}}.tool()
}

// getStack reads one stack; archived cards live in the archived listing.
func getStack(ctx context.Context, c *nextcloud.Client, board, id int, archived bool) (json.RawMessage, error) {
	if !archived {
		var s json.RawMessage
		_, err := c.JSON(ctx, http.MethodGet, fmt.Sprintf("%s/boards/%d/stacks/%d", api, board, id), nil, nil, &s)
		return s, err
	}
	stacks, err := getStacks(ctx, c, board, true)
	if err != nil {
		return nil, err
	}
	for _, raw := range stacks {
		var s stack
		if json.Unmarshal(raw, &s) == nil && s.ID == id {
			return raw, nil
		}
	}
	// A stack without archived cards is not listed there.
	return json.RawMessage(fmt.Sprintf(`{"id":%d,"cards":[]}`, id)), nil
}

// GetStack is deck_get_stack.
func GetStack(c *nextcloud.Client) tooldef.Tool {
	opts := append([]mcp.ToolOption{mcp.WithBoolean("include_cards", mcp.DefaultBool(true), mcp.Description("Include the stack's cards."))}, filterOpts(true)...)
	return spec{name: "deck_get_stack", desc: "Read one stack with its cards, filtered.", ro: true, idempotent: true,
		ids: []string{"board_id", "stack_id"}, opts: opts, key: "stack", outDesc: stackDesc,
		what: what("reading stack %d of board %d", "stack_id", "board_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			f := filterFrom(req, "open")
			raw, err := getStack(ctx, c, id["board_id"], id["stack_id"], f.status == "archived")
			if err != nil {
				return nil, err
			}
			out, err := shapeStacks([]json.RawMessage{raw}, f, req.GetBool("include_cards", true))
			if err != nil {
				return nil, err
			}
			return json.Marshal(out[0])
		}}.tool()
}

// GetCards is deck_get_cards.
func GetCards(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_get_cards", desc: "List the cards of a stack, filtered.", ro: true, idempotent: true,
		ids: []string{"board_id", "stack_id"}, opts: filterOpts(true), key: "cards", outType: "array", outDesc: "Cards (summary or full).",
		what: what("reading stack %d of board %d", "stack_id", "board_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			f := filterFrom(req, "open")
			raw, err := getStack(ctx, c, id["board_id"], id["stack_id"], f.status == "archived")
			if err != nil {
				return nil, err
			}
			var s stack
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, err
			}
			return json.Marshal(f.apply(s.Cards))
		}}.tool()
}

// GetBoardOverview is deck_get_board_overview.
func GetBoardOverview(c *nextcloud.Client) tooldef.Tool {
	opts := []mcp.ToolOption{
		mcp.WithString("status", mcp.Enum("open", "done", "archived", "all"), mcp.DefaultString("open"), mcp.Description("Which cards to count and list.")),
		mcp.WithString("label", mcp.Description("Only cards with this label title.")),
		mcp.WithString("assigned_to", mcp.Description("Only cards assigned to this user id.")),
		mcp.WithInteger("description_preview_length", mcp.DefaultNumber(defaultPreview), mcp.Min(0), mcp.Description("Length of the description previews.")),
	}
	return spec{name: "deck_get_board_overview", desc: "One-call overview of a board: title, labels, members and each stack with its card summaries and counts.", ro: true, idempotent: true,
		ids: []string{"board_id"}, opts: opts, key: "overview", outDesc: "board (id, title, color, labels, users), stacks [{id, title, card_count, cards}], card_count.",
		what: what("reading board %d", "board_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			f := filterFrom(req, "open")
			f.detail = "summary"
			// Sequential on purpose: two calls, and a deterministic order
			// keeps Nextcloud's logs and the tests readable.
			var board map[string]any
			if _, err := c.JSON(ctx, http.MethodGet, fmt.Sprintf("%s/boards/%d", api, id["board_id"]), nil, nil, &board); err != nil {
				return nil, err
			}
			stacks, err := getStacks(ctx, c, id["board_id"], f.status == "archived")
			if err != nil {
				return nil, err
			}
			total := 0
			outStacks := []any{}
			for _, raw := range stacks {
				var s stack
				if err := json.Unmarshal(raw, &s); err != nil {
					return nil, err
				}
				cards := f.apply(s.Cards)
				total += len(cards)
				outStacks = append(outStacks, map[string]any{"id": s.ID, "title": s.Title, "order": s.Order, "card_count": len(cards), "cards": cards})
			}
			b := map[string]any{}
			for _, k := range []string{"id", "title", "color", "archived", "labels", "users", "owner", "deletedAt"} {
				if v, ok := board[k]; ok {
					b[k] = v
				}
			}
			return json.Marshal(map[string]any{"board": b, "stacks": outStacks, "card_count": total})
		}}.tool()
}

// CreateStack is deck_create_stack.
func CreateStack(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_create_stack", desc: "Add a stack (column) to a board.",
		ids: []string{"board_id"},
		opts: []mcp.ToolOption{
			mcp.WithString("title", mcp.Required(), mcp.Description("Stack title.")),
			mcp.WithInteger("order", mcp.Required(), mcp.Description("Position among the stacks (0 first).")),
		},
		key: "stack", outDesc: stackDesc, what: what("creating a stack on board %d", "board_id"),
		call: jsonCall(c, http.MethodPost, func(id map[string]int) string { return fmt.Sprintf("%s/boards/%d/stacks", api, id["board_id"]) },
			func(req mcp.CallToolRequest, _ map[string]int) (any, error) {
				title, err := requireString(req, "title")
				if err != nil {
					return nil, err
				}
				order, err := req.RequireInt("order")
				return map[string]any{"title": title, "order": order}, err
			})}.tool()
}

// UpdateStack is deck_update_stack.
func UpdateStack(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_update_stack", desc: "Rename or reorder a stack; what is not given stays.",
		ids: []string{"board_id", "stack_id"}, idempotent: true,
		opts: []mcp.ToolOption{
			mcp.WithString("title", mcp.Description("New title.")),
			mcp.WithInteger("order", mcp.Description("New position.")),
		},
		key: "stack", outDesc: stackDesc, what: what("updating stack %d of board %d", "stack_id", "board_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			p := fmt.Sprintf("%s/boards/%d/stacks/%d", api, id["board_id"], id["stack_id"])
			args := req.GetArguments()
			title, hasTitle := args["title"].(string)
			_, hasOrder := args["order"]
			if !hasTitle && !hasOrder {
				return nil, argError{fmt.Errorf("give title or order")}
			}
			order := req.GetInt("order", 0)
			if !hasTitle || !hasOrder {
				var cur stack
				if _, err := c.JSON(ctx, http.MethodGet, p, nil, nil, &cur); err != nil {
					return nil, err
				}
				if !hasTitle {
					title = cur.Title
				}
				if !hasOrder {
					order = cur.Order
				}
			}
			var out json.RawMessage
			_, err := c.JSON(ctx, http.MethodPut, p, nil, map[string]any{"title": title, "order": order}, &out)
			return out, err
		}}.tool()
}

// DeleteStack is deck_delete_stack.
func DeleteStack(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_delete_stack", desc: "Delete a stack with its cards.",
		ids: []string{"board_id", "stack_id"}, destructive: true, idempotent: true,
		key: "stack", outDesc: stackDesc, what: what("deleting stack %d of board %d", "stack_id", "board_id"),
		call: jsonCall(c, http.MethodDelete, func(id map[string]int) string {
			return fmt.Sprintf("%s/boards/%d/stacks/%d", api, id["board_id"], id["stack_id"])
		}, nil)}.tool()
}
