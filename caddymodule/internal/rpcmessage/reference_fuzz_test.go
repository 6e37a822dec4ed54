package rpcmessage

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// sameAsReference fails unless Parse and the Decoder-based reference
// parser agree on body: both accept it with the same Message, or both
// refuse it with the same reason and code.
func sameAsReference(t testing.TB, body []byte) {
	t.Helper()
	got, gerr := Parse(body)
	want, werr := refParse(body)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("body %q: Parse error %v, reference error %v", body, gerr, werr)
	}
	if gerr != nil {
		g, _ := errors.AsType[*Error](gerr)
		w, _ := errors.AsType[*Error](werr)
		if g == nil || w == nil || g.Reason != w.Reason || g.Code != w.Code {
			t.Fatalf("body %q: Parse refuses with %v, reference with %v", body, gerr, werr)
		}
		return
	}
	if got.Kind != want.Kind || got.Method != want.Method || !bytes.Equal(got.ID, want.ID) ||
		got.Name != want.Name || got.URI != want.URI || got.Cursor != want.Cursor ||
		got.ProtocolVersion != want.ProtocolVersion || got.HasResult != want.HasResult || got.HasError != want.HasError ||
		got.TaskID != want.TaskID || got.HasTask != want.HasTask ||
		(got.Ref == nil) != (want.Ref == nil) || (got.Ref != nil && *got.Ref != *want.Ref) ||
		!slices.Equal(got.Subscriptions, want.Subscriptions) || (got.Subscriptions == nil) != (want.Subscriptions == nil) {
		t.Fatalf("body %q:\nParse     %+v ref %+v\nreference %+v ref %+v", body, got, got.Ref, want, want.Ref)
	}
}

// referenceSeeds are bodies that probe the scanner's own reading: every
// JSON token in every position the parser treats specially.
var referenceSeeds = []string{
	`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"notes_update","arguments":{"id":1234,"title":"Shopping list","content":"- milk\n- eggs","n":[1.5e3,-0,true,false,null,{}]},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":"p-42"}}}`,
	`{"jsonrpc":"2\u002e0","id":"\ud83d\ude00","method":"tools/\u0063all","params":{"name":"caf\u00e9\ud800"}}`,
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\xffb\"}}",
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"n\xc3\xa4me\":\"a\",\"name\":\"b\"}}",
	" \t\r\n{ \"jsonrpc\" : \"2.0\" , \"id\" : -1.5e+2 , \"method\" : \"ping\" } \n",
	`{"jsonrpc":"2.0","id":1,"method":"ping"} 1`,
	`{"jsonrpc":"2.0","id":1,"method":"ping"} "x"`,
	`{"jsonrpc":"2.0","id":1,"method":"ping"} 01`,
	`{"jsonrpc":"2.0","id":1,"method":"ping"} ]`,
	`{"jsonrpc":"2.0","id":1,"method":"ping"}tru`,
	`{"jsonrpc":"2.0","id":1,"method":"ping"}null `,
	`{"jsonrpc":2,"id":1,"method":"ping"}`,
	`{"jsonrpc":tru,"id":1,"method":"ping"}`,
	`{"jsonrpc":{"a":},"id":1,"method":"ping"}`,
	`{"jsonrpc":"2.0","id":01,"method":"ping"}`,
	`{"jsonrpc":"2.0","id":1.,"method":"ping"}`,
	`{"jsonrpc":"2.0","id":[1],"method":"ping"}`,
	`{"jsonrpc":"2.0","id":1,"method":null}`,
	`{"jsonrpc":"2.0","id":1,"method":nul}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":12}}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":1x}}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":true}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":[]}}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":5}}}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":null}}}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call",}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call" "x":1}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","x":[1,]}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","x":{"a" 1}}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","x":"\u12g4"}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","x":"\x"}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","x":[[[{"a":[{}]}]]]}`,
	`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"}}}`,
	`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":null}}`,
	`{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":null}}}`,
	`{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["a",1]}}}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","task":null}}`,
	`{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"t"}}`,
	`{"jsonrpc":"2.0","id":1,"result":{},"x":1}`,
	`{"jsonrpc":"2.0","id":1,"error":{}}`,
	`{"jsonrpc":"2.0","id":1,"method":"x","params":{"name":"a"`,
	`{"jsonrpc":"2.0","id":1,"method":"x","params":{"name":"a`,
	`{"jsonrpc":"2.0","id":1,"method":"x","params":{"name":"a\`,
	`{"jsonrpc":"2.0","id":1,"method":"x","params":{"name":"\u12`,
	`{"jsonrpc":"2.0","id":1,"method":"x","params":{"name":"a"}}` + "\x00",
	`{"jsonrpc":"2.0","id":1,"method":"x","params":{"name":"a"}} {`,
	`{"jsonrpc":"2.0","id":1,"method":"x","params":{"name":"a"}} {"`,
	`{"jsonrpc":"2.0","id":1,"method":"x"` + strings.Repeat(",\"k\":[", 3) + "1]]]}",
}

func TestParseMatchesReference(t *testing.T) {
	for _, tt := range adversarial {
		if tt.name == "deeply nested junk" {
			continue // see TestParseDepthAsUnmarshal
		}
		sameAsReference(t, []byte(tt.body))
	}
	for _, s := range referenceSeeds {
		sameAsReference(t, []byte(s))
	}
}

// FuzzParseMatchesReference: Parse reads every body exactly as the
// Decoder-based parser it replaced did.
func FuzzParseMatchesReference(f *testing.F) {
	for _, tt := range adversarial {
		if tt.name != "deeply nested junk" {
			f.Add([]byte(tt.body))
		}
	}
	for _, s := range referenceSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sameAsReference(t, body)
	})
}

// TestParseDepthAsUnmarshal: nesting is limited as json.Unmarshal limits
// it, counted from the top of the body, so that no body Parse accepts is
// one mcp-go cannot decode. (The reference parser counted from each
// skipped value and accepted a little deeper.)
func TestParseDepthAsUnmarshal(t *testing.T) {
	for _, args := range []int{maxDepth - 2, maxDepth - 1} {
		body := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":` +
			strings.Repeat("[", args) + strings.Repeat("]", args) + `}}`)
		_, err := Parse(body)
		if valid := json.Valid(body); (err == nil) != valid {
			t.Errorf("nesting %d: Parse error %v, json.Valid %v", args+2, err, valid)
		}
		if err != nil && !errors.Is(err, ErrInvalidJSON) {
			t.Errorf("nesting %d: Parse error %v, want invalid json", args+2, err)
		}
	}
}

// TestParseAllocations holds the hot path lean: one tools/call costs an
// allocation for its id and one for its name, and never more than a
// dozen.
func TestParseAllocations(t *testing.T) {
	body := []byte(benchCall)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Parse(body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 12 {
		t.Fatalf("Parse of a tools/call: %.0f allocations, want at most 12", allocs)
	}
	t.Logf("%.0f allocations", allocs)
}
