package listfilter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"strings"
	"testing"
)

// allowFor is the predicate of a token whose scopes are the letters of key:
// it sees the entries whose name (or uri) starts with one of them.
func allowFor(key string) func(Item) bool {
	return func(it Item) bool {
		n := it.Name + it.URI + it.URITemplate + it.TaskID
		return n != "" && strings.IndexByte(key, n[0]) >= 0
	}
}

func revealFor(Item) []string { return []string{"more"} }

// memoRewriter and plainRewriter filter alike for key; only the first
// remembers.
func memoRewriter(m *Memo, key string) *Rewriter {
	rw := plainRewriter(key)
	rw.Memo, rw.MemoKey = m, key
	return rw
}

func plainRewriter(key string) *Rewriter {
	return &Rewriter{Allow: allowFor(key), Reveal: revealFor, RequestID: json.RawMessage(`0`)}
}

func letterList(id string, names ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%s,"result":{"tools":[`, id)
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":%q,"description":"about %s"}`, n, n)
	}
	b.WriteString(`],"ttlMs":60000}}`)
	return b.Bytes()
}

func TestMemoHitPutsTheID(t *testing.T) {
	m := NewMemo(0, 0)
	names := []string{"alpha", "beta", "gamma", "apple"}
	for i, id := range []string{`1`, `2`, `"req-3"`, `null`, `-4.5e3`, `1`} {
		body := letterList(id, names...)
		got, err := memoRewriter(m, "ab").RewriteJSON(body)
		if err != nil {
			t.Fatal(err)
		}
		want, err := plainRewriter("ab").RewriteJSON(body)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("id %s: got %s, want %s", id, got, want)
		}
		if hits, _, _, _ := m.Stats(); hits != uint64(i) {
			t.Fatalf("after %d responses, %d hits; want %d", i+1, hits, i)
		}
	}
}

// TestMemoIDLast holds the TypeScript SDK's member order: id after result.
func TestMemoIDLast(t *testing.T) {
	m := NewMemo(0, 0)
	for i, id := range []string{`7`, `8`, `"x"`} {
		body := []byte(`{"result":{"tools":[{"name":"alpha"},{"name":"zeta"}],"ttlMs":5},"jsonrpc":"2.0","id":` + id + `}`)
		got, err := memoRewriter(m, "a").RewriteJSON(body)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := plainRewriter("a").RewriteJSON(body)
		if string(got) != string(want) {
			t.Fatalf("got %s, want %s", got, want)
		}
		if hits, _, _, _ := m.Stats(); hits != uint64(i) {
			t.Fatalf("%d hits after %d responses", hits, i+1)
		}
	}
}

// TestMemoNeverCrossesKeys: what one scope set was given is never served
// to another, and a response that differs anywhere but the id misses.
func TestMemoNeverCrossesKeys(t *testing.T) {
	m := NewMemo(0, 0)
	body := letterList("1", "alpha", "beta")
	a, _ := memoRewriter(m, "a").RewriteJSON(body)
	b, _ := memoRewriter(m, "b").RewriteJSON(letterList("2", "alpha", "beta"))
	if strings.Contains(string(b), "alpha") || !strings.Contains(string(b), "beta") {
		t.Fatalf("scope set b was given %s", b)
	}
	if strings.Contains(string(a), "beta") {
		t.Fatalf("scope set a was given %s", a)
	}
	changed := letterList("3", "alpha", "bravo")
	c, _ := memoRewriter(m, "ab").RewriteJSON(changed)
	if want, _ := plainRewriter("ab").RewriteJSON(changed); string(c) != string(want) {
		t.Fatalf("changed list answered %s, want %s", c, want)
	}
	if hits, _, _, _ := m.Stats(); hits != 0 {
		t.Fatalf("%d hits, want none", hits)
	}
}

// TestMemoCollisionIsAMiss forces every key and body to the same hash: the
// memo must then still answer each exactly as a fresh filter would.
func TestMemoCollisionIsAMiss(t *testing.T) {
	m := NewMemo(0, 0)
	m.hash = func(maphash.Seed, memoKey, []byte, []byte) uint64 { return 42 }
	bodies := [][]byte{letterList("1", "alpha", "beta"), letterList("1", "alpha", "bravo"), letterList("1", "beta")}
	for round := range 3 {
		for _, body := range bodies {
			for _, key := range []string{"a", "b", "ab"} {
				got, err := memoRewriter(m, key).RewriteJSON(body)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := plainRewriter(key).RewriteJSON(body)
				if string(got) != string(want) {
					t.Fatalf("round %d key %q: got %s, want %s", round, key, got, want)
				}
			}
		}
	}
	if _, _, entries, _ := m.Stats(); entries != 1 {
		t.Fatalf("%d entries under one hash", entries)
	}
}

// TestMemoNotRemembered lists what must be filtered afresh every time.
func TestMemoNotRemembered(t *testing.T) {
	cases := map[string]struct {
		body []byte
		rw   func(*Memo) *Rewriter
	}{
		"tasks are per subject": {
			body: []byte(`{"jsonrpc":"2.0","id":1,"result":{"tasks":[{"taskId":"a1"},{"taskId":"b2"}]}}`),
			rw:   func(m *Memo) *Rewriter { return memoRewriter(m, "a") },
		},
		"tasks beside tools": {
			body: []byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"}],"tasks":[]}}`),
			rw:   func(m *Memo) *Rewriter { return memoRewriter(m, "a") },
		},
		"no key": {
			body: letterList("1", "alpha"),
			rw:   func(m *Memo) *Rewriter { return memoRewriter(m, "") },
		},
		"OnResult": {
			body: letterList("1", "alpha"),
			rw: func(m *Memo) *Rewriter {
				rw := memoRewriter(m, "a")
				rw.OnResult = func([]byte) {}
				return rw
			},
		},
		"error response": {
			body: []byte(`{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x"}}`),
			rw:   func(m *Memo) *Rewriter { return memoRewriter(m, "a") },
		},
		"object id": {
			body: []byte(`{"jsonrpc":"2.0","id":{"a":1},"result":{"tools":[]}}`),
			rw:   func(m *Memo) *Rewriter { return memoRewriter(m, "a") },
		},
		"escaped key before id": {
			body: []byte(`{"json\u0072pc":"2.0","id":1,"result":{"tools":[]}}`),
			rw:   func(m *Memo) *Rewriter { return memoRewriter(m, "a") },
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			m := NewMemo(0, 0)
			for range 2 {
				if _, err := c.rw(m).RewriteJSON(c.body); err != nil {
					t.Fatal(err)
				}
			}
			if hits, _, entries, _ := m.Stats(); hits != 0 || entries != 0 {
				t.Fatalf("%d hits, %d entries; want none", hits, entries)
			}
		})
	}
}

func TestMemoReadPageDoesNotUseIt(t *testing.T) {
	// ReadPage makes its own Rewriter; this holds that a page state turns
	// the memo off even if one were set.
	rw := memoRewriter(NewMemo(0, 0), "a")
	rw.page = &pageState{}
	if rw.memoUsable() {
		t.Fatal("memo usable while reading a page")
	}
}

func TestMemoBounds(t *testing.T) {
	t.Run("entries", func(t *testing.T) {
		m := NewMemo(3, 0)
		for i := range 10 {
			if _, err := memoRewriter(m, fmt.Sprint(i)).RewriteJSON(letterList("1", "alpha")); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, entries, _ := m.Stats(); entries != 3 {
			t.Fatalf("%d entries, want 3", entries)
		}
		// The most recent stay.
		if _, err := memoRewriter(m, "9").RewriteJSON(letterList("2", "alpha")); err != nil {
			t.Fatal(err)
		}
		if hits, _, _, _ := m.Stats(); hits != 1 {
			t.Fatalf("%d hits, want 1", hits)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		body := letterList("1", strings.Split(strings.Repeat("abcdefgh", 40), "")...)
		bound := 40 * len(body)
		m := NewMemo(1000, bound)
		for i := range 40 {
			if _, err := memoRewriter(m, fmt.Sprint("a", i)).RewriteJSON(body); err != nil {
				t.Fatal(err)
			}
			if _, _, _, size := m.Stats(); size > bound {
				t.Fatalf("%d bytes held, bound %d", size, bound)
			}
		}
		if _, _, entries, _ := m.Stats(); entries == 0 || entries >= 40 {
			t.Fatalf("%d entries", entries)
		}
	})
	t.Run("too large for the memo", func(t *testing.T) {
		body := letterList("1", strings.Split(strings.Repeat("abcdefgh", 40), "")...)
		m := NewMemo(1000, 4*len(body))
		if _, err := memoRewriter(m, "a").RewriteJSON(body); err != nil {
			t.Fatal(err)
		}
		if _, _, entries, _ := m.Stats(); entries != 0 {
			t.Fatalf("%d entries", entries)
		}
	})
}

func TestMemoSSE(t *testing.T) {
	m := NewMemo(0, 0)
	for i := range 3 {
		body := benchList(Tools, fmt.Sprint(i), benchEntries)
		var got, want bytes.Buffer
		rw := benchRewriter()
		rw.Memo, rw.MemoKey = m, "app0"
		writeSSEChunks(t, &got, rw, sseStream(body))
		writeSSEChunks(t, &want, benchRewriter(), sseStream(body))
		if got.String() != want.String() {
			t.Fatalf("response %d: got %q, want %q", i, got.String(), want.String())
		}
	}
	if hits, _, _, _ := m.Stats(); hits != 2 {
		t.Fatalf("%d hits, want 2", hits)
	}
}

// TestMemoHitAllocs: a hit allocates the output and nothing else.
func TestMemoHitAllocs(t *testing.T) {
	m := NewMemo(0, 0)
	body := benchList(Tools, "1", benchEntries)
	rw := benchRewriter()
	rw.Memo, rw.MemoKey = m, "app0"
	if _, err := rw.RewriteJSON(body); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := rw.RewriteJSON(body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("%v allocations per hit, want 1", allocs)
	}
}

// FuzzMemo runs a sequence of responses, each filtered for one of three
// scope sets, through one shared memo (with a hash that collides often),
// and compares every answer with a fresh filter's. Whatever the bytes, a
// memo answer must be exactly what the filter would have answered: never
// what another scope set was given, never another response's list.
func FuzzMemo(f *testing.F) {
	f.Add(letterList("1", "alpha", "beta"), []byte{0, 1, 2, 0, 1, 2}, []byte("7"))
	f.Add(letterList("2", "alpha", "beta"), []byte{0x80, 0x81, 0x86, 0x84, 0x89}, []byte(`"z"`))
	f.Add([]byte(`{"result":{"tools":[{"name":"a"},{"name":"c"}],"ttlMs":1},"id":3,"jsonrpc":"2.0"}`), []byte{2, 2, 1, 0}, []byte(`"q"`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":"a","result":{"prompts":[{"name":"b"}],"_meta":{}}}`), []byte{1, 0, 1}, []byte(`null`))
	f.Fuzz(func(t *testing.T, body, ops, id []byte) {
		if len(ops) > 32 {
			ops = ops[:32]
		}
		if len(ops) == 0 {
			return
		}
		keys := []string{"a", "b", "ab"}
		m := NewMemo(4, 0)
		buckets := 1 + uint64(ops[0]%4) // 1: every entry collides
		m.hash = func(seed maphash.Seed, key memoKey, p, s []byte) uint64 {
			return memoHash(seed, key, p, s) % buckets
		}
		variants := [][]byte{body, withID(body, id), withID(body, []byte("99"))}
		for i, op := range ops {
			in := variants[int(op>>2)%len(variants)]
			key := keys[int(op)%len(keys)]
			got, gotErr := memoRewriter(m, key).RewriteJSON(in)
			want, wantErr := plainRewriter(key).RewriteJSON(in)
			if (gotErr == nil) != (wantErr == nil) || string(got) != string(want) {
				t.Fatalf("op %d key %q on %q:\n got %q, %v\nwant %q, %v", i, key, in, got, gotErr, want, wantErr)
			}
			if op&0x80 != 0 { // the same through the event-stream form
				var gotSSE, wantSSE bytes.Buffer
				stream := sseStream(in)
				writeSSEChunks(t, &gotSSE, memoRewriter(m, key), stream)
				writeSSEChunks(t, &wantSSE, plainRewriter(key), stream)
				if gotSSE.String() != wantSSE.String() {
					t.Fatalf("op %d key %q, SSE on %q:\n got %q\nwant %q", i, key, in, gotSSE.String(), wantSSE.String())
				}
			}
		}
	})
}

// withID returns body with the id findID finds replaced by id, or body.
func withID(body, id []byte) []byte {
	s, e, ok := findID(body)
	if !ok {
		return body
	}
	return bytes.Join([][]byte{body[:s], id, body[e:]}, nil)
}
