package davclient

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNewHTTPError(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		want        HTTPError
	}{
		{
			name:        "sabre body with a precondition",
			contentType: "application/xml; charset=utf-8",
			body: `<?xml version="1.0" encoding="utf-8"?>
<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">
  <s:exception>Sabre\CalDAV\Exception\InvalidComponentType</s:exception>
  <s:message>iCalendar objects must at least have a component of type VEVENT</s:message>
  <cal:supported-calendar-component xmlns:cal="urn:ietf:params:xml:ns:caldav"/>
</d:error>`,
			want: HTTPError{Exception: `Sabre\CalDAV\Exception\InvalidComponentType`, Message: "iCalendar objects must at least have a component of type VEVENT", Precondition: "supported-calendar-component"},
		},
		{
			name:        "plain text (Radicale)",
			contentType: "text/plain; charset=utf-8",
			body:        "Precondition failed\n",
			want:        HTTPError{Message: "Precondition failed"},
		},
		{
			name:        "html is not quoted back",
			contentType: "text/html",
			body:        "<html><body>Bad gateway</body></html>",
			want:        HTTPError{},
		},
		{
			name:        "long text is cut",
			contentType: "text/plain",
			body:        strings.Repeat("x", 1000),
			want:        HTTPError{Message: strings.Repeat("x", 300) + "…"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("PUT", "/cal/x.ics", nil)
			resp := &http.Response{StatusCode: 403, Header: http.Header{"Content-Type": {tt.contentType}}, Body: io.NopCloser(strings.NewReader(tt.body))}
			got := newHTTPError(req, resp)
			tt.want.Method, tt.want.Path, tt.want.Status = "PUT", "/cal/x.ics", 403
			if *got != tt.want {
				t.Errorf("got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		err  error
		want []string
	}{
		{&HTTPError{Method: "PUT", Status: 412, Message: "An If-Match header was specified, but none of the specified ETags matched."},
			[]string{"t failed: storing (HTTP 412): An If-Match header was specified", "Re-read it", "nothing was overwritten"}},
		{&HTTPError{Method: "PUT", Status: 412, Message: "Precondition failed.", CreateOnly: true},
			[]string{"already exists at this location"}},
		{&HTTPError{Method: "DELETE", Status: 412, Message: "An If-Match header was specified, but none of the specified ETags matched."},
			[]string{"(HTTP 412)", "changed by someone else", "nothing was deleted", "delete it again"}},
		{&HTTPError{Method: "PUT", Status: 412, Message: "An If-None-Match header was specified, but the ETag matched (or * was specified)."},
			[]string{"already exists at this location"}},
		{&HTTPError{Method: "DELETE", Status: 403, Message: "Forbidden"},
			[]string{"(HTTP 403): Forbidden", "scheduled invitation (iMIP)", "only the organizer"}},
		{&HTTPError{Method: "PUT", Status: 403, Path: "/remote.php/dav/addressbooks/users/admin/z-server-generated--system/x.vcf"},
			[]string{"address book is read-only"}},
		{&HTTPError{Method: "PUT", Status: 403, Precondition: "supported-calendar-component"},
			[]string{"(HTTP 403): Forbidden", "does not accept this kind of item"}},
		{&HTTPError{Method: "MKCOL", Status: 405, Message: "The resource you tried to create already exists"},
			[]string{"choose another name"}},
		{&HTTPError{Method: "PUT", Status: 409},
			[]string{"(HTTP 409): Conflict", "same UID"}},
		{&HTTPError{Method: "PUT", Status: 500, Message: "SQLSTATE[23000]: UNIQUE constraint failed"},
			[]string{"trash bin"}},
		{&HTTPError{Method: "PROPFIND", Status: 401},
			[]string{"(HTTP 401): Unauthorized", "credentials"}},
		{fmt.Errorf("wrapped: %w", &HTTPError{Method: "GET", Status: 404}),
			[]string{"(HTTP 404): Not Found", "list the calendars"}},
		{errors.New("dial tcp: connection refused"),
			[]string{"t failed: storing: dial tcp: connection refused"}},
		{&NotFoundError{What: "calendar", Name: "x", Known: []string{"a", "b"}},
			[]string{`no calendar "x"; existing: a, b`}},
	}
	for _, tt := range tests {
		got := Explain("t", "storing", tt.err)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("Explain(%v) = %q, lacks %q", tt.err, got, w)
			}
		}
	}
	if res := ToolError("t", "storing", errors.New("x")); !res.IsError {
		t.Error("ToolError is not an error result")
	}
}

func TestETagQuoting(t *testing.T) {
	for in, want := range map[string]string{
		"abc": `"abc"`, `"abc"`: `"abc"`, `W/"abc"`: `W/"abc"`, "*": "*", "": "",
	} {
		if got := QuoteETag(in); got != want {
			t.Errorf("QuoteETag(%q) = %q, want %q", in, got, want)
		}
	}
	if got := UnquoteETag(`"abc"`); got != "abc" {
		t.Errorf("UnquoteETag = %q", got)
	}
}

func TestCalendarsFrom(t *testing.T) {
	// A Nextcloud-style home with a webcal subscription, a calendar shared
	// read-write and a soft-deleted calendar.
	body := `<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/">
 <d:response><d:href>/remote.php/dav/calendars/admin/holidays%20de/</d:href>
  <d:propstat><d:prop><d:displayname>Holidays</d:displayname>
   <d:resourcetype><d:collection/><cs:subscribed/></d:resourcetype>
   <cs:source><d:href>webcal://example.com/holidays.ics</d:href></cs:source></d:prop>
   <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
 <d:response><d:href>http://cloud.example.com/remote.php/dav/calendars/admin/shared_by_bob/</d:href>
  <d:propstat><d:prop><d:displayname>Team</d:displayname>
   <d:resourcetype><d:collection/><cal:calendar/></d:resourcetype></d:prop>
   <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
 <d:response><d:href>/remote.php/dav/calendars/admin/old/</d:href>
  <d:propstat><d:prop><d:displayname>Old</d:displayname>
   <d:resourcetype><d:collection/><x:deleted-calendar xmlns:x="http://nextcloud.com/ns"/></d:resourcetype></d:prop>
   <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
</d:multistatus>`
	var ms multistatus
	if err := xml.Unmarshal([]byte(body), &ms); err != nil {
		t.Fatal(err)
	}
	cals := calendarsFrom(&ms)
	if len(cals) != 2 {
		t.Fatalf("calendars = %+v", cals)
	}
	sub := cals[0]
	if sub.Name != "holidays de" || !sub.Subscription || !sub.ReadOnly || sub.Source != "webcal://example.com/holidays.ics" {
		t.Errorf("subscription = %+v", sub)
	}
	if cals[1].Href != "/remote.php/dav/calendars/admin/shared_by_bob/" || cals[1].ReadOnly {
		t.Errorf("shared = %+v", cals[1])
	}
}

func TestPickCalendar(t *testing.T) {
	cals := []Calendar{{Name: "personal", DisplayName: "Personal"}, {Name: "b1f2", DisplayName: "Work"}}
	for in, want := range map[string]string{"personal": "personal", "Work": "b1f2", "work": "b1f2", "PERSONAL": "personal"} {
		got, err := PickCalendar(cals, in)
		if err != nil || got.Name != want {
			t.Errorf("PickCalendar(%q) = %v, %v", in, got.Name, err)
		}
	}
	if _, err := PickCalendar(cals, "nope"); err == nil || !strings.Contains(err.Error(), "personal, b1f2") {
		t.Errorf("missing calendar error = %v", err)
	}
}

func TestNewRejectsBadBaseURL(t *testing.T) {
	for _, u := range []string{"", "cloud.example.com", "://x"} {
		if _, err := New(Config{BaseURL: u}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}

func TestReadOnlyByPrivileges(t *testing.T) {
	body := `<d:multistatus xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav">
 <d:response><d:href>/cal/ro/</d:href><d:propstat><d:prop>
  <d:resourcetype><d:collection/><cal:calendar/></d:resourcetype>
  <d:current-user-privilege-set><d:privilege><d:read/></d:privilege><d:privilege><cal:read-free-busy/></d:privilege></d:current-user-privilege-set>
 </d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
 <d:response><d:href>/cal/rw/</d:href><d:propstat><d:prop>
  <d:resourcetype><d:collection/><cal:calendar/></d:resourcetype>
  <d:current-user-privilege-set><d:privilege><d:read/></d:privilege><d:privilege><d:write/></d:privilege></d:current-user-privilege-set>
 </d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
 <d:response><d:href>/cal/unknown/</d:href><d:propstat><d:prop>
  <d:resourcetype><d:collection/><cal:calendar/></d:resourcetype>
 </d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
</d:multistatus>`
	var ms multistatus
	if err := xml.Unmarshal([]byte(body), &ms); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, c := range calendarsFrom(&ms) {
		got[c.Name] = c.ReadOnly
	}
	if !got["ro"] || got["rw"] || got["unknown"] || len(got) != 3 {
		t.Errorf("read-only flags = %v", got)
	}
}
