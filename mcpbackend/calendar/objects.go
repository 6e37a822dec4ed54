package calendar

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav/caldav"

	"github.com/scopegate/scopegate/mcpbackend/davclient"
)

// store is the object-level CalDAV access the tools share.
type store struct {
	dav *davclient.Client
}

// query returns the objects of a calendar holding a component of type comp
// that overlaps [from, to); zero bounds mean no time filter.
func (s store) query(ctx context.Context, cal davclient.Calendar, comp string, from, to time.Time) ([]caldav.CalendarObject, error) {
	filter := caldav.CompFilter{Name: comp}
	if !from.IsZero() || !to.IsZero() {
		if from.IsZero() {
			from = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		if to.IsZero() {
			to = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		filter.Start, filter.End = from.UTC(), to.UTC()
	}
	q := &caldav.CalendarQuery{
		CompRequest: caldav.CalendarCompRequest{Name: ical.CompCalendar, AllProps: true, AllComps: true},
		CompFilter:  caldav.CompFilter{Name: ical.CompCalendar, Comps: []caldav.CompFilter{filter}},
	}
	objs, err := s.dav.CalDAV().QueryCalendar(ctx, cal.Href, q)
	if err != nil {
		return nil, fmt.Errorf("querying %s: %w", cal.Name, err)
	}
	return objs, nil
}

// byUID locates the object of a calendar whose main component of type
// comp has the UID. The href comes from the server: objects created by
// other clients are rarely named <UID>.ics.
func (s store) byUID(ctx context.Context, cal davclient.Calendar, comp, uid string) (*caldav.CalendarObject, error) {
	objs, err := s.dav.CalendarObjectsByUID(ctx, cal.Href, comp, uid)
	if err != nil {
		// A server without prop-filter support: read the whole calendar.
		if objs, err = s.query(ctx, cal, comp, time.Time{}, time.Time{}); err != nil {
			return nil, err
		}
	}
	for i := range objs {
		if c := mainComponent(objs[i].Data, comp); c != nil && text(c, ical.PropUID) == uid {
			return &objs[i], nil
		}
	}
	return nil, &davclient.NotFoundError{What: kindOf(comp), Name: uid + " in calendar " + cal.Name}
}

func kindOf(comp string) string {
	if comp == ical.CompToDo {
		return "task"
	}
	return "event"
}

// create stores a new object under a fresh name, refusing to overwrite
// anything (If-None-Match: *), and returns its href and ETag.
func (s store) create(ctx context.Context, cal davclient.Calendar, uid string, obj *ical.Calendar) (string, string, error) {
	href := davclient.ChildHref(cal.Href, uid+".ics")
	return s.put(davclient.WithPrecondition(ctx, davclient.Precondition{IfNoneMatch: true}), href, obj)
}

// update replaces an object only if it still has etag (If-Match), so a
// concurrent change is reported instead of overwritten.
func (s store) update(ctx context.Context, href, etag string, obj *ical.Calendar) (string, string, error) {
	if etag == "" {
		return "", "", errors.New("refusing to update without an ETag")
	}
	return s.put(davclient.WithPrecondition(ctx, davclient.Precondition{IfMatch: etag}), href, obj)
}

func (s store) put(ctx context.Context, href string, obj *ical.Calendar) (string, string, error) {
	co, err := s.dav.CalDAV().PutCalendarObject(ctx, href, obj)
	if err != nil {
		return "", "", err
	}
	if co.ETag != "" {
		return co.Path, co.ETag, nil
	}
	// Some servers (Nextcloud after a chained write) answer without an
	// ETag; read it back so the caller can make the next write safe.
	got, err := s.dav.CalDAV().GetCalendarObject(ctx, co.Path)
	if err != nil {
		return co.Path, "", nil
	}
	return co.Path, got.ETag, nil
}

// newUID returns a random RFC 4122 version 4 UUID.
func newUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// writable reports why a calendar cannot take a component, or nil.
func writable(cal davclient.Calendar, comp string) error {
	if cal.ReadOnly {
		return fmt.Errorf("calendar %q is read-only (a subscription or shared read-only); choose another calendar", cal.Name)
	}
	if !cal.Accepts(comp) {
		return fmt.Errorf("calendar %q accepts only %v, not %s; choose a calendar whose components include %s (see nc_calendar_list_calendars)", cal.Name, cal.Components, comp, comp)
	}
	return nil
}
