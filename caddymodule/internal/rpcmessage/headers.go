package rpcmessage

import (
	"encoding/base64"
	"net/http"
	"strings"
)

// Standard request headers of MCP 2026-07-28 (SEP-2243) that mirror body
// fields for intermediaries.
const (
	HeaderMethod = "Mcp-Method"
	HeaderName   = "Mcp-Name"
)

// The sentinel that wraps Base64 header values carrying non-ASCII text.
const (
	base64Prefix = "=?base64?"
	base64Suffix = "?="
)

// CheckHeaders refuses a request whose Mcp-Method or Mcp-Name header
// disagrees with the body; the handler answers HTTP 400 with JSON-RPC error
// CodeHeaderMismatch. The gateway always decides from the body; this check
// exists so that nothing routing or logging on the headers (a load balancer,
// the backend, the audit log) sees a different request than the one that was
// authorised.
//
// Absent headers are fine (clients before 2026-07-28 do not send them). A
// header sent more than once, an undecodable Base64 sentinel, or an Mcp-Name
// on a method that carries no name (the body value is then "") is a
// mismatch. The check is applied whatever the protocol version: a header
// that is present must be true.
func CheckHeaders(h http.Header, m Message) error {
	if vs := h.Values(HeaderMethod); len(vs) > 0 {
		if len(vs) > 1 {
			return refuse(CodeHeaderMismatch, ErrHeaderMismatch, "%s sent %d times", HeaderMethod, len(vs))
		}
		if vs[0] != m.Method {
			return refuse(CodeHeaderMismatch, ErrHeaderMismatch, "%s differs from the body method", HeaderMethod)
		}
	}
	if vs := h.Values(HeaderName); len(vs) > 0 {
		if len(vs) > 1 {
			return refuse(CodeHeaderMismatch, ErrHeaderMismatch, "%s sent %d times", HeaderName, len(vs))
		}
		got, ok := DecodeHeaderValue(vs[0])
		if !ok {
			return refuse(CodeHeaderMismatch, ErrHeaderMismatch, "%s has invalid base64", HeaderName)
		}
		want, _ := m.Target()
		if got != want {
			return refuse(CodeHeaderMismatch, ErrHeaderMismatch, "%s differs from the body", HeaderName)
		}
	}
	return nil
}

// DecodeHeaderValue undoes the SEP-2243 "=?base64?…?=" wrapping that clients
// use for values that are not plain printable ASCII. Other values are
// returned unchanged. It reports false when the wrapper holds invalid Base64.
func DecodeHeaderValue(v string) (string, bool) {
	inner, ok := strings.CutPrefix(v, base64Prefix)
	if !ok {
		return v, true
	}
	inner, ok = strings.CutSuffix(inner, base64Suffix)
	if !ok {
		return v, true
	}
	b, err := base64.StdEncoding.DecodeString(inner)
	if err != nil {
		return "", false
	}
	return string(b), true
}
