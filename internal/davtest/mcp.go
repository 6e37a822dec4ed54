// Package davtest holds what the calendar and contacts tests share: an MCP
// harness that serves tools over Streamable HTTP to a real mcp-go client,
// a replay server for recorded Nextcloud exchanges, the tool-inventory
// check and the tool schema snapshots.
package davtest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/mark3labs/mcp-go/server/servertest"

	"github.com/scopegate/scopegate/mcpbackend/davclient"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

// Config returns a davclient configuration for a DAV server at baseURL
// whose requests carry the credentials of their context, as the server
// assembly sets it up.
func Config(baseURL string) davclient.Config {
	return davclient.Config{
		BaseURL:    baseURL,
		HTTPClient: &http.Client{Transport: &nextcloud.Transport{}, Timeout: 30 * time.Second},
	}
}

// Session is an MCP client connected to a server offering some tools.
type Session struct {
	t      testing.TB
	Client *client.Client
}

// Serve starts an mcp-go server with tools behind Streamable HTTP and
// connects a client to it; every call runs with creds.
func Serve(t testing.TB, creds nextcloud.Credentials, tools []tooldef.Tool) *Session {
	t.Helper()
	// Validating both ways makes every test check the tools' declared
	// input and output schemas against what they accept and return.
	srv := server.NewMCPServer("scopegate-test", "0", server.WithToolCapabilities(false),
		server.WithInputSchemaValidation(), server.WithOutputSchemaValidation())
	for _, tl := range tools {
		srv.AddTools(tl.ServerTool(":"))
	}
	ts := servertest.NewTestStreamableHTTPServer(srv, server.WithHTTPContextFunc(
		func(ctx context.Context, _ *http.Request) context.Context {
			return nextcloud.WithCredentials(ctx, creds)
		}))
	t.Cleanup(ts.Close)

	c, err := client.NewStreamableHttpClient(ts.URL)
	if err != nil {
		t.Fatalf("creating MCP client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("starting MCP client: %v", err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "davtest", Version: "0"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatalf("initializing MCP client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &Session{t: t, Client: c}
}

// Call invokes a tool and returns its result; protocol errors fail the
// test.
func (s *Session) Call(name string, args map[string]any) *mcp.CallToolResult {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := s.Client.CallTool(ctx, req)
	if err != nil {
		s.t.Fatalf("%s: protocol error: %v", name, err)
	}
	return res
}

// OK calls a tool that must succeed and decodes its structured content
// into out (when out is not nil).
func (s *Session) OK(name string, args map[string]any, out any) {
	s.t.Helper()
	res := s.Call(name, args)
	if res.IsError {
		s.t.Fatalf("%s(%v) failed: %s", name, args, Text(res))
	}
	if out == nil {
		return
	}
	raw := res.RawStructuredContent
	if len(raw) == 0 {
		var err error
		if raw, err = json.Marshal(res.StructuredContent); err != nil {
			s.t.Fatalf("%s: re-encoding structured content: %v", name, err)
		}
	}
	if len(raw) == 0 || string(raw) == "null" {
		s.t.Fatalf("%s: no structured content; text: %s", name, Text(res))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		s.t.Fatalf("%s: decoding structured content %s: %v", name, raw, err)
	}
}

// Fail calls a tool that must fail with a tool error whose text contains
// every one of want, and returns the text.
func (s *Session) Fail(name string, args map[string]any, want ...string) string {
	s.t.Helper()
	res := s.Call(name, args)
	msg := Text(res)
	if !res.IsError {
		s.t.Fatalf("%s(%v) succeeded, want a tool error; got %s", name, args, msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			s.t.Errorf("%s error %q does not mention %q", name, msg, w)
		}
	}
	return msg
}

// Text joins the text contents of a result.
func Text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}
