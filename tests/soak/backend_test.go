package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// The recording backend's tools and the scopes they declare in _meta. Every
// tool takes a "tag" argument, unique per request, and answers with it.
const (
	toolRead   = "read_note"   // notes:read
	toolStream = "stream_note" // notes:read; sends a progress notification first
	toolWrite  = "write_note"  // notes:write
	toolFiles  = "read_files"  // files:read
	toolAdmin  = "admin_tool"  // admin
)

var toolScopes = map[string][]string{
	toolRead:   {"notes:read"},
	toolStream: {"notes:read"},
	toolWrite:  {"notes:write"},
	toolFiles:  {"files:read"},
	toolAdmin:  {"admin"},
}

// Resource uris: the gateway's rules give publicPrefix notes:read and
// secretPrefix admin; the soak appends a request's tag.
const (
	publicPrefix = "demo://public/"
	secretPrefix = "secret://"
)

// backend is an mcp-go Streamable HTTP server (both protocol eras) that
// records, before mcp-go sees the body, the tag of every request that
// reached it: the tool call's "tag" argument, or the tag in a resource uri
// of subscriptions/listen or resources/subscribe. What the gateway let
// through is exactly what is recorded here.
type backend struct {
	addr   string
	srv    *http.Server
	done   chan struct{}
	fault  string
	faulty sync.Once

	mu       sync.Mutex
	arrivals map[string]int // tag → times it arrived
	untagged map[string]int // method → requests without a tag (the gateway's catalog walks, initialize, GET streams…)
}

func startBackend(t *testing.T, fault string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("backend: listen: %v", err)
	}
	b := &backend{addr: ln.Addr().String(), done: make(chan struct{}), fault: fault,
		arrivals: map[string]int{}, untagged: map[string]int{}}
	mux := http.NewServeMux()
	mux.Handle("/mcp", server.NewStreamableHTTPServer(newMCPServer()))
	b.srv = &http.Server{Handler: b.record(mux), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(b.done)
		_ = b.srv.Serve(ln) // http.ErrServerClosed on Close
	}()
	t.Cleanup(func() {
		_ = b.srv.Close()
		<-b.done
	})
	return b
}

func newMCPServer() *server.MCPServer {
	s := server.NewMCPServer("scopegate-soak", "1.0.0",
		server.WithToolCapabilities(false),
		server.WithResourceCapabilities(true, false))
	for _, name := range []string{toolRead, toolStream, toolWrite, toolFiles, toolAdmin} {
		scopes := toolScopes[name]
		tool := mcp.NewTool(name,
			mcp.WithDescription("Answers with its tag."),
			mcp.WithString("tag", mcp.Required(), mcp.Description("The request's unique tag.")),
			mcp.WithReadOnlyHintAnnotation(name != toolWrite && name != toolAdmin),
			func(t *mcp.Tool) { t.Meta = mcp.NewMetaFromMap(map[string]any{"scopegate/scopes": scopes}) },
		)
		s.AddTool(tool, toolHandler(name))
	}
	return s
}

func toolHandler(name string) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		tag := req.GetString("tag", "")
		if name == toolStream {
			// Makes mcp-go answer as an event stream when the notification
			// is queued before the result (not always: both forms are fine).
			_ = server.ServerFromContext(ctx).SendNotificationToClient(ctx, "notifications/progress",
				map[string]any{"progressToken": tag, "progress": 1, "total": 2})
		}
		return mcp.NewToolResultText("DONE " + name + " " + tag), nil
	}
}

// record notes the request's tag (or its method, untagged) and passes the
// unchanged body on.
func (b *backend) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			b.note("", r.Method)
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		method, tags := tagsOf(body)
		if len(tags) == 0 {
			b.note("", method)
		}
		for _, tag := range tags {
			b.note(tag, method)
		}
		next.ServeHTTP(w, r)
	})
}

func (b *backend) note(tag, method string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if tag == "" {
		b.untagged[method]++
		return
	}
	// -soak.fault: a deliberately broken backend, to see the check fail.
	switch b.fault {
	case "drop":
		dropped := false
		b.faulty.Do(func() { dropped = true })
		if dropped {
			return
		}
	case "dup":
		b.faulty.Do(func() { b.arrivals[tag]++ })
	}
	b.arrivals[tag]++
}

// tagsOf reads the JSON-RPC method and the request tags of a body.
func tagsOf(body []byte) (string, []string) {
	var msg struct {
		Method string `json:"method"`
		Params struct {
			Arguments struct {
				Tag string `json:"tag"`
			} `json:"arguments"`
			URI           string `json:"uri"`
			Notifications struct {
				ResourceSubscriptions []string `json:"resourceSubscriptions"`
			} `json:"notifications"`
		} `json:"params"`
	}
	if json.Unmarshal(body, &msg) != nil {
		return "(unreadable)", nil
	}
	var tags []string
	if msg.Params.Arguments.Tag != "" {
		tags = append(tags, msg.Params.Arguments.Tag)
	}
	uris := msg.Params.Notifications.ResourceSubscriptions
	if msg.Params.URI != "" {
		uris = append(uris, msg.Params.URI)
	}
	for _, u := range uris {
		tags = append(tags, tagOfURI(u))
	}
	return msg.Method, tags
}

// tagOfURI is the tag a soak resource uri carries, or the uri itself.
func tagOfURI(uri string) string {
	for _, p := range []string{publicPrefix, secretPrefix} {
		if len(uri) > len(p) && uri[:len(p)] == p {
			return uri[len(p):]
		}
	}
	return uri
}

// snapshot copies the record.
func (b *backend) snapshot() (arrivals map[string]int, untagged map[string]int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	arrivals = make(map[string]int, len(b.arrivals))
	for k, v := range b.arrivals {
		arrivals[k] = v
	}
	untagged = make(map[string]int, len(b.untagged))
	for k, v := range b.untagged {
		untagged[k] = v
	}
	return arrivals, untagged
}

func (b *backend) String() string { return fmt.Sprintf("backend %s", b.addr) }
