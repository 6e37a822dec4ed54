package scopecatalog

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock hands out timers that fire only when the test says so, and
// records the durations asked for.
type fakeClock struct {
	mu     sync.Mutex
	asked  []time.Duration
	timers chan chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{timers: make(chan chan time.Time, 100)} }

func (f *fakeClock) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	f.asked = append(f.asked, d)
	f.mu.Unlock()
	c := make(chan time.Time, 1)
	f.timers <- c
	return c
}

// fire waits for the next timer and fires it.
func (f *fakeClock) fire(t *testing.T) {
	t.Helper()
	select {
	case c := <-f.timers:
		c <- time.Time{}
	case <-time.After(5 * time.Second):
		t.Fatal("no timer was started")
	}
}

func (f *fakeClock) durations() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.asked)
}

// backend serves paged tools/list answers and can be down.
type backend struct {
	mu     sync.Mutex
	down   int // fail this many more fetches
	pages  map[string]page
	calls  []string
	called chan string
}

type page struct {
	entries []ToolEntry
	next    string
}

func (b *backend) fetch(ctx context.Context, cursor string) ([]ToolEntry, string, error) {
	b.mu.Lock()
	b.calls = append(b.calls, cursor)
	down := b.down > 0
	if down {
		b.down--
	}
	p, ok := b.pages[cursor]
	b.mu.Unlock()
	if b.called != nil {
		b.called <- cursor
	}
	if down {
		return nil, "", errors.New("connection refused")
	}
	if !ok {
		return nil, "", errors.New("unknown cursor")
	}
	return p.entries, p.next, nil
}

func waitReady(t *testing.T, d *Discoverer) {
	t.Helper()
	select {
	case <-d.Ready():
	case <-time.After(5 * time.Second):
		t.Fatalf("discovery not ready; last error %v", d.Err())
	}
}

func TestDiscoveryWalksPagesLazily(t *testing.T) {
	cat := mustNew(t, Config{})
	be := &backend{pages: map[string]page{
		"":   {[]ToolEntry{{"a", []string{"s:a"}}}, "c2"},
		"c2": {[]ToolEntry{{"b", []string{"s:b"}}}, "c3"},
		"c3": {[]ToolEntry{{"c", nil}}, ""},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := NewDiscoverer(ctx, cat, be.fetch, DiscoverOptions{After: newFakeClock().After})
	time.Sleep(10 * time.Millisecond)
	be.mu.Lock()
	if len(be.calls) != 0 {
		t.Fatalf("discovery started before first use")
	}
	be.mu.Unlock()
	d.Ensure()
	d.Ensure()
	waitReady(t, d)
	for _, n := range []string{"a", "b", "c"} {
		if _, known := cat.Required(Tool, n); !known {
			t.Errorf("tool %q not learned", n)
		}
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	if !slices.Equal(be.calls, []string{"", "c2", "c3"}) {
		t.Fatalf("fetched cursors %q", be.calls)
	}
}

func TestDiscoveryRetriesWithCappedBackoff(t *testing.T) {
	cat := mustNew(t, Config{})
	be := &backend{down: 6, pages: map[string]page{"": {[]ToolEntry{{"a", []string{"s"}}}, ""}}}
	clock := newFakeClock()
	var errs []error
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := NewDiscoverer(ctx, cat, be.fetch, DiscoverOptions{
		MinBackoff: time.Second, MaxBackoff: 5 * time.Second, After: clock.After,
		OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() },
	})
	d.Ensure()
	for range 6 {
		clock.fire(t)
	}
	waitReady(t, d)
	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second}
	if got := clock.durations(); !slices.Equal(got, want) {
		t.Fatalf("backoff %v, want %v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 6 {
		t.Fatalf("OnError called %d times, want 6", len(errs))
	}
	if d.Err() != nil {
		t.Fatalf("Err after success = %v", d.Err())
	}
}

func TestDiscoveryInvalidateRefreshes(t *testing.T) {
	cat := mustNew(t, Config{})
	be := &backend{pages: map[string]page{"": {[]ToolEntry{{"old", []string{"s"}}}, ""}}, called: make(chan string, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := NewDiscoverer(ctx, cat, be.fetch, DiscoverOptions{After: newFakeClock().After})
	d.Ensure()
	waitReady(t, d)
	<-be.called

	be.mu.Lock()
	be.pages[""] = page{[]ToolEntry{{"new", []string{"s2"}}}, ""}
	be.mu.Unlock()
	d.Invalidate()
	select {
	case <-be.called:
	case <-time.After(5 * time.Second):
		t.Fatal("Invalidate did not refetch")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, oldKnown := cat.Required(Tool, "old")
		_, newKnown := cat.Required(Tool, "new")
		if !oldKnown && newKnown {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("catalog not refreshed: old=%v new=%v", oldKnown, newKnown)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDiscoveryBoundedPages(t *testing.T) {
	tests := []struct {
		name  string
		pages map[string]page
		want  error
	}{
		{"cursor loop", map[string]page{
			"":  {[]ToolEntry{{"a", nil}}, "x"},
			"x": {[]ToolEntry{{"b", nil}}, "x"},
		}, ErrCursorLoop},
		{"too many pages", map[string]page{
			"":  {[]ToolEntry{{"a", nil}}, "1"},
			"1": {[]ToolEntry{{"b", nil}}, "2"},
			"2": {[]ToolEntry{{"c", nil}}, "3"},
		}, ErrTooManyPages},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat := mustNew(t, Config{})
			errc := make(chan error, 10)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			be := &backend{pages: tt.pages}
			d := NewDiscoverer(ctx, cat, be.fetch, DiscoverOptions{MaxPages: 2, After: newFakeClock().After, OnError: func(err error) { errc <- err }})
			d.Ensure()
			select {
			case err := <-errc:
				if !errors.Is(err, tt.want) {
					t.Fatalf("error %v, want %v", err, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no error reported")
			}
			// What was found is still learned.
			if _, known := cat.Required(Tool, "a"); !known {
				t.Fatalf("partial walk not merged")
			}
		})
	}
}

func TestDiscoveryStopsOnCancel(t *testing.T) {
	cat := mustNew(t, Config{})
	be := &backend{down: 1000}
	clock := newFakeClock()
	ctx, cancel := context.WithCancel(context.Background())
	d := NewDiscoverer(ctx, cat, be.fetch, DiscoverOptions{After: clock.After})
	d.Ensure()
	clock.fire(t) // it is retrying
	cancel()
	select {
	case <-d.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("goroutine did not stop after cancel")
	}
	select {
	case <-d.Ready():
		t.Fatal("ready without a successful discovery")
	default:
	}
}

func TestDiscoveryNeverStartedStopsNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	d := NewDiscoverer(ctx, mustNew(t, Config{}), (&backend{}).fetch, DiscoverOptions{})
	cancel()
	select {
	case <-d.Done():
		t.Fatal("Done closed though nothing ran")
	default:
	}
	// Starting after cancellation returns at once.
	d.Ensure()
	select {
	case <-d.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("goroutine started after cancel did not stop")
	}
}
