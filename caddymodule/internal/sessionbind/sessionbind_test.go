package sessionbind

import (
	"crypto/rand"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// clock is an injectable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func TestLookup(t *testing.T) {
	s := New(10, 0, time.Hour, newClock().now)
	s.Bind("sess-alice", "alice")
	s.Bind("sess-bob", "bob")
	tests := []struct {
		session, subject string
		want             Verdict
		wantCheck        bool
	}{
		{"sess-alice", "alice", Owned, true},
		{"sess-alice", "bob", Foreign, false}, // replayed by another subject
		{"sess-bob", "alice", Foreign, false},
		{"sess-bob", "bob", Owned, true},
		{"sess-carol", "carol", Unknown, false},
		{"", "alice", Unknown, false},
		{"SESS-ALICE", "alice", Unknown, false}, // ids are exact
		{"sess-alice", "Alice", Foreign, false}, // subjects are exact
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s by %s", tt.session, tt.subject), func(t *testing.T) {
			if got := s.Lookup(tt.session, tt.subject); got != tt.want {
				t.Errorf("Lookup = %v, want %v", got, tt.want)
			}
			if got := s.Check(tt.session, tt.subject); got != tt.wantCheck {
				t.Errorf("Check = %v, want %v", got, tt.wantCheck)
			}
		})
	}
}

func TestForeignLookupKeepsBinding(t *testing.T) {
	s := New(10, 0, time.Hour, nil)
	s.Bind("s", "alice")
	for range 3 {
		if s.Check("s", "mallory") {
			t.Fatal("replay by another subject accepted")
		}
	}
	if !s.Check("s", "alice") {
		t.Fatal("owner lost the session after a replay attempt")
	}
}

func TestBindRefusesTakeover(t *testing.T) {
	c := newClock()
	s := New(10, 0, time.Hour, c.now)
	if s.Bind("s", "alice") != Bound {
		t.Fatal("first Bind refused")
	}
	if s.Bind("s", "mallory") != Taken {
		t.Fatal("another subject took over a live session")
	}
	if !s.Check("s", "alice") || s.Check("s", "mallory") {
		t.Fatal("refused Bind changed the binding")
	}
	if s.Bind("s", "alice") != Bound {
		t.Fatal("rebinding to the owner refused")
	}
	// Once the binding has expired, the id is free again.
	c.advance(2 * time.Hour)
	if s.Bind("s", "bob") != Bound || !s.Check("s", "bob") {
		t.Fatal("expired binding blocks a new one")
	}
}

func TestForget(t *testing.T) {
	s := New(10, 0, time.Hour, nil)
	s.Bind("s", "alice")
	s.Forget("s")
	if s.Lookup("s", "alice") != Unknown || s.Len() != 0 {
		t.Fatal("Forget kept the binding")
	}
	s.Forget("never-bound") // no effect
	if s.Bind("", "alice") == Bound || s.Len() != 0 {
		t.Fatal("empty session id bound")
	}
}

func TestExpiry(t *testing.T) {
	c := newClock()
	s := New(10, 0, 10*time.Minute, c.now)
	s.Bind("a", "alice")
	s.Bind("b", "bob")
	c.advance(6 * time.Minute)
	if !s.Check("a", "alice") { // use resets a's idle timer
		t.Fatal("a expired early")
	}
	c.advance(6 * time.Minute) // b idle 12 min, a idle 6 min
	if got := s.Lookup("b", "bob"); got != Unknown {
		t.Fatalf("idle b = %v, want Unknown", got)
	}
	if !s.Check("a", "alice") {
		t.Fatal("a expired though used")
	}
	c.advance(11 * time.Minute)
	s.Bind("c", "carol") // sweeps a
	if s.Len() != 1 {
		t.Fatalf("Len = %d after sweep, want 1", s.Len())
	}
	// A foreign attempt does not keep a binding alive.
	c.advance(9 * time.Minute)
	s.Lookup("c", "mallory")
	c.advance(2 * time.Minute)
	if s.Lookup("c", "carol") != Unknown {
		t.Fatal("foreign lookup refreshed the binding")
	}
}

func TestEvictionBound(t *testing.T) {
	const capacity = 1000
	s := New(capacity, 0, time.Hour, nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var last string
	for range 100_000 {
		last = rand.Text()
		s.Bind(last, "subject-"+last[:4])
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if s.Len() != capacity || len(s.items) != capacity {
		t.Fatalf("Len = %d, map %d; want %d", s.Len(), len(s.items), capacity)
	}
	// A thousand fixed-size entries; allow generous slack for the map.
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 2<<20 {
		t.Fatalf("heap grew by %d bytes for %d bindings", grew, capacity)
	}
	if !s.Check(last, "subject-"+last[:4]) {
		t.Fatal("most recent binding evicted")
	}
}

func TestLRUOrder(t *testing.T) {
	s := New(2, 0, time.Hour, nil)
	s.Bind("a", "x")
	s.Bind("b", "y")
	s.Check("a", "x") // a is now most recently used
	s.Bind("c", "z")  // evicts b
	if !s.Check("a", "x") || s.Check("b", "y") || !s.Check("c", "z") {
		t.Fatal("least recently used binding not evicted first")
	}
}

func TestConcurrent(t *testing.T) {
	s := New(100, 0, time.Hour, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			sub := fmt.Sprint("user", g)
			for i := range 1000 {
				id := fmt.Sprintf("%d-%d", g, i)
				s.Bind(id, sub)
				s.Check(id, sub)
				s.Check(id, "other")
				if i%10 == 0 {
					s.Forget(id)
				}
			}
		})
	}
	wg.Wait()
	if s.Len() > 100 {
		t.Fatalf("Len = %d over capacity", s.Len())
	}
}

func BenchmarkCheck(b *testing.B) {
	s := New(10_000, 0, time.Hour, nil)
	s.Bind("3f1c2a9e-5b7d-4e61-9c1a-0d2b3c4e5f60", "user-1")
	b.ReportAllocs()
	for b.Loop() {
		if !s.Check("3f1c2a9e-5b7d-4e61-9c1a-0d2b3c4e5f60", "user-1") {
			b.Fatal("refused")
		}
	}
}

// TestPerSubjectLimit: one subject's initialize flood fills only its own
// share; other users' bindings survive and the flood gets TooMany.
func TestPerSubjectLimit(t *testing.T) {
	c := newClock()
	s := New(1000, 10, time.Hour, c.now)
	for i := range 100 {
		if s.Bind(fmt.Sprint("user-", i), fmt.Sprint("user", i)) != Bound {
			t.Fatalf("user %d could not bind", i)
		}
	}
	refused := 0
	for i := range 100_000 {
		switch s.Bind(fmt.Sprint("flood-", i), "mallory") {
		case TooMany:
			refused++
		case Taken:
			t.Fatal("a fresh id reported as taken")
		}
	}
	if refused != 100_000-10 {
		t.Errorf("flood: %d refused, want %d", refused, 100_000-10)
	}
	if !s.Full("mallory") || s.Full("user0") {
		t.Errorf("Full: mallory %v user0 %v", s.Full("mallory"), s.Full("user0"))
	}
	for i := range 100 {
		if !s.Check(fmt.Sprint("user-", i), fmt.Sprint("user", i)) {
			t.Fatalf("user %d lost its session to another subject's flood", i)
		}
	}
	// Rebinding an id the subject holds is no new binding.
	if s.Bind("flood-0", "mallory") != Bound {
		t.Error("rebinding an owned id refused at the limit")
	}
	// Forgetting and expiry give the share back.
	s.Forget("flood-0")
	if s.Bind("again", "mallory") != Bound {
		t.Error("no binding possible after Forget freed one")
	}
	c.advance(2 * time.Hour)
	if s.Full("mallory") || s.Bind("later", "mallory") != Bound {
		t.Error("expired bindings still count against the subject")
	}
	if s.Len() != 1 {
		t.Errorf("Len = %d after expiry, want 1", s.Len())
	}
}
