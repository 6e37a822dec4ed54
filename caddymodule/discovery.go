package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/caddymodule/internal/listfilter"
	"github.com/scopegate/scopegate/caddymodule/internal/scopecatalog"
)

// The protocol revisions discovery speaks: the stateless one first, then
// the legacy handshake for servers that do not know it.
const (
	modernProtocol = "2026-07-28"
	legacyProtocol = "2025-11-25"
	headerProtocol = "Mcp-Protocol-Version"
	headerSession  = "Mcp-Session-Id"
)

// discoveryTimeout bounds one request of a discovery walk.
const discoveryTimeout = 15 * time.Second

// chain is the rest of the route after the gateway, as Caddy handed it to
// ServeHTTP, with the server that runs it. Discovery sends its tools/list
// requests through it, the way a client's request goes, so it works with
// an in-process backend and with reverse_proxy alike.
type chain struct {
	next   caddyhttp.Handler
	server *caddyhttp.Server
}

// discoveryState is what discovery learns at run time.
type discoveryState struct {
	chain  atomic.Pointer[chain]
	legacy atomic.Bool
	// seen maps tool names to the raw _meta last learned for them.
	seen      sync.Map
	seenCount atomic.Int64
	// waited is set once a request has waited for the first discovery.
	waited atomic.Bool
}

// remember keeps the chain of the first request; Caddy compiles a route's
// chain once, so every request sees the same one.
func (g *Gateway) remember(r *http.Request, next caddyhttp.Handler) {
	if g.disc.chain.Load() != nil {
		return
	}
	srv, _ := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	g.disc.chain.CompareAndSwap(nil, &chain{next: next, server: srv})
}

// fetchTools is the catalog's FetchFunc: one page of tools/list from the
// backend, with the scopes each tool declares.
func (g *Gateway) fetchTools(ctx context.Context, cursor string) ([]scopecatalog.ToolEntry, string, error) {
	c := g.disc.chain.Load()
	if c == nil {
		return nil, "", errors.New("no request has reached the gateway yet")
	}
	page, next, err := g.fetchAnyEra(ctx, c, cursor)
	if err == nil && next == "" {
		// The walk is complete and the catalog will be replaced by it:
		// learn must look at every declaration afresh.
		g.disc.seen.Clear()
		g.disc.seenCount.Store(0)
	}
	return page, next, err
}

func (g *Gateway) fetchAnyEra(ctx context.Context, c *chain, cursor string) ([]scopecatalog.ToolEntry, string, error) {
	if g.disc.legacy.Load() {
		return g.fetchLegacy(ctx, c, cursor)
	}
	page, next, status, err := g.fetchPage(ctx, c, cursor, nil, true)
	if err != nil && (status == http.StatusBadRequest || status == http.StatusNotFound || status == http.StatusMethodNotAllowed) {
		// Not a 2026-07-28 server: use the legacy handshake from now on.
		g.disc.legacy.Store(true)
		return g.fetchLegacy(ctx, c, cursor)
	}
	return page, next, err
}

// fetchLegacy initialises a session, lists one page, and ends the
// session again.
func (g *Gateway) fetchLegacy(ctx context.Context, c *chain, cursor string) ([]scopecatalog.ToolEntry, string, error) {
	init := map[string]any{
		"jsonrpc": "2.0", "id": "scopegate-discovery-init", "method": "initialize",
		"params": map[string]any{
			"protocolVersion": legacyProtocol,
			"capabilities":    map[string]any{},
			"clientInfo":      map[string]any{"name": "scopegate-gateway", "version": "1"},
		},
	}
	resp, err := g.send(ctx, c, http.MethodPost, init, nil)
	if err != nil {
		return nil, "", fmt.Errorf("initialize: %w", err)
	}
	if resp.status != http.StatusOK {
		return nil, "", fmt.Errorf("initialize: HTTP %d", resp.status)
	}
	h := http.Header{headerProtocol: {legacyProtocol}}
	if sid := resp.header.Get(headerSession); sid != "" {
		h.Set(headerSession, sid)
		defer g.send(context.WithoutCancel(ctx), c, http.MethodDelete, nil, h)
	}
	g.send(ctx, c, http.MethodPost, map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"}, h)
	page, next, _, err := g.fetchPage(ctx, c, cursor, h, false)
	return page, next, err
}

// fetchPage sends one tools/list and reads the declarations from its
// response, JSON or event stream, through the same list reader that
// rewrites clients' responses.
func (g *Gateway) fetchPage(ctx context.Context, c *chain, cursor string, h http.Header, modern bool) ([]scopecatalog.ToolEntry, string, int, error) {
	params := map[string]any{}
	if cursor != "" {
		params["cursor"] = cursor
	}
	if modern {
		params["_meta"] = map[string]any{
			"io.modelcontextprotocol/protocolVersion":    modernProtocol,
			"io.modelcontextprotocol/clientCapabilities": map[string]any{},
			"io.modelcontextprotocol/clientInfo":         map[string]any{"name": "scopegate-gateway", "version": "1"},
		}
		h = http.Header{headerProtocol: {modernProtocol}, "Mcp-Method": {"tools/list"}}
	}
	req := map[string]any{"jsonrpc": "2.0", "id": "scopegate-discovery", "method": "tools/list", "params": params}
	resp, err := g.send(ctx, c, http.MethodPost, req, h)
	if err != nil {
		return nil, "", 0, fmt.Errorf("tools/list: %w", err)
	}
	if resp.status != http.StatusOK {
		return nil, "", resp.status, fmt.Errorf("tools/list: HTTP %d", resp.status)
	}
	page, err := listfilter.ReadPage(resp.header.Get("Content-Type"), resp.body.Bytes())
	if err != nil {
		status := resp.status
		if errors.Is(err, listfilter.ErrErrorResponse) {
			status = http.StatusBadRequest // a JSON-RPC error: maybe the other era works
		}
		return nil, "", status, fmt.Errorf("tools/list: %w", err)
	}
	var tools []listfilter.Item
	for _, it := range page.Items {
		if it.List == listfilter.Tools {
			tools = append(tools, it)
		}
	}
	g.learnHints(tools)
	return g.entries(tools), page.NextCursor, resp.status, nil
}

// captured is a response read whole by discovery.
type captured struct {
	status int
	header http.Header
	body   bytes.Buffer
}

// captureWriter is the ResponseWriter discovery hands to the chain.
type captureWriter struct {
	c     *captured
	wrote bool
}

func (w *captureWriter) Header() http.Header { return w.c.header }
func (w *captureWriter) WriteHeader(status int) {
	if !w.wrote && status >= 200 {
		w.c.status, w.wrote = status, true
	}
}

func (w *captureWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.c.body.Len()+len(p) > listfilter.DefaultMaxBodySize {
		return 0, errors.New("discovery response too large")
	}
	return w.c.body.Write(p)
}
func (w *captureWriter) Flush() {}

// send runs one synthetic request through the chain. It carries no
// credentials: the backend lists its whole inventory to the gateway.
func (g *Gateway) send(ctx context.Context, c *chain, method string, body any, h http.Header) (*captured, error) {
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, g.Resource, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.RemoteAddr = "127.0.0.1:0"
	req.RequestURI = req.URL.RequestURI()
	out := &captured{header: http.Header{}}
	cw := &captureWriter{c: out}
	req = caddyhttp.PrepareRequest(req, caddy.NewReplacer(), cw, c.server)
	caddyhttp.SetVar(req.Context(), varSubject, "") // the gateway's own request: no user
	if err := c.next.ServeHTTP(cw, req); err != nil {
		return nil, err
	}
	if out.status == 0 {
		out.status = http.StatusOK
	}
	return out, nil
}
