package nextcloudfake

import (
	"io"
	"net/http"
	"testing"
)

// TestDAVReplayServesTranscripts holds the DAV replay to every CalDAV and
// CardDAV recording: the recorded request, sent to a replay of that one
// exchange, gets the recorded status, headers and body byte for byte.
func TestDAVReplayServesTranscripts(t *testing.T) {
	for _, app := range DAVApps {
		ex, err := Exchanges(app)
		if err != nil || len(ex) == 0 {
			t.Fatalf("%s: %d recordings, %v", app, len(ex), err)
		}
		for _, e := range ex {
			t.Run(e.Name, func(t *testing.T) {
				r := NewDAVReplay(t, e.Name)
				req, err := e.HTTPRequest(r.URL)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := r.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != e.Response.Status || string(body) != e.Response.Body {
					t.Errorf("got %d %q, recorded %d %q", resp.StatusCode, body, e.Response.Status, e.Response.Body)
				}
				for k, v := range e.Response.Headers {
					if got := resp.Header.Get(k); got != v {
						t.Errorf("header %s = %q, recorded %q", k, got, v)
					}
				}
				if sent := r.Sent(e.Request.Method); len(sent) != 1 {
					t.Errorf("replay recorded %d %s requests", len(sent), e.Request.Method)
				}
			})
		}
	}
}

func TestDAVReplayUnmatched(t *testing.T) {
	r := NewDAVReplay(t, "calendar/01")
	resp, err := http.Get(r.URL + "/remote.php/dav/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || len(r.Unmatched()) != 1 {
		t.Errorf("status %d, unmatched %v", resp.StatusCode, r.Unmatched())
	}
	if _, err := Fixture("calendar/99"); err == nil {
		t.Error("Fixture found a recording that does not exist")
	}
}
