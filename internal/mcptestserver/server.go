// Package mcptestserver runs a small mcp-go Streamable HTTP server for
// gateway tests.
//
// Its tools declare the OAuth scopes they need in `_meta` under ScopesMetaKey
// and echo back the HTTP headers of the request that called them, so a test
// behind the gateway can see what the gateway forwarded. The server keeps
// mcp-go's DNS-rebinding protection on, so a proxy in front of it must send a
// loopback Host (Caddy: `header_up Host {upstream_hostport}`).
package mcptestserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// ScopesMetaKey is the tool `_meta` key under which tools list the scopes
// they require.
const ScopesMetaKey = "scopegate/scopes"

// Path is where the MCP endpoint is mounted.
const Path = "/mcp"

// Tool names and the scopes they declare.
const (
	ToolEchoRead   = "echo_read"   // notes:read
	ToolEchoWrite  = "echo_write"  // notes:write
	ToolNeedsTwo   = "needs_two"   // notes:read files:read
	ToolUndeclared = "undeclared"  // no _meta
	ToolEchoStream = "echo_stream" // notes:read; answers as SSE
)

// ToolScopes maps each tool to its declared scopes; nil means undeclared.
var ToolScopes = map[string][]string{
	ToolEchoRead:   {"notes:read"},
	ToolEchoWrite:  {"notes:write"},
	ToolNeedsTwo:   {"notes:read", "files:read"},
	ToolUndeclared: nil,
	ToolEchoStream: {"notes:read"},
}

// Echo is the structured result of every tool, also sent as JSON text.
type Echo struct {
	Tool      string              `json:"tool"`
	Arguments map[string]any      `json:"arguments,omitempty"`
	Headers   map[string][]string `json:"headers"`
}

// Request is one HTTP request the server received.
type Request struct {
	Method string
	Path   string
	Header http.Header
}

// maxRecorded bounds the request log, so a load test cannot grow it.
const maxRecorded = 256

// Server is a running test MCP server.
type Server struct {
	// URL is the MCP endpoint, http://127.0.0.1:<port>/mcp.
	URL string
	// Addr is host:port, for a reverse proxy's upstream.
	Addr string

	httpServer *http.Server
	done       chan struct{}

	mu       sync.Mutex
	requests []Request
}

// Start runs the server on a free loopback port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start()
	if err != nil {
		t.Fatalf("mcptestserver: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{Addr: ln.Addr().String(), done: make(chan struct{})}
	s.URL = "http://" + s.Addr + Path

	mux := http.NewServeMux()
	mux.Handle(Path, signalFirstWrite(server.NewStreamableHTTPServer(NewMCPServer())))
	s.httpServer = &http.Server{Handler: s.record(mux), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.httpServer.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	return s, nil
}

func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		if len(s.requests) == maxRecorded {
			s.requests = slices.Delete(s.requests, 0, 1)
		}
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()})
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// Requests returns the most recent requests received, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Close stops the server and closes open connections.
func (s *Server) Close() {
	_ = s.httpServer.Close()
	<-s.done
}

// NewMCPServer builds the MCP server with the test tools, for callers that
// mount it themselves.
func NewMCPServer() *server.MCPServer {
	s := server.NewMCPServer("scopegate-test", "1.0.0", server.WithToolCapabilities(false))
	for _, name := range []string{ToolEchoRead, ToolEchoWrite, ToolNeedsTwo, ToolUndeclared} {
		s.AddTool(newTool(name), echoHandler(name))
	}
	s.AddTool(newTool(ToolEchoStream), streamHandler)
	return s
}

func newTool(name string) mcp.Tool {
	opts := []mcp.ToolOption{
		mcp.WithDescription("Echoes its arguments and the request's HTTP headers."),
		mcp.WithString("text", mcp.Description("Any text; echoed back.")),
		mcp.WithReadOnlyHintAnnotation(name != ToolEchoWrite),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	}
	if scopes := ToolScopes[name]; scopes != nil {
		opts = append(opts, func(t *mcp.Tool) {
			t.Meta = mcp.NewMetaFromMap(map[string]any{ScopesMetaKey: scopes})
		})
	}
	return mcp.NewTool(name, opts...)
}

func echo(name string, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	e := Echo{Tool: name, Arguments: req.GetArguments(), Headers: req.Header}
	text, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode echo: %w", err)
	}
	return mcp.NewToolResultStructured(e, string(text)), nil
}

func echoHandler(name string) server.ToolHandlerFunc {
	return func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return echo(name, req)
	}
}

type firstWriteKey struct{}

// signalFirstWrite tells a tool handler, through its context, when the HTTP
// response got its first body bytes.
func signalFirstWrite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &signalWriter{ResponseWriter: w, written: make(chan struct{})}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), firstWriteKey{}, sw.written)))
	})
}

type signalWriter struct {
	http.ResponseWriter
	once    sync.Once
	written chan struct{}
}

func (w *signalWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.once.Do(func() { close(w.written) })
	return n, err
}

// Flush keeps the writer an http.Flusher, which mcp-go needs to stream.
func (w *signalWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *signalWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// streamHandler sends a progress notification before answering. mcp-go then
// switches the POST response to text/event-stream, which is what a gateway
// must pass through unbuffered.
//
// mcp-go v1.2.1 can drop a notification that its forwarder has dequeued but
// not yet written when the final response wins the race for the writer, so
// the handler waits until the notification is on the wire.
func streamHandler(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var token mcp.ProgressToken = "echo_stream"
	if req.Params.Meta != nil && req.Params.Meta.ProgressToken != nil {
		token = req.Params.Meta.ProgressToken
	}
	err := server.ServerFromContext(ctx).SendNotificationToClient(ctx, "notifications/progress", map[string]any{
		"progressToken": token,
		"progress":      1,
		"total":         2,
	})
	if err != nil {
		return nil, fmt.Errorf("send progress: %w", err)
	}
	if written, ok := ctx.Value(firstWriteKey{}).(chan struct{}); ok {
		select {
		case <-written:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the progress notification: %w", ctx.Err())
		case <-time.After(5 * time.Second):
			return nil, errors.New("progress notification not written within 5s")
		}
	}
	return echo(ToolEchoStream, req)
}

// DecodeEcho reads the Echo out of a tool result.
func DecodeEcho(res *mcp.CallToolResult) (Echo, error) {
	var e Echo
	if res == nil || len(res.Content) == 0 {
		return e, fmt.Errorf("tool result has no content")
	}
	text, ok := res.Content[0].(mcp.TextContent)
	if !ok {
		return e, fmt.Errorf("tool result content is %T, not text", res.Content[0])
	}
	if err := json.Unmarshal([]byte(text.Text), &e); err != nil {
		return e, fmt.Errorf("decode echo: %w", err)
	}
	return e, nil
}

// NewToolCallRequest builds a raw HTTP tools/call request in the stateless
// 2026-07-28 era, which needs no initialize round trip, for tests that must
// see status codes and headers the mcp-go client hides.
func NewToolCallRequest(ctx context.Context, endpoint, tool string, args map[string]any) (*http.Request, error) {
	body, err := json.Marshal(map[string]any{
		"jsonrpc": "2.0",
		"id":      1,
		"method":  "tools/call",
		"params": map[string]any{
			"name":      tool,
			"arguments": args,
			"_meta": map[string]any{
				mcp.MetaKeyProtocolVersion:    mcp.ProtocolVersion20260728,
				mcp.MetaKeyClientInfo:         map[string]any{"name": "scopegate-tests", "version": "0"},
				mcp.MetaKeyClientCapabilities: map[string]any{},
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("encode tools/call: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build tools/call request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set(mcp.HeaderProtocolVersion, mcp.ProtocolVersion20260728)
	req.Header.Set(mcp.HeaderMethod, "tools/call")
	req.Header.Set(mcp.HeaderName, tool)
	return req, nil
}
