package radicaletest

import (
	"net/http"
	"strings"
	"testing"
)

func TestStartAuthNone(t *testing.T) {
	s := Start(t)
	req, _ := http.NewRequest("PROPFIND", s.URL, strings.NewReader(`<?xml version="1.0"?><propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>`))
	req.SetBasicAuth("alice", "anything")
	req.Header.Set("Depth", "0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("PROPFIND / = %d, want 207", resp.StatusCode)
	}
}

func TestStartHtpasswd(t *testing.T) {
	s := Start(t, WithUsers(map[string]string{"bob": "secret"}))
	for _, tc := range []struct {
		pass string
		want int
	}{{"secret", http.StatusMultiStatus}, {"wrong", http.StatusUnauthorized}} {
		req, _ := http.NewRequest("PROPFIND", s.URL+"bob/", nil)
		req.SetBasicAuth("bob", tc.pass)
		req.Header.Set("Depth", "0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("password %q: status %d, want %d", tc.pass, resp.StatusCode, tc.want)
		}
	}
}
