// Package rpcmessage classifies the body of one Streamable HTTP POST as a
// single JSON-RPC message, strictly enough that the gateway and the MCP
// server behind it can never read the same bytes two different ways.
//
// The MCP server (mcp-go) decodes bodies with encoding/json, which matches
// object keys case-insensitively (with Unicode simple folding, so "paramſ"
// fills a field tagged "params") and lets the last duplicate win. A gateway
// that decided on {"method":"tools/list","METHOD":"tools/call"} by reading the
// first key would authorise a call it never saw. Parse therefore rejects every
// body whose reading depends on those rules: duplicate keys, keys that differ
// from a protocol member only by case, batches, trailing data. What it
// accepts decodes to the same method, name and uri under encoding/json.
package rpcmessage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Kind tells what role a message plays in JSON-RPC. It is informational: the
// gateway's decision is taken from Method, whatever the Kind, because a
// notification carrying "tools/call" must be enforced like a request.
type Kind uint8

// The kinds of JSON-RPC message.
const (
	// KindRequest has a method and an id.
	KindRequest Kind = iota + 1
	// KindNotification has a method and no id.
	KindNotification
	// KindResponse has an id and exactly one of result or error, and no method.
	KindResponse
)

// String returns the JSON-RPC name of the kind.
func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindNotification:
		return "notification"
	case KindResponse:
		return "response"
	}
	return "unknown"
}

// MetaProtocolVersion is the params._meta key under which MCP 2026-07-28
// clients carry the protocol version of each request.
const MetaProtocolVersion = "io.modelcontextprotocol/protocolVersion"

// Message is what the gateway needs to know about one JSON-RPC message.
type Message struct {
	Kind Kind
	// Method is the JSON-RPC method; empty for responses.
	Method string
	// ID is the id member exactly as sent (a JSON string or number), so that
	// error bodies echo it byte for byte. It is nil for notifications.
	ID json.RawMessage
	// Name is params.name (tools/call, prompts/get); empty if absent or null.
	Name string
	// URI is params.uri (resources/read); empty if absent or null.
	URI string
	// Cursor is params.cursor of list requests; empty if absent or null.
	Cursor string
	// ProtocolVersion is params._meta["io.modelcontextprotocol/protocolVersion"]
	// when present (MCP 2026-07-28); empty otherwise.
	ProtocolVersion string
	// HasResult and HasError report which member a response carries.
	HasResult, HasError bool

	// TaskID is params.taskId (tasks/get, tasks/result, tasks/cancel).
	TaskID string
	// HasTask reports a non-null params.task: a tools/call to be run as a
	// task, whose response creates one.
	HasTask bool
	// Ref is params.ref of completion/complete; nil if absent or null.
	Ref *Ref
	// Subscriptions are params.notifications.resourceSubscriptions of
	// subscriptions/listen (MCP 2026-07-28): the uris whose updates the
	// client asks for.
	Subscriptions []string
}

// Ref is what a completion/complete request completes for: a prompt
// ("ref/prompt", Name) or a resource or resource template ("ref/resource",
// URI).
type Ref struct {
	Type, Name, URI string
}

// Target returns the body value the Mcp-Name header mirrors for this
// method: params.name for tools/call and prompts/get, params.uri for
// resources/read. It reports false for methods that carry no name.
func (m Message) Target() (string, bool) {
	switch m.Method {
	case "tools/call", "prompts/get":
		return m.Name, true
	case "resources/read":
		return m.URI, true
	}
	return "", false
}

// JSON-RPC error codes the handler answers malformed messages with.
const (
	// CodeParseError is JSON-RPC's "Parse error": the body is not JSON.
	CodeParseError = -32700
	// CodeInvalidRequest is JSON-RPC's "Invalid Request": JSON, but not one
	// unambiguous JSON-RPC message.
	CodeInvalidRequest = -32600
	// CodeInternalError is JSON-RPC's "Internal error".
	CodeInternalError = -32603
	// CodeHeaderMismatch is MCP's HeaderMismatch (SEP-2243): Mcp-Method or
	// Mcp-Name disagree with the body.
	CodeHeaderMismatch = -32020
)

// Reasons a body or its headers are refused. Every error returned by Parse
// and CheckHeaders is an *Error wrapping exactly one of them.
var (
	ErrInvalidJSON    = errors.New("invalid json")
	ErrTrailingData   = errors.New("data after the json-rpc object")
	ErrBatch          = errors.New("batch requests are not supported")
	ErrNotObject      = errors.New("message is not a json object")
	ErrDuplicateKey   = errors.New("duplicate key")
	ErrCaseVariantKey = errors.New("key differs from a protocol member only by case")
	ErrVersion        = errors.New(`jsonrpc must be "2.0"`)
	ErrShape          = errors.New("not a valid json-rpc message")
	ErrHeaderMismatch = errors.New("header does not match body")
)

// Error is a refusal with the JSON-RPC code the handler must answer with.
// All of them are answered with HTTP 400; the error body carries id null,
// because the id of a refused message cannot be trusted.
type Error struct {
	// Code is CodeParseError, CodeInvalidRequest or CodeHeaderMismatch.
	Code int
	// Reason is one of the Err* sentinels.
	Reason error
	// Detail says where, for logs; it never contains body values beyond
	// key names and short type descriptions.
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "jsonrpc: " + e.Reason.Error()
	}
	return "jsonrpc: " + e.Reason.Error() + ": " + e.Detail
}

func (e *Error) Unwrap() error { return e.Reason }

func refuse(code int, reason error, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Protocol members whose reading must be unambiguous: duplicates and case
// variants of them are refused.
var (
	topMembers    = []string{"jsonrpc", "method", "id", "params", "result", "error"}
	paramsMembers = []string{"name", "uri", "cursor", "_meta", "taskId", "task", "ref", "notifications"}
	metaMembers   = []string{MetaProtocolVersion}
	refMembers    = []string{"type", "name", "uri"}
	notifyMembers = []string{"resourceSubscriptions"}
)

// Parse classifies body as one JSON-RPC message. It accepts only a single
// JSON object with "jsonrpc":"2.0" that is either a request (method and a
// string or number id), a notification (method, no id) or a response (id and
// exactly one of result or error). Everything else is an *Error. The
// Message shares no memory with body.
func Parse(body []byte) (Message, error) {
	var m Message
	p := parser{b: body}
	if p.atEnd() {
		return m, refuse(CodeParseError, ErrInvalidJSON, "empty body")
	}
	switch p.b[p.i] {
	case '{':
	case '[':
		// Arrays are refused before anything else: batches were removed from
		// MCP after 2025-03-26 and would otherwise need every element
		// authorised.
		return m, refuse(CodeInvalidRequest, ErrBatch, "")
	default:
		if !json.Valid(body) {
			return m, refuse(CodeParseError, ErrInvalidJSON, "")
		}
		return m, refuse(CodeInvalidRequest, ErrNotObject, "")
	}
	if err := p.message(&m); err != nil {
		return Message{}, err
	}
	// encoding/json.Unmarshal refuses trailing data too, but a streaming
	// reader might not: accept only whitespace after the object.
	if err := p.trailing(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// methods and versions are the values Parse returns without allocating a
// string for them; any other value is copied from the body.
var (
	methods  = internTable("initialize", "ping", "tools/call", "tools/list", "resources/read", "resources/list", "resources/templates/list", "resources/subscribe", "resources/unsubscribe", "prompts/get", "prompts/list", "completion/complete", "logging/setLevel", "tasks/get", "tasks/result", "tasks/cancel", "tasks/list", "subscriptions/listen", "notifications/initialized", "notifications/cancelled", "notifications/progress", "notifications/roots/list_changed")
	versions = internTable("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")
	// jsonrpcVersion makes checking the version free of allocations.
	jsonrpcVersion = internTable("2.0")
)

func internTable(values ...string) map[string]string {
	t := make(map[string]string, len(values))
	for _, v := range values {
		t[v] = v
	}
	return t
}

// interned decodes a string, returning the table's copy when it has one.
func interned(table map[string]string, content []byte, plain bool) (string, error) {
	if plain {
		if v, ok := table[string(content)]; ok {
			return v, nil
		}
	}
	return decode(content, plain)
}

func (p *parser) message(m *Message) error {
	p.i++ // the '{' Parse has seen
	if err := p.push(); err != nil {
		return err
	}
	var hasVersion, hasID, hasMethod, hasParams bool
	err := p.object(topMembers, "", func(k string) error {
		switch k {
		case "jsonrpc":
			content, plain, ok, null, err := p.stringValue()
			switch {
			case err != nil:
				return err
			case !ok && !null:
				return p.wrongType(refuse(CodeInvalidRequest, ErrVersion, ""))
			case !ok:
				return refuse(CodeInvalidRequest, ErrVersion, "")
			}
			if v, err := interned(jsonrpcVersion, content, plain); err != nil {
				return err
			} else if v != "2.0" {
				return refuse(CodeInvalidRequest, ErrVersion, "")
			}
			hasVersion = true
		case "method":
			content, plain, ok, null, err := p.stringValue()
			const what = "method is not a non-empty string"
			switch {
			case err != nil:
				return err
			case !ok && !null:
				return p.notA(what)
			case !ok || len(content) == 0:
				return refuse(CodeInvalidRequest, ErrShape, what)
			}
			if m.Method, err = interned(methods, content, plain); err != nil {
				return err
			}
			hasMethod = true
		case "id":
			raw, err := p.rawValue()
			if err != nil {
				return err
			}
			// MCP: "the ID MUST NOT be null", and must be a string or an
			// integer. mcp-go treats a null id as a notification; refusing it
			// keeps "has an id" meaning the same thing on both sides.
			if c := raw[0]; c != '"' && c != '-' && (c < '0' || c > '9') {
				return refuse(CodeInvalidRequest, ErrShape, "id is not a string or number")
			}
			m.ID, hasID = bytes.Clone(raw), true
		case "params":
			hasParams = true
			return p.params(m)
		case "result":
			m.HasResult = true
			return p.skip()
		case "error":
			m.HasError = true
			return p.skip()
		}
		return nil
	})
	if err != nil {
		return err
	}

	if !hasVersion {
		return refuse(CodeInvalidRequest, ErrVersion, "missing")
	}
	switch {
	case hasMethod && (m.HasResult || m.HasError):
		// mcp-go would read a request with a non-null result as a response
		// and drop it; other readers might run it. Neither reading is ours.
		return refuse(CodeInvalidRequest, ErrShape, "method with result or error")
	case hasMethod && hasID:
		m.Kind = KindRequest
	case hasMethod:
		m.Kind = KindNotification
	case hasParams:
		return refuse(CodeInvalidRequest, ErrShape, "params without method")
	case hasID && m.HasResult != m.HasError:
		m.Kind = KindResponse
	default:
		return refuse(CodeInvalidRequest, ErrShape, "neither request, notification nor response")
	}
	return nil
}

func (p *parser) params(m *Message) error {
	// mcp-go decodes params into structs; an array or scalar fails there.
	if ok, err := p.open("params"); err != nil || !ok {
		return err
	}
	return p.object(paramsMembers, "params.", func(k string) error {
		var err error
		switch k {
		case "name":
			m.Name, err = p.optString("params.name")
		case "uri":
			m.URI, err = p.optString("params.uri")
		case "cursor":
			m.Cursor, err = p.optString("params.cursor")
		case "_meta":
			err = p.meta(m)
		case "taskId":
			m.TaskID, err = p.optString("params.taskId")
		case "task", "ref", "notifications":
			err = p.extension(m, k)
		}
		return err
	})
}

// meta reads params._meta. Its keys are matched exactly by mcp-go (a
// map): only an exact duplicate of the protocol version is ambiguous.
func (p *parser) meta(m *Message) error {
	if ok, err := p.open("params._meta"); err != nil || !ok {
		return err
	}
	return p.object(metaMembers, "params._meta.", func(string) error {
		content, plain, ok, null, err := p.stringValue()
		switch {
		case err != nil:
			return err
		case null:
		case !ok:
			return p.notA("protocol version is not a string")
		default:
			m.ProtocolVersion, err = interned(versions, content, plain)
		}
		return err
	})
}
