package tokenverifier

import (
	"strings"
	"sync"
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

// identityEntry is how a validated identity is stored: only what the
// decisions need, the expiry as a number, and scope lists and client ids
// shared between the tokens that hold the same (see interner). A hundred
// thousand of them must fit in 64 MiB (TestCacheMemory100k).
type identityEntry struct {
	subject, clientID, user, kind string
	scopes                        []string
	// expiry is Identity.Expiry in Unix nanoseconds; 0 when the token did
	// not say.
	expiry int64
	until  time.Time
}

// rejectionEntry is a remembered rejection.
type rejectionEntry struct {
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
	valid    *lru.Cache[[32]byte, identityEntry]
	rejected *lru.Cache[[32]byte, rejectionEntry]
	shared   interner
}

func newResultCache(size, rejectedSize int) (*resultCache, error) {
	valid, err := lru.New[[32]byte, identityEntry](size)
	if err != nil {
		return nil, err
	}
	rejected, err := lru.New[[32]byte, rejectionEntry](rejectedSize)
	if err != nil {
		return nil, err
	}
	return &resultCache{valid: valid, rejected: rejected}, nil
}

// get returns the result remembered for key unless it has ended by now
// (and then forgets it).
func (c *resultCache) get(key [32]byte, now time.Time) (cacheEntry, bool) {
	if e, ok := c.valid.Get(key); ok {
		if now.Before(e.until) {
			return cacheEntry{id: e.identity(), until: e.until}, true
		}
		c.valid.Remove(key)
	}
	if e, ok := c.rejected.Get(key); ok {
		if now.Before(e.until) {
			return cacheEntry{reason: e.reason, until: e.until}, true
		}
		c.rejected.Remove(key)
	}
	return cacheEntry{}, false
}

func (c *resultCache) put(key [32]byte, e cacheEntry) {
	if e.reason != "" {
		c.rejected.Add(key, rejectionEntry{reason: e.reason, until: e.until})
		return
	}
	ie := identityEntry{
		subject:  e.id.Subject,
		clientID: c.shared.str(e.id.ClientID),
		user:     e.id.User,
		kind:     e.id.Kind,
		scopes:   c.shared.scopes(e.id.Scopes),
		until:    e.until,
	}
	if !e.id.Expiry.IsZero() {
		ie.expiry = e.id.Expiry.UnixNano()
	}
	c.valid.Add(key, ie)
}

func (e identityEntry) identity() Identity {
	id := Identity{Subject: e.subject, ClientID: e.clientID, Scopes: e.scopes, User: e.user, Kind: e.kind}
	if e.expiry != 0 {
		id.Expiry = time.Unix(0, e.expiry)
	}
	return id
}

func (c *resultCache) len() int { return c.valid.Len() + c.rejected.Len() }

// maxShared bounds the interner: past it, values are stored unshared.
const maxShared = 4096

// interner shares the values many cached identities hold alike: a
// provider issues a handful of scope combinations to a handful of
// clients, and a copy of each per token would be most of the cache's
// memory. Shared scope lists are read-only, as every Identity's are.
type interner struct {
	mu      sync.Mutex
	scopeOf map[string][]string
	strs    map[string]string
}

func (in *interner) scopes(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	key := strings.Join(s, " ")
	in.mu.Lock()
	defer in.mu.Unlock()
	if shared, ok := in.scopeOf[key]; ok && equalStrings(shared, s) {
		return shared
	}
	if in.scopeOf == nil {
		in.scopeOf = map[string][]string{}
	}
	if len(in.scopeOf) >= maxShared {
		return s
	}
	// One string holds every scope of the list; the list slices it.
	shared := make([]string, len(s))
	off := 0
	for i, sc := range s {
		shared[i] = key[off : off+len(sc)]
		off += len(sc) + 1
	}
	in.scopeOf[key] = shared
	return shared
}

func (in *interner) str(s string) string {
	if s == "" {
		return ""
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if shared, ok := in.strs[s]; ok {
		return shared
	}
	if in.strs == nil {
		in.strs = map[string]string{}
	}
	if len(in.strs) >= maxShared {
		return s
	}
	s = strings.Clone(s)
	in.strs[s] = s
	return s
}

// equalStrings compares two lists; the joined key cannot tell
// ["a b"] from ["a", "b"].
func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
