// Package files holds the WebDAV tools for a user's files
// (/remote.php/dav/files/<user>/), including Nextcloud's SEARCH and file
// comments.
package files

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

const (
	app   = "dav"
	read  = "files:read"
	write = "files:write"
)

// Tools returns the files tools.
func Tools(c *nextcloud.Client) []tooldef.Tool {
	return []tooldef.Tool{
		ListDirectory(c), ReadFile(c), WriteFile(c), CreateDirectory(c), DeleteResource(c),
		MoveResource(c), CopyResource(c), SearchFiles(c), FindByName(c), FindByType(c),
		ListFavorites(c), ListComments(c), CreateComment(c),
	}
}

// target resolves the caller and a user-supplied path.
func target(ctx context.Context, c *nextcloud.Client, p string) (user, clean string, err error) {
	clean, err = nextcloud.CleanPath(p)
	if err != nil {
		return "", "", err
	}
	user, err = c.User(ctx)
	return user, clean, err
}

// pathTarget reads the "path" argument and resolves it for the caller:
// the DAV user and the cleaned path. When it cannot, fail (a bad argument)
// or err (from nextcloud.ToolError) is what the tool returns.
func pathTarget(ctx context.Context, c *nextcloud.Client, req mcp.CallToolRequest, name string, required bool) (user, p string, fail *mcp.CallToolResult, err error) {
	p, err = pathArg(req, "path", required)
	if err != nil {
		return "", "", nextcloud.ArgError(name, err), nil
	}
	user, p, err = target(ctx, c, p)
	if err != nil {
		fail, err = nextcloud.ToolError(name, "resolving the path", err)
		return "", "", fail, err
	}
	return user, p, nil, nil
}

func pathArg(req mcp.CallToolRequest, key string, required bool) (string, error) {
	v, ok := req.GetArguments()[key]
	if !ok || v == nil {
		if required {
			return "", fmt.Errorf("%s is required", key)
		}
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be a string", key)
	}
	if required && strings.Trim(s, "/ ") == "" {
		return "", fmt.Errorf("%s must name a file or folder, not the root", key)
	}
	return s, nil
}

// resourceFields are the JSON fields of nextcloud.Resource.
var resourceFields = map[string]string{"path": "string", "name": "string", "is_directory": "boolean", "content_type": "string", "size": "integer", "etag": "string", "last_modified": "string", "file_id": "integer", "permissions": "string", "favorite": "boolean"}

var listOutput = nextcloud.RecordSchema("items", "array", "Files and folders: path (relative to the user's root), name, is_directory, content_type, size, etag, last_modified, file_id, permissions, favorite.", resourceFields)

// ListDirectory is nc_webdav_list_directory.
func ListDirectory(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_webdav_list_directory"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("List the files and folders in a folder of the user's Nextcloud files."),
			mcp.WithString("path", mcp.DefaultString(""), mcp.Description("Folder path relative to the user's root; empty for the root.")),
			listOutput,
			tooldef.Annotations(true, false, true, true),
		),
		Scopes: []string{read}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			user, p, fail, err := pathTarget(ctx, c, req, name, false)
			if fail != nil || err != nil {
				return fail, err
			}
			res, err := c.Propfind(ctx, user, strings.TrimSuffix(nextcloud.FilesPath(user, p), "/")+"/", "1")
			if err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("listing %q", "/"+p), err)
			}
			if len(res) > 0 {
				res = res[1:] // the folder itself comes first
			}
			return nextcloud.Structured("items", res), nil
		},
	}
}

// ReadFile is nc_webdav_read_file.
func ReadFile(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_webdav_read_file"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Read a file. Text comes back as text, images as image content, other files as a base64 resource. Documents are not converted server-side: parse_document is accepted for compatibility, and 'raw' forces a base64 resource."),
			mcp.WithString("path", mcp.Required(), mcp.Description("File path relative to the user's root.")),
			mcp.WithString("parse_document", mcp.Enum("auto", "markdown", "raw"), mcp.DefaultString("auto"), mcp.Description("'raw' returns the bytes as a resource even for text.")),
			tooldef.Annotations(true, false, true, true),
		),
		Scopes: []string{read}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			user, p, fail, err := pathTarget(ctx, c, req, name, true)
			if fail != nil || err != nil {
				return fail, err
			}
			path := nextcloud.FilesPath(user, p)
			resp, err := c.DAV(ctx, &nextcloud.Request{Method: http.MethodGet, Path: path})
			if err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("reading %q", "/"+p), err)
			}
			// The resource names the DAV path, never the URL the backend
			// reaches Nextcloud by (http://nextcloud:80 in Compose), which
			// the client can neither use nor should learn.
			if req.GetString("parse_document", "auto") == "raw" {
				return nextcloud.BlobResult(path, resp), nil
			}
			return nextcloud.FileResult(path, resp), nil
		},
	}
}

var writeOutput = nextcloud.RecordSchema("file", "object", "The written file: path, etag (for the next if_match), file_id (Nextcloud's OC-FileId), created.",
	map[string]string{"path": "string", "etag": "string", "file_id": "string", "created": "boolean"})

// WriteFile is nc_webdav_write_file.
func WriteFile(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_webdav_write_file"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Write a text file. By default it only creates: an existing file is not overwritten. To replace a file pass its etag as if_match (or '*' to overwrite whatever is there). The parent folder must exist."),
			mcp.WithString("path", mcp.Required(), mcp.Description("File path relative to the user's root.")),
			mcp.WithString("content", mcp.Required(), mcp.Description("The file's content.")),
			mcp.WithString("content_type", mcp.Description("MIME type; default text/plain, or derived by Nextcloud from the name.")),
			mcp.WithString("if_match", mcp.Description("Etag the file must still have ('*': any existing file). Omit to create a new file.")),
			writeOutput,
			tooldef.Annotations(false, false, false, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			p, err := pathArg(req, "path", true)
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			content, err := req.RequireString("content")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			user, p, err := target(ctx, c, p)
			if err != nil {
				return nextcloud.ToolError(name, "resolving the path", err)
			}
			h := http.Header{"Content-Type": {req.GetString("content_type", "text/plain")}}
			switch m := req.GetString("if_match", ""); m {
			case "":
				h.Set("If-None-Match", "*")
			case "*":
				h.Set("If-Match", "*")
			default:
				h.Set("If-Match", `"`+strings.Trim(m, `"`)+`"`)
			}
			resp, err := c.DAV(ctx, &nextcloud.Request{Method: http.MethodPut, Path: nextcloud.FilesPath(user, p), Body: []byte(content), Header: h})
			switch {
			case nextcloud.IsStatus(err, http.StatusPreconditionFailed) && h.Get("If-None-Match") == "*":
				return mcp.NewToolResultError(fmt.Sprintf("%s failed: %q already exists (HTTP 412); read it and pass its etag as if_match to replace it", name, "/"+p)), nil
			case nextcloud.IsStatus(err, http.StatusPreconditionFailed):
				return mcp.NewToolResultError(fmt.Sprintf("%s failed: %q changed since its etag was read, or does not exist (HTTP 412)", name, "/"+p)), nil
			case nextcloud.IsStatus(err, http.StatusNotFound, http.StatusConflict):
				return nextcloud.ToolError(name, fmt.Sprintf("writing %q: the parent folder does not exist", "/"+p), err)
			case err != nil:
				return nextcloud.ToolError(name, fmt.Sprintf("writing %q", "/"+p), err)
			}
			return nextcloud.Structured("file", map[string]any{
				"path": p, "etag": resp.ETag(), "file_id": resp.Header.Get("OC-FileId"), "created": resp.Status == http.StatusCreated,
			}), nil
		},
	}
}

// CreateDirectory is nc_webdav_create_directory.
func CreateDirectory(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_webdav_create_directory"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Create a folder, and any missing parent folders. An existing folder is not an error."),
			mcp.WithString("path", mcp.Required(), mcp.Description("Folder path relative to the user's root.")),
			tooldef.Annotations(false, false, true, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			user, p, fail, err := pathTarget(ctx, c, req, name, true)
			if fail != nil || err != nil {
				return fail, err
			}
			mkcol := func(dir string) error {
				_, err := c.DAV(ctx, &nextcloud.Request{Method: "MKCOL", Path: nextcloud.FilesPath(user, dir)})
				return err
			}
			err = mkcol(p)
			if nextcloud.IsStatus(err, http.StatusConflict) {
				// A parent is missing: create the chain top-down.
				segs := strings.Split(p, "/")
				for i := 1; i <= len(segs); i++ {
					err = mkcol(strings.Join(segs[:i], "/"))
					if err != nil && !nextcloud.IsStatus(err, http.StatusMethodNotAllowed) {
						break
					}
				}
			}
			if nextcloud.IsStatus(err, http.StatusMethodNotAllowed) {
				// 405 means "something is there" (or no collection can be
				// made there): only an existing folder is success.
				if res, perr := c.Propfind(ctx, user, nextcloud.FilesPath(user, p), "0"); perr == nil && len(res) > 0 && res[0].IsDir {
					return mcp.NewToolResultText(fmt.Sprintf("Folder %q already exists.", "/"+p)), nil
				}
			}
			if err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("creating folder %q", "/"+p), err)
			}
			return mcp.NewToolResultText(fmt.Sprintf("Folder %q created.", "/"+p)), nil
		},
	}
}

// DeleteResource is nc_webdav_delete_resource.
func DeleteResource(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_webdav_delete_resource"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Delete a file or a folder with everything in it (it goes to the Nextcloud trash bin)."),
			mcp.WithString("path", mcp.Required(), mcp.Description("Path relative to the user's root.")),
			tooldef.Annotations(false, true, true, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			user, p, fail, err := pathTarget(ctx, c, req, name, true)
			if fail != nil || err != nil {
				return fail, err
			}
			res, err := c.Propfind(ctx, user, nextcloud.FilesPath(user, p), "0")
			if err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("looking up %q", "/"+p), err)
			}
			path := nextcloud.FilesPath(user, p)
			kind := "File"
			if len(res) > 0 && res[0].IsDir {
				kind, path = "Folder", path+"/"
			}
			if _, err := c.DAV(ctx, &nextcloud.Request{Method: http.MethodDelete, Path: path}); err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("deleting %q", "/"+p), err)
			}
			return mcp.NewToolResultText(fmt.Sprintf("%s %q deleted.", kind, "/"+p)), nil
		},
	}
}

// MoveResource is nc_webdav_move_resource.
func MoveResource(c *nextcloud.Client) tooldef.Tool {
	return transfer(c, "nc_webdav_move_resource", "MOVE", "Move or rename a file or folder.")
}

// CopyResource is nc_webdav_copy_resource.
func CopyResource(c *nextcloud.Client) tooldef.Tool {
	return transfer(c, "nc_webdav_copy_resource", "COPY", "Copy a file or folder.")
}

func transfer(c *nextcloud.Client, name, method, desc string) tooldef.Tool {
	verb := map[string]string{"MOVE": "moving", "COPY": "copying"}[method]
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription(desc+" An existing destination is kept unless overwrite is true; if_destination_match additionally requires the destination to still have that etag."),
			mcp.WithString("source_path", mcp.Required(), mcp.Description("Source path relative to the user's root.")),
			mcp.WithString("destination_path", mcp.Required(), mcp.Description("Destination path relative to the user's root (the new name, not the parent folder).")),
			mcp.WithBoolean("overwrite", mcp.DefaultBool(false), mcp.Description("Replace an existing destination.")),
			mcp.WithString("if_destination_match", mcp.Description("Etag the existing destination must have (implies overwrite).")),
			tooldef.Annotations(false, false, false, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			src, err := pathArg(req, "source_path", true)
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			dst, err := pathArg(req, "destination_path", true)
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			user, src, err := target(ctx, c, src)
			if err != nil {
				return nextcloud.ToolError(name, "resolving the source", err)
			}
			if dst, err = nextcloud.CleanPath(dst); err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			dest := c.AbsoluteURL(nextcloud.FilesPath(user, dst))
			h := http.Header{"Destination": {dest}, "Overwrite": {"F"}}
			if req.GetBool("overwrite", false) {
				h.Set("Overwrite", "T")
			}
			if m := req.GetString("if_destination_match", ""); m != "" {
				h.Set("Overwrite", "T")
				h.Set("If", "<"+dest+`> (["`+strings.Trim(m, `"`)+`"])`)
			}
			resp, err := c.DAV(ctx, &nextcloud.Request{Method: method, Path: nextcloud.FilesPath(user, src), Header: h})
			what := fmt.Sprintf("%s %q to %q", verb, "/"+src, "/"+dst)
			switch {
			case nextcloud.IsStatus(err, http.StatusPreconditionFailed) && h.Get("If") == "":
				return mcp.NewToolResultError(fmt.Sprintf("%s failed: %s: the destination exists (HTTP 412); set overwrite to replace it", name, what)), nil
			case err != nil:
				return nextcloud.ToolError(name, what, err)
			}
			state := "created"
			if resp.Status == http.StatusNoContent {
				state = "replaced"
			}
			return mcp.NewToolResultText(fmt.Sprintf("Done: %s (destination %s).", what, state)), nil
		},
	}
}
