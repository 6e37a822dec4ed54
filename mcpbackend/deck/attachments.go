package deck

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

const shares = "/ocs/v2.php/apps/files_sharing/api/v1/shares"

// shareTypeDeck shares a file with a Deck card.
const shareTypeDeck = "12"

func attachPath(ctx context.Context, c *nextcloud.Client, card int, path string) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.OCS(ctx, http.MethodPost, shares, nil, url.Values{
		"path": {path}, "shareType": {shareTypeDeck}, "shareWith": {strconv.Itoa(card)}, "permissions": {"1"},
	}, &out)
	return out, err
}

// AttachFile is deck_attach_file.
func AttachFile(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_attach_file", desc: "Attach one of the user's files to a card (shares it with the card).",
		scopes: []string{write, "files:read"}, ids: []string{"card_id"},
		opts: []mcp.ToolOption{mcp.WithString("path", mcp.Required(), mcp.Description("File path relative to the user's root."))},
		key:  "share", outDesc: "The share linking the file to the card.", what: what("attaching a file to card %d", "card_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			p, err := nextcloud.CleanPath(req.GetString("path", ""))
			if err == nil && p == "" {
				err = fmt.Errorf("path must name a file")
			}
			if err != nil {
				return nil, argError{err}
			}
			return attachPath(ctx, c, id["card_id"], "/"+p)
		}}.tool()
}

// AttachNote is deck_attach_note.
func AttachNote(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_attach_note", desc: "Attach a note from Nextcloud Notes to a card (shares the note's file with the card).",
		scopes: []string{write, "files:read", "notes:read"}, ids: []string{"card_id"},
		opts: []mcp.ToolOption{mcp.WithInteger("note_id", mcp.Required(), mcp.Description("Id of the note."))},
		key:  "share", outDesc: "The share linking the note's file to the card.", what: what("attaching a note to card %d", "card_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			noteID, err := req.RequireInt("note_id")
			if err != nil {
				return nil, argError{err}
			}
			var note struct {
				Title        string `json:"title"`
				Category     string `json:"category"`
				InternalPath string `json:"internalPath"`
			}
			if _, err := c.JSON(ctx, http.MethodGet, "/index.php/apps/notes/api/v1/notes/"+strconv.Itoa(noteID), nil, nil, &note); err != nil {
				return nil, err
			}
			p := note.InternalPath
			if p == "" {
				// Older Notes: build the path from the user's settings.
				var s struct {
					NotesPath  string `json:"notesPath"`
					FileSuffix string `json:"fileSuffix"`
				}
				if _, err := c.JSON(ctx, http.MethodGet, "/index.php/apps/notes/api/v1/settings", nil, nil, &s); err != nil {
					return nil, err
				}
				parts := []string{strings.Trim(s.NotesPath, "/")}
				if note.Category != "" {
					parts = append(parts, note.Category)
				}
				p = "/" + strings.Join(append(parts, note.Title+s.FileSuffix), "/")
			}
			return attachPath(ctx, c, id["card_id"], p)
		}}.tool()
}

func attachmentsPath(id map[string]int) string {
	return fmt.Sprintf("%s/boards/%d/stacks/%d/cards/%d/attachments", api11, id["board_id"], id["stack_id"], id["card_id"])
}

// ListAttachments is deck_list_attachments.
func ListAttachments(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_list_attachments", desc: "List a card's attachments, shared files included (API v1.1; v1.0 hides them).", ro: true, idempotent: true,
		ids: cardIDs, key: "attachments", outType: "array", outDesc: "Attachments: id, type (file or deck_file), data (name), extendedData (path, size, mimetype).",
		what: what("listing the attachments of card %d", "card_id"),
		call: jsonCall(c, http.MethodGet, attachmentsPath, nil)}.tool()
}

// DeleteAttachment is deck_delete_attachment.
func DeleteAttachment(c *nextcloud.Client) tooldef.Tool {
	return spec{name: "deck_delete_attachment", desc: "Remove an attachment from a card (a shared file stays in its owner's files).",
		ids: append(append([]string{}, cardIDs...), "attachment_id"), destructive: true, idempotent: true,
		key: "attachment", outDesc: "The removed attachment.", what: what("removing attachment %d", "attachment_id"),
		call: func(ctx context.Context, req mcp.CallToolRequest, id map[string]int) (json.RawMessage, error) {
			// The delete route needs the attachment's type.
			var list []struct {
				ID   int    `json:"id"`
				Type string `json:"type"`
			}
			if _, err := c.JSON(ctx, http.MethodGet, attachmentsPath(id), nil, nil, &list); err != nil {
				return nil, err
			}
			typ := ""
			for _, a := range list {
				if a.ID == id["attachment_id"] {
					typ = a.Type
				}
			}
			if typ == "" {
				return nil, argError{fmt.Errorf("card %d has no attachment %d", id["card_id"], id["attachment_id"])}
			}
			var out json.RawMessage
			_, err := c.JSON(ctx, http.MethodDelete, fmt.Sprintf("%s/%s/%d", attachmentsPath(id), url.PathEscape(typ), id["attachment_id"]), nil, nil, &out)
			return out, err
		}}.tool()
}
