package davclient_test

import (
	"context"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"github.com/scopegate/scopegate/internal/davtest"
	"github.com/scopegate/scopegate/internal/radicaletest"
	"github.com/scopegate/scopegate/mcpbackend/davclient"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

func TestRadicaleDiscoveryAndUIDQuery(t *testing.T) {
	rad := radicaletest.Start(t)
	c, err := davclient.New(davtest.Config(rad.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx := nextcloud.WithCredentials(context.Background(), nextcloud.Basic{Username: "carol", Password: "x"})
	h, err := c.Homes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h != (davclient.Homes{Principal: "/carol/", Calendars: "/carol/", AddressBooks: "/carol/"}) {
		t.Fatalf("homes = %+v", h)
	}
	cal, err := c.CreateCalendar(ctx, davclient.NewCalendar{Name: "work", DisplayName: "Work", Color: "#123456", Components: []string{"VEVENT"}})
	if err != nil {
		t.Fatal(err)
	}
	if cal.Accepts("VTODO") || cal.Color != "#123456" || cal.ReadOnly {
		t.Fatalf("calendar = %+v", cal)
	}
	for _, uid := range []string{"uid-1", "uid-10", "other"} {
		ev := ical.NewEvent()
		ev.Props.SetText(ical.PropUID, uid)
		ev.Props.SetText(ical.PropSummary, uid)
		ev.Props.SetDateTime(ical.PropDateTimeStamp, mustTime(t))
		ev.Props.SetDateTime(ical.PropDateTimeStart, mustTime(t))
		obj := ical.NewCalendar()
		obj.Props.SetText(ical.PropVersion, "2.0")
		obj.Props.SetText(ical.PropProductID, "test")
		obj.Children = append(obj.Children, ev.Component)
		if _, err := c.CalDAV().PutCalendarObject(davclient.WithPrecondition(ctx, davclient.Precondition{IfNoneMatch: true}), cal.Href+"obj-"+uid+".ics", obj); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := c.CalendarObjectsByUID(ctx, cal.Href, ical.CompEvent, "uid-1")
	if err != nil {
		t.Fatal(err)
	}
	// text-match is a substring match: uid-10 comes too, "other" does not.
	if len(objs) != 2 || objs[0].ETag == "" {
		t.Fatalf("objects = %+v", objs)
	}
	if err := c.Delete(ctx, cal.Href, ""); err != nil {
		t.Fatal(err)
	}
}

func mustTime(t *testing.T) time.Time {
	t.Helper()
	return time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
}
