package taskbind

import (
	"fmt"
	"testing"
	"time"
)

func TestStore(t *testing.T) {
	now := time.Unix(1000, 0)
	s := New(3, time.Hour, func() time.Time { return now })
	if !s.Bind("t1", "alice", "secret_tool", time.Minute) {
		t.Fatal("Bind t1 refused")
	}
	if task, ok := s.Lookup("t1", "alice"); !ok || task.Tool != "secret_tool" {
		t.Errorf("Lookup by the creator = %+v, %v", task, ok)
	}
	if _, ok := s.Lookup("t1", "mallory"); ok {
		t.Error("another subject found alice's task")
	}
	if _, ok := s.Lookup("unknown", "alice"); ok {
		t.Error("an unknown id was found")
	}
	if s.Bind("t1", "mallory", "x", 0) {
		t.Error("a live id was bound to a second subject")
	}
	if task, _ := s.Lookup("t1", "alice"); task.Tool != "secret_tool" {
		t.Error("the refused Bind changed the task")
	}
	// Expiry: the task's ttl, capped by the maximum.
	now = now.Add(2 * time.Minute)
	if _, ok := s.Lookup("t1", "alice"); ok {
		t.Error("an expired task was found")
	}
	s.Bind("long", "alice", "t", 100*time.Hour)
	now = now.Add(time.Hour + time.Second)
	if _, ok := s.Lookup("long", "alice"); ok {
		t.Error("a task outlived the maximum ttl")
	}
	// Capacity: the least recently used goes first.
	for i := range 5 {
		s.Bind(fmt.Sprint("c", i), "alice", "t", 0)
	}
	if s.Len() != 3 {
		t.Errorf("Len = %d, want 3", s.Len())
	}
	if _, ok := s.Lookup("c0", "alice"); ok {
		t.Error("the oldest binding survived past capacity")
	}
	if _, ok := s.Lookup("c4", "alice"); !ok {
		t.Error("the newest binding was evicted")
	}
	if s.Bind("", "alice", "t", 0) {
		t.Error("an empty id was bound")
	}
}
