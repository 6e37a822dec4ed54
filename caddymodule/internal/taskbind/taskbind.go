// Package taskbind remembers which subject created each MCP task and which
// tool it runs, so that the gateway can hold tasks/get, tasks/result,
// tasks/cancel and tasks/list to the rules of a direct call. Servers are
// not trusted to keep users' tasks apart: mcp-go 1.2.1 stores 2026-07-28
// tasks under one empty session, visible to every caller.
//
// Memory is bounded: a fixed number of bindings, the least recently used
// evicted first, each dropped when its expiry passes. A task id the store
// does not know (never seen, evicted, expired) is refused by the gateway
// as not found: failing closed costs a client at worst a task it can no
// longer poll. Task ids are kept as SHA-256 hashes.
package taskbind

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// Task is what the store knows about one task.
type Task struct {
	// Tool is the name of the tool the task runs.
	Tool string
}

// Store binds task ids to subjects and tools. It is safe for concurrent
// use.
type Store struct {
	capacity int
	maxTTL   time.Duration
	now      func() time.Time

	mu    sync.Mutex
	items map[[32]byte]*list.Element
	lru   *list.List // front: most recently used
}

type entry struct {
	task    [32]byte
	subject [32]byte
	tool    string
	expires time.Time
}

// New returns a store of at most capacity bindings, none kept longer than
// maxTTL. now is the clock; nil means time.Now.
func New(capacity int, maxTTL time.Duration, now func() time.Time) *Store {
	if capacity < 1 {
		capacity = 1
	}
	if now == nil {
		now = time.Now
	}
	return &Store{capacity: capacity, maxTTL: maxTTL, now: now, items: map[[32]byte]*list.Element{}, lru: list.New()}
}

func hash(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// Bind records that subject created taskID running tool, kept for ttl
// (the task's own ttl; capped at the store's maximum, which also applies
// when ttl is 0). It reports false, changing nothing, when the id is bound
// to another subject: a server that hands out a live id twice must not
// give the second subject the first one's task.
func (s *Store) Bind(taskID, subject, tool string, ttl time.Duration) bool {
	if taskID == "" {
		return false
	}
	if ttl <= 0 || ttl > s.maxTTL {
		ttl = s.maxTTL
	}
	key, sub := hash(taskID), hash(subject)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[key]; ok {
		e := el.Value.(*entry)
		if now.Before(e.expires) && e.subject != sub {
			return false
		}
		s.remove(el)
	}
	for s.lru.Len() >= s.capacity {
		s.remove(s.lru.Back())
	}
	s.items[key] = s.lru.PushFront(&entry{task: key, subject: sub, tool: tool, expires: now.Add(ttl)})
	return true
}

// Lookup returns the task taskID if subject created it and it has not
// expired; false otherwise, whoever else may have created it.
func (s *Store) Lookup(taskID, subject string) (Task, bool) {
	key := hash(taskID)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.items[key]
	if !ok {
		return Task{}, false
	}
	e := el.Value.(*entry)
	if !now.Before(e.expires) {
		s.remove(el)
		return Task{}, false
	}
	if e.subject != hash(subject) {
		return Task{}, false
	}
	s.lru.MoveToFront(el)
	return Task{Tool: e.tool}, true
}

// Len returns the number of bindings held, expired ones included until
// they are looked up or evicted.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

func (s *Store) remove(el *list.Element) {
	delete(s.items, el.Value.(*entry).task)
	s.lru.Remove(el)
}
