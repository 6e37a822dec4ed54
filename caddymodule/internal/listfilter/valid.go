package listfilter

import "encoding/binary"

// maxDepth is encoding/json's nesting limit: json.Valid refuses a document
// nested deeper, and so does validJSON.
const maxDepth = 10000

// validJSON reports whether data is one JSON value, with optional
// whitespace around it, exactly as json.Valid does (FuzzValidJSON holds the
// two to each other): the same grammar, control characters refused in
// strings, bytes of 0x80 and above accepted as they are, and the same
// nesting limit. It is several times faster than json.Valid on list
// responses, which are mostly string contents: those are skipped eight
// bytes at a time.
func validJSON(data []byte) bool {
	var (
		stackBuf [64]byte // '{' or '[' per open container; grows past 64
		stack    = stackBuf[:0]
		i        = skipWS(data, 0)
		ok       bool
	)
	for {
		// A value starts at i.
		if i >= len(data) {
			return false
		}
		switch c := data[i]; {
		case c == '{' || c == '[':
			if len(stack) >= maxDepth {
				return false
			}
			stack = append(stack, c)
			i = skipWS(data, i+1)
			if i < len(data) && data[i] == c+2 { // '}' or ']'
				stack = stack[:len(stack)-1]
				i++
				break
			}
			if c == '{' {
				if i, ok = memberKey(data, i); !ok {
					return false
				}
			}
			continue
		case c == '"':
			if i, ok = scanString(data, i); !ok {
				return false
			}
		case c == '-' || c >= '0' && c <= '9':
			if i, ok = scanNumber(data, i); !ok {
				return false
			}
		case c == 't':
			if i, ok = literal(data, i, "true"); !ok {
				return false
			}
		case c == 'f':
			if i, ok = literal(data, i, "false"); !ok {
				return false
			}
		case c == 'n':
			if i, ok = literal(data, i, "null"); !ok {
				return false
			}
		default:
			return false
		}
		// A value ended at i: close containers until another value is due.
		for {
			i = skipWS(data, i)
			if len(stack) == 0 {
				return i == len(data)
			}
			if i >= len(data) {
				return false
			}
			top := stack[len(stack)-1]
			if data[i] == top+2 {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if data[i] != ',' {
				return false
			}
			i = skipWS(data, i+1)
			if top == '{' {
				if i, ok = memberKey(data, i); !ok {
					return false
				}
			}
			break
		}
	}
}

// memberKey reads a key and its colon at i, and returns where the value
// starts.
func memberKey(data []byte, i int) (int, bool) {
	if i >= len(data) || data[i] != '"' {
		return 0, false
	}
	i, ok := scanString(data, i)
	if !ok {
		return 0, false
	}
	i = skipWS(data, i)
	if i >= len(data) || data[i] != ':' {
		return 0, false
	}
	return skipWS(data, i+1), true
}

func literal(data []byte, i int, lit string) (int, bool) {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return 0, false
	}
	return i + len(lit), true
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special reports whether any byte of the 8 in x is below 0x20, a quote
// or a backslash (the classic "has zero byte" and "has less" tricks; a
// false positive is impossible when none matches).
func special(x uint64) bool {
	ctl := (x - ones*0x20) &^ x
	quote := x ^ (ones * '"')
	quote = (quote - ones) &^ quote
	bs := x ^ (ones * '\\')
	bs = (bs - ones) &^ bs
	return (ctl|quote|bs)&highs != 0
}

// scanString checks the string starting with the quote at data[i] and
// returns the index past its closing quote.
func scanString(data []byte, i int) (int, bool) {
	i++
	for {
		for i+8 <= len(data) && !special(binary.LittleEndian.Uint64(data[i:])) {
			i += 8
		}
		if i >= len(data) {
			return 0, false
		}
		switch c := data[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			if i+1 >= len(data) {
				return 0, false
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) {
					return 0, false
				}
				for _, h := range data[i+2 : i+6] {
					if !isHex(h) {
						return 0, false
					}
				}
				i += 6
			default:
				return 0, false
			}
		case c < 0x20:
			return 0, false
		default:
			i++
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanNumber checks the number at data[i] by the JSON grammar and returns
// the index past it.
func scanNumber(data []byte, i int) (int, bool) {
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		i = digits(data, i+1)
	default:
		return 0, false
	}
	if i < len(data) && data[i] == '.' {
		j := digits(data, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := digits(data, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func digits(data []byte, i int) int {
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	return i
}
