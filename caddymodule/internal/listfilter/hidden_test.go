package listfilter

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// revealForbidden says which scopes would reveal an entry denyForbidden
// hides: "x:<name>" for named entries, none for an entry named
// "forbidden_unknown" (no scope can reveal it).
func revealForbidden(it Item) []string {
	if strings.HasSuffix(it.Name, "unknown") {
		return nil
	}
	return []string{"x:write", "x:" + strings.TrimPrefix(it.Name+it.URI, "forbidden")}
}

func TestFilteredListsTTLAndHidden(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "nothing removed: ttlMs kept, no hidden member, bytes unchanged",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"}],"ttlMs":30000,"cacheScope":"public"}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"}],"ttlMs":30000,"cacheScope":"private"}}`,
		},
		{
			name: "filtered: ttlMs becomes 0 and _meta is added",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"},{"name":"forbidden_b"},{"name":"forbidden_c"}],"ttlMs":30000}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"}],"ttlMs":0,"cacheScope":"private","_meta":{"scopegate/hidden":{"count":2,"scopes":["x:_b","x:_c","x:write"]}}}}`,
		},
		{
			name: "filtered legacy list without ttlMs: only _meta",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"prompts":[{"name":"forbidden_p"}]}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"prompts":[],"_meta":{"scopegate/hidden":{"count":1,"scopes":["x:_p","x:write"]}}}}`,
		},
		{
			name: "an existing result _meta keeps its members",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"_meta":{"k":1},"resources":[{"uri":"forbidden://r"}],"ttlMs":5}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"_meta":{"scopegate/hidden":{"count":1,"scopes":["x:://r","x:write"]},"k":1},"resources":[],"ttlMs":0,"cacheScope":"private"}}`,
		},
		{
			name: "an empty result _meta",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden_x"}],"_meta":{ }}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"_meta":{"scopegate/hidden":{"count":1,"scopes":["x:_x","x:write"]}}}}`,
		},
		{
			name: "a null result _meta",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden_x"}],"_meta":null}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"_meta":{"scopegate/hidden":{"count":1,"scopes":["x:_x","x:write"]}}}}`,
		},
		{
			name: "the backend's own scopegate/hidden is replaced when filtered",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden_x"}],"_meta":{"scopegate/hidden":{"count":99,"scopes":["admin"]}}}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"_meta":{"scopegate/hidden":{"count":1,"scopes":["x:_x","x:write"]}}}}`,
		},
		{
			name: "the backend's own scopegate/hidden is zeroed when nothing was hidden",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"}],"_meta":{"a":true,"scopegate/hidden":{"count":99,"scopes":["admin"]}}}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"}],"_meta":{"a":true,"scopegate/hidden":{"count":0,"scopes":[]}}}}`,
		},
		{
			name: "an entry no scope reveals is counted, adds no scope",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden_unknown"}]}}`,
			want: `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"_meta":{"scopegate/hidden":{"count":1,"scopes":[]}}}}`,
		},
		{
			name: "error responses pass",
			in:   `{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"forbidden"}}`,
			want: `{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"forbidden"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rw := &Rewriter{Allow: denyForbidden, Reveal: revealForbidden}
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

// TestHiddenFromAGoClient reads the annotation the way a Go client does.
func TestHiddenFromAGoClient(t *testing.T) {
	rw := &Rewriter{Allow: denyForbidden, Reveal: revealForbidden}
	out, err := rw.RewriteJSON(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Result struct {
			Meta map[string]struct {
				Count  int      `json:"count"`
				Scopes []string `json:"scopes"`
			} `json:"_meta"`
		} `json:"result"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	h, ok := r.Result.Meta[HiddenMetaKey]
	if !ok || h.Count != 11 || len(h.Scopes) != 12 || h.Scopes[len(h.Scopes)-1] != "x:write" {
		t.Fatalf("hidden = %+v (present %v), want 11 hidden and 12 scopes", h, ok)
	}
}

func TestFilteredWithoutRevealCarriesNoHidden(t *testing.T) {
	rw := &Rewriter{Allow: denyForbidden}
	got, err := rw.RewriteJSON([]byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden"}],"ttlMs":7,"cacheScope":"public"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"ttlMs":0,"cacheScope":"private"}}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestHiddenRefusesAmbiguousMeta(t *testing.T) {
	for name, in := range map[string]string{
		"duplicate result _meta":      `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden"}],"_meta":{},"_meta":{}}}`,
		"case-variant result _Meta":   `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden"}],"_meta":{},"_META":{}}}`,
		"duplicate scopegate/hidden":  `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"_meta":{"scopegate/hidden":1,"scopegate/hidden":2}}}`,
		"result _meta not an object":  `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden"}],"_meta":[1]}}`,
		"duplicate readOnlyHint":      `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a","annotations":{"readOnlyHint":true,"readOnlyHint":false}}]}}`,
		"case-variant ReadOnlyHint":   `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a","annotations":{"readOnlyHint":true,"ReadOnlyHint":false}}]}}`,
		"duplicate annotations":       `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a","annotations":{},"annotations":{"readOnlyHint":true}}]}}`,
		"case-variant ttlMs when cut": `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden"}],"ttlMs":5,"TTLMS":5}}`,
	} {
		t.Run(name, func(t *testing.T) {
			rw := &Rewriter{Allow: denyForbidden, Reveal: revealForbidden}
			got, err := rw.RewriteJSON([]byte(in))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("RewriteJSON = %s, %v; want ErrMalformed", got, err)
			}
		})
	}
}

func TestReadOnlyHint(t *testing.T) {
	var got []Hint
	rw := &Rewriter{
		Allow: func(Item) bool { return true },
		Observe: func(_ List, items []Item) {
			for _, it := range items {
				got = append(got, it.ReadOnly)
			}
		},
	}
	body := `{"jsonrpc":"2.0","id":1,"result":{"tools":[` +
		`{"name":"r","annotations":{"title":"x","readOnlyHint":true}},` +
		`{"name":"w","annotations":{"readOnlyHint":false,"destructiveHint":true}},` +
		`{"name":"none","annotations":{"title":"y"}},` +
		`{"name":"null","annotations":null},` +
		`{"name":"bare"},` +
		`{"name":"odd","annotations":{"readOnlyHint":"yes"}}]}}`
	if _, err := rw.RewriteJSON([]byte(body)); err != nil {
		t.Fatal(err)
	}
	want := []Hint{HintReadOnly, HintWrite, HintNone, HintNone, HintNone, HintNone}
	if len(got) != len(want) {
		t.Fatalf("hints %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("hints %v, want %v", got, want)
		}
	}
}

// FuzzHiddenMeta checks the hidden annotation against encoding/json:
// whatever RewriteJSON accepts, a Go client reads in the output's
// result._meta exactly the count of entries it removed, ttlMs 0 when it
// removed any, and every other _meta member of the input unchanged.
func FuzzHiddenMeta(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"},{"name":"forbidden_b"}],"ttlMs":30000}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"_meta":{"k":[1,{"x":"}"}]},"resources":[{"uri":"forbidden://r"}],"ttlMs":5}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden_x"}],"_meta":{"scopegate/hidden":{"count":99}}}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden_x"}],"_meta":null,"prompts":[{"name":"forbidden_unknown"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a","annotations":{"readOnlyHint":true}}],"_meta":{ }}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden","annotations":{"readOnlyHint":true,"ReadOnlyHint":false}}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[],"_meta":{"scopegate/hidden":1,"Scopegate/Hidden":2}}}`,
	} {
		f.Add([]byte(s))
	}
	type result struct {
		Tools             []json.RawMessage          `json:"tools"`
		Resources         []json.RawMessage          `json:"resources"`
		ResourceTemplates []json.RawMessage          `json:"resourceTemplates"`
		Prompts           []json.RawMessage          `json:"prompts"`
		TTLMs             *float64                   `json:"ttlMs"`
		Meta              map[string]json.RawMessage `json:"_meta"`
	}
	read := func(b []byte) (result, bool) {
		var m struct {
			Result *result `json:"result"`
		}
		if json.Unmarshal(b, &m) != nil || m.Result == nil {
			return result{}, false
		}
		return *m.Result, true
	}
	count := func(r result) int {
		return len(r.Tools) + len(r.Resources) + len(r.ResourceTemplates) + len(r.Prompts)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := (&Rewriter{Allow: denyForbidden, Reveal: revealForbidden}).RewriteJSON(body)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid output %q from %q", out, body)
		}
		in, ok := read(body)
		got, gotOK := read(out)
		if !ok || !gotOK {
			if ok != gotOK {
				t.Fatalf("result readable in input %v, output %v", ok, gotOK)
			}
			return
		}
		removed := count(in) - count(got)
		var h struct {
			Count  int      `json:"count"`
			Scopes []string `json:"scopes"`
		}
		raw, has := got.Meta[HiddenMetaKey]
		if has {
			if err := json.Unmarshal(raw, &h); err != nil {
				t.Fatalf("hidden %s: %v\nin  %q\nout %q", raw, err, body, out)
			}
		}
		if removed > 0 && (!has || h.Count != removed) {
			t.Fatalf("removed %d, hidden says %s\nin  %q\nout %q", removed, raw, body, out)
		}
		if removed == 0 && has && h.Count != 0 {
			t.Fatalf("nothing removed, hidden says %s\nin  %q\nout %q", raw, body, out)
		}
		if removed > 0 && in.TTLMs != nil && (got.TTLMs == nil || *got.TTLMs != 0) {
			t.Fatalf("removed %d, ttlMs %v\nin  %q\nout %q", removed, got.TTLMs, body, out)
		}
		for k, v := range in.Meta {
			if k != HiddenMetaKey && string(got.Meta[k]) != string(v) {
				t.Fatalf("_meta[%q] was %s, is %s\nin  %q\nout %q", k, v, got.Meta[k], body, out)
			}
		}
	})
}
