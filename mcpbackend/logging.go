package mcpbackend

import (
	"context"
	"log/slog"
)

// quietInfo demotes mcp-go's per-request INFO lines ("mcp.request",
// "mcp.tool") to DEBUG: at Caddy's default level they would log every MCP
// message, which is the access log's job. Warnings and errors pass as they
// are.
type quietInfo struct{ slog.Handler }

func demote(l slog.Level) slog.Level {
	if l == slog.LevelInfo {
		return slog.LevelDebug
	}
	return l
}

func (q quietInfo) Enabled(ctx context.Context, l slog.Level) bool {
	return q.Handler.Enabled(ctx, demote(l))
}

func (q quietInfo) Handle(ctx context.Context, r slog.Record) error {
	r.Level = demote(r.Level)
	return q.Handler.Handle(ctx, r)
}

func (q quietInfo) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietInfo{q.Handler.WithAttrs(attrs)}
}

func (q quietInfo) WithGroup(name string) slog.Handler {
	return quietInfo{q.Handler.WithGroup(name)}
}
