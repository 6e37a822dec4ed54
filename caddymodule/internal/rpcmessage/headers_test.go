package rpcmessage

import (
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
)

func TestCheckHeaders(t *testing.T) {
	call := Message{Kind: KindRequest, Method: "tools/call", Name: "notes_list"}
	read := Message{Kind: KindRequest, Method: "resources/read", URI: "nc://notes/ü"}
	list := Message{Kind: KindRequest, Method: "tools/list"}
	b64 := func(s string) string { return "=?base64?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?=" }

	tests := []struct {
		name    string
		headers map[string][]string
		m       Message
		wantErr bool
	}{
		{"no headers", nil, call, false},
		{"matching headers", map[string][]string{"Mcp-Method": {"tools/call"}, "Mcp-Name": {"notes_list"}}, call, false},
		{"method only", map[string][]string{"Mcp-Method": {"tools/call"}}, call, false},
		{"Mcp-Method lies", map[string][]string{"Mcp-Method": {"tools/list"}}, call, true},
		{"Mcp-Name lies about the body", map[string][]string{"Mcp-Method": {"tools/call"}, "Mcp-Name": {"notes_read"}}, call, true},
		{"Mcp-Name differs by case", map[string][]string{"Mcp-Name": {"Notes_list"}}, call, true},
		{"Mcp-Method sent twice", map[string][]string{"Mcp-Method": {"tools/call", "tools/call"}}, call, true},
		{"Mcp-Name sent twice", map[string][]string{"Mcp-Name": {"notes_list", "x"}}, call, true},
		{"empty Mcp-Method", map[string][]string{"Mcp-Method": {""}}, call, true},
		{"base64 uri matches", map[string][]string{"Mcp-Name": {b64("nc://notes/ü")}}, read, false},
		{"plain uri mismatch", map[string][]string{"Mcp-Name": {"nc://notes/u"}}, read, true},
		{"base64 name lies", map[string][]string{"Mcp-Name": {b64("files_delete")}}, call, true},
		{"base64 name matches", map[string][]string{"Mcp-Name": {b64("notes_list")}}, call, false},
		{"invalid base64", map[string][]string{"Mcp-Name": {"=?base64?***?="}}, call, true},
		{"Mcp-Name on a method without name", map[string][]string{"Mcp-Name": {"x"}}, list, true},
		{"empty Mcp-Name on a method without name", map[string][]string{"Mcp-Name": {""}}, list, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, vs := range tt.headers {
				for _, v := range vs {
					h.Add(k, v)
				}
			}
			err := CheckHeaders(h, tt.m)
			if (err != nil) != tt.wantErr {
				t.Fatalf("CheckHeaders = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			e, ok := errors.AsType[*Error](err)
			if !ok || e.Code != CodeHeaderMismatch || !errors.Is(err, ErrHeaderMismatch) {
				t.Fatalf("error %#v, want *Error with code %d", err, CodeHeaderMismatch)
			}
		})
	}
}

func TestDecodeHeaderValue(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"plain", "plain", true},
		{"", "", true},
		{"=?base64?aMOk?=", "hä", true},
		{"=?base64?aMOk", "=?base64?aMOk", true}, // no suffix: not the sentinel
		{"=?base64?!!?=", "", false},
	}
	for _, tt := range tests {
		got, ok := DecodeHeaderValue(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("DecodeHeaderValue(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
