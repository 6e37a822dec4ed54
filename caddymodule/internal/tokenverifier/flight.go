package tokenverifier

import (
	"context"
	"fmt"
)

// flight is one call to the provider in progress (a key set or metadata
// fetch) that any number of requests can join. Whoever needs its result
// while it runs waits for it instead of deciding without it: a request
// must never be refused because another request happens to be fetching.
type flight[T any] struct {
	done chan struct{}
	val  T
	err  error
}

func newFlight[T any]() *flight[T] { return &flight[T]{done: make(chan struct{})} }

// finish records the result and wakes every waiter.
func (f *flight[T]) finish(val T, err error) {
	f.val, f.err = val, err
	close(f.done)
}

// wait returns the flight's result, or gives up when ctx ends: the
// request's own deadline bounds how long it waits, not the fetch's. Giving
// up is unavailability (503), never a verdict on the token.
func (f *flight[T]) wait(ctx context.Context, what string) (T, error) {
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("%s: %w: gave up waiting for the fetch in flight: %w", what, ErrUnavailable, context.Cause(ctx))
	}
}
