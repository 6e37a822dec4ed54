package rpcmessage

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestErrorBody(t *testing.T) {
	tests := []struct {
		id   json.RawMessage
		code int
		msg  string
		want string
	}{
		{json.RawMessage(`7`), CodeInvalidRequest, "bad", `{"jsonrpc":"2.0","id":7,"error":{"code":-32600,"message":"bad"}}`},
		{json.RawMessage(`"a\u0062"`), -32020, `say "hi"`, `{"jsonrpc":"2.0","id":"a\u0062","error":{"code":-32020,"message":"say \"hi\""}}`},
		{nil, CodeParseError, "x", `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}`},
		{json.RawMessage(`{bad`), CodeParseError, "x", `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}`},
	}
	for _, tt := range tests {
		got := string(ErrorBody(tt.id, tt.code, tt.msg))
		if got != tt.want {
			t.Errorf("ErrorBody(%s) = %s, want %s", tt.id, got, tt.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("ErrorBody produced invalid JSON %s", got)
		}
	}
}

func TestErrorBodyFor(t *testing.T) {
	_, err := Parse([]byte(`[1]`))
	if got, want := string(ErrorBodyFor(nil, err)), `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch requests are not supported"}}`; got != want {
		t.Errorf("batch: %s, want %s", got, want)
	}
	err = CheckHeaders(map[string][]string{"Mcp-Method": {"x"}}, Message{Method: "ping"})
	if got, want := string(ErrorBodyFor(json.RawMessage(`3`), err)), `{"jsonrpc":"2.0","id":3,"error":{"code":-32020,"message":"header does not match body"}}`; got != want {
		t.Errorf("mismatch: %s, want %s", got, want)
	}
	if got, want := string(ErrorBodyFor(nil, errors.New("other"))), `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request"}}`; got != want {
		t.Errorf("other: %s, want %s", got, want)
	}
}
