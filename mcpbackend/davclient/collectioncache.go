package davclient

import (
	"context"
	"slices"
	"time"

	"github.com/emersion/go-webdav/carddav"
)

// The collection cache spares the calendar or address book listing (a
// PROPFIND Depth 1 on the home, the most expensive request Nextcloud
// answers: it walks calendars, subscriptions, shares and privileges)
// before an operation on one named collection. Listings made to show the
// user or to scan every collection are always fresh and refill it.
//
// It is keyed by the exact credentials, not the user: what it holds
// (names, read-only flags) shows in error messages before any request,
// so only the credentials that listed it may see it. It can only be
// stale for collectionsTTL, and never silently wrong:
// resolving a name the cached list lacks asks the server again, every
// write to a collection drops it, and so does any refused request of the
// user (a collection deleted elsewhere answers 404, one made read-only
// 403), so the next call sees the server's state.
const collectionsTTL = 60 * time.Second

type collectionsEntry struct {
	cals    []Calendar
	calsAt  time.Time
	books   []carddav.AddressBook
	booksAt time.Time
}

func (c *Client) cachedCollections(ctx context.Context) (collectionsEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cols[credentialsKey(ctx)]
	return e, ok
}

func (c *Client) storeCollections(ctx context.Context, set func(*collectionsEntry)) {
	key := credentialsKey(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cols[key]; !ok && len(c.cols) >= maxHomesCache {
		now := time.Now()
		for k, e := range c.cols {
			if now.Sub(e.calsAt) > collectionsTTL && now.Sub(e.booksAt) > collectionsTTL {
				delete(c.cols, k)
			}
		}
		if len(c.cols) >= maxHomesCache {
			clear(c.cols)
		}
	}
	e := c.cols[key]
	set(&e)
	c.cols[key] = e
}

// ForgetCollections drops the caller's cached calendar and address book
// lists; the next resolution of a name lists them again.
func (c *Client) ForgetCollections(ctx context.Context) {
	key := credentialsKey(ctx)
	c.mu.Lock()
	delete(c.cols, key)
	c.mu.Unlock()
}

// CachedCalendars is Calendars, answered from the caller's listing of the
// last collectionsTTL when there is one. Use it to resolve a calendar by
// name (FindCalendar does, asking again on a miss), not to show or scan
// every calendar.
func (c *Client) CachedCalendars(ctx context.Context) ([]Calendar, error) {
	if e, ok := c.cachedCollections(ctx); ok && e.cals != nil && time.Since(e.calsAt) < collectionsTTL {
		return slices.Clone(e.cals), nil
	}
	return c.Calendars(ctx)
}

// AddressBooks lists the user's address books, fresh from the server.
func (c *Client) AddressBooks(ctx context.Context) ([]carddav.AddressBook, error) {
	h, err := c.Homes(ctx)
	if err != nil {
		return nil, err
	}
	books, err := c.card.FindAddressBooks(ctx, h.AddressBooks)
	if err != nil {
		return nil, c.ForgetHomesOn(ctx, err)
	}
	if books == nil {
		books = []carddav.AddressBook{}
	}
	c.storeCollections(ctx, func(e *collectionsEntry) { e.books, e.booksAt = slices.Clone(books), time.Now() })
	return books, nil
}

// CachedAddressBooks is AddressBooks from the caller's listing of the last
// collectionsTTL when there is one, for resolving a book by name.
func (c *Client) CachedAddressBooks(ctx context.Context) ([]carddav.AddressBook, error) {
	if e, ok := c.cachedCollections(ctx); ok && e.books != nil && time.Since(e.booksAt) < collectionsTTL {
		return slices.Clone(e.books), nil
	}
	return c.AddressBooks(ctx)
}

// TextFilterRefused tells whether the server refused an addressbook-query
// text-match filter before, so searches read address books whole.
func (c *Client) TextFilterRefused() bool { return c.noTextFilter.Load() }

// RefuseTextFilter records that the server cannot filter by text.
func (c *Client) RefuseTextFilter() { c.noTextFilter.Store(true) }
