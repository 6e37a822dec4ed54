package listfilter

import (
	"errors"
	"fmt"
	"io"
	"mime"
)

// Page is one list response as discovery reads it.
type Page struct {
	// Items are the entries of every list in the response, unfiltered.
	Items []Item
	// NextCursor is result.nextCursor; empty on the last page.
	NextCursor string
}

// Errors of ReadPage besides ErrMalformed.
var (
	ErrErrorResponse = errors.New("listfilter: list request answered with a json-rpc error")
	ErrNoResponse    = errors.New("listfilter: no complete list response")
)

type pageState struct {
	responses     int
	errorResponse bool
	nextCursor    string
	failed        error
}

// ReadPage reads one list response the gateway requested itself, for
// discovery, with the same parser that filters clients' responses. The form
// is chosen by the response's Content-Type (application/json or
// text/event-stream). An error response, a stream without exactly one
// complete response, an unreadable response, or any other media type is an
// error.
func ReadPage(contentType string, body []byte) (Page, error) {
	var p Page
	st := &pageState{}
	rw := &Rewriter{
		Allow:   func(Item) bool { return true },
		Observe: func(_ List, items []Item) { p.Items = append(p.Items, items...) },
		page:    st,
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "application/json":
		if _, err := rw.RewriteJSON(body); err != nil {
			return Page{}, err
		}
	case "text/event-stream":
		s := NewSSEWriter(io.Discard, rw)
		s.onFail = func(err error) { st.failed = err }
		if _, err := s.Write(body); err != nil {
			return Page{}, fmt.Errorf("listfilter: reading list stream: %w", err)
		}
		if err := s.Close(); err != nil {
			return Page{}, err
		}
		if st.failed != nil {
			return Page{}, st.failed
		}
	default:
		return Page{}, fmt.Errorf("%w: content type %q", ErrUnexpectedType, contentType)
	}
	switch {
	case st.errorResponse:
		return Page{}, ErrErrorResponse
	case st.responses != 1:
		return Page{}, fmt.Errorf("%w: %d responses", ErrNoResponse, st.responses)
	}
	p.NextCursor = st.nextCursor
	return p, nil
}
