package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/caddymodule/internal/tokenverifier"
)

// fakeToolsList is the backend's inventory as discovery sees it.
const fakeToolsList = `{"jsonrpc":"2.0","id":"scopegate-discovery","result":{"tools":[` +
	`{"name":"echo_read","inputSchema":{"type":"object"},"_meta":{"scopegate/scopes":["notes:read"]}},` +
	`{"name":"echo_write","inputSchema":{"type":"object"},"_meta":{"scopegate/scopes":["notes:write"]}},` +
	`{"name":"needs_two","inputSchema":{"type":"object"},"_meta":{"scopegate/scopes":["notes:read","files:read"]}},` +
	`{"name":"undeclared","inputSchema":{"type":"object"}}]}}`

// seen is one request that reached the fake backend.
type seen struct {
	method string
	rpc    string // JSON-RPC method
	header http.Header
	body   string
	te     []string
	length int64
}

// fakeBackend is the next handler of unit tests: it answers the gateway's
// discovery with fakeToolsList, and clients' requests through answer (a
// 200 JSON result when answer is nil or returns false). It records every
// client request.
type fakeBackend struct {
	answer func(w http.ResponseWriter, r *http.Request, rpc string) bool

	mu       sync.Mutex
	requests []seen
	sessions int
}

func (b *fakeBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	body, _ := io.ReadAll(r.Body)
	var msg struct {
		Method string          `json:"method"`
		ID     json.RawMessage `json:"id"`
	}
	_ = json.Unmarshal(body, &msg)
	if r.Header.Get(headerSubject) == "" {
		// The gateway's own discovery.
		w.Header().Set("Content-Type", "application/json")
		switch msg.Method {
		case "tools/list":
			_, _ = io.WriteString(w, fakeToolsList)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
		return nil
	}
	b.mu.Lock()
	b.requests = append(b.requests, seen{method: r.Method, rpc: msg.Method, header: r.Header.Clone(), body: string(body), te: r.TransferEncoding, length: r.ContentLength})
	b.mu.Unlock()
	if b.answer != nil && b.answer(w, r, msg.Method) {
		return nil
	}
	if msg.Method == "initialize" {
		b.mu.Lock()
		b.sessions++
		w.Header().Set(headerSession, fmt.Sprintf("session-%d", b.sessions))
		b.mu.Unlock()
	}
	if len(msg.ID) == 0 {
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{}}`, msg.ID)
	return nil
}

func (b *fakeBackend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.requests)
}

func (b *fakeBackend) last() seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.requests[len(b.requests)-1]
}

// enforcingGateway is testGateway with more identities and the fake
// backend's catalog discovered.
func enforcingGateway(t *testing.T, b *fakeBackend, mutate ...func(*Gateway)) *Gateway {
	t.Helper()
	g := testGateway(t, mutate...)
	g.verifier = stubVerifier{
		"good":  tokenverifier.Identity{Subject: "alice", ClientID: "app", Scopes: []string{"notes:read"}, Kind: "jwt"},
		"alice": tokenverifier.Identity{Subject: "alice", ClientID: "app", Scopes: []string{"notes:read", "notes:write"}, Kind: "jwt"},
		"bob":   tokenverifier.Identity{Subject: "bob", ClientID: "app", Scopes: []string{"notes:read", "notes:write"}, Kind: "jwt"},
		"none":  tokenverifier.Identity{Subject: "carol", ClientID: "app", Kind: "jwt"},
	}
	// Discover through the fake backend before the test's requests.
	serveNext(t, g, b, post("none", `{"jsonrpc":"2.0","id":0,"method":"ping"}`))
	g.discoverer.Ensure()
	<-g.discoverer.Ready()
	b.mu.Lock()
	b.requests = nil
	b.mu.Unlock()
	return g
}

// serveNext runs one request through g with next as the rest of the
// route, on a recorder.
func serveNext(t *testing.T, g *Gateway, next caddyhttp.Handler, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	return serveTo(t, g, next, r, httptest.NewRecorder())
}

func serveTo(t *testing.T, g *Gateway, next caddyhttp.Handler, r *http.Request, w *httptest.ResponseRecorder) *httptest.ResponseRecorder {
	t.Helper()
	repl := caddy.NewReplacer()
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
	if err := g.ServeHTTP(w, r, next); err != nil {
		t.Fatalf("ServeHTTP: %v", err)
	}
	return w
}

// post is a POST of body to the endpoint with the bearer token tok and
// the MCP headers.
func post(tok, body string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

// rpcErr decodes a JSON-RPC error body.
func rpcErr(t *testing.T, body string) (id string, code int) {
	t.Helper()
	var e struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   *struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.JSONRPC != "2.0" || e.Error == nil {
		t.Fatalf("not a JSON-RPC error: %q (%v)", body, err)
	}
	return string(e.ID), e.Error.Code
}
