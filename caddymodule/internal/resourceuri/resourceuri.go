// Package resourceuri decides whether a resource uri is in the normal form
// the gateway can judge by its rules.
//
// The gateway matches resource_scope globs against the uri a client sends,
// byte for byte, but the server behind it may look the resource up by
// another spelling: the TypeScript SDK parses the uri the WHATWG way
// (dot-segments removed, "%2e" read as ".", "\" read as "/" in special
// schemes, tabs and newlines dropped, the scheme lower-cased), Python
// servers percent-decode, path libraries collapse "//". A uri that one of
// these readings changes could match a lenient rule at the gateway and
// name a protected resource at the server:
// "demo://resource/static/document/../../dynamic/text/1".
//
// The gateway refuses such uris rather than rewriting them. Rewriting
// would have to choose one reading (RFC 3986 §5.2.4 and §6.2.2, or WHATWG,
// which differ) and forward a body other than the one the client signed
// off, and every server would still have to read the rewritten uri the
// same way. A uri that every reading leaves unchanged needs no choice:
// Check accepts only those. Legitimate clients send uris as servers list
// them, which are already in that form.
package resourceuri

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Reasons a uri is refused; Check's errors wrap one of them.
var (
	ErrEmpty         = errors.New("empty uri")
	ErrControl       = errors.New("uri contains a control character, a space or invalid UTF-8")
	ErrBackslash     = errors.New("uri contains a backslash")
	ErrDotSegment    = errors.New(`uri path contains a "." or ".." segment`)
	ErrEmptySegment  = errors.New(`uri path contains an empty segment ("//")`)
	ErrEncodedSep    = errors.New(`uri percent-encodes ".", "/" or "\"`)
	ErrEncodedPlain  = errors.New("uri percent-encodes an unreserved character")
	ErrBadPercent    = errors.New("uri has a malformed percent-encoding")
	ErrSchemeCase    = errors.New("uri scheme is not lower-case")
	ErrNotNormalForm = errors.New("resource uri is not in normal form")
)

// Error is a refusal: the uri is not in normal form, for Reason.
type Error struct{ Reason error }

func (e *Error) Error() string { return ErrNotNormalForm.Error() + ": " + e.Reason.Error() }

// Unwrap lets errors.Is find both ErrNotNormalForm and the reason.
func (e *Error) Unwrap() []error { return []error{ErrNotNormalForm, e.Reason} }

// Check returns nil when uri is in normal form: every reading named in the
// package doc leaves it as it is. Otherwise it returns an *Error.
//
// Refused: control characters, spaces and invalid UTF-8 (WHATWG strips
// some); "\" anywhere; percent-encodings of unreserved characters (RFC
// 3986 §6.2.2.2 decodes them), of "/" and "\", and malformed ones; a
// scheme with upper-case letters; in the part before any "?" or "#", a
// "." or ".." segment (RFC 3986 §5.2.4, WHATWG) or an empty segment after
// the authority.
func Check(uri string) error {
	if uri == "" {
		return &Error{ErrEmpty}
	}
	if !utf8.ValidString(uri) {
		return &Error{ErrControl}
	}
	for i := 0; i < len(uri); i++ {
		c := uri[i]
		switch {
		case c <= 0x20 || c == 0x7f:
			return &Error{ErrControl}
		case c == '\\':
			return &Error{ErrBackslash}
		case c == '%':
			if i+2 >= len(uri) || !isHex(uri[i+1]) || !isHex(uri[i+2]) {
				return &Error{ErrBadPercent}
			}
			switch d := unhex(uri[i+1])<<4 | unhex(uri[i+2]); {
			case d == '.' || d == '/' || d == '\\':
				return &Error{ErrEncodedSep}
			case unreserved(d):
				return &Error{ErrEncodedPlain}
			}
		}
	}
	// Unicode spaces and controls (U+0085, U+2028, ...) are not safe either.
	for _, r := range uri {
		if r >= 0x80 && (r <= 0x9f || r == 0x2028 || r == 0x2029 || r == 0xfeff || r == 0xa0) {
			return &Error{ErrControl}
		}
	}
	rest := uri
	if i := schemeEnd(uri); i > 0 {
		if strings.ToLower(uri[:i]) != uri[:i] {
			return &Error{ErrSchemeCase}
		}
		rest = uri[i+1:]
	} else if strings.HasPrefix(uri, "//") {
		// Without a scheme, readers disagree whether "//" starts an
		// authority (RFC 3986) or a path (Go's url.Parse for "///").
		return &Error{ErrEmptySegment}
	}
	if j := strings.IndexAny(rest, "?#"); j >= 0 {
		rest = rest[:j]
	}
	if strings.HasPrefix(rest, "//") {
		// The authority ends at the first "/" after it.
		rest = rest[2:]
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return nil
		}
		rest = rest[j:]
	}
	segs := strings.Split(rest, "/")
	for k, s := range segs {
		switch {
		case s == "." || s == "..":
			return &Error{ErrDotSegment}
		case s == "" && k > 0 && k < len(segs)-1:
			// "a//b": an empty segment between two others. A leading "/"
			// (k == 0) and a trailing one are ordinary.
			return &Error{ErrEmptySegment}
		}
	}
	return nil
}

// schemeEnd returns the index of the ":" that ends a scheme (RFC 3986
// §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )), or -1.
func schemeEnd(uri string) int {
	for i := 0; i < len(uri); i++ {
		c := uri[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return i
		default:
			return -1
		}
	}
	return -1
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// unreserved is RFC 3986 §2.3's set.
func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
