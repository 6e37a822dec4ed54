package listfilter

import (
	"bytes"
	"testing"
)

func TestReadNotification(t *testing.T) {
	for _, tt := range []struct {
		data string
		want Notification
	}{
		{`{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"secret://doc"}}`, Notification{Method: "notifications/resources/updated", URI: "secret://doc"}},
		{`{"jsonrpc":"2.0","method":"notifications/tasks/status","params":{"taskId":"t1","status":"working"}}`, Notification{Method: "notifications/tasks/status", TaskID: "t1"}},
		{`{"jsonrpc":"2.0","id":3,"method":"elicitation/create","params":{"message":"m"}}`, Notification{Method: "elicitation/create"}},
		{`{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`, Notification{Method: "notifications/tools/list_changed"}},
		{`{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"demo://a","URI":"secret://doc"}}`, Notification{Ambiguous: true}},
		{`{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"demo://a","uri":"secret://doc"}}`, Notification{Ambiguous: true}},
		{`{"jsonrpc":"2.0","method":"x","Method":"notifications/resources/updated"}`, Notification{Ambiguous: true}},
	} {
		if got := readNotification([]byte(tt.data)); got != tt.want {
			t.Errorf("readNotification(%s) = %+v, want %+v", tt.data, got, tt.want)
		}
	}
}

// TestSSENotify: notifications Notify refuses are dropped from a stream,
// keeping their event id; the others and the responses pass.
func TestSSENotify(t *testing.T) {
	var out bytes.Buffer
	rw := &Rewriter{Allow: func(Item) bool { return true }, Notify: func(n Notification) bool { return n.URI != "secret://doc" }}
	s := NewSSEWriter(&out, rw)
	in := "id: 1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/resources/updated\",\"params\":{\"uri\":\"secret://doc\"}}\n\n" +
		"id: 2\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/resources/updated\",\"params\":{\"uri\":\"demo://a\"}}\n\n"
	if _, err := s.Write([]byte(in)); err != nil {
		t.Fatal(err)
	}
	want := "id: 1\n\nid: 2\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/resources/updated\",\"params\":{\"uri\":\"demo://a\"}}\n\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// TestTasksList: tasks/list entries are filtered by their taskId.
func TestTasksList(t *testing.T) {
	rw := &Rewriter{Allow: func(it Item) bool { return it.List == Tasks && it.TaskID == "mine" }}
	out, err := rw.RewriteJSON([]byte(`{"jsonrpc":"2.0","id":1,"result":{"tasks":[{"taskId":"theirs","status":"working"},{"taskId":"mine","status":"completed"}],"nextCursor":"c"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"jsonrpc":"2.0","id":1,"result":{"tasks":[{"taskId":"mine","status":"completed"}],"nextCursor":"c"}}`
	if string(out) != want {
		t.Errorf("got %s, want %s", out, want)
	}
	if _, err := rw.RewriteJSON([]byte(`{"jsonrpc":"2.0","id":1,"result":{"tasks":[{"taskId":"theirs","TaskId":"mine"}]}}`)); err == nil {
		t.Error("a case-variant taskId was not refused")
	}
	if l, ok := ListFor("tasks/list"); !ok || l != Tasks {
		t.Errorf("ListFor(tasks/list) = %q, %v", l, ok)
	}
}

// TestOnResult: the hook sees each response with a result, JSON or SSE,
// and no error response.
func TestOnResult(t *testing.T) {
	var seen []string
	rw := &Rewriter{Allow: func(Item) bool { return true }, OnResult: func(b []byte) { seen = append(seen, string(b)) }}
	if _, err := rw.RewriteJSON([]byte(`{"jsonrpc":"2.0","id":1,"result":{"task":{"taskId":"t1"}}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := rw.RewriteJSON([]byte(`{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m"}}`)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s := NewSSEWriter(&out, rw)
	if _, err := s.Write([]byte("data: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"task\":{\"taskId\":\"t2\"}}}\n\n")); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || !bytes.Contains([]byte(seen[0]), []byte("t1")) || !bytes.Contains([]byte(seen[1]), []byte("t2")) {
		t.Errorf("OnResult saw %q", seen)
	}
}

// TestTasksListHidesNothingAboutOthers: another subject's tasks are
// removed without a trace — no scopegate/hidden count, no ttlMs change —
// even when the hidden-entries annotation is on for the other lists.
func TestTasksListHidesNothingAboutOthers(t *testing.T) {
	rw := &Rewriter{
		Allow:  func(it Item) bool { return it.TaskID == "mine" },
		Reveal: func(Item) []string { return []string{"admin"} },
	}
	in := `{"jsonrpc":"2.0","id":1,"result":{"tasks":[{"taskId":"theirs","status":"working"},{"taskId":"mine","status":"completed"}],"ttlMs":5000}}`
	out, err := rw.RewriteJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"jsonrpc":"2.0","id":1,"result":{"tasks":[{"taskId":"mine","status":"completed"}],"ttlMs":5000,"cacheScope":"private"}}`
	if string(out) != want {
		t.Errorf("got %s, want %s", out, want)
	}
}
