package rpcmessage

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

func TestParseIndirectTargets(t *testing.T) {
	for _, tt := range []struct {
		body string
		want Message
		err  error
	}{
		{body: `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"t1"}}`, want: Message{TaskID: "t1"}},
		{body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","task":{"ttl":60000}}}`, want: Message{Name: "x", HasTask: true}},
		{body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","task":null}}`, want: Message{Name: "x"}},
		{body: `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"}}}`, want: Message{Ref: &Ref{Type: "ref/prompt", Name: "p"}}},
		{body: `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"demo://x/{id}"}}}`, want: Message{Ref: &Ref{Type: "ref/resource", URI: "demo://x/{id}"}}},
		{body: `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["a://1","b://2"],"toolsListChanged":true}}}`, want: Message{Subscriptions: []string{"a://1", "b://2"}}},
		{body: `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"t1","TaskId":"t2"}}`, err: ErrCaseVariantKey},
		{body: `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"t1","taskId":"t2"}}`, err: ErrDuplicateKey},
		{body: `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p","Name":"q"}}}`, err: ErrCaseVariantKey},
		{body: `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":"p"}}`, err: ErrShape},
		{body: `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["a://1"],"ResourceSubscriptions":["s://x"]}}}`, err: ErrCaseVariantKey},
		{body: `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":[1]}}}`, err: ErrShape},
		{body: `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"Notifications":{}}}`, err: ErrCaseVariantKey},
	} {
		m, err := Parse([]byte(tt.body))
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("Parse(%s) error %v, want %v", tt.body, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%s): %v", tt.body, err)
			continue
		}
		if m.TaskID != tt.want.TaskID || m.HasTask != tt.want.HasTask || m.Name != tt.want.Name ||
			(m.Ref == nil) != (tt.want.Ref == nil) || (m.Ref != nil && *m.Ref != *tt.want.Ref) || !slices.Equal(m.Subscriptions, tt.want.Subscriptions) {
			t.Errorf("Parse(%s) = %+v (ref %+v), want %+v", tt.body, m, m.Ref, tt.want)
		}
		sameIndirectAsMCPGo(t, []byte(tt.body), m)
	}
}

// sameIndirectAsMCPGo decodes body with mcp-go's request types and fails
// if the task id, task flag, completion ref or subscribed uris differ
// from m. A body mcp-go cannot decode is refused by the server anyway.
func sameIndirectAsMCPGo(t testing.TB, body []byte, m Message) {
	t.Helper()
	switch m.Method {
	case "tasks/get", "tasks/result", "tasks/cancel":
		var r mcp.GetTaskRequest
		if json.Unmarshal(body, &r) == nil && r.Params.TaskId != m.TaskID {
			t.Fatalf("body %q: Parse taskId %q, mcp-go %q", body, m.TaskID, r.Params.TaskId)
		}
	case "tools/call":
		var r mcp.CallToolRequest
		if json.Unmarshal(body, &r) == nil && (r.Params.Task != nil) != m.HasTask {
			t.Fatalf("body %q: Parse task %v, mcp-go %+v", body, m.HasTask, r.Params.Task)
		}
	case "completion/complete":
		var r mcp.CompleteRequest
		if json.Unmarshal(body, &r) != nil {
			return
		}
		var got Ref
		switch ref := r.Params.Ref.(type) {
		case mcp.PromptReference:
			got = Ref{Type: "ref/prompt", Name: ref.Name}
		case mcp.ResourceReference:
			got = Ref{Type: "ref/resource", URI: ref.URI}
		}
		if got.Type == "" {
			// mcp-go saw no ref (no params): the gateway must not judge one.
			if m.Ref != nil && (m.Ref.Type == "ref/prompt" || m.Ref.Type == "ref/resource") {
				t.Fatalf("body %q: Parse ref %+v, mcp-go none", body, m.Ref)
			}
			return
		}
		if m.Ref == nil || m.Ref.Type != got.Type || (got.Type == "ref/prompt" && m.Ref.Name != got.Name) || (got.Type == "ref/resource" && m.Ref.URI != got.URI) {
			t.Fatalf("body %q: Parse ref %+v, mcp-go %+v", body, m.Ref, got)
		}
	case "subscriptions/listen":
		var r mcp.SubscriptionsListenRequest
		if json.Unmarshal(body, &r) == nil && !slices.Equal(r.Params.Notifications.ResourceSubscriptions, m.Subscriptions) {
			t.Fatalf("body %q: Parse subscriptions %q, mcp-go %q", body, m.Subscriptions, r.Params.Notifications.ResourceSubscriptions)
		}
	}
}

// FuzzParseIndirect: whatever Parse accepts of tasks, completions and
// subscriptions, mcp-go reads the same task id, ref and uris.
func FuzzParseIndirect(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"t1"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tasks/cancel","params":{"task\u0049d":"t1"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","task":{"ttl":60000}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":""}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"demo://r/../x"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["secret://doc"]}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Parse(body)
		if err != nil || m.Kind == KindResponse {
			return
		}
		sameIndirectAsMCPGo(t, body, m)
	})
}
