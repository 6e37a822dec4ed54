package listfilter

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRewriteJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "forbidden tool removed, everything else kept byte for byte",
			in:   `{"jsonrpc":"2.0","id":"r-1","result":{"tools":[{"name":"a","x":"<&>"}, {"name":"forbidden_b"} ,{"name":"c"}],"nextCursor":"abc","extra":{"k":[1,2]}}}`,
			want: `{"jsonrpc":"2.0","id":"r-1","result":{"tools":[{"name":"a","x":"<&>"},{"name":"c"}],"nextCursor":"abc","extra":{"k":[1,2]}}}`,
		},
		{
			name: "nothing removed: body unchanged, whitespace included",
			in:   "{ \"jsonrpc\": \"2.0\", \"id\": 1,\n \"result\": { \"tools\": [ {\"name\": \"a\"} ] } }",
			want: "{ \"jsonrpc\": \"2.0\", \"id\": 1,\n \"result\": { \"tools\": [ {\"name\": \"a\"} ] } }",
		},
		{
			name: "all removed",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden_1"},{"name":"forbidden_2"}]}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`,
		},
		{
			name: "cacheScope public becomes private",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"ttlMs":60000,"cacheScope":"public"}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"ttlMs":60000,"cacheScope":"private"}}`,
		},
		{
			name: "ttlMs without cacheScope gets a private one; a filtered list gets ttlMs 0",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden"},{"name":"b"}],"ttlMs":5 }}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"b"}],"ttlMs":0 ,"cacheScope":"private"}}`,
		},
		{
			name: "resources by uri",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"resources":[{"uri":"nc://forbidden/1","name":"x"},{"uri":"nc://notes/1","name":"y"}]}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"resources":[{"uri":"nc://notes/1","name":"y"}]}}`,
		},
		{
			name: "resource templates by uriTemplate",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"resourceTemplates":[{"uriTemplate":"nc://forbidden/{id}","name":"x"},{"uriTemplate":"nc://notes/{id}","name":"y"}]}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"resourceTemplates":[{"uriTemplate":"nc://notes/{id}","name":"y"}]}}`,
		},
		{
			name: "prompts",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"prompts":[{"name":"p"},{"name":"forbidden_p"}]}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"prompts":[{"name":"p"}]}}`,
		},
		{
			name: "every list member is filtered, whatever the method",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden"}],"prompts":[{"name":"forbidden"}]}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"prompts":[]}}`,
		},
		{
			name: "error response passes unchanged",
			in:   `{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"forbidden_x not found"}}`,
			want: `{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"forbidden_x not found"}}`,
		},
		{
			name: "result without lists passes",
			in:   `{"jsonrpc":"2.0","id":1,"result":{}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{}}`,
		},
		{
			name: "null name and _meta",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":null,"_meta":null},{"name":"forbidden"}]}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":null,"_meta":null}]}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rw := &Rewriter{Allow: denyForbidden}
			got, err := rw.RewriteJSON([]byte(tt.in))
			if err != nil {
				t.Fatalf("RewriteJSON: %v", err)
			}
			if string(got) != tt.want {
				t.Fatalf("RewriteJSON =\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Fatalf("output is not valid JSON")
			}
		})
	}
}

func TestRewriteJSONRefuses(t *testing.T) {
	tests := []struct{ name, in string }{
		{"not json", `{"jsonrpc":"2.0","id":1,"result":{"tools":[`},
		{"empty", ``},
		{"batch of responses", `[{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden"}]}}]`},
		{"request instead of response", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`},
		{"method with result", `{"jsonrpc":"2.0","id":1,"method":"x","result":{"tools":[{"name":"forbidden"}]}}`},
		{"result and error", `{"jsonrpc":"2.0","id":1,"result":{},"error":{}}`},
		{"neither", `{"jsonrpc":"2.0","id":1}`},
		{"duplicate result", `{"jsonrpc":"2.0","id":1,"result":{"tools":[]},"result":{"tools":[{"name":"forbidden"}]}}`},
		{"case-variant Result", `{"jsonrpc":"2.0","id":1,"result":{"tools":[]},"Result":{"tools":[{"name":"forbidden"}]}}`},
		{"duplicate tools", `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"tools":[{"name":"forbidden"}]}}`},
		{"case-variant Tools", `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"Tools":[{"name":"forbidden"}]}}`},
		{"escaped duplicate tools", `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"\u0074ools":[{"name":"forbidden"}]}}`},
		{"duplicate name in entry", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"ok","name":"forbidden"}]}}`},
		{"case-variant Name in entry", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden","NAME":"ok"}]}}`},
		{"entry not an object", `{"jsonrpc":"2.0","id":1,"result":{"tools":["forbidden"]}}`},
		{"tools not an array", `{"jsonrpc":"2.0","id":1,"result":{"tools":{"name":"forbidden"}}}`},
		{"name not a string", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":["forbidden"]}]}}`},
		{"result not an object", `{"jsonrpc":"2.0","id":1,"result":[{"name":"forbidden"}]}`},
		{"trailing data", `{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden"}]}}`},
		{"trailing garbage", `{"jsonrpc":"2.0","id":1,"result":{"tools":[]}} x`},
		{"case-variant cacheScope", `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"cacheScope":"private","CacheScope":"public"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rw := &Rewriter{Allow: denyForbidden}
			got, err := rw.RewriteJSON([]byte(tt.in))
			if err == nil {
				t.Fatalf("RewriteJSON accepted it: %s", got)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if got != nil {
				t.Fatalf("returned a body with the error: %s", got)
			}
		})
	}
}

func TestObserveSeesEveryEntryBeforeAllow(t *testing.T) {
	var observed []Item
	allowCalls := 0
	rw := &Rewriter{
		Observe: func(list List, items []Item) {
			if allowCalls != 0 {
				t.Errorf("Observe called after Allow")
			}
			if list != Tools {
				t.Errorf("list %q, want tools", list)
			}
			observed = append(observed, items...)
		},
		Allow: func(it Item) bool { allowCalls++; return denyForbidden(it) },
	}
	body := `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a","_meta":{"scopegate/scopes":["x:read"]}},{"name":"forbidden","_meta":{"scopegate/scopes":["x:write"]}},{"name":"c"}]}}`
	if _, err := rw.RewriteJSON([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if len(observed) != 3 || allowCalls != 3 {
		t.Fatalf("observed %d entries, %d Allow calls; want 3 and 3", len(observed), allowCalls)
	}
	if observed[1].Name != "forbidden" || string(observed[1].Meta) != `{"scopegate/scopes":["x:write"]}` || observed[2].Meta != nil {
		t.Fatalf("observed %+v", observed)
	}
}

func TestListFor(t *testing.T) {
	for method, want := range map[string]List{"tools/list": Tools, "resources/list": Resources, "resources/templates/list": ResourceTemplates, "prompts/list": Prompts} {
		if got, ok := ListFor(method); !ok || got != want {
			t.Errorf("ListFor(%q) = %q, %v", method, got, ok)
		}
	}
	if _, ok := ListFor("tools/call"); ok {
		t.Errorf("ListFor(tools/call) reported a list")
	}
}

func TestErrorResponse(t *testing.T) {
	tests := []struct {
		id   json.RawMessage
		want string
	}{
		{json.RawMessage(`"x"`), `{"jsonrpc":"2.0","id":"x","error":{"code":-32603,"message":"list response could not be filtered"}}`},
		{nil, `{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"list response could not be filtered"}}`},
	}
	for _, tt := range tests {
		rw := &Rewriter{RequestID: tt.id}
		if got := string(rw.ErrorResponse()); got != tt.want {
			t.Errorf("ErrorResponse = %s, want %s", got, tt.want)
		}
	}
}

// TestRealisticList filters the 110-tool fixture and checks the result
// with a Go client's reading.
func TestRealisticList(t *testing.T) {
	body := fixture(t)
	rw := &Rewriter{Allow: denyForbidden}
	out, err := rw.RewriteJSON(body)
	if err != nil {
		t.Fatal(err)
	}
	all, kept := goToolNames(t, body), goToolNames(t, out)
	if len(all) != 110 {
		t.Fatalf("fixture has %d tools", len(all))
	}
	want := slices.DeleteFunc(slices.Clone(all), func(n string) bool { return strings.Contains(n, "forbidden") })
	if !slices.Equal(kept, want) || len(kept) == len(all) {
		t.Fatalf("kept %d tools %v, want %d", len(kept), kept, len(want))
	}
	if !strings.Contains(string(out), `"nextCursor":"Y3Vyc29yLTI="`) {
		t.Fatalf("nextCursor lost")
	}
}

// fixture returns testdata/tools_list_110.json, a tools/list response with
// 110 tools shaped like the backend's.
func fixture(t testing.TB) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", "tools_list_110.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFixtureIsCurrent(t *testing.T) {
	want := toolsList("1", realisticNames(110)...)
	if os.Getenv("UPDATE_FIXTURES") != "" {
		if err := os.WriteFile(filepath.Join("testdata", "tools_list_110.json"), want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := fixture(t); string(got) != string(want) {
		t.Fatalf("testdata/tools_list_110.json is stale; run with UPDATE_FIXTURES=1")
	}
}

func BenchmarkRewriteJSON110(b *testing.B) {
	body := fixture(b)
	rw := &Rewriter{Allow: denyForbidden}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := rw.RewriteJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}
