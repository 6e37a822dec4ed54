package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/oidctest"
)

// rpcReply is the JSON-RPC response of a JSON or SSE body.
type rpcReply struct {
	status int
	header http.Header
	body   string
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// reply reads the one JSON-RPC response of r (for SSE, the event that has
// a result or an error); a body with none leaves Result and Error empty.
func reply(t *testing.T, r response) rpcReply {
	t.Helper()
	out := rpcReply{status: r.status, header: r.header, body: r.body}
	datas := []string{r.body}
	if strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
		datas = nil
		for _, ev := range parseSSE(t, r.body) {
			datas = append(datas, ev.data)
		}
	}
	for _, d := range datas {
		var x rpcReply
		if json.Unmarshal([]byte(d), &x) == nil && (x.Result != nil || x.Error != nil) {
			out.Result, out.Error = x.Result, x.Error
		}
	}
	return out
}

func (r rpcReply) code() int {
	if r.Error == nil {
		return 0
	}
	return r.Error.Code
}

// modern sends a 2026-07-28 request.
func (e *env) modern(t *testing.T, tok, id, method, name string, params map[string]any) rpcReply {
	t.Helper()
	return reply(t, e.post(t, tok, modernMessage(id, method, params), modernHeaders(method, name)...))
}

// legacy sends a message in a legacy session.
func (e *env) legacy(t *testing.T, tok, sid, body string) rpcReply {
	t.Helper()
	return reply(t, e.post(t, tok, body, legacyHeaders(sid)...))
}

// mallory is a second client of the provider, and so another subject.
var malloryProvider = oidctest.Options{Clients: []oidctest.Client{{ID: "mallory", Secret: oidctest.ClientSecret}}}

func (e *env) malloryToken(t *testing.T, scopes ...string) string {
	t.Helper()
	return e.provider.Token(t, oidctest.TokenRequest{ClientID: "mallory", Secret: oidctest.ClientSecret, Scopes: scopes, Audience: []string{e.resource}})
}

// rpc builds a legacy JSON-RPC request body.
func rpc(id, method string, params any) string {
	b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": json.RawMessage(id), "method": method, "params": params})
	if err != nil {
		panic(err)
	}
	return string(b)
}
