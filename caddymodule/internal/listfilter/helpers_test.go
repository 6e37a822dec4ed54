package listfilter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// denyForbidden allows every entry except those whose name, uri or
// uriTemplate contains "forbidden".
func denyForbidden(it Item) bool {
	return !strings.Contains(it.Name+it.URI+it.URITemplate, "forbidden")
}

// toolsList builds a tools/list response with the named tools, each with a
// description, an input schema and scopegate/scopes in _meta, as mcp-go
// writes them.
func toolsList(id string, names ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%s,"result":{"tools":[`, id)
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"annotations":{"readOnlyHint":%t,"destructiveHint":false,"idempotentHint":true,"openWorldHint":false},`+
			`"description":"Tool %s does a thing with a <note> & returns \u00e9 results.\nSecond line.",`+
			`"inputSchema":{"type":"object","properties":{"id":{"type":"integer","description":"The item id"},"title":{"type":"string","description":"A title"},"tags":{"type":"array","items":{"type":"string"}}},"required":["id"]},`+
			`"name":%q,"_meta":{"scopegate/scopes":["app%d:read","app%d:write"]}}`, i%2 == 0, n, n, i%8, i%8)
	}
	b.WriteString(`],"nextCursor":"Y3Vyc29yLTI="}}`)
	return b.Bytes()
}

// realisticNames returns n tool names, every tenth of them forbidden.
func realisticNames(n int) []string {
	apps := []string{"notes", "files", "sharing", "deck", "cookbook", "tables", "calendar", "contacts"}
	verbs := []string{"list", "get", "create", "update", "delete", "search", "move", "copy", "share", "export", "import", "archive", "restore", "tag"}
	names := make([]string, n)
	for i := range names {
		names[i] = apps[i%len(apps)] + "_" + verbs[(i/len(apps))%len(verbs)] + fmt.Sprint(i)
		if i%10 == 3 {
			names[i] = "forbidden_" + names[i]
		}
	}
	return names
}

// goToolNames decodes data the way a Go client (mcp-go) does and returns the
// tool names it would show.
func goToolNames(t testing.TB, data []byte) []string {
	t.Helper()
	var r struct {
		Result struct {
			Tools []struct {
				Name string `json:"name"`
			} `json:"tools"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil
	}
	names := make([]string, len(r.Result.Tools))
	for i, tl := range r.Result.Tools {
		names[i] = tl.Name
	}
	return names
}

// sseEvent is an event as a WHATWG reader dispatches it, plus the last
// event id it had seen.
type sseEvent struct {
	Type, Data, ID string
}

// parseSSE is an independent, whole-input reading of an event stream by
// the WHATWG rules, used to check what a client sees.
func parseSSE(s string) []sseEvent {
	s = strings.TrimPrefix(s, "\uFEFF")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var (
		out         []sseEvent
		typ, lastID string
		data        strings.Builder
		lines       = strings.Split(s, "\n")
	)
	// The last element is an incomplete line (or empty): never processed.
	for _, line := range lines[:len(lines)-1] {
		if line == "" {
			if data.Len() > 0 {
				d := strings.TrimSuffix(data.String(), "\n")
				if typ == "" {
					typ = "message"
				}
				out = append(out, sseEvent{Type: typ, Data: d, ID: lastID})
			}
			data.Reset()
			typ = ""
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
		case "event":
			typ = value
		case "id":
			if !strings.Contains(value, "\x00") {
				lastID = value
			}
		}
	}
	return out
}
