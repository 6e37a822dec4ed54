package caddymodule

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/scopegate/scopegate/caddymodule/internal/scopecatalog"
)

// toolsList110 is a tools/list response shaped like the Nextcloud
// backend's: 110 tools with descriptions, schemas and declared scopes.
func toolsList110() []byte {
	var b bytes.Buffer
	b.WriteString(`{"jsonrpc":"2.0","id":1,"result":{"tools":[`)
	for i := range 110 {
		if i > 0 {
			b.WriteByte(',')
		}
		scope := []string{"notes:read", "notes:write", "files:read", "calendar:write"}[i%4]
		fmt.Fprintf(&b, `{"name":"tool_%03d","description":"Does thing %d to a Nextcloud object; returns the record.","inputSchema":{"type":"object","properties":{"id":{"type":"integer","description":"the object"},"text":{"type":"string","description":"what to write"}},"required":["id"]},"annotations":{"readOnlyHint":true,"destructiveHint":false,"idempotentHint":true,"openWorldHint":true},"_meta":{"scopegate/scopes":["%s"]}}`, i, i, scope)
	}
	b.WriteString(`]}}`)
	return b.Bytes()
}

// benchGateway is testGateway for benchmarks: scopes learned up front so
// no discovery runs.
func benchGateway(b *testing.B) *Gateway {
	t := &testing.T{}
	g := testGateway(t)
	var entries []scopecatalog.ToolEntry
	for i := range 110 {
		entries = append(entries, scopecatalog.ToolEntry{Name: fmt.Sprintf("tool_%03d", i), Scopes: []string{[]string{"notes:read", "notes:write", "files:read", "calendar:write"}[i%4]}})
	}
	g.catalog.Replace(entries)
	return g
}

func benchRequest(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer good")
	r.Header.Set("Content-Type", "application/json")
	return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
}

// runBench serves body through the gateway, or straight to next when
// direct is set, so the two read side by side.
func runBench(b *testing.B, body string, respond []byte, direct bool) {
	runBenchWith(b, benchGateway(b), body, respond, direct)
}

func runBenchWith(b *testing.B, g *Gateway, body string, respond []byte, direct bool) {
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, err := w.Write(respond)
		return err
	})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := benchRequest(body)
		w := httptest.NewRecorder()
		var err error
		if direct {
			err = next.ServeHTTP(w, r)
		} else {
			err = g.ServeHTTP(w, r, next)
		}
		if err != nil || w.Code != http.StatusOK {
			b.Fatalf("status %d, %v: %s", w.Code, err, w.Body.String())
		}
	}
}

const callBody = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"tool_000","arguments":{"id":42,"text":"hello"}}}`

var callResult = []byte(`{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"ok"}]}}`)

// BenchmarkToolsCall: authentication (cached identity), classification,
// scope decision and pass-through of one tools/call.
func BenchmarkToolsCall(b *testing.B) {
	b.Run("direct", func(b *testing.B) { runBench(b, callBody, callResult, true) })
	b.Run("gateway", func(b *testing.B) { runBench(b, callBody, callResult, false) })
	// The audit line as Caddy writes it (JSON, info level), to a sink
	// that costs nothing, so its own price shows.
	b.Run("gateway+audit", func(b *testing.B) {
		g := benchGateway(b)
		g.audits = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zap.InfoLevel))
		runBenchWith(b, g, callBody, callResult, false)
	})
}

// BenchmarkToolsList110: the same for a tools/list whose 110-tool JSON
// response the gateway filters for the token.
func BenchmarkToolsList110(b *testing.B) {
	list := toolsList110()
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	b.Run("direct", func(b *testing.B) { runBench(b, body, list, true) })
	b.Run("gateway", func(b *testing.B) { runBench(b, body, list, false) })
}
