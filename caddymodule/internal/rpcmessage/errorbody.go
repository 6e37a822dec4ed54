package rpcmessage

import (
	"encoding/json"
	"errors"
	"strconv"
)

// ErrorBody returns a JSON-RPC error response with the given id, code and
// message. A nil or empty id is written as null, as JSON-RPC requires when
// the id could not be determined. The id is written verbatim, so it must be
// a Message.ID (or other already-valid JSON); anything else becomes null.
func ErrorBody(id json.RawMessage, code int, message string) []byte {
	return appendError(nil, id, code, message)
}

// ErrorBodyFor returns the error response for err as returned by Parse or
// CheckHeaders, with the code the *Error carries (CodeInvalidRequest for any
// other error). Pass a nil id for Parse errors, whose id cannot be trusted,
// and Message.ID for CheckHeaders errors, whose body parsed unambiguously.
func ErrorBodyFor(id json.RawMessage, err error) []byte {
	code, msg := CodeInvalidRequest, "invalid request"
	if e, ok := errors.AsType[*Error](err); ok {
		code, msg = e.Code, e.Reason.Error()
	}
	return appendError(nil, id, code, msg)
}

func appendError(b []byte, id json.RawMessage, code int, message string) []byte {
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	if len(id) == 0 || !json.Valid(id) {
		b = append(b, "null"...)
	} else {
		b = append(b, id...)
	}
	b = append(b, `,"error":{"code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"message":`...)
	msg, _ := json.Marshal(message) // a string always marshals
	b = append(b, msg...)
	b = append(b, "}}"...)
	return b
}
