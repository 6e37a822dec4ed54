package listfilter

import (
	"bytes"
	"container/list"
	"encoding/json"
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
)

// Memo remembers filtered list responses. A backend answers every
// tools/list with the same bytes but for the JSON-RPC id, and the gateway
// would parse and filter those 45 KB again for every request. With a Memo,
// a response whose bytes equal a remembered one's except for its id, filtered
// for a Rewriter with the same MemoKey, is answered from memory with the id
// put in.
//
// Why a hit can never serve what another token was given, or another list:
//   - the key is the whole Rewriter.MemoKey string and the response's bytes
//     outside the id; a 64-bit hash only finds the candidate, which is then
//     compared byte for byte (key and bytes), so a hash collision is a miss;
//   - the new id must be a lone JSON string, number or null: since the
//     bytes around it are those of a response that was parsed and found
//     unambiguous, and it replaces a scalar token, the new response reads
//     exactly as the old one did but for the id, and the filter's output
//     differs from the old output exactly there (the filter never looks at
//     the id of a response it keeps);
//   - responses that depend on more than the key and the bytes are never
//     remembered: task lists (per subject, and tasks come and go), and
//     Rewriters with OnResult or reading a page for discovery.
//
// A Memo is bounded in entries and bytes (least recently used first out)
// and safe for concurrent use.
type Memo struct {
	maxEntries, maxBytes int
	seed                 maphash.Seed
	hash                 func(seed maphash.Seed, key memoKey, prefix, suffix []byte) uint64 // tests force collisions

	mu    sync.Mutex
	byKey map[uint64]*list.Element // of *memoEntry
	lru   list.List                // front: most recently used
	size  int

	hits, misses atomic.Uint64
}

// memoEntry is one remembered response. It is never modified once stored.
type memoEntry struct {
	hash   uint64
	key    memoKey
	prefix []byte // the response's bytes before its id
	suffix []byte // and after it
	outPre []byte // the filtered response's bytes before the id
	outSuf []byte // and after it
}

func (e *memoEntry) size() int {
	const overhead = 200 // entry, list element, map slot
	return overhead + len(e.key.key) + len(e.prefix) + len(e.suffix) + len(e.outPre) + len(e.outSuf)
}

// Default bounds of a Memo: enough for every page of a few hundred
// distinct scope sets' lists, small beside the gateway's other memory.
const (
	DefaultMemoEntries = 512
	DefaultMemoBytes   = 16 << 20
)

// NewMemo returns a Memo of at most maxEntries responses taking at most
// maxBytes (≤ 0 means the default). A response larger than an eighth of
// maxBytes is not remembered, so that one large list cannot flush the rest.
func NewMemo(maxEntries, maxBytes int) *Memo {
	if maxEntries <= 0 {
		maxEntries = DefaultMemoEntries
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMemoBytes
	}
	return &Memo{
		maxEntries: maxEntries,
		maxBytes:   maxBytes,
		seed:       maphash.MakeSeed(),
		hash:       memoHash,
		byKey:      map[uint64]*list.Element{},
	}
}

func memoHash(seed maphash.Seed, key memoKey, prefix, suffix []byte) uint64 {
	// One maphash.Bytes call per part: hashing 45 KB through maphash.Hash
	// goes 128 bytes at a time and costs several times more.
	h := maphash.String(seed, key.key)
	h = mix(h, maphash.Bytes(seed, prefix))
	h = mix(h, maphash.Bytes(seed, suffix))
	h = mix(h, uint64(len(prefix))) // the split point
	if key.reveal {
		h = mix(h, 1)
	}
	return h
}

// mix combines two hashes (a multiply-rotate step; the parts are already
// well mixed, this only keeps them from cancelling).
func mix(h, v uint64) uint64 {
	return bits.RotateLeft64((h^v)*0x9E3779B97F4A7C15, 29) ^ v
}

// Stats returns the number of hits and misses so far, and the entries and
// bytes held now.
func (m *Memo) Stats() (hits, misses uint64, entries, size int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits.Load(), m.misses.Load(), m.lru.Len(), m.size
}

// memoKey is the Rewriter's key with what the Rewriter itself adds to the
// output: whether the hidden annotation is on.
type memoKey struct {
	reveal bool
	key    string
}

func (rw *Rewriter) memoKey() memoKey { return memoKey{rw.Reveal != nil, rw.MemoKey} }

// memoUsable reports whether rw's responses may be remembered and answered
// from memory.
func (rw *Rewriter) memoUsable() bool {
	return rw.Memo != nil && rw.MemoKey != "" && rw.page == nil && rw.OnResult == nil
}

// lookup returns the remembered output for body, with body's id put in,
// and that id.
func (m *Memo) lookup(key memoKey, body []byte) (out []byte, id json.RawMessage, ok bool) {
	s, e, found := findID(body)
	if !found || !scalarID(body[s:e]) {
		m.misses.Add(1)
		return nil, nil, false
	}
	prefix, suffix := body[:s], body[e:]
	h := m.hash(m.seed, key, prefix, suffix)
	m.mu.Lock()
	el := m.byKey[h]
	if el != nil {
		m.lru.MoveToFront(el)
	}
	m.mu.Unlock()
	if el == nil {
		m.misses.Add(1)
		return nil, nil, false
	}
	ent := el.Value.(*memoEntry)
	// The entry is immutable: compare outside the lock. A hash collision
	// ends here as a miss.
	if ent.key != key || !bytes.Equal(ent.prefix, prefix) || !bytes.Equal(ent.suffix, suffix) {
		m.misses.Add(1)
		return nil, nil, false
	}
	m.hits.Add(1)
	id = body[s:e]
	out = make([]byte, 0, len(ent.outPre)+len(id)+len(ent.outSuf))
	out = append(out, ent.outPre...)
	out = append(out, id...)
	out = append(out, ent.outSuf...)
	return out, id, true
}

// store remembers out, the filtered form of body, whose id the walker
// found at body[idStart:idEnd] and the filter left at out[outStart:]. It
// stores nothing unless lookup would find the id where the walker did.
func (m *Memo) store(key memoKey, body []byte, idStart, idEnd int, out []byte, outStart int) {
	s, e, found := findID(body)
	if !found || s != idStart || e != idEnd || !scalarID(body[s:e]) {
		return
	}
	id := body[s:e]
	outEnd := outStart + len(id)
	if outStart < 0 || outEnd > len(out) || !bytes.Equal(out[outStart:outEnd], id) {
		return // cannot happen: the filter keeps the id as it was
	}
	ent := &memoEntry{
		key:    key,
		prefix: bytes.Clone(body[:s]),
		suffix: bytes.Clone(body[e:]),
		outPre: bytes.Clone(out[:outStart]),
		outSuf: bytes.Clone(out[outEnd:]),
	}
	if ent.size() > m.maxBytes/8 {
		return
	}
	ent.hash = m.hash(m.seed, key, ent.prefix, ent.suffix)
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.byKey[ent.hash]; old != nil {
		m.remove(old)
	}
	m.byKey[ent.hash] = m.lru.PushFront(ent)
	m.size += ent.size()
	for m.lru.Len() > m.maxEntries || m.size > m.maxBytes {
		m.remove(m.lru.Back())
	}
}

// remove drops an entry; the caller holds m.mu.
func (m *Memo) remove(el *list.Element) {
	ent := m.lru.Remove(el).(*memoEntry)
	delete(m.byKey, ent.hash)
	m.size -= ent.size()
}

// scalarID reports whether raw is one JSON string, number or null, the
// ids a memo hit may carry.
func scalarID(raw []byte) bool {
	if len(raw) == 0 {
		return false
	}
	switch c := raw[0]; {
	case c == '"', c == '-', c >= '0' && c <= '9':
		return json.Valid(raw)
	}
	return string(raw) == "null"
}

// findID finds the top-level "id" member's scalar value without parsing
// the whole message: among the leading members whose values are scalars
// (mcp-go writes jsonrpc and id first), else among the trailing ones (the
// TypeScript SDK writes them last). It gives up on anything unusual, such as
// escapes in keys or strings. It need not be exact on malformed input: a
// memo hit also requires every byte around the id to equal those of a
// response the walker has read.
func findID(b []byte) (start, end int, ok bool) {
	if s, e, ok := findIDForward(b); ok {
		return s, e, true
	}
	return findIDBackward(b)
}

const maxScanMembers = 8

func findIDForward(b []byte) (start, end int, ok bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, 0, false
	}
	i++
	for range maxScanMembers {
		i = skipWS(b, i)
		ks, ke, next, ok := plainString(b, i)
		if !ok {
			return 0, 0, false
		}
		i = skipWS(b, next)
		if i >= len(b) || b[i] != ':' {
			return 0, 0, false
		}
		vs := skipWS(b, i+1)
		ve, ok := scalarEnd(b, vs)
		if !ok {
			return 0, 0, false // an object or array: the result, most likely
		}
		if string(b[ks:ke]) == "id" {
			return vs, ve, true
		}
		i = skipWS(b, ve)
		if i >= len(b) || b[i] != ',' {
			return 0, 0, false
		}
		i++
	}
	return 0, 0, false
}

func findIDBackward(b []byte) (start, end int, ok bool) {
	j := skipWSBack(b, len(b)) // b[:j] is what is left to read
	if j == 0 || b[j-1] != '}' {
		return 0, 0, false
	}
	j--
	for range maxScanMembers {
		ve := skipWSBack(b, j)
		vs, ok := scalarStartBack(b, ve)
		if !ok {
			return 0, 0, false
		}
		j = skipWSBack(b, vs)
		if j == 0 || b[j-1] != ':' {
			return 0, 0, false
		}
		j = skipWSBack(b, j-1)
		if j == 0 || b[j-1] != '"' {
			return 0, 0, false
		}
		q := bytes.LastIndexByte(b[:j-1], '"')
		if q < 0 || bytes.IndexByte(b[q+1:j-1], '\\') >= 0 {
			return 0, 0, false
		}
		if string(b[q+1:j-1]) == "id" {
			return vs, ve, true
		}
		j = skipWSBack(b, q)
		if j == 0 || b[j-1] != ',' {
			return 0, 0, false
		}
		j--
	}
	return 0, 0, false
}

func skipWS(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func skipWSBack(b []byte, j int) int {
	for j > 0 && isSpace(b[j-1]) {
		j--
	}
	return j
}

// plainString reads a string without escapes at b[i]: its contents are
// b[s:e], and next is past its closing quote.
func plainString(b []byte, i int) (s, e, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, 0, false
	}
	n := bytes.IndexByte(b[i+1:], '"')
	if n < 0 || bytes.IndexByte(b[i+1:i+1+n], '\\') >= 0 {
		return 0, 0, 0, false
	}
	return i + 1, i + 1 + n, i + 2 + n, true
}

func isScalarByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '+' || c == '.'
}

// scalarEnd returns the end of the string, number or literal at b[i].
func scalarEnd(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	if b[i] == '"' {
		_, _, next, ok := plainString(b, i)
		return next, ok
	}
	j := i
	for j < len(b) && isScalarByte(b[j]) {
		j++
	}
	return j, j > i
}

// scalarStartBack returns the start of the string, number or literal
// ending at b[j].
func scalarStartBack(b []byte, j int) (int, bool) {
	if j == 0 {
		return 0, false
	}
	if b[j-1] == '"' {
		q := bytes.LastIndexByte(b[:j-1], '"')
		if q < 0 || bytes.IndexByte(b[q+1:j-1], '\\') >= 0 {
			return 0, false
		}
		return q, true
	}
	i := j
	for i > 0 && isScalarByte(b[i-1]) {
		i--
	}
	return i, i < j
}
