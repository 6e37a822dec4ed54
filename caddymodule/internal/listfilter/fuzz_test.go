package listfilter

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// writeChunked writes in to a fresh SSEWriter in chunks whose sizes come
// from cuts, and returns the output and whether the writer failed.
func writeChunked(in, cuts []byte) (string, bool) {
	var out bytes.Buffer
	s := NewSSEWriter(&out, &Rewriter{Allow: denyForbidden, RequestID: json.RawMessage(`1`)})
	s.MaxEventSize = 1 << 16
	failed := false
	for i := 0; len(in) > 0; i++ {
		n := len(in)
		if len(cuts) > 0 {
			n = min(n, int(cuts[i%len(cuts)])+1)
		}
		if _, err := s.Write(in[:n]); err != nil {
			failed = true
			break
		}
		in = in[n:]
	}
	if err := s.Close(); err != nil {
		failed = true
	}
	return out.String(), failed
}

// deniedEntries returns the entries of every list in data, read as a Go
// client reads it, that the predicate denies.
func deniedEntries(data string) []string {
	type entry struct {
		Name        string `json:"name"`
		URI         string `json:"uri"`
		URITemplate string `json:"uriTemplate"`
	}
	var msg struct {
		Result struct {
			Tools             []entry `json:"tools"`
			Resources         []entry `json:"resources"`
			ResourceTemplates []entry `json:"resourceTemplates"`
			Prompts           []entry `json:"prompts"`
		} `json:"result"`
	}
	if json.Unmarshal([]byte(data), &msg) != nil {
		return nil
	}
	var denied []string
	r := msg.Result
	for _, e := range slices.Concat(r.Tools, r.Resources, r.ResourceTemplates, r.Prompts) {
		if !denyForbidden(Item{Name: e.Name, URI: e.URI, URITemplate: e.URITemplate}) {
			denied = append(denied, e.Name+e.URI+e.URITemplate)
		}
	}
	return denied
}

// FuzzSSERewriter feeds arbitrary streams in arbitrary chunks. Properties:
// the output does not depend on how the input was split; no event a client
// reads from the output carries a list entry the predicate denies.
func FuzzSSERewriter(f *testing.F) {
	seeds := []string{
		"id: 7\nevent: message\ndata: " + listData + "\n\n",
		"\uFEFF: c\r\nretry: 5\rid: 1\r\n\r\n" + progressEvent + "data: {\"jsonrpc\":\"2.0\",\"id\":5,\r\ndata: \"result\":{\"tools\":[{\"name\":\"forbidden_b\"},{\"name\":\"ok\"}]}}\r\n\r\n",
		"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[],\"Tools\":[{\"name\":\"forbidden\"}]}}\n\n",
		"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"prompts\":[{\"name\":\"forbidden\"}],\"resources\":[{\"uri\":\"x://forbidden\"}],\"ttlMs\":1}}\n\n",
		"data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\ndata: [" + listData + "]\n\n",
		"id: 0\ndata:\n\n: ping\n\ndata: " + listData + "\n",
	}
	for i, s := range seeds {
		f.Add([]byte(s), []byte{byte(i), 3, 0, 17})
	}
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		whole, wholeFailed := writeChunked(in, nil)
		split, splitFailed := writeChunked(in, cuts)
		if whole != split || wholeFailed != splitFailed {
			t.Fatalf("output depends on chunking:\nwhole %q\nsplit %q", whole, split)
		}
		for _, ev := range parseSSE(split) {
			if d := deniedEntries(ev.Data); d != nil {
				t.Fatalf("denied entries %q reached the client in %q", d, ev.Data)
			}
		}
	})
}

// FuzzSSEStructured builds well-formed streams around a tools/list response
// with allowed and forbidden tools, with line endings, BOM, extra events,
// data-line splits and chunking chosen by the fuzzer. Properties: no
// forbidden name appears anywhere in the output, and the client reads
// exactly the allowed tools.
func FuzzSSEStructured(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7}, []byte{1})
	f.Add([]byte{255, 128, 7, 9, 13, 10, 0, 0, 1}, []byte{0, 0, 0})
	f.Add([]byte("mixed line endings and splits"), []byte{2, 250, 1})
	f.Fuzz(func(t *testing.T, ctl, cuts []byte) {
		next := func() byte {
			if len(ctl) == 0 {
				return 0
			}
			c := ctl[0]
			ctl = ctl[1:]
			return c
		}
		eol := func() string { return []string{"\n", "\r", "\r\n"}[int(next())%3] }

		names := realisticNames(int(next())%24 + 1)
		body := toolsList("9", names...)
		if next()%2 == 1 {
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, body, "", "  "); err != nil {
				t.Fatal(err)
			}
			body = pretty.Bytes()
		}
		var s strings.Builder
		// blank ends an event. After a CR, an LF would only complete that
		// CR's line end, so use CRLF then.
		blank := func() {
			e := eol()
			if e == "\n" && strings.HasSuffix(s.String(), "\r") {
				e = "\r\n"
			}
			s.WriteString(e)
		}
		if next()%2 == 1 {
			s.WriteString("\uFEFF")
		}
		for range int(next()) % 3 {
			switch next() % 3 {
			case 0:
				s.WriteString(": keepalive" + eol())
				blank()
			case 1:
				s.WriteString("id: p" + eol() + "data:" + eol())
				blank()
			case 2:
				s.WriteString("event: message" + eol() + `data: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}` + eol())
				blank()
			}
		}
		s.WriteString("id: 42" + eol() + "event: message" + eol())
		// Split the data into data lines where JSON allows whitespace: at
		// the pretty-printer's newlines, or between tools, as the fuzzer
		// chooses.
		text := string(body)
		if !strings.Contains(text, "\n") {
			parts := strings.Split(text, `},{"annotations"`)
			var b strings.Builder
			for i, p := range parts {
				if i > 0 {
					b.WriteString("},")
					if next()%2 == 1 {
						b.WriteString("\n")
					}
					b.WriteString(`{"annotations"`)
				}
				b.WriteString(p)
			}
			text = b.String()
		}
		for _, line := range strings.Split(text, "\n") {
			s.WriteString("data: " + line + eol())
		}
		blank()

		out, failed := writeChunked([]byte(s.String()), cuts)
		if failed {
			t.Fatalf("writer failed on a well-formed stream")
		}
		if strings.Contains(out, "forbidden") {
			t.Fatalf("forbidden name in output %q", out)
		}
		var allowed []string
		for _, n := range names {
			if !strings.Contains(n, "forbidden") {
				allowed = append(allowed, n)
			}
		}
		var listEvents int
		for _, ev := range parseSSE(out) {
			if ev.ID != "42" || !strings.Contains(ev.Data, `"result"`) {
				continue
			}
			listEvents++
			if got := goToolNames(t, []byte(ev.Data)); !slices.Equal(got, allowed) {
				t.Fatalf("client reads tools %v, want %v from %q", got, allowed, ev.Data)
			}
		}
		if listEvents != 1 {
			t.Fatalf("%d list events in output %q from %q", listEvents, out, s.String())
		}
	})
}

// FuzzRewriteJSON checks RewriteJSON against encoding/json: whatever it
// accepts, a Go client reads the output as exactly the input's entries
// that the predicate allows, in order, and nothing it denies.
func FuzzRewriteJSON(f *testing.F) {
	f.Add([]byte(listData))
	f.Add(toolsList("1", realisticNames(12)...))
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"forbidden","NAME":"ok"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[],"\u0074ools":[{"name":"forbidden"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"resources":[{"uri":"a\"\\forbidden"},{"uri":"ok\\\\"}],"ttlMs":3}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"prompts":[{"name":"x","arguments":[{"name":"forbidden"}]}],"cacheScope":"public"}}`,
		`{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"forbidden"}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"ok","_meta":{"scopegate/scopes":["a"]}}]}}`,
	} {
		f.Add([]byte(s))
	}
	type entry struct {
		Name        string `json:"name"`
		URI         string `json:"uri"`
		URITemplate string `json:"uriTemplate"`
	}
	type lists struct {
		Tools             []entry `json:"tools"`
		Resources         []entry `json:"resources"`
		ResourceTemplates []entry `json:"resourceTemplates"`
		Prompts           []entry `json:"prompts"`
	}
	read := func(b []byte) (lists, bool) {
		var m struct {
			Result *lists `json:"result"`
		}
		if json.Unmarshal(b, &m) != nil || m.Result == nil {
			return lists{}, false
		}
		return *m.Result, true
	}
	allowed := func(es []entry) []entry {
		var out []entry
		for _, e := range es {
			if denyForbidden(Item{Name: e.Name, URI: e.URI, URITemplate: e.URITemplate}) {
				out = append(out, e)
			}
		}
		return out
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := (&Rewriter{Allow: denyForbidden}).RewriteJSON(body)
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
		want := lists{allowed(in.Tools), allowed(in.Resources), allowed(in.ResourceTemplates), allowed(in.Prompts)}
		for i, pair := range [][2][]entry{{got.Tools, want.Tools}, {got.Resources, want.Resources}, {got.ResourceTemplates, want.ResourceTemplates}, {got.Prompts, want.Prompts}} {
			if !slices.Equal(pair[0], pair[1]) {
				t.Fatalf("list %d: client reads %v, want %v\nin  %q\nout %q", i, pair[0], pair[1], body, out)
			}
		}
	})
}
