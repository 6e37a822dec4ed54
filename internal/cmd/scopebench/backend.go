package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The fixed-response MCP backend: 110 tools shaped like the Nextcloud
// backend's, each declaring one of 22 scopes under
// _meta["scopegate/scopes"], so a token holding one scope is listed five.
// Its answers are computed once and written from memory: the benchmark
// measures Caddy, and a backend that did real work would share the two
// cores with it.

const (
	numTools  = 110
	numScopes = 22
	// streamHeader asks the backend for a text/event-stream answer to
	// tools/list; the proxies forward it untouched.
	streamHeader = "X-Scopebench-Stream"
)

// scopes are 22 scope names in the style of the Nextcloud backend's.
var scopes = func() []string {
	apps := []string{"notes", "files", "calendar", "contacts", "tasks", "deck", "talk", "mail", "bookmarks", "sharing", "tables"}
	var s []string
	for _, a := range apps {
		s = append(s, a+":read", a+":write")
	}
	return s
}()

// toolName is the i-th tool; it needs scopes[i%numScopes].
func toolName(i int) string {
	app, verb, _ := strings.Cut(scopes[i%numScopes], ":")
	return fmt.Sprintf("nc_%s_%s_%d", app, verb, i/numScopes)
}

// toolsResult is the tools/list result object listing every tool.
func toolsResult() []byte {
	type prop struct {
		Type        string `json:"type"`
		Description string `json:"description"`
	}
	type tool struct {
		Name        string         `json:"name"`
		Description string         `json:"description"`
		InputSchema map[string]any `json:"inputSchema"`
		Annotations map[string]any `json:"annotations"`
		Meta        map[string]any `json:"_meta"`
	}
	tools := make([]tool, numTools)
	for i := range tools {
		name := toolName(i)
		scope := scopes[i%numScopes]
		tools[i] = tool{
			Name:        name,
			Description: fmt.Sprintf("%s works on the user's %s through the Nextcloud API.", name, strings.Split(scope, ":")[0]),
			InputSchema: map[string]any{
				"type": "object",
				"properties": map[string]prop{
					"id":    {"integer", "The object's id"},
					"query": {"string", "Words to look for"},
				},
				"required": []string{"id"},
			},
			Annotations: map[string]any{"readOnlyHint": strings.HasSuffix(scope, ":read"), "openWorldHint": false},
			Meta:        map[string]any{"scopegate/scopes": []string{scope}},
		}
	}
	b, err := json.Marshal(map[string]any{"tools": tools})
	if err != nil {
		panic(err) // static data
	}
	return b
}

// callResult is the result of every tools/call, sized so the whole
// response is about 285 bytes.
func callResult() []byte {
	text := `{"id":42,"title":"Weekly shopping list","category":"home","modified":1764931200,"favorite":false,"content":"Milk, bread, coffee, apples, cheese, rice"}`
	b, err := json.Marshal(map[string]any{
		"content":           []any{map[string]any{"type": "text", "text": text}},
		"structuredContent": map[string]any{"id": 42, "ok": true},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// backend is the fixed-response MCP server. Requests whose body is one of
// the benchmark's own get a precomputed answer; any other message (the
// gateway's catalog discovery) is decoded and answered with its id.
type backend struct {
	url  string // http://127.0.0.1:<port>/mcp
	srv  *http.Server
	done chan struct{}

	fixed    map[string][]byte // request body → JSON answer
	fixedSSE map[string][]byte // request body → event-stream answer (tools/list)
	list     []byte            // tools/list result object
	call     []byte            // tools/call result object
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func startBackend(requests ...[]byte) (*backend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("backend: listen: %w", err)
	}
	b := &backend{
		url:      "http://" + ln.Addr().String() + "/mcp",
		done:     make(chan struct{}),
		fixed:    map[string][]byte{},
		fixedSSE: map[string][]byte{},
		list:     toolsResult(),
		call:     callResult(),
	}
	for _, req := range requests {
		method, id, err := readMessage(req)
		if err != nil {
			return nil, fmt.Errorf("backend: benchmark request %s: %w", req, err)
		}
		answer := b.answer(method, id)
		b.fixed[string(req)] = answer
		b.fixedSSE[string(req)] = sseEvent(answer)
	}
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(b.done)
		_ = b.srv.Serve(ln)
	}()
	return b, nil
}

func (b *backend) Close() {
	_ = b.srv.Close()
	<-b.done
}

func readMessage(body []byte) (method string, id json.RawMessage, err error) {
	var msg struct {
		Method string          `json:"method"`
		ID     json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return "", nil, err
	}
	return msg.Method, msg.ID, nil
}

// answer is the JSON-RPC response to method with id; nil for a
// notification.
func (b *backend) answer(method string, id json.RawMessage) []byte {
	if len(id) == 0 || string(id) == "null" {
		return nil
	}
	var result []byte
	switch method {
	case "tools/list":
		result = b.list
	case "tools/call":
		result = b.call
	case "initialize":
		result = []byte(`{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"scopebench","version":"1"}}`)
	default:
		result = []byte(`{}`)
	}
	out := make([]byte, 0, len(result)+64)
	out = append(out, `{"jsonrpc":"2.0","id":`...)
	out = append(out, id...)
	out = append(out, `,"result":`...)
	out = append(out, result...)
	return append(out, '}')
}

func sseEvent(msg []byte) []byte {
	return append(append([]byte("event: message\ndata: "), msg...), "\n\n"...)
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/mcp" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, 1<<20)); err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	sse := r.Header.Get(streamHeader) != ""
	answer, ok := b.fixed[string(buf.Bytes())] // no allocation: map lookup by converted key
	if ok && sse {
		answer = b.fixedSSE[string(buf.Bytes())]
	}
	if !ok {
		method, id, err := readMessage(buf.Bytes())
		if err != nil {
			http.Error(w, "not JSON-RPC", http.StatusBadRequest)
			return
		}
		if answer = b.answer(method, id); answer == nil {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		if sse {
			answer = sseEvent(answer)
		}
	}
	h := w.Header()
	if sse {
		h["Content-Type"] = []string{"text/event-stream"}
	} else {
		h["Content-Type"] = []string{"application/json"}
	}
	_, _ = w.Write(answer)
}
