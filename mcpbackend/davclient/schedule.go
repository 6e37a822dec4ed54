package davclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// BusyPeriod is a span an attendee is not free.
type BusyPeriod struct {
	Start, End time.Time
}

// FreeBusyAnswer is what the server knows of one attendee's time.
type FreeBusyAnswer struct {
	Attendee string
	Busy     []BusyPeriod
	// Err is set when the server could not tell (unknown user, no
	// permission); Busy is then empty.
	Err error
}

// ErrNoScheduling is returned by FreeBusy for servers without a CalDAV
// scheduling outbox (RFC 6638), such as Radicale.
var ErrNoScheduling = errors.New("the server offers no CalDAV scheduling outbox, so other people's free/busy time is not available")

// scheduling returns the user's outbox and calendar user addresses (RFC
// 6638 §2.2, §2.4.1), which discovery read from the principal.
func (c *Client) scheduling(ctx context.Context) (outbox string, addresses []string, err error) {
	e, err := c.homesEntry(ctx)
	if err != nil {
		return "", nil, err
	}
	if e.homes.Principal == "" || e.outbox == "" {
		return "", nil, ErrNoScheduling
	}
	return e.outbox, e.addresses, nil
}

type scheduleResponse struct {
	Responses []struct {
		Recipient struct {
			Href string `xml:"DAV: href"`
		} `xml:"urn:ietf:params:xml:ns:caldav recipient"`
		Status string `xml:"urn:ietf:params:xml:ns:caldav request-status"`
		Data   string `xml:"urn:ietf:params:xml:ns:caldav calendar-data"`
	} `xml:"urn:ietf:params:xml:ns:caldav response"`
}

// FreeBusy asks the scheduling outbox for the busy time of attendees
// (e-mail addresses) between from and to: a VFREEBUSY request POSTed as
// RFC 6638 §5.3 (after the CalDAV scheduling free-busy query) describes.
// Nextcloud answers for its own users.
func (c *Client) FreeBusy(ctx context.Context, attendees []string, from, to time.Time) ([]FreeBusyAnswer, error) {
	outbox, addresses, err := c.scheduling(ctx)
	if err != nil {
		return nil, err
	}
	organizer := ""
	for _, a := range addresses {
		if strings.HasPrefix(strings.ToLower(a), "mailto:") {
			organizer = a
			break
		}
	}
	if organizer == "" && len(addresses) > 0 {
		organizer = addresses[0]
	}
	if organizer == "" {
		return nil, errors.New("the server names no calendar user address to ask free/busy time as")
	}

	fb := ical.NewComponent(ical.CompFreeBusy)
	fb.Props.SetText(ical.PropUID, randomToken())
	fb.Props.SetDateTime(ical.PropDateTimeStamp, time.Now().UTC().Truncate(time.Second))
	fb.Props.SetDateTime(ical.PropDateTimeStart, from.UTC())
	fb.Props.SetDateTime(ical.PropDateTimeEnd, to.UTC())
	fb.Props.Set(&ical.Prop{Name: ical.PropOrganizer, Params: ical.Params{}, Value: organizer})
	for _, a := range attendees {
		fb.Props.Add(&ical.Prop{Name: ical.PropAttendee, Params: ical.Params{}, Value: "mailto:" + a})
	}
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, "-//Scopegate//Nextcloud MCP//EN")
	cal.Props.SetText(ical.PropMethod, "REQUEST")
	cal.Children = append(cal.Children, fb)
	var buf bytes.Buffer
	if err := ical.NewEncoder(&buf).Encode(cal); err != nil {
		return nil, fmt.Errorf("encoding the free/busy request: %w", err)
	}

	hdr := http.Header{}
	hdr.Set("Content-Type", "text/calendar; charset=utf-8")
	resp, err := c.send(ctx, http.MethodPost, outbox, &buf, hdr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var sr scheduleResponse
	if err := xml.NewDecoder(resp.Body).Decode(&sr); err != nil {
		return nil, fmt.Errorf("decoding the free/busy answer: %w", err)
	}
	var out []FreeBusyAnswer
	for _, r := range sr.Responses {
		ans := FreeBusyAnswer{Attendee: strings.TrimPrefix(strings.TrimSpace(r.Recipient.Href), "mailto:")}
		status := strings.TrimSpace(r.Status)
		if !strings.HasPrefix(status, "2.") {
			ans.Err = fmt.Errorf("no free/busy time: %s", status)
			out = append(out, ans)
			continue
		}
		ans.Busy, ans.Err = busyPeriods(r.Data)
		out = append(out, ans)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Attendee < out[j].Attendee })
	return out, nil
}

// busyPeriods reads the FREEBUSY properties of a VFREEBUSY reply
// (RFC 5545 §3.8.2.6): UTC periods as start/end or start/duration;
// FBTYPE=FREE periods are left out.
func busyPeriods(data string) ([]BusyPeriod, error) {
	cal, err := ical.NewDecoder(strings.NewReader(data)).Decode()
	if err != nil {
		return nil, fmt.Errorf("reading the free/busy reply: %w", err)
	}
	var out []BusyPeriod
	for _, comp := range cal.Children {
		if comp.Name != ical.CompFreeBusy {
			continue
		}
		for _, p := range comp.Props.Values(ical.PropFreeBusy) {
			if strings.EqualFold(p.Params.Get(ical.ParamFreeBusyType), "FREE") {
				continue
			}
			for _, period := range strings.Split(p.Value, ",") {
				startS, endS, ok := strings.Cut(strings.TrimSpace(period), "/")
				if !ok {
					return nil, fmt.Errorf("bad FREEBUSY period %q", period)
				}
				start, err := time.Parse("20060102T150405Z", startS)
				if err != nil {
					return nil, fmt.Errorf("bad FREEBUSY period %q: %w", period, err)
				}
				var end time.Time
				if strings.HasPrefix(endS, "P") || strings.HasPrefix(endS, "+P") {
					dp := ical.Prop{Name: ical.PropDuration, Params: ical.Params{}, Value: strings.TrimPrefix(endS, "+")}
					d, err := dp.Duration()
					if err != nil {
						return nil, fmt.Errorf("bad FREEBUSY period %q: %w", period, err)
					}
					end = start.Add(d)
				} else if end, err = time.Parse("20060102T150405Z", endS); err != nil {
					return nil, fmt.Errorf("bad FREEBUSY period %q: %w", period, err)
				}
				out = append(out, BusyPeriod{Start: start, End: end})
			}
		}
	}
	return out, nil
}

func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x", b)
}
