package davclient_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/mcpbackend/davclient"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

// scheduleAnswer is an RFC 6638 schedule-response as Sabre writes it. No
// free/busy exchange was recorded from Nextcloud, so this one is written
// from the RFC; the principal's properties are the recorded ones.
const scheduleAnswer = `<?xml version="1.0" encoding="utf-8"?>
<cal:schedule-response xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav">
 <cal:response>
  <cal:recipient><d:href>mailto:user2@example.com</d:href></cal:recipient>
  <cal:request-status>2.0;Success</cal:request-status>
  <cal:calendar-data>BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Sabre//Sabre VObject 4.5.6//EN
METHOD:REPLY
BEGIN:VFREEBUSY
UID:x
DTSTAMP:20261127T080000Z
DTSTART:20261116T000000Z
DTEND:20261117T000000Z
ATTENDEE:mailto:user2@example.com
FREEBUSY:20261116T090000Z/20261116T100000Z,20261116T130000Z/PT30M
FREEBUSY;FBTYPE=FREE:20261116T150000Z/20261116T160000Z
FREEBUSY;FBTYPE=BUSY-TENTATIVE:20261116T160000Z/20261116T170000Z
END:VFREEBUSY
END:VCALENDAR
</cal:calendar-data>
 </cal:response>
 <cal:response>
  <cal:recipient><d:href>mailto:stranger@example.org</d:href></cal:recipient>
  <cal:request-status>3.7;Invalid calendar user</cal:request-status>
 </cal:response>
</cal:schedule-response>`

func TestNextcloudFreeBusy(t *testing.T) {
	r := nextcloudfake.NewDAVReplay(t, "core/15", "core/16")
	var sent string
	r.Handle(http.MethodPost, "/remote.php/dav/calendars/admin/outbox/", func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		sent = string(b)
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		_, _ = io.WriteString(w, strings.ReplaceAll(scheduleAnswer, "\n", "\r\n"))
	})
	from := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	got, err := client(t, r).FreeBusy(adminCtx(), []string{"user2@example.com", "stranger@example.org"}, from, from.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"METHOD:REQUEST", "BEGIN:VFREEBUSY", "ORGANIZER:/remote.php/dav/principals/users/admin/", "ATTENDEE:mailto:user2@example.com", "DTSTART:20261116T000000Z", "DTEND:20261117T000000Z"} {
		if !strings.Contains(sent, want) {
			t.Errorf("request lacks %q:\n%s", want, sent)
		}
	}
	if len(got) != 2 || got[0].Attendee != "stranger@example.org" || got[0].Err == nil || got[1].Err != nil {
		t.Fatalf("answers = %+v", got)
	}
	var busy []string
	for _, b := range got[1].Busy {
		busy = append(busy, b.Start.Format("15:04")+"-"+b.End.Format("15:04"))
	}
	if strings.Join(busy, " ") != "09:00-10:00 13:00-13:30 16:00-17:00" {
		t.Errorf("busy = %v", busy)
	}
}

func TestFreeBusyWithoutScheduling(t *testing.T) {
	// A principal without schedule-outbox-URL (Radicale's case).
	r := nextcloudfake.NewDAVReplay(t, "core/15")
	r.Handle("PROPFIND", "/remote.php/dav/principals/users/admin/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusMultiStatus)
		_, _ = io.WriteString(w, `<d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:response><d:href>/remote.php/dav/principals/users/admin/</d:href>
<d:propstat><d:prop><c:calendar-home-set><d:href>/cal/</d:href></c:calendar-home-set></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>`)
	})
	ctx := nextcloud.WithCredentials(context.Background(), nextcloud.Basic{Username: "admin", Password: "x"})
	_, err := client(t, r).FreeBusy(ctx, []string{"a@example.com"}, time.Now(), time.Now().Add(time.Hour))
	if !errors.Is(err, davclient.ErrNoScheduling) {
		t.Fatalf("err = %v", err)
	}
}
