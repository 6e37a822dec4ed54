package files

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"path"
	"strconv"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

// fileID looks up oc:fileid, which the comments API is keyed by.
func fileID(ctx context.Context, c *nextcloud.Client, p string) (int64, string, error) {
	user, p, err := target(ctx, c, p)
	if err != nil {
		return 0, p, err
	}
	res, err := c.Propfind(ctx, user, nextcloud.FilesPath(user, p), "0")
	if err != nil {
		return 0, p, err
	}
	if len(res) == 0 || res[0].FileID == 0 {
		return 0, p, fmt.Errorf("no file id for %q", "/"+p)
	}
	return res[0].FileID, p, nil
}

// Comment is one file comment.
type Comment struct {
	ID           int64  `json:"id" xml:"id"`
	ParentID     int64  `json:"parent_id" xml:"parentId"`
	ActorID      string `json:"actor_id" xml:"actorId"`
	ActorName    string `json:"actor_display_name" xml:"actorDisplayName"`
	Message      string `json:"message" xml:"message"`
	CreationDate string `json:"created" xml:"creationDateTime"`
	IsUnread     bool   `json:"is_unread" xml:"isUnread"`
}

// ListComments is nc_webdav_list_comments.
func ListComments(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_webdav_list_comments"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("List the comments on a file, newest first."),
			mcp.WithString("path", mcp.Required(), mcp.Description("File path relative to the user's root.")),
			mcp.WithInteger("limit", mcp.DefaultNumber(20), mcp.Min(1), mcp.Description("At most this many comments.")),
			mcp.WithInteger("offset", mcp.DefaultNumber(0), mcp.Min(0), mcp.Description("Skip this many (newest) comments.")),
			nextcloud.RecordSchema("comments", "array", "Comments: id, parent_id, actor_id, actor_display_name, message, created, is_unread.",
				map[string]string{"id": "integer", "parent_id": "integer", "actor_id": "string", "actor_display_name": "string", "message": "string", "created": "string", "is_unread": "boolean"}),
			tooldef.Annotations(true, false, true, true),
		),
		Scopes: []string{read}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			p, err := pathArg(req, "path", true)
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			id, p, err := fileID(ctx, c, p)
			if err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("looking up %q", "/"+p), err)
			}
			body := fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?>
<oc:filter-comments xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">
  <oc:limit>%d</oc:limit>
  <oc:offset>%d</oc:offset>
</oc:filter-comments>
`, req.GetInt("limit", 20), req.GetInt("offset", 0))
			resp, err := c.DAV(ctx, &nextcloud.Request{Method: "REPORT", Path: "/remote.php/dav/comments/files/" + strconv.FormatInt(id, 10),
				Body: []byte(body), Header: http.Header{"Content-Type": {"application/xml; charset=utf-8"}}})
			if err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("listing comments of %q", "/"+p), err)
			}
			var ms struct {
				Responses []struct {
					Prop Comment `xml:"propstat>prop"`
				} `xml:"response"`
			}
			if err := xml.Unmarshal(resp.Body, &ms); err != nil {
				return nextcloud.ToolError(name, "reading the comments", err)
			}
			out := make([]Comment, 0, len(ms.Responses))
			for _, r := range ms.Responses {
				out = append(out, r.Prop)
			}
			return nextcloud.Structured("comments", out), nil
		},
	}
}

// CreateComment is nc_webdav_create_comment.
func CreateComment(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_webdav_create_comment"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Add a comment to a file. @user mentions notify that user."),
			mcp.WithString("path", mcp.Required(), mcp.Description("File path relative to the user's root.")),
			mcp.WithString("message", mcp.Required(), mcp.Description("The comment text.")),
			nextcloud.RecordSchema("comment", "object", "The new comment: id, file_id.", map[string]string{"id": "integer", "file_id": "integer"}),
			tooldef.Annotations(false, false, false, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			p, err := pathArg(req, "path", true)
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			msg, err := req.RequireString("message")
			if err != nil || msg == "" {
				return nextcloud.ArgError(name, fmt.Errorf("message is required")), nil
			}
			id, p, err := fileID(ctx, c, p)
			if err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("looking up %q", "/"+p), err)
			}
			resp, err := c.DAV(ctx, &nextcloud.Request{Method: http.MethodPost, Path: "/remote.php/dav/comments/files/" + strconv.FormatInt(id, 10),
				JSON: map[string]string{"actorType": "users", "verb": "comment", "message": msg}})
			if err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("commenting on %q", "/"+p), err)
			}
			cid, _ := strconv.ParseInt(path.Base(resp.Header.Get("Content-Location")), 10, 64)
			return nextcloud.Structured("comment", map[string]any{"id": cid, "file_id": id}), nil
		},
	}
}
