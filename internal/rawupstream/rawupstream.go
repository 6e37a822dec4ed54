// Package rawupstream runs a hostile MCP "server" for gateway tests: a plain
// net/http server, not mcp-go, that answers each JSON-RPC method with bytes
// the test crafts — JSON, or an event stream split across writes at any
// byte, with a flush after each write — and records every request it got.
//
// It exists to test the gateway's list rewriting against a backend whose
// framing no MCP library would produce: events split inside "data:" or
// between CR and LF, mixed line ends, BOMs, unparsable events.
package rawupstream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Path is where the endpoint answers; other paths get 404.
const Path = "/mcp"

// IDPlaceholder in a chunk is replaced by the request's id, verbatim as
// the request carried it (a JSON string or number), or null.
const IDPlaceholder = "{{id}}"

// Response is what the server writes for one request.
type Response struct {
	// Status defaults to 200.
	Status int
	// ContentType defaults to application/json; "-" sends none.
	ContentType string
	// Header is added to the response.
	Header http.Header
	// Chunks are written one after another, each followed by a flush and
	// Pause, so a proxy reads them as separate writes.
	Chunks []string
	// Pause between chunks; default 5ms. It spaces the writes out, nothing
	// depends on its length.
	Pause time.Duration
	// Hold, if not nil, is waited on before chunk HoldAt is written, so a
	// test can see what reached the client of a stream still open. The
	// wait ends early when the request is cancelled.
	Hold   <-chan struct{}
	HoldAt int
}

// JSON is a single-chunk application/json response.
func JSON(body string) Response { return Response{Chunks: []string{body}} }

// SSE is a text/event-stream response written in the given chunks.
func SSE(chunks ...string) Response {
	return Response{ContentType: "text/event-stream", Chunks: chunks}
}

// Request is one HTTP request the server received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// RPCMethod and RPCID are read from a JSON object body; empty
	// otherwise. RPCID is the raw JSON of the id member.
	RPCMethod string
	RPCID     string
}

// Discovery reports whether the request is one of the gateway's own
// catalog discovery requests, as opposed to a client's request it
// forwarded: the gateway sets X-Scopegate-Subject on every request it
// forwards, and discovery requests carry no identity.
func (r Request) Discovery() bool {
	return r.Header.Get("X-Scopegate-Subject") == ""
}

// Handler chooses the response to a request.
type Handler func(Request) Response

// Server is a running raw upstream.
type Server struct {
	// URL is the endpoint, http://127.0.0.1:<port>/mcp; Addr is host:port.
	URL  string
	Addr string

	srv  *http.Server
	done chan struct{}

	mu       sync.Mutex
	handlers map[string]Handler
	requests []Request
}

// maxRecorded bounds the request log.
const maxRecorded = 1024

// Start runs a server on a free loopback port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("rawupstream: listen: %v", err)
	}
	s := &Server{Addr: ln.Addr().String(), done: make(chan struct{}), handlers: map[string]Handler{}}
	s.URL = "http://" + s.Addr + Path
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() {
	_ = s.srv.Close()
	<-s.done
}

// Handle sets the answer to requests with the JSON-RPC method.
func (s *Server) Handle(method string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[method] = h
}

// HandleHTTP sets the answer to requests with the HTTP method (GET,
// DELETE, ...) other than POST, whatever their body.
func (s *Server) HandleHTTP(method string, h Handler) {
	s.Handle("HTTP "+method, h)
}

// Respond sets a fixed answer to requests with the JSON-RPC method.
func (s *Server) Respond(method string, resp Response) {
	s.Handle(method, func(Request) Response { return resp })
}

// Requests returns the requests received, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// ClientRequests returns the requests that were not the gateway's own
// discovery requests.
func (s *Server) ClientRequests() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if !r.Discovery() {
			out = append(out, r)
		}
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	req := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	var msg struct {
		Method string          `json:"method"`
		ID     json.RawMessage `json:"id"`
	}
	if json.Unmarshal(body, &msg) == nil {
		req.RPCMethod, req.RPCID = msg.Method, string(msg.ID)
	}
	s.mu.Lock()
	if len(s.requests) == maxRecorded {
		s.requests = slices.Delete(s.requests, 0, 1)
	}
	s.requests = append(s.requests, req)
	h := s.handlers[req.RPCMethod]
	if r.Method != http.MethodPost {
		h = s.handlers["HTTP "+r.Method]
	}
	s.mu.Unlock()

	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost && h == nil {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	var resp Response
	switch {
	case h != nil:
		resp = h(req)
	case req.RPCID == "" || req.RPCID == "null":
		w.WriteHeader(http.StatusAccepted) // notifications and responses
		return
	default:
		resp = JSON(`{"jsonrpc":"2.0","id":` + IDPlaceholder + `,"result":{}}`)
	}
	write(w, r, req, resp)
}

func write(w http.ResponseWriter, r *http.Request, req Request, resp Response) {
	id := req.RPCID
	if id == "" {
		id = "null"
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	switch resp.ContentType {
	case "":
		w.Header().Set("Content-Type", "application/json")
	case "-":
	default:
		w.Header().Set("Content-Type", resp.ContentType)
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	pause := resp.Pause
	if pause <= 0 {
		pause = 5 * time.Millisecond
	}
	rc := http.NewResponseController(w)
	for i, c := range resp.Chunks {
		if resp.Hold != nil && i == resp.HoldAt {
			select {
			case <-resp.Hold:
			case <-r.Context().Done():
				return
			}
		}
		if _, err := io.WriteString(w, strings.ReplaceAll(c, IDPlaceholder, id)); err != nil {
			return
		}
		_ = rc.Flush()
		if i < len(resp.Chunks)-1 {
			time.Sleep(pause)
		}
	}
}

// Tool is one tool of a crafted tools/list result.
type Tool struct {
	Name   string
	Scopes []string // nil: no _meta
}

// ToolsResult returns the JSON of a tools/list result object listing
// tools, each declaring its scopes under _meta["scopegate/scopes"].
func ToolsResult(tools ...Tool) string {
	var b bytes.Buffer
	b.WriteString(`{"tools":[`)
	for i, t := range tools {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(t.Name)
		fmt.Fprintf(&b, `{"name":%s,"description":"raw tool","inputSchema":{"type":"object"}`, name)
		if t.Scopes != nil {
			scopes, _ := json.Marshal(t.Scopes)
			fmt.Fprintf(&b, `,"_meta":{"scopegate/scopes":%s}`, scopes)
		}
		b.WriteByte('}')
	}
	b.WriteString(`]}`)
	return b.String()
}

// Result wraps a result object in a JSON-RPC response carrying the
// request's id.
func Result(result string) string {
	return `{"jsonrpc":"2.0","id":` + IDPlaceholder + `,"result":` + result + `}`
}
