package mcpbackend

import (
	"context"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

// Connection tools of app_password mode. They need no scope beyond openid:
// they concern only the caller's own connection. They are offered only in
// this mode, so the inventory of the other modes is unchanged.
const (
	toolConnectionStatus = "nc_connection_status"
	toolDisconnect       = "nc_disconnect"
)

type connectionStatus struct {
	Connected     bool   `json:"connected"`
	NextcloudUser string `json:"nextcloud_user,omitempty"`
	Since         string `json:"since,omitempty"`
	// LoginURL is the link of a connection in progress.
	LoginURL string `json:"login_url,omitempty"`
	Message  string `json:"message"`
}

func (c *Connector) tools() []tooldef.Tool {
	return []tooldef.Tool{
		{
			Def: mcp.NewTool(toolConnectionStatus,
				mcp.WithDescription("Says whether your Nextcloud account is connected to this MCP server (with an app password you approved), since when, and how to disconnect."),
				tooldef.Annotations(true, false, true, false),
				nextcloud.RecordSchema("status", "object", "The connection status.", map[string]string{
					"connected": "boolean", "nextcloud_user": "string", "since": "string", "login_url": "string", "message": "string",
				}),
			),
			Handler: c.status,
			Scopes:  []string{"openid"},
			App:     connectionApp,
		},
		{
			Def: mcp.NewTool(toolDisconnect,
				mcp.WithDescription("Disconnects your Nextcloud account: deletes the stored app password here and revokes it at Nextcloud. The next Nextcloud tool call asks you to connect again."),
				tooldef.Annotations(false, true, true, false),
			),
			Handler: c.disconnect,
			Scopes:  []string{"openid"},
			App:     connectionApp,
		},
	}
}

func (c *Connector) status(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	subject := subjectFrom(ctx)
	if subject == "" {
		return mcp.NewToolResultError(toolConnectionStatus + " failed: no authenticated user"), nil
	}
	sp, err := c.load(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", toolConnectionStatus, err)
	}
	st := connectionStatus{}
	if sp != nil {
		st.Connected, st.NextcloudUser, st.Since = true, sp.UserID, sp.Since.Format(time.RFC3339)
		st.Message = fmt.Sprintf("Connected to Nextcloud as %s since %s with an app password named %q. To disconnect, call %s, or revoke that app password in Nextcloud's Personal settings > Security.",
			sp.UserID, st.Since, AppPasswordUserAgent, toolDisconnect)
	} else {
		login, failure := c.pending(subject)
		st.LoginURL = login
		switch {
		case login != "":
			st.Message = "Not connected yet: a connection is waiting for your approval at " + login
		case failure != "":
			st.Message = "Not connected: the last attempt failed: " + failure + ". Any Nextcloud tool call starts a new one."
		default:
			st.Message = "Not connected. Any Nextcloud tool call starts the connection (you approve it in Nextcloud in your browser)."
		}
	}
	return nextcloud.Structured("status", st), nil
}

func (c *Connector) disconnect(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	subject := subjectFrom(ctx)
	if subject == "" {
		return mcp.NewToolResultError(toolDisconnect + " failed: no authenticated user"), nil
	}
	sp, err := c.load(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", toolDisconnect, err)
	}
	if sp == nil {
		return mcp.NewToolResultText("Not connected: nothing to disconnect."), nil
	}
	// Revoke first: a password deleted here but alive at Nextcloud would
	// be a credential nobody can see any more.
	revokeErr := c.cfg.Client.RevokeAppPassword(nextcloud.WithCredentials(ctx, nextcloud.Basic{Username: sp.LoginName, Password: sp.Password}))
	if err := c.forget(ctx, subject, sp); err != nil {
		return nil, fmt.Errorf("%s: deleting the stored app password: %w", toolDisconnect, err)
	}
	if revokeErr != nil {
		c.log.WarnContext(ctx, "revoking an app password at Nextcloud", "error", revokeErr)
		return mcp.NewToolResultText(fmt.Sprintf("Disconnected here, but Nextcloud could not revoke the app password (%v): delete %q in Nextcloud's Personal settings > Security.", revokeErr, AppPasswordUserAgent)), nil
	}
	return mcp.NewToolResultText("Disconnected: the app password was revoked at Nextcloud and deleted here."), nil
}

// ConnectionTools are the tools app_password mode adds, for the
// inventory and snapshot tests (their handlers need a Connector).
func ConnectionTools() []tooldef.Tool { return (&Connector{}).tools() }
