package listfilter

import (
	"errors"
	"slices"
	"testing"
)

func TestReadPage(t *testing.T) {
	tests := []struct {
		name       string
		ct         string
		body       string
		wantNames  []string
		wantCursor string
		wantErr    error
	}{
		{"json page", "application/json", listData, []string{"allowed_a", "forbidden_b", "allowed_c"}, "n", nil},
		{"json last page", "application/json; charset=utf-8", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"x","_meta":{"scopegate/scopes":["s"]}}]}}`, []string{"x"}, "", nil},
		{"sse page", "text/event-stream", "id: 0\ndata:\n\n" + progressEvent + "event: message\r\ndata: " + listData + "\r\n\r\n", []string{"allowed_a", "forbidden_b", "allowed_c"}, "n", nil},
		{"error response", "application/json", `{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}}`, nil, "", ErrErrorResponse},
		{"sse error response", "text/event-stream", "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1,\"message\":\"x\"}}\n\n", nil, "", ErrErrorResponse},
		{"sse without response", "text/event-stream", progressEvent, nil, "", ErrNoResponse},
		{"sse incomplete response", "text/event-stream", "data: " + listData + "\n", nil, "", ErrNoResponse},
		{"sse two responses", "text/event-stream", "data: " + listData + "\n\ndata: " + listData + "\n\n", nil, "", ErrNoResponse},
		{"sse malformed event", "text/event-stream", "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[],\"Tools\":[]}}\n\n", nil, "", ErrMalformed},
		{"malformed json", "application/json", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a","name":"b"}]}}`, nil, "", ErrMalformed},
		{"cursor not a string", "application/json", `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"nextCursor":5}}`, nil, "", ErrMalformed},
		{"other media type", "text/plain", listData, nil, "", ErrUnexpectedType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ReadPage(tt.ct, []byte(tt.body))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ReadPage error %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			var names []string
			for _, it := range p.Items {
				names = append(names, it.Name)
			}
			if !slices.Equal(names, tt.wantNames) || p.NextCursor != tt.wantCursor {
				t.Fatalf("ReadPage = %v, cursor %q; want %v, %q", names, p.NextCursor, tt.wantNames, tt.wantCursor)
			}
		})
	}
}
