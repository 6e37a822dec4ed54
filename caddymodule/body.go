package caddymodule

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/scopegate/scopegate/caddymodule/internal/rpcmessage"
)

// defaultMaxBodySize caps a POST body; a JSON-RPC message is small.
const defaultMaxBodySize = 1 << 20

// readMessage reads and classifies the body of a POST. On failure the
// client has been answered and ok is false.
func (g *Gateway) readMessage(w http.ResponseWriter, r *http.Request) (msg rpcmessage.Message, ok bool, err error) {
	limit := g.MaxBodySize
	if limit <= 0 {
		limit = defaultMaxBodySize
	}
	body, rerr := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if rerr != nil {
		var tooBig *http.MaxBytesError
		if errors.As(rerr, &tooBig) {
			return msg, false, writeJSONRPCError(w, http.StatusRequestEntityTooLarge, nil, rpcmessage.CodeInvalidRequest,
				"request body larger than "+strconv.FormatInt(limit, 10)+" bytes")
		}
		return msg, false, writeJSONRPCError(w, http.StatusBadRequest, nil, rpcmessage.CodeParseError, "reading request body failed")
	}
	// The backend reads exactly the bytes that were judged.
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	r.TransferEncoding = nil

	msg, perr := rpcmessage.Parse(body)
	if perr != nil {
		return msg, false, writeJSON(w, http.StatusBadRequest, rpcmessage.ErrorBodyFor(nil, perr))
	}
	if herr := rpcmessage.CheckHeaders(r.Header, msg); herr != nil {
		return msg, false, writeJSON(w, http.StatusBadRequest, rpcmessage.ErrorBodyFor(msg.ID, herr))
	}
	return msg, true, nil
}
