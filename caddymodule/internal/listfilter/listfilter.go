// Package listfilter rewrites MCP list responses (tools/list,
// resources/list, resources/templates/list, prompts/list) so that a token
// sees only the entries it may use, in both response forms of Streamable
// HTTP: one application/json body, or a text/event-stream whose events are
// parsed by the WHATWG rules.
//
// It fails closed: a response it cannot read unambiguously is replaced by a
// JSON-RPC error, never passed on. Ambiguity is judged as in package
// rpcmessage: clients written in Go decode with encoding/json, which matches
// keys case-insensitively and keeps the last duplicate, while others match
// exactly and may keep the first. A response whose list could be read two
// ways is refused.
package listfilter

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/scopegate/scopegate/caddymodule/internal/rpcmessage"
)

// List names a list member of a result object.
type List string

// The list members filtered, whatever method the response answers.
const (
	Tools             List = "tools"
	Resources         List = "resources"
	ResourceTemplates List = "resourceTemplates"
	Prompts           List = "prompts"
	// Tasks is the list of tasks/list (MCP tasks, 2025-11-25).
	Tasks List = "tasks"
)

// ListFor returns the list a list method answers with; false for other
// methods.
func ListFor(method string) (List, bool) {
	switch method {
	case "tools/list":
		return Tools, true
	case "resources/list":
		return Resources, true
	case "resources/templates/list":
		return ResourceTemplates, true
	case "prompts/list":
		return Prompts, true
	case "tasks/list":
		return Tasks, true
	}
	return "", false
}

// Item is what the predicate sees of one list entry.
type Item struct {
	// List is the member the entry was found in.
	List List
	// Name is the entry's name (tools, prompts, resources).
	Name string
	// URI is a resource's uri.
	URI string
	// URITemplate is a resource template's uriTemplate.
	URITemplate string
	// TaskID is a task's taskId.
	TaskID string
	// Meta is the entry's raw _meta object, or nil. The scope catalog reads
	// "scopegate/scopes" from it.
	Meta json.RawMessage
	// ReadOnly is the entry's annotations.readOnlyHint (tools).
	ReadOnly Hint
}

// Rewriter filters list responses. Its methods may be called concurrently
// if Allow and Observe may.
type Rewriter struct {
	// Allow reports whether the token may see an entry. Entries for which it
	// returns false are removed. It must not be nil.
	Allow func(Item) bool
	// Observe, if not nil, is called once for every list in a rewritten
	// response, with all of its entries and before Allow is asked about any
	// of them, so that the scope catalog can learn from each tools/list page
	// and decide this very response with what it learned.
	Observe func(list List, items []Item)
	// Reveal, if not nil, turns on the hidden-entries annotation (see
	// HiddenMetaKey): it returns the scopes that would reveal an entry Allow
	// removed, none if no scope would.
	Reveal func(Item) []string
	// RequestID is the id of the request the response answers, as the
	// request carried it. It is echoed in the error that replaces a response
	// whose own id cannot be read; nil means null.
	RequestID json.RawMessage
	// Notify, if not nil, is asked about every request or notification a
	// stream carries (see Notification); those it returns false for are
	// dropped. Their event's id and retry fields still pass.
	Notify func(Notification) bool
	// OnResult, if not nil, is called with every response that has a
	// result, as received, before it is passed on.
	OnResult func(body []byte)
	// Memo, if not nil, remembers filtered responses and answers a response
	// seen before (but for its id) from memory, when MemoKey is not empty.
	// Neither Observe, Allow nor Reveal is called for a response answered
	// from memory.
	Memo *Memo
	// MemoKey must name everything besides the response's bytes that
	// Allow's and Reveal's answers depend on, and change whenever what
	// Observe would learn from a response could change those answers: two
	// Rewriters with the same MemoKey must filter every list alike. The
	// gateway names the exact set of scopes held and the catalog's version.
	MemoKey string

	page *pageState // set by ReadPage only
}

// ErrMalformed is wrapped by every error about a response that cannot be
// read unambiguously.
var ErrMalformed = errors.New("listfilter: malformed list response")

// CodeInternalError is the JSON-RPC code of the error that replaces a
// response that cannot be rewritten.
const CodeInternalError = rpcmessage.CodeInternalError

// RewriteJSON filters one JSON-RPC response body. Error responses are
// returned unchanged; every list member of a result is filtered through
// Allow; a result.cacheScope is set to "private", and one is added if the
// result has ttlMs (MCP 2026-07-28 caching, SEP-2549), because the filtered
// list is valid for this token only. A result from which an entry was
// removed gets ttlMs 0 (when it has ttlMs) and, with Reveal set,
// _meta[HiddenMetaKey] (see hidden.go). All other bytes are kept as they were.
//
// A body that is not a single unambiguous JSON-RPC response is an error
// wrapping ErrMalformed; the caller must not pass the body on, but answer
// with ErrorResponse.
func (rw *Rewriter) RewriteJSON(body []byte) ([]byte, error) {
	out, isResponse, _, err := rw.rewrite(body)
	if err != nil {
		return nil, err
	}
	if !isResponse {
		return nil, fmt.Errorf("%w: not a response", ErrMalformed)
	}
	return out, nil
}

// ErrorResponse returns the JSON-RPC error that replaces a response that
// could not be rewritten, carrying RequestID.
func (rw *Rewriter) ErrorResponse() []byte {
	return errorBody(rw.RequestID, "list response could not be filtered")
}

func errorBody(id json.RawMessage, message string) []byte {
	return rpcmessage.ErrorBody(id, CodeInternalError, message)
}

// Members whose reading must not depend on case or duplicates. Other keys
// may repeat: no decision depends on them.
var (
	topMembers    = members("jsonrpc", "id", "method", "result", "error")
	resultMembers = members("tools", "resources", "resourceTemplates", "prompts", "tasks", "cacheScope", "ttlMs", "nextCursor", "_meta")
	itemMembers   = members("name", "uri", "uriTemplate", "_meta", "taskId", "annotations")
)

func members(names ...string) [][]byte {
	m := make([][]byte, len(names))
	for i, n := range names {
		m[i] = []byte(n)
	}
	return m
}

// edit replaces body[start:end] with repl.
type edit struct {
	start, end int
	repl       []byte
}

// rewrite filters one JSON-RPC message. isResponse is false, and out is
// body, for requests and notifications, which the SSE form passes on. id is
// the message's id when it could be read.
func (rw *Rewriter) rewrite(body []byte) (out []byte, isResponse bool, id json.RawMessage, err error) {
	useMemo := rw.memoUsable()
	if useMemo {
		if out, id, ok := rw.Memo.lookup(rw.memoKey(), body); ok {
			return out, true, id, nil
		}
	}
	w, err := newWalker(body)
	if err != nil {
		return nil, false, nil, err
	}
	if err := w.open('{', "message"); err != nil {
		return nil, false, nil, err
	}
	var (
		seen                         uint32
		hasMethod, hasResult, hasErr bool
		edits                        []edit
		idStart                      = -1
		perSubject                   bool
	)
	for w.more() {
		k, err := w.key(&seen, topMembers, "")
		if err != nil {
			return nil, false, id, err
		}
		switch string(k) {
		case "id":
			raw, err := w.raw()
			if err != nil {
				return nil, false, id, err
			}
			id, idStart = raw, w.offset()-len(raw)
		case "method":
			hasMethod = true
			if err := w.skip(); err != nil {
				return nil, false, id, err
			}
		case "error":
			hasErr = true
			if err := w.skip(); err != nil {
				return nil, false, id, err
			}
		case "result":
			hasResult = true
			if edits, perSubject, err = rw.result(w); err != nil {
				return nil, false, id, err
			}
		default:
			if err := w.skip(); err != nil {
				return nil, false, id, err
			}
		}
	}
	if err := w.close(); err != nil {
		return nil, false, id, err
	}
	if err := w.end(); err != nil {
		return nil, false, id, err
	}
	switch {
	case hasMethod && !hasResult && !hasErr:
		return body, false, id, nil
	case hasMethod:
		return nil, false, id, fmt.Errorf("%w: method with result or error", ErrMalformed)
	case hasResult && hasErr:
		return nil, false, id, fmt.Errorf("%w: both result and error", ErrMalformed)
	case hasErr:
		if rw.page != nil {
			rw.page.responses++
			rw.page.errorResponse = true
		}
		return body, true, id, nil
	case !hasResult:
		return nil, false, id, fmt.Errorf("%w: neither result, error nor method", ErrMalformed)
	}
	if rw.page != nil {
		rw.page.responses++
	}
	if rw.OnResult != nil {
		rw.OnResult(body)
	}
	out = apply(body, edits)
	if useMemo && !perSubject && idStart >= 0 {
		rw.Memo.store(rw.memoKey(), body, idStart, idStart+len(id), out, shifted(idStart, edits))
	}
	return out, true, id, nil
}

// shifted returns where the byte at offset at of a body is found once
// edits, none of which covers it, have been applied.
func shifted(at int, edits []edit) int {
	for _, e := range edits {
		if e.start < at {
			at += len(e.repl) - (e.end - e.start)
		}
	}
	return at
}

// result walks a result object, filtering its lists, and returns the edits
// that apply the filtering and the cache scope. perSubject reports a list
// whose filtering depends on more than the token's scopes (tasks).
func (rw *Rewriter) result(w *walker) (edits []edit, perSubject bool, err error) {
	if err := w.open('{', "result"); err != nil {
		return nil, false, err
	}
	var (
		seen     uint32
		hasTTL   bool
		hasScope bool
		ttl      *[2]int
		meta     resultMeta
		hid      hidden
	)
	for w.more() {
		k, err := w.key(&seen, resultMembers, "result.")
		if err != nil {
			return nil, false, err
		}
		switch string(k) {
		case "tools", "resources", "resourceTemplates", "prompts", "tasks":
			h := &hid
			if string(k) == "tasks" {
				// Other subjects' tasks are theirs: neither counted
				// nor hinted at in scopegate/hidden.
				h = &hidden{}
				perSubject = true
			}
			e, err := rw.list(w, List(k), h)
			if err != nil {
				return nil, false, err
			}
			if e != nil {
				edits = append(edits, *e)
			}
		case "cacheScope":
			hasScope = true
			start := w.valueStart()
			if err := w.skip(); err != nil {
				return nil, false, err
			}
			edits = append(edits, edit{start, w.offset(), []byte(`"private"`)})
		case "ttlMs":
			hasTTL = true
			start := w.valueStart()
			if err := w.skip(); err != nil {
				return nil, false, err
			}
			ttl = &[2]int{start, w.offset()}
		case "_meta":
			if rw.Reveal == nil {
				if err := w.skip(); err != nil {
					return nil, false, err
				}
				continue
			}
			if meta, err = readResultMeta(w); err != nil {
				return nil, false, err
			}
		case "nextCursor":
			cursor, err := w.optString("result.", "nextCursor")
			if err != nil {
				return nil, false, err
			}
			if rw.page != nil {
				rw.page.nextCursor = cursor
			}
		default:
			if err := w.skip(); err != nil {
				return nil, false, err
			}
		}
	}
	if err := w.close(); err != nil {
		return nil, false, err
	}
	if hasTTL && !hasScope {
		// Insert before the closing brace; the object is not empty.
		at := w.offset() - 1
		edits = append(edits, edit{at, at, []byte(`,"cacheScope":"private"`)})
	}
	return append(edits, rw.hiddenEdits(&hid, ttl, meta, w.offset()-1)...), perSubject, nil
}

// list filters one list member. It returns nil when every entry is kept.
func (rw *Rewriter) list(w *walker, list List, hid *hidden) (*edit, error) {
	start := w.valueStart()
	where := "result." + string(list)
	if err := w.open('[', where); err != nil {
		return nil, err
	}
	where += "[]."
	type span struct{ start, end int }
	var (
		items []Item
		spans []span
	)
	for w.more() {
		s := w.valueStart()
		it, err := item(w, list, where)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
		spans = append(spans, span{s, w.offset()})
	}
	if err := w.close(); err != nil {
		return nil, err
	}
	end := w.offset()
	copyMeta(items)
	if rw.Observe != nil {
		rw.Observe(list, items)
	}
	dropped := false
	size := len("[]")
	for i, it := range items {
		if !rw.Allow(it) {
			dropped = true
			hid.add(rw, it)
			spans[i].start = -1
			continue
		}
		size += spans[i].end - spans[i].start + len(",")
	}
	if !dropped {
		return nil, nil
	}
	kept := make([]byte, 1, size)
	kept[0] = '['
	for _, sp := range spans {
		if sp.start < 0 {
			continue
		}
		if len(kept) > 1 {
			kept = append(kept, ',')
		}
		kept = append(kept, w.data[sp.start:sp.end]...)
	}
	kept = append(kept, ']')
	return &edit{start, end, kept}, nil
}

// copyMeta gives the entries' Meta their own memory, one allocation for
// the list: the SSE writer reuses the buffer they point into, and ReadPage
// hands them to discovery.
func copyMeta(items []Item) {
	total := 0
	for _, it := range items {
		total += len(it.Meta)
	}
	if total == 0 {
		return
	}
	slab := make([]byte, 0, total)
	for i, it := range items {
		if it.Meta != nil {
			at := len(slab)
			slab = append(slab, it.Meta...)
			items[i].Meta = slab[at:len(slab):len(slab)]
		}
	}
}

// item reads one list entry. where names the list in errors, like
// "result.tools[]."; it is built once per list, not per entry.
func item(w *walker, list List, where string) (Item, error) {
	it := Item{List: list}
	if err := w.open('{', where); err != nil {
		return it, err
	}
	var seen uint32
	for w.more() {
		k, err := w.key(&seen, itemMembers, where)
		if err != nil {
			return it, err
		}
		switch string(k) {
		case "name":
			it.Name, err = w.optString(where, "name")
		case "uri":
			it.URI, err = w.optString(where, "uri")
		case "uriTemplate":
			it.URITemplate, err = w.optString(where, "uriTemplate")
		case "taskId":
			it.TaskID, err = w.optString(where, "taskId")
		case "annotations":
			it.ReadOnly, err = readOnlyHint(w)
		case "_meta":
			var raw []byte
			if raw, err = w.raw(); err == nil && string(raw) != "null" {
				it.Meta = raw // copied by list, with the list's others
			}
		default:
			err = w.skip()
		}
		if err != nil {
			return it, err
		}
	}
	return it, w.close()
}

// apply returns body with the edits, which must not overlap, applied.
func apply(body []byte, edits []edit) []byte {
	if len(edits) == 0 {
		return body
	}
	// Edits are collected in document order except the cacheScope insert,
	// which comes last but may precede nothing: sort by start to be sure.
	for i := 1; i < len(edits); i++ {
		for j := i; j > 0 && edits[j].start < edits[j-1].start; j-- {
			edits[j], edits[j-1] = edits[j-1], edits[j]
		}
	}
	size := len(body)
	for _, e := range edits {
		size += len(e.repl) - (e.end - e.start)
	}
	out := make([]byte, 0, size)
	at := 0
	for _, e := range edits {
		out = append(out, body[at:e.start]...)
		out = append(out, e.repl...)
		at = e.end
	}
	return append(out, body[at:]...)
}
