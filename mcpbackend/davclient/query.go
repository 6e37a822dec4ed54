package davclient

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav/caldav"
)

// uidQuery is a calendar-query REPORT selecting objects by the text of a
// property, such as the UID (RFC 4791 §7.8.6). go-webdav's client drops
// prop-filters, and without one a lookup would download the whole
// calendar.
type uidQuery struct {
	XMLName xml.Name `xml:"urn:ietf:params:xml:ns:caldav calendar-query"`
	Prop    struct {
		ETag struct{} `xml:"DAV: getetag"`
		Data struct{} `xml:"urn:ietf:params:xml:ns:caldav calendar-data"`
	} `xml:"DAV: prop"`
	Filter struct {
		Calendar struct {
			Name      string `xml:"name,attr"`
			Component struct {
				Name string `xml:"name,attr"`
				Prop struct {
					Name  string `xml:"name,attr"`
					Match struct {
						Collation string `xml:"collation,attr"`
						Text      string `xml:",chardata"`
					} `xml:"urn:ietf:params:xml:ns:caldav text-match"`
				} `xml:"urn:ietf:params:xml:ns:caldav prop-filter"`
			} `xml:"urn:ietf:params:xml:ns:caldav comp-filter"`
		} `xml:"urn:ietf:params:xml:ns:caldav comp-filter"`
	} `xml:"urn:ietf:params:xml:ns:caldav filter"`
}

type objectMultistatus struct {
	Responses []struct {
		Href      string `xml:"DAV: href"`
		Propstats []struct {
			Status string `xml:"DAV: status"`
			Prop   struct {
				ETag string `xml:"DAV: getetag"`
				Data string `xml:"urn:ietf:params:xml:ns:caldav calendar-data"`
			} `xml:"DAV: prop"`
		} `xml:"DAV: propstat"`
	} `xml:"DAV: response"`
}

// CalendarObjectsByUID asks the calendar at href for the objects whose
// component comp has a UID containing uid (text-match is a substring
// match, so callers compare the UID exactly).
func (c *Client) CalendarObjectsByUID(ctx context.Context, href, comp, uid string) ([]caldav.CalendarObject, error) {
	return c.textQuery(ctx, href, comp, ical.PropUID, "i;octet", uid)
}

// CalendarObjectsContaining asks the calendar at href for the objects
// whose component comp has a property prop containing text, ignoring
// ASCII case (i;ascii-casemap, which every CalDAV server supports, RFC
// 4791 §7.5.1). It is a pre-filter: callers still compare exactly, and
// must not use it for text beyond ASCII, whose case the collation does
// not fold.
func (c *Client) CalendarObjectsContaining(ctx context.Context, href, comp, prop, text string) ([]caldav.CalendarObject, error) {
	return c.textQuery(ctx, href, comp, prop, "i;ascii-casemap", text)
}

func (c *Client) textQuery(ctx context.Context, href, comp, prop, collation, text string) ([]caldav.CalendarObject, error) {
	var q uidQuery
	q.Filter.Calendar.Name = ical.CompCalendar
	q.Filter.Calendar.Component.Name = comp
	q.Filter.Calendar.Component.Prop.Name = prop
	q.Filter.Calendar.Component.Prop.Match.Collation = collation
	q.Filter.Calendar.Component.Prop.Match.Text = text
	body, err := xml.Marshal(q)
	if err != nil {
		return nil, fmt.Errorf("encoding calendar-query: %w", err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/xml; charset=utf-8")
	h.Set("Depth", "1")
	resp, err := c.send(ctx, "REPORT", href, bytes.NewReader(append([]byte(xml.Header), body...)), h)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ms objectMultistatus
	if err := xml.NewDecoder(resp.Body).Decode(&ms); err != nil {
		return nil, fmt.Errorf("decoding calendar-query answer: %w", err)
	}
	var out []caldav.CalendarObject
	for _, r := range ms.Responses {
		for _, ps := range r.Propstats {
			if !strings.Contains(ps.Status, " 200") || ps.Prop.Data == "" {
				continue
			}
			cal, err := ical.NewDecoder(strings.NewReader(ps.Prop.Data)).Decode()
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", r.Href, err)
			}
			p := r.Href
			if u, err := url.Parse(p); err == nil {
				p = u.Path
			}
			out = append(out, caldav.CalendarObject{Path: p, ETag: UnquoteETag(ps.Prop.ETag), Data: cal})
		}
	}
	return out, nil
}
