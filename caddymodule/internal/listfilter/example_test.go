package listfilter_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/scopegate/scopegate/caddymodule/internal/listfilter"
)

// The handler wraps the writer it hands to the next handler for a list
// request, and calls Finish when the next handler returned without error.
func ExampleResponseWriter() {
	held := map[string]bool{"notes:read": true}
	rw := &listfilter.Rewriter{
		RequestID: json.RawMessage(`1`),
		Allow: func(it listfilter.Item) bool {
			return held[strings.SplitN(it.Name, "_", 2)[0]+":read"]
		},
	}
	upstream := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\r\n")
		http.NewResponseController(w).Flush()
		io.WriteString(w, "data: \"result\":{\"tools\":[{\"name\":\"notes_list\"},{\"name\":\"files_delete\"}]}}\r\n\r\n")
	}

	rec := httptest.NewRecorder()
	w := listfilter.NewResponseWriter(rec, rw)
	upstream(w)
	if err := w.Finish(); err != nil {
		fmt.Println("replaced by an error:", err)
	}
	fmt.Print(rec.Body.String())
	// Output:
	// event: message
	// data: {"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"notes_list"}]}}
}
