package caddymodule

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/caddymodule/internal/scopecatalog"
)

func TestListMemoKey(t *testing.T) {
	key := listMemoKey([]string{"b", "a"}, 3)
	cases := []struct {
		name    string
		scopes  []string
		version uint64
		same    bool
	}{
		{"same set", []string{"b", "a"}, 3, true},
		{"other order, a duplicate", []string{"a", "b", "a"}, 3, true},
		{"another version", []string{"a", "b"}, 4, false},
		{"a subset", []string{"a"}, 3, false},
		{"a superset", []string{"a", "b", "c"}, 3, false},
		{"separators inside scopes", []string{"a|1:b"}, 3, false},
	}
	for _, c := range cases {
		if got := listMemoKey(c.scopes, c.version) == key; got != c.same {
			t.Errorf("%s: same key %v, want %v", c.name, got, c.same)
		}
	}
	if listMemoKey([]string{"a b", "c"}, 1) == listMemoKey([]string{"a", "b c"}, 1) {
		t.Error("two scope sets share a key")
	}
}

// TestListMemoFollowsTokensAndCatalog: with the memo answering repeated
// lists, every token still gets its own list, and a change to what the
// catalog learned shows in the very next list.
func TestListMemoFollowsTokensAndCatalog(t *testing.T) {
	n := 0
	b := &fakeBackend{answer: func(w http.ResponseWriter, r *http.Request, rpc string) bool {
		if rpc != "tools/list" {
			return false
		}
		n++ // each answer with its own id, as a backend answers
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, strings.Replace(fakeToolsList, `"scopegate-discovery"`, fmt.Sprint(n), 1))
		return true
	}}
	g := enforcingGateway(t, b)
	list := func(tok string) []string {
		t.Helper()
		w := serveNext(t, g, b, post(tok, `{"jsonrpc":"2.0","id":5,"method":"tools/list"}`))
		var resp struct {
			ID     int `json:"id"`
			Result struct {
				Tools []struct {
					Name string `json:"name"`
				} `json:"tools"`
			} `json:"result"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatalf("%s: %v: %s", tok, err, w.Body)
		}
		if resp.ID != n {
			t.Fatalf("%s: id %d, want the backend's %d", tok, resp.ID, n)
		}
		var names []string
		for _, x := range resp.Result.Tools {
			names = append(names, x.Name)
		}
		slices.Sort(names)
		return names
	}
	want := map[string][]string{
		"good":  {"echo_read"},
		"alice": {"echo_read", "echo_write"},
		"bob":   {"echo_read", "echo_write"},
		"none":  nil,
	}
	for range 3 {
		for _, tok := range []string{"good", "alice", "none", "bob"} {
			if got := list(tok); !slices.Equal(got, want[tok]) {
				t.Fatalf("%s: %v, want %v", tok, got, want[tok])
			}
		}
	}
	if hits, _, _, _ := g.listMemo.Stats(); hits == 0 {
		t.Fatal("the memo never answered: this test would not test it")
	}
	// The catalog learns a declaration the list does not carry: the next
	// list must follow, not the remembered one.
	g.catalog.Learn([]scopecatalog.ToolEntry{{Name: "undeclared", Scopes: []string{"notes:read"}}})
	if got := list("good"); !slices.Equal(got, []string{"echo_read", "undeclared"}) {
		t.Fatalf("after learning: %v", got)
	}
}
