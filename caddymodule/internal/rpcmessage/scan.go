package rpcmessage

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// The scanner below reads a body in place, without encoding/json's
// Decoder: a tools/call is parsed on every request, and the Decoder costs
// an allocation per token. It validates exactly what encoding/json
// validates (RFC 8259 syntax, control characters in strings, escapes,
// nesting depth); it decodes strings itself only when they hold no escape
// and are valid UTF-8, the common case, where encoding/json would return
// the bytes unchanged. Every other string is decoded by encoding/json
// itself, so that escapes, surrogates and invalid UTF-8 are read exactly
// as mcp-go reads them.

// maxDepth is encoding/json's limit of nested arrays and objects; deeper
// bodies are refused as invalid JSON, as json.Unmarshal refuses them.
const maxDepth = 10000

// parser reads one body. depth counts the arrays and objects open at i,
// from the top of the body, as json.Unmarshal counts them.
type parser struct {
	b     []byte
	i     int
	depth int
}

// syntaxError is a parse error at the current offset. what says what was
// expected; it never quotes the body.
func (p *parser) syntaxError(what string) *Error {
	if p.i >= len(p.b) {
		return refuse(CodeParseError, ErrInvalidJSON, "unexpected end of input, %s", what)
	}
	return refuse(CodeParseError, ErrInvalidJSON, "offset %d: %s", p.i, what)
}

// ws skips JSON whitespace.
func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

// atEnd skips whitespace and reports whether the body ends there.
func (p *parser) atEnd() bool {
	p.ws()
	return p.i >= len(p.b)
}

// peek skips whitespace and returns the next byte, 0 at the end (callers
// that must tell a NUL byte from the end use atEnd).
func (p *parser) peek() byte {
	p.ws()
	if p.i >= len(p.b) {
		return 0
	}
	return p.b[p.i]
}

// expect consumes c after optional whitespace.
func (p *parser) expect(c byte, what string) error {
	if p.peek() != c {
		return p.syntaxError(what)
	}
	p.i++
	return nil
}

// str reads a string whose opening quote is at i. It returns the bytes
// between the quotes and whether they are plain: no escape and no byte
// outside ASCII, so they mean exactly themselves.
func (p *parser) str() (content []byte, plain bool, err error) {
	start := p.i + 1
	plain = true
	for j := start; j < len(p.b); j++ {
		c := p.b[j]
		switch {
		case c == '"':
			p.i = j + 1
			return p.b[start:j], plain, nil
		case c < 0x20:
			p.i = j
			return nil, false, p.syntaxError("control character in string")
		case c >= utf8.RuneSelf:
			plain = false
		case c == '\\':
			plain = false
			j++
			if j >= len(p.b) {
				p.i = j
				return nil, false, p.syntaxError("unterminated escape")
			}
			switch p.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(p.b) {
					p.i = len(p.b)
					return nil, false, p.syntaxError("unterminated \\u escape")
				}
				for _, h := range p.b[j+1 : j+5] {
					if !isHex(h) {
						p.i = j
						return nil, false, p.syntaxError("invalid \\u escape")
					}
				}
				j += 4
			default:
				p.i = j
				return nil, false, p.syntaxError("invalid escape")
			}
		}
	}
	p.i = len(p.b)
	return nil, false, p.syntaxError("unterminated string")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// decode turns the content of a string read by str into its value, the
// way encoding/json does.
func decode(content []byte, plain bool) (string, error) {
	if plain || (!hasByte(content, '\\') && utf8.Valid(content)) {
		return string(content), nil
	}
	return decodeSlow(content)
}

// decodeSlow leaves escapes, surrogate pairs and invalid UTF-8 to
// encoding/json, so that they decode as mcp-go decodes them.
func decodeSlow(content []byte) (string, error) {
	quoted := make([]byte, 0, len(content)+2)
	quoted = append(append(append(quoted, '"'), content...), '"')
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		// str has validated the string, so this cannot happen; if it
		// did, the body is refused rather than read another way.
		return "", refuse(CodeParseError, ErrInvalidJSON, "string: %v", err)
	}
	return s, nil
}

func hasByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

// number reads a JSON number starting at i.
func (p *parser) number() error {
	j := p.i
	if j < len(p.b) && p.b[j] == '-' {
		j++
	}
	switch {
	case j < len(p.b) && p.b[j] == '0':
		j++
	case j < len(p.b) && p.b[j] >= '1' && p.b[j] <= '9':
		for j++; j < len(p.b) && isDigit(p.b[j]); j++ {
		}
	default:
		p.i = j
		return p.syntaxError("invalid number")
	}
	if j < len(p.b) && p.b[j] == '.' {
		j++
		if j >= len(p.b) || !isDigit(p.b[j]) {
			p.i = j
			return p.syntaxError("invalid number")
		}
		for ; j < len(p.b) && isDigit(p.b[j]); j++ {
		}
	}
	if j < len(p.b) && (p.b[j] == 'e' || p.b[j] == 'E') {
		j++
		if j < len(p.b) && (p.b[j] == '+' || p.b[j] == '-') {
			j++
		}
		if j >= len(p.b) || !isDigit(p.b[j]) {
			p.i = j
			return p.syntaxError("invalid number")
		}
		for ; j < len(p.b) && isDigit(p.b[j]); j++ {
		}
	}
	p.i = j
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// literal reads true, false or null starting at i.
func (p *parser) literal() error {
	for _, lit := range [...]string{"true", "false", "null"} {
		if p.b[p.i] == lit[0] {
			if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
				p.i += len(lit)
				return nil
			}
			return p.syntaxError("invalid literal")
		}
	}
	return p.syntaxError("looking for beginning of value")
}

// null consumes a null at i (after whitespace), reporting whether there
// was one.
func (p *parser) null() bool {
	if p.peek() == 'n' && len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "null" {
		p.i += 4
		return true
	}
	return false
}

// scalar reads a string, number or literal starting at i.
func (p *parser) scalar() error {
	switch c := p.b[p.i]; {
	case c == '"':
		_, _, err := p.str()
		return err
	case c == '-' || isDigit(c):
		return p.number()
	}
	return p.literal()
}

// push enters an array or object, refusing nesting deeper than
// encoding/json accepts.
func (p *parser) push() error {
	if p.depth++; p.depth > maxDepth {
		return p.syntaxError("exceeded max depth")
	}
	return nil
}

// skip validates and consumes one value of any shape. It is iterative, so
// a deep body costs no stack; containers holds a bit per open container,
// set for objects, in an array on the stack for the first 256 levels.
func (p *parser) skip() error {
	var small [4]uint64
	containers := small[:]
	base := p.depth
	for {
		// A value.
		c := p.peek()
		switch c {
		case 0:
			return p.syntaxError("looking for beginning of value")
		case '{', '[':
			p.i++
			if err := p.push(); err != nil {
				return err
			}
			n := p.depth - base - 1
			if n/64 >= len(containers) {
				containers = append(containers, 0)
			}
			closing := byte(']')
			if c == '{' {
				containers[n/64] |= 1 << (n % 64)
				closing = '}'
			} else {
				containers[n/64] &^= 1 << (n % 64)
			}
			if p.peek() == closing {
				p.i++
				p.depth--
				break
			}
			if c == '{' {
				if err := p.objectKey(); err != nil {
					return err
				}
			}
			continue // to the first element's value
		default:
			if err := p.scalar(); err != nil {
				return err
			}
		}
		// After a value: close containers, or move to the next element.
		for {
			if p.depth == base {
				return nil
			}
			n := p.depth - base - 1
			object := containers[n/64]&(1<<(n%64)) != 0
			c := p.peek()
			if c == ',' {
				p.i++
				if object {
					if err := p.objectKey(); err != nil {
						return err
					}
				}
				break
			}
			if object && c == '}' || !object && c == ']' {
				p.i++
				p.depth--
				continue
			}
			return p.syntaxError("after a value in an array or object")
		}
	}
}

// objectKey consumes a key nothing is decided on, and its colon.
func (p *parser) objectKey() error {
	if p.peek() != '"' {
		return p.syntaxError("looking for beginning of object key string")
	}
	if _, _, err := p.str(); err != nil {
		return err
	}
	return p.expect(':', "after object key")
}

// rawValue consumes one value and returns its bytes, without surrounding
// whitespace.
func (p *parser) rawValue() ([]byte, error) {
	p.ws()
	start := p.i
	if err := p.skip(); err != nil {
		return nil, err
	}
	return p.b[start:p.i], nil
}

// open reads the '{' of an object member that may also be null. It
// reports false for null; anything else is ErrShape for name, unless it
// is not even JSON.
func (p *parser) open(name string) (bool, error) {
	switch p.peek() {
	case '{':
		p.i++
		return true, p.push()
	case 'n':
		if p.null() {
			return false, nil
		}
	}
	return false, p.notA(name + " is not an object")
}

// notA refuses a value of the wrong type with ErrShape, see wrongType.
func (p *parser) notA(what string) error {
	return p.wrongType(refuse(CodeInvalidRequest, ErrShape, "%s", what))
}

// wrongType returns refusal for the value at i, which is of the wrong
// type, unless that value is not even a JSON token: then it is a parse
// error, as a token reader would find it. Containers are refused without
// reading them.
func (p *parser) wrongType(refusal *Error) error {
	if p.atEnd() {
		return p.syntaxError("looking for beginning of value")
	}
	switch p.b[p.i] {
	case '{', '[':
	case '}', ']', ',', ':':
		return p.syntaxError("looking for beginning of value")
	default:
		if err := p.scalar(); err != nil {
			return err
		}
	}
	return refusal
}

// stringValue reads a value that should be a string. ok is false for any
// other value, which is then left unread (except a malformed scalar,
// which is an error) and for null, which is consumed.
func (p *parser) stringValue() (content []byte, plain, ok, null bool, err error) {
	switch p.peek() {
	case '"':
		content, plain, err = p.str()
		return content, plain, err == nil, false, err
	case 'n':
		if p.null() {
			return nil, false, false, true, nil
		}
	}
	return nil, false, false, false, nil
}

// optString reads a value that must be a string or null ("" for null, as
// encoding/json leaves a string field untouched for null).
func (p *parser) optString(name string) (string, error) {
	content, plain, ok, null, err := p.stringValue()
	switch {
	case err != nil:
		return "", err
	case null:
		return "", nil
	case !ok:
		return "", p.notA(name + " is not a string")
	}
	return decode(content, plain)
}

// object reads the members of an object whose '{' has been consumed. It
// calls member for each key that is one of members (refusing duplicates
// and case variants of them, see key), with i at the value, which member
// must consume; other members are validated and skipped.
func (p *parser) object(members []string, where string, member func(k string) error) error {
	var seen uint32
	if p.peek() == '}' {
		p.i++
		p.depth--
		return nil
	}
	for {
		if p.peek() != '"' {
			return p.syntaxError("looking for beginning of object key string")
		}
		k, err := p.key(&seen, members, where)
		if err != nil {
			return err
		}
		if err := p.expect(':', "after object key"); err != nil {
			return err
		}
		if k != "" {
			err = member(k)
		} else {
			err = p.skip()
		}
		if err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			p.depth--
			return nil
		default:
			return p.syntaxError("after object key:value pair")
		}
	}
}

// key reads an object key at i. It returns the member of members the key
// names, or "" for any other key. A key that differs from a member only
// by case, or a member seen before in this object (tracked in the bitmask
// seen), is refused. Other keys may repeat: nothing is decided on them,
// and tracking every key would cost quadratic time on a body of many keys.
func (p *parser) key(seen *uint32, members []string, where string) (string, error) {
	content, plain, err := p.str()
	if err != nil {
		return "", err
	}
	if plain {
		// An ASCII key can fold only onto a member of its own length.
		for i, member := range members {
			if len(content) != len(member) {
				continue
			}
			if string(content) == member {
				return member, p.mark(seen, i, where, member)
			}
			if asciiEqualFold(content, member) {
				return "", refuse(CodeInvalidRequest, ErrCaseVariantKey, "%s%q", where, content)
			}
		}
		return "", nil
	}
	k, err := decode(content, false)
	if err != nil {
		return "", err
	}
	ascii := true
	for i := 0; i < len(k) && ascii; i++ {
		ascii = k[i] < utf8.RuneSelf
	}
	for i, member := range members {
		if ascii && len(k) != len(member) {
			continue
		}
		if k == member {
			return member, p.mark(seen, i, where, member)
		}
		// strings.EqualFold uses the same Unicode simple folding as
		// encoding/json's field matching ("paramſ" ≡ "params").
		if strings.EqualFold(k, member) {
			return "", refuse(CodeInvalidRequest, ErrCaseVariantKey, "%s%q", where, k)
		}
	}
	return "", nil
}

// mark records member i as seen, refusing it the second time.
func (p *parser) mark(seen *uint32, i int, where, member string) error {
	if *seen&(1<<i) != 0 {
		return refuse(CodeInvalidRequest, ErrDuplicateKey, "%s%q", where, member)
	}
	*seen |= 1 << i
	return nil
}

// asciiEqualFold compares an ASCII key with an ASCII member of the same
// length, ignoring case.
func asciiEqualFold(k []byte, member string) bool {
	for i := range k {
		a, b := k[i], member[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// trailing classifies what follows the message object, as a reader of a
// stream of JSON values would (encoding/json's Decoder.Token): the start of
// another value is trailing data, anything else invalid JSON. It reports
// nil for nothing but whitespace.
func (p *parser) trailing() error {
	if p.atEnd() {
		return nil
	}
	switch p.b[p.i] {
	case '{', '[':
		return refuse(CodeParseError, ErrTrailingData, "")
	case '}', ']', ',', ':':
		return p.syntaxError("after top-level value")
	}
	if err := p.scalar(); err != nil {
		return err
	}
	return refuse(CodeParseError, ErrTrailingData, "")
}
