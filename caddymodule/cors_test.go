package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOwnCORS: the upstream's CORS headers never survive, however the
// header is written; the gateway's appear once; Vary names each field once.
func TestOwnCORS(t *testing.T) {
	for _, write := range []struct {
		name string
		do   func(w http.ResponseWriter)
	}{
		{"WriteHeader", func(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) }},
		{"Write", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }},
		{"ReadFrom", nil},
		{"Flush", func(w http.ResponseWriter) { _ = http.NewResponseController(w).Flush() }},
	} {
		for _, origin := range []string{"", "https://app.example"} {
			rec := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			if origin != "" {
				r.Header.Set("Origin", origin)
			}
			w := ownCORS(rec, r)
			h := w.Header()
			h.Add("Access-Control-Allow-Origin", "*")
			h.Add("access-control-allow-credentials", "true")
			h.Add("Vary", "Origin")
			h.Add("Vary", "Accept-Encoding, origin")
			if write.name == "ReadFrom" {
				_, _ = w.(*corsWriter).ReadFrom(strings.NewReader("x"))
			} else {
				write.do(w)
			}
			got := rec.Result().Header
			wantACAO := []string(nil)
			if origin != "" {
				wantACAO = []string{origin}
			}
			if v := got.Values("Access-Control-Allow-Origin"); strings.Join(v, "|") != strings.Join(wantACAO, "|") {
				t.Errorf("%s, origin %q: Access-Control-Allow-Origin %q, want %q", write.name, origin, v, wantACAO)
			}
			if v := got.Values("Access-Control-Allow-Credentials"); len(v) != 0 || len(got["access-control-allow-credentials"]) != 0 {
				t.Errorf("%s: the upstream's Allow-Credentials survived", write.name)
			}
			if v := got.Values("Vary"); len(v) != 1 || v[0] != "Origin, Accept-Encoding" {
				t.Errorf("%s: Vary %q, want [Origin, Accept-Encoding]", write.name, v)
			}
		}
	}
	// A preflight: the gateway's preflight headers, Vary: Origin once.
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodOptions, "/mcp", nil)
	r.Header.Set("Origin", "https://app.example")
	r.Header.Set("Access-Control-Request-Method", "POST")
	_ = preflight(ownCORS(rec, r), r)
	got := rec.Result().Header
	if rec.Code != http.StatusNoContent || got.Get("Access-Control-Allow-Methods") != corsAllowMethods || len(got.Values("Vary")) != 1 || got.Get("Vary") != "Origin" {
		t.Errorf("preflight: %d %v", rec.Code, got)
	}
}
