package caddymodule

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestAuditLines: by default every decision is one "mcp decision" line;
// with `audit refusals` allowed messages write none, refusals still one.
func TestAuditLines(t *testing.T) {
	const (
		allowed = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_read"}}`
		refused = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo_write"}}`
	)
	for _, tc := range []struct {
		name         string
		refusalsOnly bool
		want         []string // the decisions written, in order
	}{
		{"all", false, []string{"allow", "insufficient_scope"}},
		{"refusals", true, []string{"insufficient_scope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &fakeBackend{}
			g := enforcingGateway(t, b, func(g *Gateway) { g.AuditRefusalsOnly = tc.refusalsOnly })
			core, logs := observer.New(zapcore.InfoLevel)
			g.audits = zap.New(core)
			if w := serveNext(t, g, b, post("good", allowed)); w.Code != 200 {
				t.Fatalf("allowed call: %d %s", w.Code, w.Body)
			}
			if w := serveNext(t, g, b, post("good", refused)); w.Code != 403 {
				t.Fatalf("refused call: %d %s", w.Code, w.Body)
			}
			var got []string
			for _, e := range logs.FilterMessage("mcp decision").All() {
				got = append(got, e.ContextMap()["decision"].(string))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("decisions logged %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("decisions logged %v, want %v", got, tc.want)
				}
			}
		})
	}
}
