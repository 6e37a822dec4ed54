// Package sessionbind binds legacy MCP sessions (Mcp-Session-Id, protocol
// revisions up to 2025-11-25) to the subject they were created for, so that
// a session id leaked to or guessed by another user is answered as if it
// did not exist. The MCP specification asks servers to bind session ids to
// user-specific information; mcp-go's default session manager mints ids
// without binding them, so the gateway does.
//
// The binding itself is stateless (wrap.go, keyring.go): the client holds
// the backend's id under a MAC over it and the subject, keyed by a secret
// kept in Caddy storage, so every replica sharing that storage, and a
// restarted one, verifies it with no shared table.
//
// Store is what one replica remembers besides: the sessions created
// through it, counted per subject so that one subject's initialize flood
// is refused (TooMany) once it holds its share, and the subject each such
// backend id was created for, so that a backend handing out one id twice
// cannot join two users in one session (Taken). Memory is bounded: a fixed
// number of bindings, least recently used evicted first, each idle binding
// expiring after a TTL; a subject above its share is refused, never given
// someone else's entry. Keys are SHA-256 hashes of the session id and
// subject, so an entry has a fixed size whatever a client sends.
package sessionbind

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// Verdict is what the store knows about a session id for a subject.
type Verdict uint8

// The verdicts of Lookup.
const (
	// Unknown: never bound, or evicted, expired or forgotten since.
	Unknown Verdict = iota
	// Owned: bound to this subject.
	Owned
	// Foreign: bound to another subject.
	Foreign
)

// BindResult is the outcome of Bind.
type BindResult uint8

// The results of Bind.
const (
	// Bound: the id is now bound to the subject (or already was).
	Bound BindResult = iota
	// Taken: the id is still bound to another subject; nothing changed.
	Taken
	// TooMany: the subject already holds its maximum of bindings.
	TooMany
)

// Store binds session ids to subjects. It is safe for concurrent use.
type Store struct {
	capacity   int
	perSubject int
	ttl        time.Duration
	now        func() time.Time

	mu    sync.Mutex
	items map[[32]byte]*list.Element
	lru   *list.List // front: most recently used
	// held counts the bindings of each subject (absent: none).
	held map[[32]byte]int
}

type entry struct {
	session  [32]byte
	subject  [32]byte
	lastUsed time.Time
}

// New returns a store holding at most capacity bindings, at most
// perSubject of them for one subject (0, or more than capacity: no limit
// of its own), each
// dropped after idleTTL without use. now is the clock; nil means time.Now.
func New(capacity, perSubject int, idleTTL time.Duration, now func() time.Time) *Store {
	if capacity < 1 {
		capacity = 1
	}
	if perSubject <= 0 {
		perSubject = capacity
	}
	if now == nil {
		now = time.Now
	}
	return &Store{
		capacity:   capacity,
		perSubject: perSubject,
		ttl:        idleTTL,
		now:        now,
		items:      make(map[[32]byte]*list.Element, min(capacity, 1024)),
		lru:        list.New(),
		held:       map[[32]byte]int{},
	}
}

func hash(s string) [32]byte {
	// A stack buffer spares typical ids (UUIDs) an allocation.
	var buf [128]byte
	return sha256.Sum256(append(buf[:0], s...))
}

// Bind records that sessionID was created for subject; the handler calls
// it with the Mcp-Session-Id header of a successful initialize response.
//
// It returns Taken, and changes nothing, when the id is still bound to
// another subject: a backend that hands out a live session id again (one
// that echoes an id the client sent, say) must not let the new subject take
// over the first one's session. The handler must then not pass the response
// on (answer 502). Binding an id to its own subject again refreshes it.
// TooMany, changing nothing, when the subject already holds its share of
// bindings (the handler answers 429).
func (s *Store) Bind(sessionID, subject string) BindResult {
	if sessionID == "" {
		return Taken
	}
	key, sub := hash(sessionID), hash(subject)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	if el, ok := s.items[key]; ok {
		e := el.Value.(*entry)
		switch {
		case s.expired(e, now):
			s.remove(el) // free again; bound anew below
		case e.subject != sub:
			return Taken
		default:
			e.lastUsed = now
			s.lru.MoveToFront(el)
			return Bound
		}
	}
	if s.held[sub] >= s.perSubject {
		return TooMany
	}
	for s.lru.Len() >= s.capacity {
		s.remove(s.lru.Back())
	}
	s.items[key] = s.lru.PushFront(&entry{session: key, subject: sub, lastUsed: now})
	s.held[sub]++
	return Bound
}

// Full reports whether subject already holds its share of bindings, so
// the handler can refuse an initialize before the backend creates a
// session. Bind enforces the limit in any case.
func (s *Store) Full(subject string) bool {
	sub := hash(subject)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	return s.held[sub] >= s.perSubject
}

// Lookup says whether sessionID is bound to subject. An Owned binding's
// idle timer is reset.
func (s *Store) Lookup(sessionID, subject string) Verdict {
	key := hash(sessionID)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.items[key]
	if !ok {
		return Unknown
	}
	e := el.Value.(*entry)
	if s.expired(e, now) {
		s.remove(el)
		return Unknown
	}
	if e.subject != hash(subject) {
		return Foreign
	}
	e.lastUsed = now
	s.lru.MoveToFront(el)
	return Owned
}

// Check reports whether a request of subject may use sessionID: only if
// the id is bound to that subject. The handler answers false with 404, as
// for a session that does not exist. Unknown ids are refused too: after an
// eviction, an expiry or a restart, a spec-following client receiving 404
// starts a new session, which binds again.
func (s *Store) Check(sessionID, subject string) bool {
	return s.Lookup(sessionID, subject) == Owned
}

// Forget drops a binding, after a successful DELETE of the session.
func (s *Store) Forget(sessionID string) {
	key := hash(sessionID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[key]; ok {
		s.remove(el)
	}
}

// Len returns the number of bindings held, expired ones included until
// they are swept.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

func (s *Store) expired(e *entry, now time.Time) bool {
	return s.ttl > 0 && now.Sub(e.lastUsed) > s.ttl
}

// expire sweeps expired bindings from the least recently used end, where
// they collect; it stops at the first live one.
func (s *Store) expire(now time.Time) {
	for el := s.lru.Back(); el != nil; el = s.lru.Back() {
		if !s.expired(el.Value.(*entry), now) {
			return
		}
		s.remove(el)
	}
}

func (s *Store) remove(el *list.Element) {
	e := el.Value.(*entry)
	delete(s.items, e.session)
	if s.held[e.subject]--; s.held[e.subject] <= 0 {
		delete(s.held, e.subject)
	}
	s.lru.Remove(el)
}
