package davclient

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// What a real Nextcloud 34 answered that the recordings do not hold
// (issues 13 and 18): the untrusted-domain page and request ids.
func TestNextcloudErrorDetails(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   string
	}{
		{"untrusted domain", 400, http.Header{"Content-Type": {"text/html; charset=UTF-8"}},
			"<html><body><h2>Access through untrusted domain</h2></body></html>",
			`nc_x failed: listing (HTTP 400): Nextcloud refused the request: host "nextcloud" is not in its trusted_domains (see deploy/README.md)`},
		{"other html 400", 400, http.Header{"Content-Type": {"text/html"}}, "<html>Bad</html>", "nc_x failed: listing (HTTP 400): Bad Request"},
		{"500 with a request id", 500, http.Header{"Content-Type": {"application/xml"}, "X-Request-Id": {"aBcD1234"}},
			`<?xml version="1.0"?><d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns"><s:exception>Exception</s:exception><s:message>boom</s:message></d:error>`,
			"nc_x failed: listing (HTTP 500): boom (Nextcloud request id aBcD1234)"},
		{"404 keeps no request id", 404, http.Header{"X-Request-Id": {"x"}}, "", "nc_x failed: listing (HTTP 404): Not Found. It does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("PROPFIND", "http://nextcloud:80/remote.php/dav/calendars/admin/", nil)
			resp := &http.Response{StatusCode: tt.status, Header: tt.header, Body: io.NopCloser(strings.NewReader(tt.body))}
			if got := Explain("nc_x", "listing", newHTTPError(req, resp)); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got  %q\nwant %q…", got, tt.want)
			}
		})
	}
}
