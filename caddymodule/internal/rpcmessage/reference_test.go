package rpcmessage

// The Decoder-based parser Parse replaced, kept as the reference Parse
// must agree with (FuzzParseMatchesReference): same acceptance, same
// Message, same refusal reason. It is slow (an allocation per token) but
// its reading rests entirely on encoding/json.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Parse classifies body as one JSON-RPC message. It accepts only a single
// JSON object with "jsonrpc":"2.0" that is either a request (method and a
// string or number id), a notification (method, no id) or a response (id and
// exactly one of result or error). Everything else is an *Error.
func refParse(body []byte) (Message, error) {
	var m Message
	first := bytes.TrimLeft(body, " \t\r\n")
	if len(first) == 0 {
		return m, refuse(CodeParseError, ErrInvalidJSON, "empty body")
	}
	switch first[0] {
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

	p := refParser{dec: json.NewDecoder(bytes.NewReader(body))}
	if err := p.message(&m); err != nil {
		return Message{}, err
	}
	// encoding/json.Unmarshal refuses trailing data too, but a streaming
	// reader might not: accept only whitespace after the object.
	if _, err := p.dec.Token(); err != io.EOF {
		if err != nil {
			return Message{}, refuse(CodeParseError, ErrInvalidJSON, "after object: %v", err)
		}
		return Message{}, refuse(CodeParseError, ErrTrailingData, "")
	}
	return m, nil
}

type refParser struct {
	dec *json.Decoder
}

// syntax turns a decoder error into a parse error. Type problems found by
// the parser itself are invalid requests instead.
func refSyntax(err error) *Error {
	return refuse(CodeParseError, ErrInvalidJSON, "%v", err)
}

// key reads the next object key. It refuses a key that differs from one of
// members only by case, and a member seen before at this level (tracked in
// the bitmask seen). Other keys may repeat: nothing is decided on them, and
// tracking every key would cost quadratic time on a body of many keys.
func (p *refParser) key(seen *uint32, members []string, where string) (string, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return "", refSyntax(err)
	}
	k, ok := tok.(string)
	if !ok {
		return "", refSyntax(fmt.Errorf("expected object key, got %T", tok))
	}
	// An ASCII key can fold only onto a member of its own length; others
	// ("paramſ") are compared in full.
	ascii := true
	for i := 0; i < len(k) && ascii; i++ {
		ascii = k[i] < utf8.RuneSelf
	}
	for i, member := range members {
		if ascii && len(k) != len(member) {
			continue
		}
		if k == member {
			if *seen&(1<<i) != 0 {
				return "", refuse(CodeInvalidRequest, ErrDuplicateKey, "%s%q", where, k)
			}
			*seen |= 1 << i
			return k, nil
		}
		// strings.EqualFold uses the same Unicode simple folding as
		// encoding/json's field matching ("paramſ" ≡ "params").
		if strings.EqualFold(k, member) {
			return "", refuse(CodeInvalidRequest, ErrCaseVariantKey, "%s%q", where, k)
		}
	}
	return k, nil
}

// skip consumes one value of any shape, validating it.
func (p *refParser) skip() error {
	var raw json.RawMessage
	if err := p.dec.Decode(&raw); err != nil {
		return refSyntax(err)
	}
	return nil
}

// optString reads a value that must be a string or null.
func (p *refParser) optString(name string) (string, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return "", refSyntax(err)
	}
	switch v := tok.(type) {
	case string:
		return v, nil
	case nil:
		// encoding/json leaves a string field untouched for null.
		return "", nil
	}
	return "", refuse(CodeInvalidRequest, ErrShape, "%s is not a string", name)
}

func (p *refParser) message(m *Message) error {
	if _, err := p.dec.Token(); err != nil { // the '{' checked by Parse
		return refSyntax(err)
	}
	var (
		seen                 uint32
		hasVersion, hasID    bool
		hasMethod, hasParams bool
	)
	for p.dec.More() {
		k, err := p.key(&seen, topMembers, "")
		if err != nil {
			return err
		}
		switch k {
		case "jsonrpc":
			tok, err := p.dec.Token()
			if err != nil {
				return refSyntax(err)
			}
			if v, ok := tok.(string); !ok || v != "2.0" {
				return refuse(CodeInvalidRequest, ErrVersion, "")
			}
			hasVersion = true
		case "method":
			tok, err := p.dec.Token()
			if err != nil {
				return refSyntax(err)
			}
			v, ok := tok.(string)
			if !ok || v == "" {
				return refuse(CodeInvalidRequest, ErrShape, "method is not a non-empty string")
			}
			m.Method, hasMethod = v, true
		case "id":
			var raw json.RawMessage
			if err := p.dec.Decode(&raw); err != nil {
				return refSyntax(err)
			}
			// MCP: "the ID MUST NOT be null", and must be a string or an
			// integer. mcp-go treats a null id as a notification; refusing it
			// keeps "has an id" meaning the same thing on both sides.
			if c := raw[0]; c != '"' && c != '-' && (c < '0' || c > '9') {
				return refuse(CodeInvalidRequest, ErrShape, "id is not a string or number")
			}
			m.ID, hasID = raw, true
		case "params":
			hasParams = true
			if err := p.params(m); err != nil {
				return err
			}
		case "result":
			if err := p.skip(); err != nil {
				return err
			}
			m.HasResult = true
		case "error":
			if err := p.skip(); err != nil {
				return err
			}
			m.HasError = true
		default:
			if err := p.skip(); err != nil {
				return err
			}
		}
	}
	if _, err := p.dec.Token(); err != nil { // '}'
		return refSyntax(err)
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

func (p *refParser) params(m *Message) error {
	tok, err := p.dec.Token()
	if err != nil {
		return refSyntax(err)
	}
	switch tok {
	case nil:
		return nil
	case json.Delim('{'):
	default:
		// mcp-go decodes params into structs; an array or scalar fails there.
		return refuse(CodeInvalidRequest, ErrShape, "params is not an object")
	}
	var seen uint32
	for p.dec.More() {
		k, err := p.key(&seen, paramsMembers, "params.")
		if err != nil {
			return err
		}
		switch k {
		case "name":
			if m.Name, err = p.optString("params.name"); err != nil {
				return err
			}
		case "uri":
			if m.URI, err = p.optString("params.uri"); err != nil {
				return err
			}
		case "cursor":
			if m.Cursor, err = p.optString("params.cursor"); err != nil {
				return err
			}
		case "_meta":
			if err := p.meta(m); err != nil {
				return err
			}
		case "taskId":
			if m.TaskID, err = p.optString("params.taskId"); err != nil {
				return err
			}
		case "task", "ref", "notifications":
			if err := p.refExtension(m, k); err != nil {
				return err
			}
		default:
			if err := p.skip(); err != nil {
				return err
			}
		}
	}
	if _, err := p.dec.Token(); err != nil { // '}'
		return refSyntax(err)
	}
	return nil
}

func (p *refParser) meta(m *Message) error {
	tok, err := p.dec.Token()
	if err != nil {
		return refSyntax(err)
	}
	switch tok {
	case nil:
		return nil
	case json.Delim('{'):
	default:
		return refuse(CodeInvalidRequest, ErrShape, "params._meta is not an object")
	}
	var seen uint32
	for p.dec.More() {
		// _meta keys are matched exactly by mcp-go (a map): only an exact
		// duplicate of the protocol version is ambiguous here.
		k, err := p.key(&seen, metaMembers, "params._meta.")
		if err != nil {
			return err
		}
		if k == MetaProtocolVersion {
			if m.ProtocolVersion, err = p.optString("protocol version"); err != nil {
				return err
			}
			continue
		}
		if err := p.skip(); err != nil {
			return err
		}
	}
	if _, err := p.dec.Token(); err != nil { // '}'
		return refSyntax(err)
	}
	return nil
}

// extension reads params.task, params.ref or params.notifications.
func (p *refParser) refExtension(m *Message, member string) error {
	switch member {
	case "task":
		raw, err := p.rawValue()
		if err != nil {
			return err
		}
		m.HasTask = string(raw) != "null"
		return nil
	case "ref":
		return p.ref(m)
	}
	return p.notifications(m)
}

func (p *refParser) rawValue() (json.RawMessage, error) {
	var raw json.RawMessage
	if err := p.dec.Decode(&raw); err != nil {
		return nil, refSyntax(err)
	}
	return raw, nil
}

// object reads the '{' of an optional object member; false for null.
func (p *refParser) object(name string) (bool, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return false, refSyntax(err)
	}
	switch tok {
	case nil:
		return false, nil
	case json.Delim('{'):
		return true, nil
	}
	return false, refuse(CodeInvalidRequest, ErrShape, "%s is not an object", name)
}

// ref reads params.ref of completion/complete. mcp-go decodes it into a
// map, matching keys exactly; refusing case variants is stricter.
func (p *refParser) ref(m *Message) error {
	ok, err := p.object("params.ref")
	if err != nil || !ok {
		return err
	}
	r := &Ref{}
	var seen uint32
	for p.dec.More() {
		k, err := p.key(&seen, refMembers, "params.ref.")
		if err != nil {
			return err
		}
		switch k {
		case "type":
			r.Type, err = p.optString("params.ref.type")
		case "name":
			r.Name, err = p.optString("params.ref.name")
		case "uri":
			r.URI, err = p.optString("params.ref.uri")
		default:
			err = p.skip()
		}
		if err != nil {
			return err
		}
	}
	if _, err := p.dec.Token(); err != nil { // '}'
		return refSyntax(err)
	}
	m.Ref = r
	return nil
}

// notifications reads params.notifications of subscriptions/listen.
func (p *refParser) notifications(m *Message) error {
	ok, err := p.object("params.notifications")
	if err != nil || !ok {
		return err
	}
	var seen uint32
	for p.dec.More() {
		k, err := p.key(&seen, notifyMembers, "params.notifications.")
		if err != nil {
			return err
		}
		if k != "resourceSubscriptions" {
			if err := p.skip(); err != nil {
				return err
			}
			continue
		}
		raw, err := p.rawValue()
		if err != nil {
			return err
		}
		var uris []string
		if err := json.Unmarshal(raw, &uris); err != nil {
			return refuse(CodeInvalidRequest, ErrShape, "params.notifications.resourceSubscriptions is not an array of strings")
		}
		m.Subscriptions = uris
	}
	if _, err := p.dec.Token(); err != nil { // '}'
		return refSyntax(err)
	}
	return nil
}
