package mcptestserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// The tasks server's tools, each runnable as a task (taskSupport
// optional). mcp-go 1.2.1 keeps 2026-07-28 tasks under the empty session
// id, visible to every caller: whatever keeps one user's tasks from
// another's must sit in front of it.
const (
	ToolSecret = "secret_tool" // admin; answers "SECRET-RESULT for <query>"
	ToolSlow   = "slow_tool"   // admin; runs 20 s unless cancelled
	ToolPublic = "public_tool" // notes:read; answers "PUBLIC-RESULT for <query>"
	ToolAsk    = "ask_user"    // notes:read; elicits an answer from its caller and returns it
)

// Resources of the tasks server.
const (
	ResourceSecret = "secret://doc"      // the gateway tests give it a scope the low token lacks
	ResourcePublic = "demo://public/doc" // readable with the low scope
)

// TaskToolScopes are the scopes the tasks server's tools declare.
var TaskToolScopes = map[string][]string{
	ToolSecret: {"admin"},
	ToolSlow:   {"admin"},
	ToolPublic: {"notes:read"},
	ToolAsk:    {"notes:read"},
}

// StartTasks runs an mcp-go server with tasks (list, cancel, tools/call),
// resources with subscriptions, elicitation and the tools above, until
// the test ends.
func StartTasks(t testingTB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mcptestserver: listen: %v", err)
	}
	s := &Server{Addr: ln.Addr().String(), done: make(chan struct{})}
	s.URL = "http://" + s.Addr + Path
	mux := http.NewServeMux()
	mux.Handle(Path, server.NewStreamableHTTPServer(NewTasksMCPServer()))
	s.httpServer = &http.Server{Handler: s.record(mux), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.httpServer.Serve(ln)
	}()
	t.Cleanup(s.Close)
	return s
}

// testingTB is the part of testing.TB StartTasks needs.
type testingTB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// NewTasksMCPServer builds the tasks server for callers that mount it
// themselves.
func NewTasksMCPServer() *server.MCPServer {
	s := server.NewMCPServer("scopegate-tasks-test", "1.0.0",
		server.WithToolCapabilities(false),
		server.WithTaskCapabilities(true, true, true),
		server.WithResourceCapabilities(true, false),
		server.WithElicitation(),
	)
	for _, name := range []string{ToolSecret, ToolSlow, ToolPublic, ToolAsk} {
		scopes := TaskToolScopes[name]
		tool := mcp.NewTool(name,
			mcp.WithDescription("A test tool runnable as a task."),
			mcp.WithString("query", mcp.Description("Echoed in the result.")),
			mcp.WithTaskSupport(mcp.TaskSupportOptional),
			func(t *mcp.Tool) { t.Meta = mcp.NewMetaFromMap(map[string]any{ScopesMetaKey: scopes}) },
		)
		s.AddTool(tool, taskToolHandler(name))
	}
	for _, uri := range []string{ResourceSecret, ResourcePublic} {
		s.AddResource(mcp.NewResource(uri, uri, mcp.WithMIMEType("text/plain")),
			func(_ context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
				return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: "text/plain", Text: "CONTENT of " + req.Params.URI}}, nil
			})
	}
	return s
}

func taskToolHandler(name string) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		query := req.GetString("query", "")
		switch name {
		case ToolSecret:
			return mcp.NewToolResultText("SECRET-RESULT for " + query), nil
		case ToolPublic:
			return mcp.NewToolResultText("PUBLIC-RESULT for " + query), nil
		case ToolSlow:
			// mcp-go runs a tool as a task under the context of the request
			// that created it, which ends with that request's response: the
			// handler must not stop with it, or no task would stay
			// "working" to be cancelled. tasks/cancel marks the task
			// cancelled whatever the handler does.
			time.Sleep(20 * time.Second)
			return mcp.NewToolResultText("SLOW-RESULT for " + query), nil
		case ToolAsk:
			res, err := server.ServerFromContext(ctx).RequestElicitation(ctx, mcp.ElicitationRequest{
				Params: mcp.ElicitationParams{
					Message:         "answer for " + query,
					RequestedSchema: map[string]any{"type": "object", "properties": map[string]any{"answer": map[string]any{"type": "string"}}},
				},
			})
			if err != nil {
				return nil, fmt.Errorf("elicitation: %w", err)
			}
			return mcp.NewToolResultText(fmt.Sprintf("ANSWER %v", res.Content)), nil
		}
		return nil, fmt.Errorf("unknown tool %q", name)
	}
}
