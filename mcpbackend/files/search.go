package files

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

// query is one RFC 5323 basicsearch over a user's files.
type query struct {
	scope      string // relative to the user's root
	conditions []string
	limit      int
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func like(prop, pattern string) string {
	return "      <d:like>\n        <d:prop>\n          " + prop + "\n        </d:prop>\n        <d:literal>" + xmlText(pattern) + "</d:literal>\n      </d:like>\n"
}

const favorite = "      <d:eq>\n        <d:prop>\n          <oc:favorite/>\n        </d:prop>\n        <d:literal>1</d:literal>\n      </d:eq>\n"

// body renders the search in the form Nextcloud's own clients send.
func (q query) body(user string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<d:searchrequest xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">
  <d:basicsearch>
    <d:select>
      <d:prop>
        <d:displayname/>
        <d:getcontenttype/>
        <d:getlastmodified/>
        <d:getcontentlength/>
        <d:getetag/>
        <d:resourcetype/>
        <oc:fileid/>
        <oc:size/>
        <oc:permissions/>
        <oc:favorite/>
      </d:prop>
    </d:select>
    <d:from>
      <d:scope>
        <d:href>`)
	href := "/files/" + user
	if q.scope != "" {
		href += "/" + q.scope
	}
	b.WriteString(xmlText(href))
	b.WriteString("</d:href>\n        <d:depth>infinity</d:depth>\n      </d:scope>\n    </d:from>\n    <d:where>\n")
	switch len(q.conditions) {
	case 0:
		b.WriteString("      <d:not>\n        <d:is-collection/>\n      </d:not>\n")
	case 1:
		b.WriteString(q.conditions[0])
	default:
		b.WriteString("      <d:and>\n")
		for _, c := range q.conditions {
			b.WriteString(c)
		}
		b.WriteString("      </d:and>\n")
	}
	b.WriteString("    </d:where>\n    <d:orderby/>\n")
	if q.limit > 0 {
		fmt.Fprintf(&b, "    <d:limit>\n      <d:nresults>%d</d:nresults>\n    </d:limit>\n", q.limit)
	}
	b.WriteString("  </d:basicsearch>\n</d:searchrequest>\n")
	return b.String()
}

func (q query) run(ctx context.Context, c *nextcloud.Client, name string) (*mcp.CallToolResult, error) {
	scope, err := nextcloud.CleanPath(q.scope)
	if err != nil {
		return nextcloud.ArgError(name, err), nil
	}
	q.scope = scope
	user, err := c.User(ctx)
	if err != nil {
		return nextcloud.ToolError(name, "resolving the user", err)
	}
	resp, err := c.DAV(ctx, &nextcloud.Request{Method: "SEARCH", Path: "/remote.php/dav/", Body: []byte(q.body(user)),
		Header: http.Header{"Content-Type": {"text/xml; charset=utf-8"}}})
	if err != nil {
		return nextcloud.ToolError(name, fmt.Sprintf("searching in %q", "/"+scope), err)
	}
	res, err := nextcloud.ParseResources(resp.Body, user)
	if err != nil {
		return nextcloud.ToolError(name, "reading the search results", err)
	}
	return nextcloud.Structured("items", res), nil
}

func scopeLimit(req mcp.CallToolRequest) query {
	return query{scope: req.GetString("scope", ""), limit: req.GetInt("limit", 0)}
}

var (
	scopeOpt  = mcp.WithString("scope", mcp.DefaultString(""), mcp.Description("Folder to search in, relative to the user's root; empty for all files."))
	limitOpt  = mcp.WithInteger("limit", mcp.Min(1), mcp.Description("Return at most this many results."))
	searchOut = nextcloud.RecordSchema("items", "array", "Matching files: path, name, is_directory, content_type, size, etag, last_modified, file_id, permissions, favorite.", resourceFields)
)

// SearchFiles is nc_webdav_search_files.
func SearchFiles(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_webdav_search_files"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Search files with Nextcloud's WebDAV SEARCH, combining the given criteria. Without criteria it lists all files (not folders) below scope."),
			scopeOpt,
			mcp.WithString("name_pattern", mcp.Description("File name pattern; % matches any text (e.g. '%report%')).")),
			mcp.WithString("mime_type", mcp.Description("MIME type pattern, e.g. 'image/%' or 'application/pdf'.")),
			mcp.WithBoolean("only_favorites", mcp.DefaultBool(false), mcp.Description("Only files marked as favourite.")),
			limitOpt, searchOut,
			tooldef.Annotations(true, false, true, true),
		),
		Scopes: []string{read}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			q := scopeLimit(req)
			if p := req.GetString("name_pattern", ""); p != "" {
				q.conditions = append(q.conditions, like("<d:displayname/>", p))
			}
			if m := req.GetString("mime_type", ""); m != "" {
				q.conditions = append(q.conditions, like("<d:getcontenttype/>", m))
			}
			if req.GetBool("only_favorites", false) {
				q.conditions = append(q.conditions, favorite)
			}
			return q.run(ctx, c, name)
		},
	}
}

// FindByName is nc_webdav_find_by_name.
func FindByName(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_webdav_find_by_name"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Find files and folders whose name matches a pattern. Without % the pattern matches anywhere in the name."),
			mcp.WithString("pattern", mcp.Required(), mcp.Description("Name pattern; % matches any text.")),
			scopeOpt, limitOpt, searchOut,
			tooldef.Annotations(true, false, true, true),
		),
		Scopes: []string{read}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			p, err := req.RequireString("pattern")
			if err != nil || p == "" {
				return nextcloud.ArgError(name, fmt.Errorf("pattern is required")), nil
			}
			if !strings.Contains(p, "%") {
				p = "%" + p + "%"
			}
			q := scopeLimit(req)
			q.conditions = []string{like("<d:displayname/>", p)}
			return q.run(ctx, c, name)
		},
	}
}

// FindByType is nc_webdav_find_by_type.
func FindByType(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_webdav_find_by_type"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Find files by MIME type, e.g. 'application/pdf' or 'image/%' for all images."),
			mcp.WithString("mime_type", mcp.Required(), mcp.Description("MIME type or pattern with %.")),
			scopeOpt, limitOpt, searchOut,
			tooldef.Annotations(true, false, true, true),
		),
		Scopes: []string{read}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			m, err := req.RequireString("mime_type")
			if err != nil || m == "" {
				return nextcloud.ArgError(name, fmt.Errorf("mime_type is required")), nil
			}
			q := scopeLimit(req)
			q.conditions = []string{like("<d:getcontenttype/>", m)}
			return q.run(ctx, c, name)
		},
	}
}

// ListFavorites is nc_webdav_list_favorites.
func ListFavorites(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_webdav_list_favorites"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("List the files and folders the user marked as favourite."),
			scopeOpt, limitOpt, searchOut,
			tooldef.Annotations(true, false, true, true),
		),
		Scopes: []string{read}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			q := scopeLimit(req)
			q.conditions = []string{favorite}
			return q.run(ctx, c, name)
		},
	}
}
