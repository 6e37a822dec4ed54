package listfilter

import (
	"encoding/json"
	"fmt"
	"slices"
)

// HiddenMetaKey is the member of a list result's _meta in which the gateway
// says what the token did not see:
//
//	"_meta": {"scopegate/hidden": {"count": 3, "scopes": ["deck:write"]}}
//
// count is the number of entries removed, scopes the (sorted) scopes that
// would reveal them. A client that checks a name against the list before
// calling can tell "hidden" from "does not exist", and ask for more.
const HiddenMetaKey = "scopegate/hidden"

// Hint is what a tool's annotations.readOnlyHint says.
type Hint uint8

// The values of Hint.
const (
	HintNone     Hint = iota // no readOnlyHint (or not a boolean)
	HintWrite                // readOnlyHint false
	HintReadOnly             // readOnlyHint true
)

var (
	annotationMembers = members("readOnlyHint")
	resultMetaMembers = members(HiddenMetaKey)
)

// readOnlyHint reads an entry's annotations value. Anything but an object
// says nothing; a duplicate or case-variant readOnlyHint is ambiguous and
// refused, since the gateway's default challenge depends on it.
func readOnlyHint(w *walker) (Hint, error) {
	if w.data[w.valueStart()] != '{' {
		return HintNone, w.skip()
	}
	const where = "result.tools[].annotations."
	if err := w.open('{', where); err != nil {
		return HintNone, err
	}
	var (
		seen uint32
		h    = HintNone
	)
	for w.more() {
		k, err := w.key(&seen, annotationMembers, where)
		if err != nil {
			return HintNone, err
		}
		if string(k) != "readOnlyHint" {
			if err := w.skip(); err != nil {
				return HintNone, err
			}
			continue
		}
		raw, err := w.raw()
		if err != nil {
			return HintNone, err
		}
		switch string(raw) {
		case "true":
			h = HintReadOnly
		case "false":
			h = HintWrite
		}
	}
	return h, w.close()
}

// hidden collects what the filtering of one result removed.
type hidden struct {
	count  int
	scopes []string
}

func (h *hidden) add(rw *Rewriter, it Item) {
	h.count++
	if rw.Reveal == nil {
		return
	}
	for _, s := range rw.Reveal(it) {
		if !slices.Contains(h.scopes, s) {
			h.scopes = append(h.scopes, s)
		}
	}
}

// resultMeta is where a result's own _meta sits in the document.
type resultMeta struct {
	present    bool
	start, end int // the whole value
	null       bool
	empty      bool // an object without members
	hiddenAt   [2]int
	hasHidden  bool
}

// readResultMeta reads result._meta, finding a scopegate/hidden member (a
// duplicate or case variant of it is refused: which one a client reads
// would be a guess).
func readResultMeta(w *walker) (resultMeta, error) {
	m := resultMeta{present: true, start: w.valueStart()}
	switch w.data[m.start] {
	case 'n':
		m.null = true
		err := w.skip()
		m.end = w.offset()
		return m, err
	case '{':
	default:
		return m, fmt.Errorf("%w: result._meta is not an object", ErrMalformed)
	}
	if err := w.open('{', "result._meta"); err != nil {
		return m, err
	}
	m.empty = !w.more()
	var seen uint32
	for w.more() {
		k, err := w.key(&seen, resultMetaMembers, "result._meta.")
		if err != nil {
			return m, err
		}
		if string(k) == HiddenMetaKey {
			m.hasHidden = true
			m.hiddenAt[0] = w.valueStart()
			err = w.skip()
			m.hiddenAt[1] = w.offset()
		} else {
			err = w.skip()
		}
		if err != nil {
			return m, err
		}
	}
	if err := w.close(); err != nil {
		return m, err
	}
	m.end = w.offset()
	return m, nil
}

// hiddenEdits returns the edits a result needs for what was hidden: ttlMs
// (ttl, the value's span, when present) becomes 0 once anything was
// removed, since the list a client caches must grow as soon as its token
// does; with Reveal set, _meta["scopegate/hidden"] is written (and a
// backend's own member of that name never passes as it was). closeAt is the
// offset of the result's closing brace.
func (rw *Rewriter) hiddenEdits(h *hidden, ttl *[2]int, meta resultMeta, closeAt int) []edit {
	var edits []edit
	if h.count > 0 && ttl != nil {
		edits = append(edits, edit{ttl[0], ttl[1], []byte("0")})
	}
	if rw.Reveal == nil || (h.count == 0 && !meta.hasHidden) {
		return edits
	}
	scopes := slices.Clone(h.scopes)
	slices.Sort(scopes)
	if scopes == nil {
		scopes = []string{}
	}
	value, _ := json.Marshal(struct {
		Count  int      `json:"count"`
		Scopes []string `json:"scopes"`
	}{h.count, scopes}) // cannot fail: an int and strings
	member := append([]byte(`"`+HiddenMetaKey+`":`), value...)
	switch {
	case meta.hasHidden:
		edits = append(edits, edit{meta.hiddenAt[0], meta.hiddenAt[1], value})
	case !meta.present:
		repl := append([]byte(`,"_meta":{`), member...)
		edits = append(edits, edit{closeAt, closeAt, append(repl, '}')})
	case meta.null:
		repl := append([]byte{'{'}, member...)
		edits = append(edits, edit{meta.start, meta.end, append(repl, '}')})
	case meta.empty:
		repl := append([]byte{'{'}, member...)
		edits = append(edits, edit{meta.start, meta.end, append(repl, '}')})
	default:
		at := meta.start + 1
		edits = append(edits, edit{at, at, append(member, ',')})
	}
	return edits
}
