package rpcmessage

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

// encodeHeader encodes a value for Mcp-Name the way SEP-2243 clients do:
// Base64 in the sentinel for anything but plain printable ASCII, and for
// values that would read as the sentinel.
func encodeHeader(s string) string {
	plain := s == "" || (s[0] != ' ' && s[len(s)-1] != ' ')
	for i := 0; plain && i < len(s); i++ {
		plain = s[i] >= 0x20 && s[i] <= 0x7e
	}
	if plain && !(strings.HasPrefix(s, base64Prefix) && strings.HasSuffix(s, base64Suffix)) {
		return s
	}
	return base64Prefix + base64.StdEncoding.EncodeToString([]byte(s)) + base64Suffix
}

// FuzzParse checks that Parse never panics and that whatever it accepts,
// encoding/json (and therefore mcp-go) reads as the same method, name and
// uri. Header checking must accept the headers a client derives from the
// accepted message.
func FuzzParse(f *testing.F) {
	for _, tt := range adversarial {
		f.Add([]byte(tt.body))
	}
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"notes_create","arguments":{"title":"x"}}}`,
		`{"jsonrpc":"2.0","id":1,"\u006dethod":"tools/\u0063all","params":{"n\u0061me":"t"}}`,
		`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"files_delete"}}`,
		`{"jsonrpc":"2.0","id":"s1","result":{"action":"accept"}}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"cursor":"c2","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"nc://n\u00f6tes/1"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Parse(body)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Parse returned %T, want *Error", err)
			}
			return
		}
		if m.Kind == KindResponse {
			if m.Method != "" || m.ID == nil {
				t.Fatalf("response with method or without id: %+v", m)
			}
			return
		}
		sameAsGo(t, body, m)
		h := http.Header{}
		h.Set(HeaderMethod, m.Method)
		if target, ok := m.Target(); ok {
			h.Set(HeaderName, encodeHeader(target))
		}
		if err := CheckHeaders(h, m); err != nil {
			t.Fatalf("CheckHeaders refused the headers of the body itself: %v", err)
		}
	})
}
