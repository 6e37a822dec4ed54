package scopecatalog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// FetchFunc fetches one page of tools/list from the backend: the page's
// declared tools (undeclared ones left out) and the nextCursor, "" on the
// last page. The gateway implements it by sending tools/list through its
// next handler, as a client's request would go.
type FetchFunc func(ctx context.Context, cursor string) (page []ToolEntry, next string, err error)

// DiscoverOptions tunes a Discoverer. Zero values select the defaults.
type DiscoverOptions struct {
	// MaxPages bounds one walk of nextCursor; default 100.
	MaxPages int
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// failed attempts; defaults 500ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// After returns a channel that fires after d; default time.After.
	// Tests inject a fake clock here.
	After func(d time.Duration) <-chan time.Time
	// OnError, if set, is called after every failed attempt (for logging).
	OnError func(error)
}

// Errors of a walk that retrying would not fix. What the walk found is
// merged into the catalog, and the next Invalidate tries again.
var (
	ErrTooManyPages = errors.New("discovery: too many tools/list pages")
	ErrCursorLoop   = errors.New("discovery: tools/list cursor repeats")
)

// Discoverer keeps the catalog in step with the backend's tools. It does
// nothing until first used (Ensure or Invalidate): then one goroutine walks
// tools/list, retrying with capped exponential backoff while the backend is
// not up, and waits for the next Invalidate. The goroutine ends when the
// context given to NewDiscoverer is cancelled (a Caddy config unload).
type Discoverer struct {
	ctx   context.Context
	cat   *Catalog
	fetch FetchFunc
	opts  DiscoverOptions

	once      sync.Once
	trigger   chan struct{}
	ready     chan struct{}
	readyOnce sync.Once
	done      chan struct{}

	mu      sync.Mutex
	lastErr error
}

// NewDiscoverer returns a discoverer filling cat from fetch. ctx bounds its
// lifetime; pass the caddy.Context.
func NewDiscoverer(ctx context.Context, cat *Catalog, fetch FetchFunc, opts DiscoverOptions) *Discoverer {
	if opts.MaxPages <= 0 {
		opts.MaxPages = 100
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(30*time.Second, opts.MinBackoff)
	}
	if opts.After == nil {
		opts.After = time.After
	}
	return &Discoverer{
		ctx: ctx, cat: cat, fetch: fetch, opts: opts,
		trigger: make(chan struct{}, 1),
		ready:   make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// Ensure starts discovery if it has not started yet. It is cheap and does
// not block; call it on every request that needs the catalog.
func (d *Discoverer) Ensure() {
	d.once.Do(func() {
		d.signal()
		go d.run()
	})
}

// Invalidate schedules a new walk, for example after the gateway saw
// notifications/tools/list_changed. Several calls before the walk starts
// cause one walk.
func (d *Discoverer) Invalidate() {
	d.signal()
	d.Ensure()
}

func (d *Discoverer) signal() {
	select {
	case d.trigger <- struct{}{}:
	default:
	}
}

// Ready is closed after the first complete discovery. A request for a tool
// the catalog does not know yet may wait on it, with a timeout.
func (d *Discoverer) Ready() <-chan struct{} { return d.ready }

// Done is closed when the discovery goroutine has stopped.
func (d *Discoverer) Done() <-chan struct{} { return d.done }

// Err returns the error of the last attempt; nil after a success.
func (d *Discoverer) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastErr
}

func (d *Discoverer) setErr(err error) {
	d.mu.Lock()
	d.lastErr = err
	d.mu.Unlock()
	if err != nil && d.opts.OnError != nil {
		d.opts.OnError(err)
	}
}

func (d *Discoverer) run() {
	defer close(d.done)
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-d.trigger:
		}
		if !d.refresh() {
			return
		}
	}
}

// refresh walks until it succeeds or fails for good. It returns false when
// the context was cancelled.
func (d *Discoverer) refresh() bool {
	backoff := d.opts.MinBackoff
	for {
		entries, err := d.walk()
		if d.ctx.Err() != nil {
			return false
		}
		switch {
		case err == nil:
			d.cat.Replace(entries)
			d.setErr(nil)
			d.readyOnce.Do(func() { close(d.ready) })
			return true
		case errors.Is(err, ErrTooManyPages), errors.Is(err, ErrCursorLoop):
			d.cat.Learn(entries)
			d.setErr(err)
			return true
		}
		d.setErr(err)
		select {
		case <-d.ctx.Done():
			return false
		case <-d.opts.After(backoff):
		}
		backoff = min(2*backoff, d.opts.MaxBackoff)
		// The retry also serves an Invalidate that came meanwhile.
		select {
		case <-d.trigger:
		default:
		}
	}
}

// walk follows nextCursor from the first page.
func (d *Discoverer) walk() ([]ToolEntry, error) {
	var (
		all    []ToolEntry
		cursor string
		seen   = map[string]bool{}
	)
	for page := 0; page < d.opts.MaxPages; page++ {
		entries, next, err := d.fetch(d.ctx, cursor)
		if err != nil {
			return nil, fmt.Errorf("discovery: tools/list page %d: %w", page+1, err)
		}
		all = append(all, entries...)
		if next == "" {
			return all, nil
		}
		if seen[next] {
			return all, ErrCursorLoop
		}
		seen[next] = true
		cursor = next
	}
	return all, ErrTooManyPages
}
