// Package deck holds the tools for the Nextcloud Deck app: the REST API
// (/index.php/apps/deck/api/v1.0 and v1.1), the OCS API for comments, and
// Deck's internal routes where only they can do the job (moving cards).
package deck

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

const (
	app      = "deck"
	api      = "/index.php/apps/deck/api/v1.0"
	api11    = "/index.php/apps/deck/api/v1.1"
	internal = "/index.php/apps/deck"
	ocs      = "/ocs/v2.php/apps/deck/api/v1.0"
	read     = "deck:read"
	write    = "deck:write"
)

// Tools returns the Deck tools.
func Tools(c *nextcloud.Client) []tooldef.Tool {
	return []tooldef.Tool{
		GetBoards(c), GetBoard(c), GetStacks(c), GetStack(c), GetArchivedStacks(c), GetCards(c),
		GetBoardOverview(c), GetCard(c), GetLabels(c), GetLabel(c),
		CreateBoard(c), CreateStack(c), UpdateStack(c), DeleteStack(c),
		// Beyond the reference inventory (issue 13).
		UpdateBoard(c), ArchiveBoard(c), UnarchiveBoard(c), DeleteBoard(c), RestoreBoard(c), ShareBoard(c), UnshareBoard(c),
		CreateCard(c), UpdateCard(c), DeleteCard(c), ArchiveCard(c), UnarchiveCard(c),
		ReorderCard(c), MoveCardToBoard(c),
		CreateLabel(c), UpdateLabel(c), DeleteLabel(c),
		AssignLabelToCard(c), RemoveLabelFromCard(c), AssignUserToCard(c), UnassignUserFromCard(c),
		AssignDependentCard(c), RemoveDependentCard(c),
		GetCardComments(c), CreateCardComment(c), UpdateCardComment(c), DeleteCardComment(c),
		AttachFile(c), AttachNote(c), ListAttachments(c), DeleteAttachment(c),
	}
}

// argDesc describes the integer id arguments tools take.
var argDesc = map[string]string{
	"board_id":          "Id of the board.",
	"stack_id":          "Id of the stack (column).",
	"card_id":           "Id of the card.",
	"label_id":          "Id of the label.",
	"comment_id":        "Id of the comment.",
	"attachment_id":     "Id of the attachment.",
	"dependent_card_id": "Id of the card to link as dependent.",
	"acl_id":            "Id of the board share (acl entry).",
}

func idOpts(names ...string) []mcp.ToolOption {
	out := make([]mcp.ToolOption, 0, len(names))
	for _, n := range names {
		out = append(out, mcp.WithInteger(n, mcp.Required(), mcp.Description(argDesc[n])))
	}
	return out
}

// ids reads the integer arguments names.
func ids(req mcp.CallToolRequest, names ...string) (map[string]int, error) {
	out := make(map[string]int, len(names))
	for _, n := range names {
		v, err := req.RequireInt(n)
		if err != nil {
			return nil, err
		}
		out[n] = v
	}
	return out, nil
}

func cardPath(id map[string]int) string {
	return fmt.Sprintf("%s/boards/%d/stacks/%d/cards/%d", api, id["board_id"], id["stack_id"], id["card_id"])
}

// spec describes a tool that is one Deck call whose answer is returned as
// structured content (or as text when key is empty).
type spec struct {
	name, desc string
	scopes     []string
	// ro, destructive, idempotent are the annotations.
	ro, destructive, idempotent bool
	ids                         []string
	opts                        []mcp.ToolOption
	key, outDesc, outType       string
	// fields types the record's main fields (nextcloud.RecordSchema).
	fields map[string]string
	what   func(id map[string]int) string
	call   func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error)
}

func (s spec) tool() tooldef.Tool {
	opts := []mcp.ToolOption{mcp.WithDescription(s.desc)}
	opts = append(opts, idOpts(s.ids...)...)
	opts = append(opts, s.opts...)
	if s.key != "" {
		t := s.outType
		if t == "" {
			t = "object"
		}
		opts = append(opts, nextcloud.RecordSchema(s.key, t, s.outDesc, s.fields))
	}
	opts = append(opts, tooldef.Annotations(s.ro, s.destructive, s.idempotent, true))
	scopes := s.scopes
	if scopes == nil {
		scopes = []string{write}
		if s.ro {
			scopes = []string{read}
		}
	}
	return tooldef.Tool{
		Def: mcp.NewTool(s.name, opts...), Scopes: scopes, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id, err := ids(req, s.ids...)
			if err != nil {
				return nextcloud.ArgError(s.name, err), nil
			}
			out, err := s.call(ctx, req, id)
			if err != nil {
				if ae, ok := err.(argError); ok {
					return nextcloud.ArgError(s.name, ae.error), nil
				}
				return nextcloud.ToolError(s.name, s.what(id), err)
			}
			if s.key == "" {
				return mcp.NewToolResultText(string(out)), nil
			}
			return nextcloud.Structured(s.key, nextcloud.Raw(out)), nil
		},
	}
}

// argError marks a call error as the caller's mistake.
type argError struct{ error }

func jsonCall(c *nextcloud.Client, method string, path func(id map[string]int) string, body func(req mcp.CallToolRequest, id map[string]int) (any, error)) func(context.Context, mcp.CallToolRequest, map[string]int) (json.RawMessage, error) {
	return func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
		var in any
		if body != nil {
			b, err := body(req, id)
			if err != nil {
				return nil, argError{err}
			}
			in = b
		}
		var out json.RawMessage
		_, err := c.JSON(ctx, method, path(id), nil, in, &out)
		return out, err
	}
}

func ocsCall(c *nextcloud.Client, method string, path func(id map[string]int) string, q func(req mcp.CallToolRequest) url.Values, body func(req mcp.CallToolRequest, id map[string]int) (any, error)) func(context.Context, mcp.CallToolRequest, map[string]int) (json.RawMessage, error) {
	return func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
		var in any
		if body != nil {
			b, err := body(req, id)
			if err != nil {
				return nil, argError{err}
			}
			in = b
		}
		var query url.Values
		if q != nil {
			query = q(req)
		}
		var out json.RawMessage
		err := c.OCS(ctx, method, path(id), query, in, &out)
		return out, err
	}
}

func what(format string, keys ...string) func(map[string]int) string {
	return func(id map[string]int) string {
		args := make([]any, len(keys))
		for i, k := range keys {
			args[i] = id[k]
		}
		return fmt.Sprintf(format, args...)
	}
}

func requireString(req mcp.CallToolRequest, key string) (string, error) {
	s, err := req.RequireString(key)
	if err == nil && strings.TrimSpace(s) == "" {
		err = fmt.Errorf("%s must not be empty", key)
	}
	return s, err
}
