package tokenverifier

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// cacheEntry is one remembered result: an identity, or the reason a token
// was rejected.
type cacheEntry struct {
	id     Identity
	reason string
	until  time.Time
}

// resultCache remembers validation results by the SHA-256 of the token,
// so the token itself is never a key in memory. It is a bounded LRU: random
// tokens evict each other instead of growing memory.
type resultCache struct {
	lru *lru.Cache[[32]byte, cacheEntry]
}

func newResultCache(size int) (*resultCache, error) {
	c, err := lru.New[[32]byte, cacheEntry](size)
	if err != nil {
		return nil, err
	}
	return &resultCache{lru: c}, nil
}

func (c *resultCache) get(key [32]byte, now time.Time) (cacheEntry, bool) {
	e, ok := c.lru.Get(key)
	if !ok {
		return cacheEntry{}, false
	}
	if !now.Before(e.until) {
		c.lru.Remove(key)
		return cacheEntry{}, false
	}
	return e, true
}

func (c *resultCache) put(key [32]byte, e cacheEntry) { c.lru.Add(key, e) }

func (c *resultCache) len() int { return c.lru.Len() }
