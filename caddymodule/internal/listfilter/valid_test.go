package listfilter

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidJSON(t *testing.T) {
	cases := []string{
		``, ` `, `{}`, `[]`, ` {"a":1} `, `{"a":1,}`, `[1,]`, `[,1]`, `{"a"}`, `{"a":}`, `{1:2}`, `{"a" : [ 1 , 2 ] , "b" : { } }`,
		`"`, `"abc`, `"a\"b"`, `"a\\"`, `"\u00e9\uD800"`, `"\u00g0"`, `"\x"`, `"\/\b\f\n\r\t"`, "\"a\x01b\"", "\"a\x7fb\"",
		"\"\xff\xfe\"", "\"caf\xc3\xa9\"", `"0123456789abcdef\"0123456789abcdef"`, "\"0123456\x1f89abcdef\"",
		`0`, `-0`, `-`, `01`, `1.`, `1.5`, `.5`, `1e`, `1e+`, `1e+5`, `1E-05`, `-1.5e3`, `+1`, `1 2`, `[1 2]`, `[1true]`,
		`true`, `tru`, `truex`, `false`, `null`, `nul`, `nulll`, `[null,true,false]`, `{"a":nul}`,
		`{"a":1}}`, `[[]`, `[]]`, `{"a":[}]`, "\t\r\n[\t1\r]\n", "\v1", "1\x00",
		listData, string(fixture(t)),
	}
	for _, c := range cases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("validJSON(%q) = %v, json.Valid says %v", c, got, want)
		}
	}
}

func TestValidJSONDepth(t *testing.T) {
	for _, depth := range []int{maxDepth - 1, maxDepth, maxDepth + 1} {
		for _, open := range []string{"[", `{"a":`} {
			closeBy := map[string]string{"[": "]", `{"a":`: "}"}[open]
			doc := []byte(strings.Repeat(open, depth) + "1" + strings.Repeat(closeBy, depth))
			if got, want := validJSON(doc), json.Valid(doc); got != want {
				t.Errorf("depth %d of %s: validJSON %v, json.Valid %v", depth, open, got, want)
			}
		}
	}
}

// FuzzValidJSON holds validJSON to json.Valid, which the walker's
// correctness rests on.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,-2.5e3,"x\u00e9\n",true,false,null,{}]}`, listData, `"\ud800"`, "[\"\x01\"]", `01`, ` [ ] `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := validJSON(data), json.Valid(data); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", data, got, want)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	body := benchList(Tools, "1", benchEntries)
	b.Run("json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			json.Valid(body)
		}
	})
	b.Run("validJSON", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			validJSON(body)
		}
	})
}

// TestUnicodeFoldedKeys: keys that differ from a member only by Unicode
// simple folding (long s, Kelvin sign), raw or escaped, are as ambiguous as
// ASCII case variants: encoding/json matches them to the member.
func TestUnicodeFoldedKeys(t *testing.T) {
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[],"tool\u017f":[{"name":"forbidden"}]}}`,
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[],\"tool\u017f\":[{\"name\":\"forbidden\"}]}}",
		`{"jsonrpc":"2.0","id":1,"result":{"tasks":[{"taskId":"a","tas\u212aId":"b"}]}}`,
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tasks\":[{\"taskId\":\"a\",\"tas\u212aId\":\"b\"}]}}",
		`{"jsonrpc":"2.0","id":1,"re\u017fult":{"tools":[]},"result":{"tools":[]}}`,
	} {
		if _, err := (&Rewriter{Allow: denyForbidden}).RewriteJSON([]byte(body)); err == nil {
			t.Errorf("accepted %s", body)
		}
	}
}
