// Package notes holds the tools for the Nextcloud Notes app
// (/index.php/apps/notes/api/v1).
package notes

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

const (
	app   = "notes"
	api   = "/index.php/apps/notes/api/v1"
	read  = "notes:read"
	write = "notes:write"
)

// Tools returns the Notes tools.
func Tools(c *nextcloud.Client) []tooldef.Tool {
	return []tooldef.Tool{
		CreateNote(c), UpdateNote(c), AppendContent(c), SearchNotes(c),
		GetNote(c), GetAttachment(c), DeleteNote(c),
	}
}

// Note is the part of a Notes record the tools rely on; answers are
// passed through whole.
type Note struct {
	ID       int64  `json:"id"`
	Title    string `json:"title"`
	Content  string `json:"content"`
	Category string `json:"category"`
	ETag     string `json:"etag"`
	Modified int64  `json:"modified"`
	Favorite bool   `json:"favorite"`
}

func notePath(id int) string { return api + "/notes/" + strconv.Itoa(id) }

var noteFields = map[string]string{"id": "integer", "title": "string", "content": "string", "category": "string", "etag": "string", "modified": "integer", "favorite": "boolean"}

var noteOutput = nextcloud.RecordSchema("note", "object", "The note as Notes returns it: id, title, content, category, etag (pass it to nc_notes_update_note), modified, favorite.", noteFields)

// CreateNote is nc_notes_create_note.
func CreateNote(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_notes_create_note"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Create a note in Nextcloud Notes."),
			mcp.WithString("title", mcp.Required(), mcp.Description("Title of the note (also its file name).")),
			mcp.WithString("content", mcp.Required(), mcp.Description("Markdown content.")),
			mcp.WithString("category", mcp.Required(), mcp.Description("Category (folder below the notes path, '/' separates levels); empty for none.")),
			noteOutput,
			tooldef.Annotations(false, false, false, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			title, err := req.RequireString("title")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			content := req.GetString("content", "")
			category := req.GetString("category", "")
			var note json.RawMessage
			if _, err := c.JSON(ctx, http.MethodPost, api+"/notes", nil,
				map[string]string{"title": title, "content": content, "category": category}, &note); err != nil {
				return nextcloud.ToolError(name, "creating the note", err)
			}
			return nextcloud.Structured("note", nextcloud.Raw(note)), nil
		},
	}
}

// UpdateNote is nc_notes_update_note.
func UpdateNote(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_notes_update_note"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Update a note's title, content or category. Only the given fields change. The etag from nc_notes_get_note guards against overwriting someone else's edit: a stale etag fails and the error shows the current note."),
			mcp.WithInteger("note_id", mcp.Required(), mcp.Description("Id of the note.")),
			mcp.WithString("etag", mcp.Required(), mcp.Description("The note's etag as last read.")),
			mcp.WithString("title", mcp.Description("New title.")),
			mcp.WithString("content", mcp.Description("New content (replaces the whole text).")),
			mcp.WithString("category", mcp.Description("New category; the note's file and its attachments folder move along.")),
			noteOutput,
			tooldef.Annotations(false, false, false, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id, err := req.RequireInt("note_id")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			etag, err := req.RequireString("etag")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			body := map[string]string{}
			for _, k := range []string{"title", "content", "category"} {
				if v, ok := req.GetArguments()[k].(string); ok {
					body[k] = v
				}
			}
			if len(body) == 0 {
				return nextcloud.ArgError(name, fmt.Errorf("nothing to update: give title, content or category")), nil
			}
			newCat, moving := body["category"]
			var before Note
			if moving {
				// Notes moves the note's file but not its attachments
				// folder; remember where that is.
				if before, _, err = getNote(ctx, c, id); err != nil {
					return nextcloud.ToolError(name, fmt.Sprintf("reading note %d", id), err)
				}
				moving = before.Category != newCat
			}
			res, err := putNote(ctx, c, name, id, etag, body)
			if err != nil || res.IsError || !moving {
				return res, err
			}
			if err := moveAttachments(ctx, c, before, newCat); err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("note %d moved, but moving its attachments folder", id), err)
			}
			return res, nil
		},
	}
}

func putNote(ctx context.Context, c *nextcloud.Client, name string, id int, etag string, body map[string]string) (*mcp.CallToolResult, error) {
	resp, err := c.DoApp(ctx, &nextcloud.Request{Method: http.MethodPut, Path: notePath(id), JSON: body,
		Header: http.Header{"If-Match": {`"` + strings.Trim(etag, `"`) + `"`}}})
	if nextcloud.IsStatus(err, http.StatusPreconditionFailed) {
		var cur Note
		_ = json.Unmarshal(resp.Body, &cur)
		return mcp.NewToolResultError(fmt.Sprintf("%s failed: the note changed since it was read (HTTP 412): current etag %q, title %q; read it again and retry", name, cur.ETag, cur.Title)), nil
	}
	if err != nil {
		return nextcloud.ToolError(name, fmt.Sprintf("updating note %d", id), err)
	}
	return nextcloud.Structured("note", nextcloud.Raw(resp.Body)), nil
}

func getNote(ctx context.Context, c *nextcloud.Client, id int) (Note, []byte, error) {
	var n Note
	resp, err := c.JSON(ctx, http.MethodGet, notePath(id), nil, nil, &n)
	if err != nil {
		return n, nil, err
	}
	return n, resp.Body, nil
}

// AppendContent is nc_notes_append_content.
func AppendContent(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_notes_append_content"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Append text to a note, separated from the existing content by a line '---'."),
			mcp.WithInteger("note_id", mcp.Required(), mcp.Description("Id of the note.")),
			mcp.WithString("content", mcp.Required(), mcp.Description("Text to append.")),
			noteOutput,
			tooldef.Annotations(false, false, false, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id, err := req.RequireInt("note_id")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			add, err := req.RequireString("content")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			n, _, err := getNote(ctx, c, id)
			if err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("reading note %d", id), err)
			}
			content := add
			if n.Content != "" {
				content = n.Content + "\n---\n" + add
			}
			// If-Match makes a concurrent edit fail instead of being lost.
			return putNote(ctx, c, name, id, n.ETag, map[string]string{"content": content})
		},
	}
}

// SearchNotes is nc_notes_search_notes.
func SearchNotes(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_notes_search_notes"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Search notes by words in title, content and category. Results are ranked: title matches count most."),
			mcp.WithString("query", mcp.Required(), mcp.Description("Words to look for (all are tried, case-insensitive).")),
			nextcloud.RecordSchema("results", "array", "Matching notes, best first: id, title, category, modified, score.",
				map[string]string{"id": "integer", "title": "string", "category": "string", "modified": "integer", "score": "number"}),
			tooldef.Annotations(true, false, true, true),
		),
		Scopes: []string{read}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			q, err := req.RequireString("query")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			all, err := listNotes(ctx, c)
			if err != nil {
				return nextcloud.ToolError(name, "listing notes", err)
			}
			return nextcloud.Structured("results", rank(all, q)), nil
		},
	}
}

// chunkSize is how many notes one listing request returns: large note
// collections come in several answers instead of one huge one.
const chunkSize = 100

// listNotes reads all notes chunk by chunk, following Notes'
// X-Notes-Chunk-Cursor. The last chunk repeats earlier notes as id-only
// stubs; those are skipped.
func listNotes(ctx context.Context, c *nextcloud.Client) ([]Note, error) {
	q := url.Values{"chunkSize": {strconv.Itoa(chunkSize)}}
	var all []Note
	// A cursor that never ends would be a Notes bug; stop long after any
	// real collection is read.
	for range 10000 {
		var page []json.RawMessage
		resp, err := c.JSON(ctx, http.MethodGet, api+"/notes", q, nil, &page)
		if err != nil {
			return nil, err
		}
		for _, raw := range page {
			var probe map[string]json.RawMessage
			if json.Unmarshal(raw, &probe) != nil {
				continue
			}
			if _, full := probe["title"]; !full {
				continue
			}
			var n Note
			if err := json.Unmarshal(raw, &n); err == nil {
				all = append(all, n)
			}
		}
		cursor := resp.Header.Get("X-Notes-Chunk-Cursor")
		if cursor == "" {
			return all, nil
		}
		q.Set("chunkCursor", cursor)
	}
	return nil, fmt.Errorf("notes listing did not end after 10000 chunks")
}

// Hit is one search result.
type Hit struct {
	ID       int64   `json:"id"`
	Title    string  `json:"title"`
	Category string  `json:"category"`
	Modified int64   `json:"modified"`
	Score    float64 `json:"score"`
}

func tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

// rank scores notes by how many query tokens occur in title (3),
// category (2) and content (1).
func rank(notes []Note, query string) []Hit {
	qt := tokens(query)
	hits := []Hit{}
	if len(qt) == 0 {
		return hits
	}
	for _, n := range notes {
		title, cat, content := strings.ToLower(n.Title), strings.ToLower(n.Category), strings.ToLower(n.Content)
		var s float64
		for _, t := range qt {
			if strings.Contains(title, t) {
				s += 3
			}
			if strings.Contains(cat, t) {
				s += 2
			}
			if strings.Contains(content, t) {
				s++
			}
		}
		if s > 0 {
			hits = append(hits, Hit{ID: n.ID, Title: n.Title, Category: n.Category, Modified: n.Modified, Score: s / float64(len(qt))})
		}
	}
	slices.SortStableFunc(hits, func(a, b Hit) int {
		switch {
		case a.Score != b.Score:
			if a.Score > b.Score {
				return -1
			}
			return 1
		case a.Modified != b.Modified:
			if a.Modified > b.Modified {
				return -1
			}
			return 1
		}
		return 0
	})
	return hits
}

// GetNote is nc_notes_get_note.
func GetNote(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_notes_get_note"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Read one note with its content and etag."),
			mcp.WithInteger("note_id", mcp.Required(), mcp.Description("Id of the note.")),
			noteOutput,
			tooldef.Annotations(true, false, true, true),
		),
		Scopes: []string{read}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id, err := req.RequireInt("note_id")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			_, raw, err := getNote(ctx, c, id)
			if err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("reading note %d", id), err)
			}
			return nextcloud.Structured("note", nextcloud.Raw(raw)), nil
		},
	}
}

// notesRoot returns the caller's user id and Notes folder: attachments
// follow the user's notesPath setting instead of assuming "Notes".
func notesRoot(ctx context.Context, c *nextcloud.Client) (user, root string, err error) {
	var settings struct {
		NotesPath string `json:"notesPath"`
	}
	if _, err := c.JSON(ctx, http.MethodGet, api+"/settings", nil, nil, &settings); err != nil {
		return "", "", err
	}
	user, err = c.User(ctx)
	return user, strings.Trim(settings.NotesPath, "/"), err
}

// attachmentsPath is the folder of a note's attachments below root.
func attachmentsPath(root string, id int64, category string) string {
	parts := []string{root}
	if category != "" {
		parts = append(parts, category)
	}
	return strings.Join(append(parts, ".attachments."+strconv.FormatInt(id, 10)), "/")
}

// attachmentsDir is the DAV folder of a note's attachments.
func attachmentsDir(ctx context.Context, c *nextcloud.Client, n Note) (user, dir string, err error) {
	user, root, err := notesRoot(ctx, c)
	return user, attachmentsPath(root, n.ID, n.Category), err
}

// moveAttachments moves the .attachments.<id> folder of n from its old
// category folder to the one of category; a note without attachments has
// no folder, which is fine.
func moveAttachments(ctx context.Context, c *nextcloud.Client, n Note, category string) error {
	user, root, err := notesRoot(ctx, c)
	if err != nil {
		return err
	}
	from, to := attachmentsPath(root, n.ID, n.Category), attachmentsPath(root, n.ID, category)
	_, err = c.DAV(ctx, &nextcloud.Request{Method: "MOVE", Path: nextcloud.FilesPath(user, from) + "/",
		Header: http.Header{"Destination": {c.AbsoluteURL(nextcloud.FilesPath(user, to) + "/")}, "Overwrite": {"F"}}})
	if nextcloud.IsStatus(err, http.StatusNotFound) {
		return nil
	}
	return err
}

// GetAttachment is nc_notes_get_attachment.
func GetAttachment(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_notes_get_attachment"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Read an attachment (image or file) of a note, from the note's .attachments.<id> folder."),
			mcp.WithInteger("note_id", mcp.Required(), mcp.Description("Id of the note.")),
			mcp.WithString("attachment_filename", mcp.Required(), mcp.Description("File name inside the note's attachments folder.")),
			tooldef.Annotations(true, false, true, true),
		),
		Scopes: []string{read}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id, err := req.RequireInt("note_id")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			file, err := req.RequireString("attachment_filename")
			if err != nil || file == "" || strings.ContainsAny(file, "/\\") || file == ".." {
				return nextcloud.ArgError(name, fmt.Errorf("attachment_filename must be a plain file name")), nil
			}
			n, _, err := getNote(ctx, c, id)
			if err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("reading note %d", id), err)
			}
			user, dir, err := attachmentsDir(ctx, c, n)
			if err != nil {
				return nextcloud.ToolError(name, "locating the attachments folder", err)
			}
			resp, err := c.DAV(ctx, &nextcloud.Request{Method: http.MethodGet, Path: nextcloud.FilesPath(user, dir+"/"+file)})
			if err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("reading attachment %q", file), err)
			}
			return nextcloud.FileResult(nextcloud.FilesPath(user, dir+"/"+file), resp), nil
		},
	}
}

// DeleteNote is nc_notes_delete_note.
func DeleteNote(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_notes_delete_note"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Delete a note and its attachments folder."),
			mcp.WithInteger("note_id", mcp.Required(), mcp.Description("Id of the note.")),
			tooldef.Annotations(false, true, true, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id, err := req.RequireInt("note_id")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			n, _, err := getNote(ctx, c, id)
			if err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("reading note %d", id), err)
			}
			user, dir, err := attachmentsDir(ctx, c, n)
			if err != nil {
				return nextcloud.ToolError(name, "locating the attachments folder", err)
			}
			if _, err := c.JSON(ctx, http.MethodDelete, notePath(id), nil, nil, nil); err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("deleting note %d", id), err)
			}
			// Most notes have no attachments: a missing folder is fine.
			_, err = c.DAV(ctx, &nextcloud.Request{Method: http.MethodDelete, Path: nextcloud.FilesPath(user, dir) + "/"})
			if err != nil && !nextcloud.IsStatus(err, http.StatusNotFound) {
				return nextcloud.ToolError(name, fmt.Sprintf("note %d deleted, but removing its attachments folder", id), err)
			}
			return mcp.NewToolResultText(fmt.Sprintf("Note %d %q deleted.", id, n.Title)), nil
		},
	}
}
