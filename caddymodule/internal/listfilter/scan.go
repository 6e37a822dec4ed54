package listfilter

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// walker reads a JSON document that validJSON (json.Valid's equal) has
// accepted, value by value, and knows where each value starts and ends, so that kept entries
// can be copied byte for byte. Validating first lets the scanner itself stay
// small and allocation-free: it only has to find boundaries, never to judge
// syntax. Strings that need decoding (escapes, non-ASCII bytes) are decoded
// by encoding/json, so keys and names read exactly as a Go client reads them.
//
// Separators (':' after a key, ',' between members) are consumed lazily by
// whatever reads the next value.
type walker struct {
	data []byte
	pos  int // end of the last thing read
}

func newWalker(data []byte) (*walker, error) {
	if !validJSON(data) {
		return nil, fmt.Errorf("%w: not valid json", ErrMalformed)
	}
	return &walker{data: data}, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// offset is the end of the last token or value read.
func (w *walker) offset() int { return w.pos }

// valueStart returns where the next value starts, without consuming
// anything: past whitespace and a pending separator.
func (w *walker) valueStart() int {
	i := w.pos
	for isSpace(w.data[i]) {
		i++
	}
	if c := w.data[i]; c == ':' || c == ',' {
		i++
		for isSpace(w.data[i]) {
			i++
		}
	}
	return i
}

// open reads the opening delimiter of a container; what names the value
// in the error if it is something else.
func (w *walker) open(delim byte, what string) error {
	w.pos = w.valueStart()
	if w.data[w.pos] != delim {
		kind := "an object"
		if delim == '[' {
			kind = "an array"
		}
		return fmt.Errorf("%w: %s is not %s", ErrMalformed, what, kind)
	}
	w.pos++
	return nil
}

// more reports whether the current container has another member.
func (w *walker) more() bool {
	i := w.pos
	for isSpace(w.data[i]) {
		i++
	}
	c := w.data[i]
	return c != '}' && c != ']'
}

// close reads the closing delimiter of the current container.
func (w *walker) close() error {
	for isSpace(w.data[w.pos]) {
		w.pos++
	}
	w.pos++ // '}' or ']': the document is valid and more() said so
	return nil
}

// end checks that only whitespace follows the message. validJSON has
// refused anything else already; this keeps the walker honest if it is
// ever given a prefix.
func (w *walker) end() error {
	if len(bytes.TrimLeft(w.data[w.pos:], " \t\r\n")) != 0 {
		return fmt.Errorf("%w: data after the message", ErrMalformed)
	}
	return nil
}

// key reads the next member's key, decoded. It refuses a key that differs
// from one of members only by case (Unicode simple folding, as
// encoding/json matches fields) and a repeated member, tracked in seen.
func (w *walker) key(seen *uint32, members [][]byte, where string) ([]byte, error) {
	k, err := w.str()
	if err != nil {
		return nil, err
	}
	ascii := true
	for _, c := range k {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	for i, m := range members {
		if ascii && len(k) != len(m) {
			// Members are ASCII, and an ASCII key folds only to ASCII
			// (the Kelvin sign and long s are not ASCII): no match either
			// way. Skipping EqualFold here is most of a key's cost.
			continue
		}
		if bytes.Equal(k, m) {
			if *seen&(1<<i) != 0 {
				return nil, fmt.Errorf("%w: duplicate key %s%q", ErrMalformed, where, k)
			}
			*seen |= 1 << i
			return k, nil
		}
		if bytes.EqualFold(k, m) {
			return nil, fmt.Errorf("%w: key %s%q differs from %q only by case", ErrMalformed, where, k, m)
		}
	}
	return k, nil
}

// str reads a string value (or key) and returns it decoded. Plain ASCII
// without escapes is returned as a slice of the document.
func (w *walker) str() ([]byte, error) {
	w.pos = w.valueStart()
	if w.data[w.pos] != '"' {
		return nil, fmt.Errorf("%w: expected a string", ErrMalformed)
	}
	start := w.pos
	w.skipString()
	raw := w.data[start:w.pos]
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' || c >= 0x80 {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			return []byte(s), nil
		}
	}
	return inner, nil
}

// optString reads a value that must be a string or null; where and field
// name it in the error.
func (w *walker) optString(where, field string) (string, error) {
	if i := w.valueStart(); w.data[i] == 'n' {
		w.pos = i + len("null")
		return "", nil
	} else if w.data[i] != '"' {
		return "", fmt.Errorf("%w: %s%s is not a string", ErrMalformed, where, field)
	}
	s, err := w.str()
	return string(s), err
}

// raw reads any value and returns its bytes, a slice of the document.
func (w *walker) raw() ([]byte, error) {
	w.pos = w.valueStart()
	start := w.pos
	switch w.data[w.pos] {
	case '"':
		w.skipString()
	case '{', '[':
		depth := 0
		for {
			switch w.data[w.pos] {
			case '"':
				w.skipString()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			w.pos++
			if depth == 0 {
				break
			}
		}
	default: // number, true, false, null
		for w.pos < len(w.data) {
			c := w.data[w.pos]
			if c == ',' || c == '}' || c == ']' || isSpace(c) {
				break
			}
			w.pos++
		}
	}
	return w.data[start:w.pos], nil
}

func (w *walker) skip() error {
	_, err := w.raw()
	return err
}

// skipString moves past the string starting at w.pos. In valid JSON a
// quote ends the string unless an odd number of backslashes precede it.
func (w *walker) skipString() {
	w.pos++
	for {
		w.pos += bytes.IndexByte(w.data[w.pos:], '"')
		escapes := 0
		for j := w.pos - 1; w.data[j] == '\\'; j-- {
			escapes++
		}
		w.pos++
		if escapes%2 == 0 {
			return
		}
	}
}
