package rpcmessage

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// goReading is how mcp-go's server reads a request body: encoding/json into
// structs tagged like mcp.JSONRPCRequest and its params.
type goReading struct {
	JSONRPC string `json:"jsonrpc"`
	ID      any    `json:"id"`
	Method  string `json:"method"`
	Params  struct {
		Name string `json:"name"`
		URI  string `json:"uri"`
	} `json:"params"`
}

// sameAsGo fails the test if encoding/json reads body differently from m.
func sameAsGo(t testing.TB, body []byte, m Message) {
	t.Helper()
	var g goReading
	if err := json.Unmarshal(body, &g); err != nil {
		t.Fatalf("accepted body %q does not decode with encoding/json: %v", body, err)
	}
	if g.Method != m.Method || g.Params.Name != m.Name || g.Params.URI != m.URI || g.JSONRPC != "2.0" {
		t.Fatalf("body %q read two ways: Parse method=%q name=%q uri=%q, encoding/json method=%q name=%q uri=%q jsonrpc=%q",
			body, m.Method, m.Name, m.URI, g.Method, g.Params.Name, g.Params.URI, g.JSONRPC)
	}
	if (m.ID != nil) != (g.ID != nil) {
		t.Fatalf("body %q: Parse id=%s, encoding/json id=%v", body, m.ID, g.ID)
	}
	sameAsMCPGo(t, body, m)
}

// sameAsMCPGo decodes body with mcp-go's own request types, whose params
// have custom decoders, and fails if the name or uri differ from m. A body
// mcp-go cannot decode is refused by the server anyway.
func sameAsMCPGo(t testing.TB, body []byte, m Message) {
	t.Helper()
	var got string
	var err error
	switch m.Method {
	case "tools/call":
		var r mcp.CallToolRequest
		err = json.Unmarshal(body, &r)
		got = r.Params.Name
	case "prompts/get":
		var r mcp.GetPromptRequest
		err = json.Unmarshal(body, &r)
		got = r.Params.Name
	case "resources/read":
		var r mcp.ReadResourceRequest
		err = json.Unmarshal(body, &r)
		got = r.Params.URI
	default:
		return
	}
	want, _ := m.Target()
	if err == nil && got != want {
		t.Fatalf("body %q: Parse reads %q, mcp-go reads %q", body, want, got)
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Message
	}{
		{
			name: "tools/call request",
			body: `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"notes_create","arguments":{"title":"x"}}}`,
			want: Message{Kind: KindRequest, Method: "tools/call", ID: json.RawMessage(`7`), Name: "notes_create"},
		},
		{
			name: "string id kept verbatim",
			body: `{"jsonrpc":"2.0","id":"a\u0062c","method":"ping"}`,
			want: Message{Kind: KindRequest, Method: "ping", ID: json.RawMessage(`"a\u0062c"`)},
		},
		{
			name: "resources/read uri",
			body: `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"nc://notes/1"}}`,
			want: Message{Kind: KindRequest, Method: "resources/read", ID: json.RawMessage(`1`), URI: "nc://notes/1"},
		},
		{
			name: "list with cursor and modern meta",
			body: `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"cursor":"c2","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","other":{"x":[1]}}}}`,
			want: Message{Kind: KindRequest, Method: "tools/list", ID: json.RawMessage(`2`), Cursor: "c2", ProtocolVersion: "2026-07-28"},
		},
		{
			name: "unicode-escaped method is decoded",
			body: `{"jsonrpc":"2.0","id":1,"\u006dethod":"tools/\u0063all","params":{"n\u0061me":"t"}}`,
			want: Message{Kind: KindRequest, Method: "tools/call", ID: json.RawMessage(`1`), Name: "t"},
		},
		{
			name: "notification carrying tools/call is classified by method",
			body: `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"files_delete"}}`,
			want: Message{Kind: KindNotification, Method: "tools/call", Name: "files_delete"},
		},
		{
			name: "notification",
			body: ` {"jsonrpc":"2.0","method":"notifications/initialized"} ` + "\n",
			want: Message{Kind: KindNotification, Method: "notifications/initialized"},
		},
		{
			name: "response to a server request",
			body: `{"jsonrpc":"2.0","id":"s1","result":{"action":"accept"}}`,
			want: Message{Kind: KindResponse, ID: json.RawMessage(`"s1"`), HasResult: true},
		},
		{
			name: "error response",
			body: `{"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"no"}}`,
			want: Message{Kind: KindResponse, ID: json.RawMessage(`3`), HasError: true},
		},
		{
			name: "null params and null name",
			body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":null}}`,
			want: Message{Kind: KindRequest, Method: "tools/call", ID: json.RawMessage(`1`)},
		},
		{
			name: "unknown members ignored, case variants and duplicates of them allowed",
			body: `{"jsonrpc":"2.0","id":1,"method":"ping","x":1,"X":2,"x":3}`,
			want: Message{Kind: KindRequest, Method: "ping", ID: json.RawMessage(`1`)},
		},
		{
			name: "arguments may hold any key",
			body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"name":"b","NAME":"c","name":"d"}}}`,
			want: Message{Kind: KindRequest, Method: "tools/call", ID: json.RawMessage(`1`), Name: "a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got.Kind != tt.want.Kind || got.Method != tt.want.Method || string(got.ID) != string(tt.want.ID) ||
				got.Name != tt.want.Name || got.URI != tt.want.URI || got.Cursor != tt.want.Cursor ||
				got.ProtocolVersion != tt.want.ProtocolVersion || got.HasResult != tt.want.HasResult || got.HasError != tt.want.HasError {
				t.Fatalf("Parse = %+v, want %+v", got, tt.want)
			}
			if got.Kind != KindResponse {
				sameAsGo(t, []byte(tt.body), got)
			}
		})
	}
}

// adversarial holds the bodies an attacker would try, each with the reason
// and code it must be refused with. They also seed FuzzParse.
var adversarial = []struct {
	name   string
	body   string
	reason error
	code   int
}{
	{"batch", `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}]`, ErrBatch, CodeInvalidRequest},
	{"batch with leading space", " \n[]", ErrBatch, CodeInvalidRequest},
	{"empty body", "", ErrInvalidJSON, CodeParseError},
	{"invalid json", `{"jsonrpc":"2.0",`, ErrInvalidJSON, CodeParseError},
	{"not an object", `"tools/call"`, ErrNotObject, CodeInvalidRequest},
	{"number", `42`, ErrNotObject, CodeInvalidRequest},
	{"duplicate method", `{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"}`, ErrDuplicateKey, CodeInvalidRequest},
	{"case-variant METHOD", `{"jsonrpc":"2.0","id":1,"method":"tools/list","METHOD":"tools/call"}`, ErrCaseVariantKey, CodeInvalidRequest},
	{"case-variant Method alone", `{"jsonrpc":"2.0","id":1,"Method":"tools/call"}`, ErrCaseVariantKey, CodeInvalidRequest},
	{"unicode-escaped duplicate method", `{"jsonrpc":"2.0","id":1,"method":"tools/list","\u006dethod":"tools/call"}`, ErrDuplicateKey, CodeInvalidRequest},
	{"unicode-escaped case variant", `{"jsonrpc":"2.0","id":1,"method":"tools/list","\u004dethod":"tools/call"}`, ErrCaseVariantKey, CodeInvalidRequest},
	{"long s folds to params", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"},"paramſ":{"name":"b"}}`, ErrCaseVariantKey, CodeInvalidRequest},
	{"long s folds to jsonrpc", `{"jſonrpc":"2.0","id":1,"method":"ping"}`, ErrCaseVariantKey, CodeInvalidRequest},
	{"duplicate id", `{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}`, ErrDuplicateKey, CodeInvalidRequest},
	{"case-variant ID", `{"jsonrpc":"2.0","ID":1,"method":"ping"}`, ErrCaseVariantKey, CodeInvalidRequest},
	{"duplicate params", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"},"params":{"name":"b"}}`, ErrDuplicateKey, CodeInvalidRequest},
	{"duplicate params.name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_list","name":"files_delete"}}`, ErrDuplicateKey, CodeInvalidRequest},
	{"case-variant params.Name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_list","Name":"files_delete"}}`, ErrCaseVariantKey, CodeInvalidRequest},
	{"escaped duplicate params.name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_list","n\u0061me":"files_delete"}}`, ErrDuplicateKey, CodeInvalidRequest},
	{"case-variant params.URI", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"a","URI":"b"}}`, ErrCaseVariantKey, CodeInvalidRequest},
	{"duplicate protocol version", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25","io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, ErrDuplicateKey, CodeInvalidRequest},
	{"case-variant _META", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_META":{}}}`, ErrCaseVariantKey, CodeInvalidRequest},
	{"trailing object", `{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"tools/call"}`, ErrTrailingData, CodeParseError},
	{"trailing garbage", `{"jsonrpc":"2.0","id":1,"method":"ping"} x`, ErrInvalidJSON, CodeParseError},
	{"trailing array", `{"jsonrpc":"2.0","id":1,"method":"ping"}[]`, ErrTrailingData, CodeParseError},
	{"deeply nested junk", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}`, ErrInvalidJSON, CodeParseError},
	{"unterminated nesting", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":` + strings.Repeat(`{"a":`, 50) + `}`, ErrInvalidJSON, CodeParseError},
	{"wrong version", `{"jsonrpc":"1.0","id":1,"method":"ping"}`, ErrVersion, CodeInvalidRequest},
	{"missing version", `{"id":1,"method":"ping"}`, ErrVersion, CodeInvalidRequest},
	{"null id", `{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"x"}}`, ErrShape, CodeInvalidRequest},
	{"object id", `{"jsonrpc":"2.0","id":{},"method":"ping"}`, ErrShape, CodeInvalidRequest},
	{"method not a string", `{"jsonrpc":"2.0","id":1,"method":["tools/call"]}`, ErrShape, CodeInvalidRequest},
	{"empty method", `{"jsonrpc":"2.0","id":1,"method":""}`, ErrShape, CodeInvalidRequest},
	{"name not a string", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":{"x":1}}}`, ErrShape, CodeInvalidRequest},
	{"params is an array", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["x"]}`, ErrShape, CodeInvalidRequest},
	{"request with result", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"},"result":null}`, ErrShape, CodeInvalidRequest},
	{"response with both", `{"jsonrpc":"2.0","id":1,"result":{},"error":{}}`, ErrShape, CodeInvalidRequest},
	{"params without method", `{"jsonrpc":"2.0","id":1,"params":{"name":"x"}}`, ErrShape, CodeInvalidRequest},
	{"empty object", `{}`, ErrVersion, CodeInvalidRequest},
	{"only version", `{"jsonrpc":"2.0"}`, ErrShape, CodeInvalidRequest},
	{"invalid string escape", `{"jsonrpc":"2.0","id":1,"method":"tools/c\x01all"}`, ErrInvalidJSON, CodeParseError},
}

func TestParseRefusesAdversarial(t *testing.T) {
	for _, tt := range adversarial {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.body))
			if err == nil {
				t.Fatalf("Parse accepted %+v", m)
			}
			if !errors.Is(err, tt.reason) {
				t.Fatalf("error %v, want reason %v", err, tt.reason)
			}
			e, ok := errors.AsType[*Error](err)
			if !ok || e.Code != tt.code {
				t.Fatalf("error %#v, want code %d", err, tt.code)
			}
		})
	}
}

// TestGoReadsAdversarialDifferently documents why the refusals matter:
// encoding/json reads these bodies as a different method or name than a
// first-key reader would.
func TestGoReadsAdversarialDifferently(t *testing.T) {
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","METHOD":"tools/call"}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","\u006dethod":"tools/call"}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_list","Name":"files_delete"}}`,
	} {
		var g goReading
		if err := json.Unmarshal([]byte(body), &g); err != nil {
			t.Fatal(err)
		}
		if g.Method != "tools/call" || (g.Params.Name != "" && g.Params.Name != "files_delete") {
			t.Fatalf("encoding/json changed its matching rules: %+v; revisit Parse", g)
		}
	}
}

// TestParseManyKeys guards against quadratic duplicate tracking: a 1 MiB
// body of distinct keys must parse in well under a second.
// manyKeysMessage is a 1 MiB tools/call whose params hold ~100k distinct
// keys: the duplicate-key check must stay linear in them.
func manyKeysMessage() []byte {
	var b strings.Builder
	b.WriteString(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"`)
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, `,"k%d":0`, i)
	}
	b.WriteString(`}}`)
	return []byte(b.String())
}

func TestParseManyKeys(t *testing.T) {
	m, err := Parse(manyKeysMessage())
	if err != nil || m.Name != "x" {
		t.Fatalf("Parse = %+v, %v", m, err)
	}
}

// BenchmarkParseManyKeys measures the worst body a client may send for the
// duplicate-key check (its speed is measured here, never asserted).
func BenchmarkParseManyKeys(b *testing.B) {
	msg := manyKeysMessage()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := Parse(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindRequest: "request", KindNotification: "notification", KindResponse: "response", 0: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

func TestTarget(t *testing.T) {
	tests := []struct {
		m      Message
		want   string
		wantOK bool
	}{
		{Message{Method: "tools/call", Name: "a", URI: "u"}, "a", true},
		{Message{Method: "prompts/get", Name: "p"}, "p", true},
		{Message{Method: "resources/read", Name: "n", URI: "u"}, "u", true},
		{Message{Method: "tools/list", Name: "n"}, "", false},
	}
	for _, tt := range tests {
		got, ok := tt.m.Target()
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s Target() = %q, %v; want %q, %v", tt.m.Method, got, ok, tt.want, tt.wantOK)
		}
	}
}

// benchCall is one tools/call as a 2026-07-28 client sends it (270 B).
const benchCall = `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"notes_update","arguments":{"id":1234,"title":"Shopping list","content":"- milk\n- eggs\n- bread","category":"home"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":"p-42"}}}`

func BenchmarkParse(b *testing.B) {
	body := []byte(benchCall)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}
