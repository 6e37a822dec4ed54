// Package sharing holds the tools for Nextcloud's file sharing OCS API
// (/ocs/v2.php/apps/files_sharing/api/v1/shares).
package sharing

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

const (
	app    = "files_sharing"
	shares = "/ocs/v2.php/apps/files_sharing/api/v1/shares"
	// Reading shares needs only sharing:read; the reference demanded
	// sharing:write for every share tool.
	read  = "sharing:read"
	write = "sharing:write"
)

// Tools returns the sharing tools.
func Tools(c *nextcloud.Client) []tooldef.Tool {
	return []tooldef.Tool{Create(c), CreatePublicLink(c), Delete(c), Get(c), List(c), Update(c)}
}

var (
	shareFields = map[string]string{"id": "string", "share_type": "integer", "path": "string", "permissions": "integer", "share_with": "string|null", "url": "string|null", "token": "string|null", "expiration": "string|null"}
	shareOutput = nextcloud.RecordSchema("share", "object", "The share as Nextcloud returns it: id, share_type, path, permissions, share_with, url and token for links, expiration.", shareFields)
	idArg       = mcp.WithInteger("share_id", mcp.Required(), mcp.Description("Id of the share."))
	permsDesc   = "Permissions bit mask: 1 read, 2 update, 4 create, 8 delete, 16 share (31 all; files allow at most 19)."
)

func normPath(p string) (string, error) {
	clean, err := nextcloud.CleanPath(p)
	if err != nil {
		return "", err
	}
	if clean == "" {
		return "", fmt.Errorf("path must name a file or folder, not the root")
	}
	return "/" + clean, nil
}

// Create is nc_share_create.
func Create(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_share_create"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Share a file or folder with a user (share_type 0), a group (1), by email (4) or as a public link (3). Sharing the same thing again returns the existing share."),
			mcp.WithString("path", mcp.Required(), mcp.Description("Path relative to the user's root.")),
			mcp.WithString("share_with", mcp.Description("User id, group id or email address; not used for links.")),
			mcp.WithInteger("share_type", mcp.DefaultNumber(0), mcp.Description("0 user, 1 group, 3 public link, 4 email, 6 federated, 7 team.")),
			mcp.WithInteger("permissions", mcp.DefaultNumber(1), mcp.Description(permsDesc)),
			shareOutput,
			tooldef.Annotations(false, false, false, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			p, err := normPath(req.GetString("path", ""))
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			st := req.GetInt("share_type", 0)
			form := url.Values{"path": {p}, "shareType": {strconv.Itoa(st)}, "permissions": {strconv.Itoa(req.GetInt("permissions", 1))}}
			if w := req.GetString("share_with", ""); w != "" {
				form.Set("shareWith", w)
			} else if st != 3 {
				return nextcloud.ArgError(name, fmt.Errorf("share_with is required for share_type %d", st)), nil
			}
			return create(ctx, c, name, form)
		},
	}
}

func create(ctx context.Context, c *nextcloud.Client, name string, form url.Values) (*mcp.CallToolResult, error) {
	var share json.RawMessage
	if err := c.OCS(ctx, http.MethodPost, shares, nil, form, &share); err != nil {
		return nextcloud.ToolError(name, fmt.Sprintf("sharing %q", form.Get("path")), err)
	}
	return nextcloud.Structured("share", nextcloud.Raw(share)), nil
}

// CreatePublicLink is nc_share_create_public_link.
func CreatePublicLink(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_share_create_public_link"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Create a read-only public link to a file or folder. Nextcloud stores only an expiry date and keeps the link valid until the end of that day (23:59:59 in Nextcloud's time zone): 1440 minutes asked at 05:28 last until 23:59:59 of the next day, about 42 hours. The answer's expiry says what Nextcloud actually set."),
			mcp.WithString("path", mcp.Required(), mcp.Description("Path relative to the user's root.")),
			mcp.WithInteger("expires_in_minutes", mcp.DefaultNumber(30), mcp.Min(1), mcp.Description("Minutes the link must at least stay valid; Nextcloud rounds up to the end of the day they end on.")),
			linkOutput,
			tooldef.Annotations(false, false, false, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			p, err := normPath(req.GetString("path", ""))
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			mins := req.GetInt("expires_in_minutes", 30)
			if mins < 1 {
				return nextcloud.ArgError(name, fmt.Errorf("expires_in_minutes must be positive")), nil
			}
			until := time.Now().Add(time.Duration(mins) * time.Minute)
			form := url.Values{"path": {p}, "shareType": {"3"}, "permissions": {"1"}, "expireDate": {until.Format(time.DateOnly)}}
			var share map[string]any
			if err := c.OCS(ctx, http.MethodPost, shares, nil, form, &share); err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("sharing %q", p), err)
			}
			return linkResult(share, mins, until), nil
		},
	}
}

// linkOutput is a share plus the expiry Nextcloud actually set, which is
// not the one asked for: Nextcloud stores a date and expires the link at
// its end (measured on Nextcloud 34: 1440 minutes asked at 05:28 became
// 23:59:59 of the next day).
var linkOutput = mcp.WithRawOutputSchema(json.RawMessage(`{"type":"object","required":["share","expiry"],"properties":{` +
	`"share":{"type":"object","description":"The share as Nextcloud returns it (url, token, expiration, ...)."},` +
	`"expiry":{"type":"object","description":"What was asked and what Nextcloud set.","required":["requested_minutes","requested_until","nextcloud_expiration","note"],"properties":{` +
	`"requested_minutes":{"type":"integer"},"requested_until":{"type":"string","description":"RFC 3339"},` +
	`"nextcloud_expiration":{"type":["string","null"],"description":"The share's expiration as Nextcloud stored it (its local time)."},` +
	`"note":{"type":"string"}}}}}`))

func linkResult(share map[string]any, mins int, until time.Time) *mcp.CallToolResult {
	set, _ := share["expiration"].(string)
	note := fmt.Sprintf("Nextcloud set no expiry date: the link stays valid until it is deleted (asked: %d minutes).", mins)
	var setAt any
	if set != "" {
		setAt = set
		note = fmt.Sprintf("The link is valid until %s (Nextcloud's time zone), the end of the expiry day, not for exactly %d minutes: Nextcloud stores only the date.", set, mins)
	}
	out := map[string]any{"share": share, "expiry": map[string]any{
		"requested_minutes": mins, "requested_until": until.UTC().Format(time.RFC3339),
		"nextcloud_expiration": setAt, "note": note,
	}}
	b, err := json.Marshal(out)
	if err != nil {
		return mcp.NewToolResultError(fmt.Sprintf("encoding result: %v", err))
	}
	return mcp.NewToolResultStructured(out, note+"\n"+string(b))
}

// Delete is nc_share_delete.
func Delete(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_share_delete"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Delete a share (the shared file itself stays)."),
			idArg,
			tooldef.Annotations(false, true, true, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id, err := req.RequireInt("share_id")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			if err := c.OCS(ctx, http.MethodDelete, shares+"/"+strconv.Itoa(id), nil, nil, nil); err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("deleting share %d", id), err)
			}
			return mcp.NewToolResultText(fmt.Sprintf("Share %d deleted.", id)), nil
		},
	}
}

// Get is nc_share_get.
func Get(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_share_get"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Read one share."),
			idArg, shareOutput,
			tooldef.Annotations(true, false, true, true),
		),
		Scopes: []string{read}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id, err := req.RequireInt("share_id")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			// Nextcloud answers a one-element array here.
			var list []json.RawMessage
			if err := c.OCS(ctx, http.MethodGet, shares+"/"+strconv.Itoa(id), nil, nil, &list); err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("reading share %d", id), err)
			}
			if len(list) == 0 {
				return mcp.NewToolResultError(fmt.Sprintf("%s failed: share %d not found", name, id)), nil
			}
			return nextcloud.Structured("share", nextcloud.Raw(list[0])), nil
		},
	}
}

// List is nc_share_list.
func List(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_share_list"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("List the shares the user created (optionally for one path), or the shares others made with the user."),
			mcp.WithString("path", mcp.Description("Only shares of this file or folder.")),
			mcp.WithBoolean("shared_with_me", mcp.DefaultBool(false), mcp.Description("List shares received instead of shares made.")),
			nextcloud.RecordSchema("shares", "array", "Shares as Nextcloud returns them.", shareFields),
			tooldef.Annotations(true, false, true, true),
		),
		Scopes: []string{read}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			q := url.Values{}
			if p := req.GetString("path", ""); strings.Trim(p, "/") != "" {
				np, err := normPath(p)
				if err != nil {
					return nextcloud.ArgError(name, err), nil
				}
				q.Set("path", np)
			}
			if req.GetBool("shared_with_me", false) {
				q.Set("shared_with_me", "true")
			}
			var list []json.RawMessage
			if err := c.OCS(ctx, http.MethodGet, shares, q, nil, &list); err != nil {
				return nextcloud.ToolError(name, "listing shares", err)
			}
			out := make([]any, 0, len(list))
			for _, s := range list {
				out = append(out, nextcloud.Raw(s))
			}
			return nextcloud.Structured("shares", out), nil
		},
	}
}

// Update is nc_share_update.
func Update(c *nextcloud.Client) tooldef.Tool {
	const name = "nc_share_update"
	return tooldef.Tool{
		Def: mcp.NewTool(name,
			mcp.WithDescription("Change a share's permissions."),
			idArg,
			mcp.WithInteger("permissions", mcp.Required(), mcp.Description(permsDesc)),
			shareOutput,
			tooldef.Annotations(false, false, true, true),
		),
		Scopes: []string{write}, App: app,
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id, err := req.RequireInt("share_id")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			perms, err := req.RequireInt("permissions")
			if err != nil {
				return nextcloud.ArgError(name, err), nil
			}
			var share json.RawMessage
			if err := c.OCS(ctx, http.MethodPut, shares+"/"+strconv.Itoa(id), nil, url.Values{"permissions": {strconv.Itoa(perms)}}, &share); err != nil {
				return nextcloud.ToolError(name, fmt.Sprintf("updating share %d", id), err)
			}
			return nextcloud.Structured("share", nextcloud.Raw(share)), nil
		},
	}
}
