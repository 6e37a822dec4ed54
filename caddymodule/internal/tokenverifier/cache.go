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
// so the token itself is never a key in memory. Identities and rejections
// live in two bounded LRUs: random tokens evict each other instead of
// growing memory, and however many bad tokens arrive they can never push
// a validated identity out (which would make its holder depend on the
// provider again, and let a flood turn a provider outage into refusals).
type resultCache struct {
	valid    *lru.Cache[[32]byte, cacheEntry]
	rejected *lru.Cache[[32]byte, cacheEntry]
}

func newResultCache(size, rejectedSize int) (*resultCache, error) {
	valid, err := lru.New[[32]byte, cacheEntry](size)
	if err != nil {
		return nil, err
	}
	rejected, err := lru.New[[32]byte, cacheEntry](rejectedSize)
	if err != nil {
		return nil, err
	}
	return &resultCache{valid: valid, rejected: rejected}, nil
}

func (c *resultCache) get(key [32]byte, now time.Time) (cacheEntry, bool) {
	for _, l := range []*lru.Cache[[32]byte, cacheEntry]{c.valid, c.rejected} {
		e, ok := l.Get(key)
		if !ok {
			continue
		}
		if !now.Before(e.until) {
			l.Remove(key)
			continue
		}
		return e, true
	}
	return cacheEntry{}, false
}

func (c *resultCache) put(key [32]byte, e cacheEntry) {
	if e.reason != "" {
		c.rejected.Add(key, e)
		return
	}
	c.valid.Add(key, e)
}

func (c *resultCache) len() int { return c.valid.Len() + c.rejected.Len() }
