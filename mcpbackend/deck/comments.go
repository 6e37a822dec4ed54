package deck

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

// maxComment is Deck's limit on a comment's length, in characters.
const maxComment = 1000

func commentsPath(id map[string]int) string {
	return fmt.Sprintf("%s/cards/%d/comments", ocs, id["card_id"])
}

type comment struct {
	ID               int    `json:"id"`
	Message          string `json:"message"`
	ActorID          string `json:"actorId"`
	ActorDisplayName string `json:"actorDisplayName"`
	CreationDateTime string `json:"creationDateTime"`
	ReplyTo          *struct {
		ID int `json:"id"`
	} `json:"replyTo"`
}

// GetCardComments is deck_get_card_comments.
func GetCardComments(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_get_card_comments", desc: "List the comments on a card. Deck answers 403 for cards the user cannot see or that do not exist.", ro: true, idempotent: true,
		ids: []string{"card_id"},
		opts: []mcp.ToolOption{
			mcp.WithInteger("limit", mcp.DefaultNumber(20), mcp.Min(1), mcp.Description("At most this many comments.")),
			mcp.WithInteger("offset", mcp.DefaultNumber(0), mcp.Min(0), mcp.Description("Skip this many (newest) comments.")),
			mcp.WithString("detail", mcp.Enum("summary", "full"), mcp.DefaultString("summary"), mcp.Description("'summary': id, author, time, message, reply_to; 'full': Deck's records.")),
			mcp.WithInteger("message_max_length", mcp.Min(0), mcp.Description("Cut messages after this many characters.")),
			mcp.WithString("order", mcp.Enum("newest", "oldest"), mcp.DefaultString("newest"), mcp.Description("Order of the returned page.")),
		},
		key: "comments", outType: "array", outDesc: "Comments: id, actor_id, actor_display_name, created, message, reply_to.",
		what: what("listing the comments of card %d", "card_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			q := url.Values{"limit": {strconv.Itoa(req.GetInt("limit", 20))}, "offset": {strconv.Itoa(req.GetInt("offset", 0))}}
			var raw []json.RawMessage
			if err := c.OCS(ctx, http.MethodGet, commentsPath(id), q, nil, &raw); err != nil {
				return nil, err
			}
			if req.GetString("order", "newest") == "oldest" {
				slices.Reverse(raw)
			}
			maxLen := req.GetInt("message_max_length", 0)
			out := make([]any, 0, len(raw))
			for _, r := range raw {
				var cm comment
				if err := json.Unmarshal(r, &cm); err != nil {
					return nil, err
				}
				if req.GetString("detail", "summary") == "full" {
					var m map[string]any
					_ = json.Unmarshal(r, &m)
					m["message"] = cut(cm.Message, maxLen)
					out = append(out, m)
					continue
				}
				s := map[string]any{"id": cm.ID, "actor_id": cm.ActorID, "actor_display_name": cm.ActorDisplayName,
					"created": cm.CreationDateTime, "message": cut(cm.Message, maxLen)}
				if cm.ReplyTo != nil {
					s["reply_to"] = cm.ReplyTo.ID
				}
				out = append(out, s)
			}
			return json.Marshal(out)
		}}.tool()
}

// chunks splits s into pieces of at most n runes.
func chunks(s string, n int) []string {
	r := []rune(s)
	var out []string
	for len(r) > n {
		out = append(out, string(r[:n]))
		r = r[n:]
	}
	return append(out, string(r))
}

// CreateCardComment is deck_create_card_comment.
func CreateCardComment(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_create_card_comment", desc: fmt.Sprintf("Comment on a card (Deck allows %d characters per comment; overflow 'split' posts a longer text as several comments, 'error' refuses it).", maxComment),
		ids: []string{"card_id"},
		opts: []mcp.ToolOption{
			mcp.WithString("message", mcp.Required(), mcp.Description("Comment text; @user mentions notify.")),
			mcp.WithInteger("parent_id", mcp.Description("Id of the comment this replies to.")),
			mcp.WithString("overflow", mcp.Enum("error", "split"), mcp.DefaultString("error"), mcp.Description("What to do with a message over the limit.")),
		},
		key: "comments", outType: "array", outDesc: "The comments created (one unless split).",
		what: what("commenting on card %d", "card_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			msg, err := requireString(req, "message")
			if err != nil {
				return nil, argError{err}
			}
			parts := []string{msg}
			if len([]rune(msg)) > maxComment {
				if req.GetString("overflow", "error") != "split" {
					return nil, argError{fmt.Errorf("message has %d characters, Deck allows %d; shorten it or set overflow to split", len([]rune(msg)), maxComment)}
				}
				parts = chunks(msg, maxComment)
			}
			var out []json.RawMessage
			for _, p := range parts {
				body := map[string]any{"message": p}
				if _, ok := req.GetArguments()["parent_id"]; ok {
					body["parentId"] = req.GetInt("parent_id", 0)
				}
				var cm json.RawMessage
				if err := c.OCS(ctx, http.MethodPost, commentsPath(id), nil, body, &cm); err != nil {
					return nil, err
				}
				out = append(out, cm)
			}
			return json.Marshal(out)
		}}.tool()
}

// UpdateCardComment is deck_update_card_comment.
func UpdateCardComment(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_update_card_comment", desc: "Change the text of one of your comments.",
		ids:        []string{"card_id", "comment_id"},
		idempotent: true,
		opts:       []mcp.ToolOption{mcp.WithString("message", mcp.Required(), mcp.Description("New text."))},
		key:        "comment", outDesc: "The comment.", what: what("updating comment %d", "comment_id"),
		call: ocsCall(c, http.MethodPut, func(id map[string]int) string { return fmt.Sprintf("%s/%d", commentsPath(id), id["comment_id"]) }, nil,
			func(req mcp.CallToolRequest, _ map[string]int) (any, error) {
				m, err := requireString(req, "message")
				if err == nil && len([]rune(m)) > maxComment {
					err = fmt.Errorf("message over %d characters", maxComment)
				}
				return map[string]string{"message": m}, err
			})}.tool()
}

// DeleteCardComment is deck_delete_card_comment.
func DeleteCardComment(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_delete_card_comment", desc: "Delete one of your comments.",
		ids: []string{"card_id", "comment_id"}, destructive: true, idempotent: true,
		what: what("deleting comment %d", "comment_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			if err := c.OCS(ctx, http.MethodDelete, fmt.Sprintf("%s/%d", commentsPath(id), id["comment_id"]), nil, nil, nil); err != nil {
				return nil, err
			}
			return json.RawMessage(fmt.Sprintf("Comment %d deleted.", id["comment_id"])), nil
		}}.tool()
}
