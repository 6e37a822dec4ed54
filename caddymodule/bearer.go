package caddymodule

import (
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// errMalformed is the message for a bearer header with an unusable token;
// unlike missing credentials it earns error="invalid_token".
const errMalformed = "malformed token"

// bearerToken extracts the access token from the only place MCP allows it:
// one Authorization header with the Bearer scheme (case-insensitive, RFC
// 9110 §11.1). A token in the query string is refused with 400 and never
// used, as are duplicate Authorization headers. It reads no body: a token
// in a form body is refused once the header's token is verified (see
// formCarriesToken). It returns the token, or a status (400, or 401 when
// there are no bearer credentials or a malformed token) with a message;
// msg is errMalformed for a bearer header whose token is not even
// syntactically one.
func bearerToken(r *http.Request) (token string, status int, msg string) {
	if hasAccessTokenParam(r.URL.RawQuery) {
		return "", http.StatusBadRequest, "access tokens are accepted only in the Authorization header, not in the query string"
	}
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", http.StatusUnauthorized, "no bearer token"
	case 1:
	default:
		return "", http.StatusBadRequest, "more than one Authorization header"
	}
	return parseAuthorization(values[0])
}

// parseAuthorization reads "Bearer <b64token>" (RFC 6750 §2.1). Another
// scheme means no bearer credentials (401 without an error code); a bearer
// header whose token is empty or not b64token syntax is a malformed token.
func parseAuthorization(h string) (token string, status int, msg string) {
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", http.StatusUnauthorized, "no bearer token"
	}
	token = strings.TrimLeft(rest, " ")
	if token == "" || !isB64Token(token) {
		return "", http.StatusUnauthorized, errMalformed
	}
	return token, 0, ""
}

// isB64Token checks RFC 6750's b64token: 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for i < len(s) && b64TokenByte[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// b64TokenByte marks the bytes of b64token before its padding; a table,
// since every request's token is checked byte by byte.
var b64TokenByte = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/") {
		t[c] = true
	}
	return t
}()

func hasAccessTokenParam(rawQuery string) bool {
	if rawQuery == "" {
		return false
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		// An unparsable query cannot be read two ways by us, but the
		// upstream might parse it leniently: look at the raw text too.
		return strings.Contains(strings.ToLower(rawQuery), "access_token")
	}
	for k := range q {
		if strings.EqualFold(k, "access_token") {
			return true
		}
	}
	return false
}

// formCarriesToken reports whether a form-encoded body holds
// access_token (RFC 6750 §2.2), which the gateway never accepts. It looks
// at a body already read, and so only after the header's token was
// verified: the body of a client that has not authenticated is never
// buffered to look for a token.
func formCarriesToken(h http.Header, body []byte) bool {
	ct := h.Get("Content-Type")
	// In an ASCII header the media type is a plain token, so a header
	// that does not contain it cannot parse to it; parsing (which
	// allocates) is left for the headers that might. Not so beyond ASCII:
	// mime lower-cases with Unicode rules, and "İ" lowers to "i".
	if isASCII(ct) && !containsFold(ct, "application/x-www-form-urlencoded") {
		return false
	}
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == "application/x-www-form-urlencoded" && hasAccessTokenParam(string(body))
}

// containsFold reports whether s contains the ASCII string sub, ignoring
// ASCII case, without allocating.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
