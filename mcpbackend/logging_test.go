package mcpbackend

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestQuietInfo(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(quietInfo{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})})
	l.Info("mcp.request", "method", "tools/call")
	l.Warn("capabilities unreadable")
	l.With("k", "v").WithGroup("g").Error("broken")
	out := buf.String()
	if strings.Contains(out, "mcp.request") {
		t.Errorf("INFO line not demoted:\n%s", out)
	}
	if !strings.Contains(out, "capabilities unreadable") || !strings.Contains(out, "broken") {
		t.Errorf("warnings or errors lost:\n%s", out)
	}
	if !(quietInfo{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})}).Enabled(context.Background(), slog.LevelInfo) {
		t.Error("INFO should log when DEBUG is on")
	}
}
