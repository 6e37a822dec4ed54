package sessionbind

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
)

// A wrapped session id binds a backend's Mcp-Session-Id to the subject it
// was created for, with no table to look it up in: the gateway hands the
// client
//
//	sg1.<key id>.<base64url(backend id)>.<base64url(HMAC-SHA256)>
//
// where the MAC covers the resource, the subject and the backend's id,
// keyed by the ring's key named by <key id>. Any replica holding the ring
// verifies it, and a restart loses nothing. Another subject's, a forged,
// a truncated or an expired-key id does not verify and is answered as a
// session that does not exist. Every character is visible ASCII, as the
// MCP specification requires of session ids; base64url keeps whatever the
// backend's id contains (dots included) out of the separators.
const (
	wrapPrefix = "sg1."
	macBytes   = sha256.Size
	// MaxBackendID bounds the backend ids the gateway wraps (and so the
	// wrapped ids it parses): mcp-go's are 48 characters.
	MaxBackendID = 512
	// maxWrapped is the longest wrapped id Unwrap reads.
	maxWrapped = len(wrapPrefix) + 8 + 1 + (MaxBackendID*4+2)/3 + 1 + (macBytes*4+2)/3
)

var b64 = base64.RawURLEncoding.Strict()

// ErrBackendID is Wrap's error for a backend id the gateway does not
// pass on: empty, too long or not visible ASCII.
var ErrBackendID = errors.New("the backend's session id is empty, too long or not visible ASCII")

// Wrap returns the id the client gets for the backend's session id
// created for subject. Its error (other than ErrBackendID) means the keys
// could not be read or created in storage.
func (k *Keyring) Wrap(ctx context.Context, backendID, subject string) (string, error) {
	if backendID == "" || len(backendID) > MaxBackendID || !visibleASCII(backendID) {
		return "", ErrBackendID
	}
	key, err := k.current(ctx)
	if err != nil {
		return "", err
	}
	mac := k.mac(key, backendID, subject)
	var b strings.Builder
	b.Grow(len(wrapPrefix) + len(key.ID) + 2 + b64.EncodedLen(len(backendID)) + b64.EncodedLen(len(mac)))
	b.WriteString(wrapPrefix)
	b.WriteString(key.ID)
	b.WriteByte('.')
	b.WriteString(b64.EncodeToString([]byte(backendID)))
	b.WriteByte('.')
	b.WriteString(b64.EncodeToString(mac))
	return b.String(), nil
}

// Unwrap returns the backend's session id of wrapped if it was made by
// this resource's ring for subject with a key still accepted; ok false
// otherwise. err is set only when the keys could not be read from storage
// (the request can then be judged neither way).
func (k *Keyring) Unwrap(ctx context.Context, wrapped, subject string) (backendID string, ok bool, err error) {
	keyID, rawID, mac, ok := parse(wrapped)
	if !ok {
		return "", false, nil
	}
	key, ok, err := k.accepted(ctx, keyID)
	if err != nil || !ok {
		return "", false, err
	}
	if !hmac.Equal(mac, k.mac(key, string(rawID), subject)) {
		return "", false, nil
	}
	return string(rawID), true, nil
}

// parse splits a wrapped id into its parts, refusing anything not in the
// exact form Wrap writes.
func parse(wrapped string) (keyID string, backendID, mac []byte, ok bool) {
	if len(wrapped) > maxWrapped || !strings.HasPrefix(wrapped, wrapPrefix) {
		return "", nil, nil, false
	}
	keyID, rest, ok1 := strings.Cut(wrapped[len(wrapPrefix):], ".")
	enc, encMAC, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || keyID == "" || enc == "" || strings.Contains(encMAC, ".") {
		return "", nil, nil, false
	}
	backendID, err := b64.DecodeString(enc)
	if err != nil || len(backendID) == 0 || len(backendID) > MaxBackendID || !visibleASCII(string(backendID)) {
		return "", nil, nil, false
	}
	mac, err = b64.DecodeString(encMAC)
	if err != nil || len(mac) != macBytes {
		return "", nil, nil, false
	}
	return keyID, backendID, mac, true
}

// mac is the tag over the resource, the subject and the backend's id,
// each length-prefixed so that no two triples share an input.
func (k *Keyring) mac(key sessionKey, backendID, subject string) []byte {
	h := hmac.New(sha256.New, key.Secret)
	var n [8]byte
	for _, part := range []string{"scopegate session v1", k.resource, subject, backendID} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write([]byte(part))
	}
	return h.Sum(nil)
}

// visibleASCII reports whether s has only the characters 0x21 to 0x7E.
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
