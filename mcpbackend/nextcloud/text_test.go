package nextcloud_test

import "github.com/mark3labs/mcp-go/mcp"

func toText(c mcp.Content) string {
	if t, ok := c.(mcp.TextContent); ok {
		return t.Text
	}
	return ""
}
