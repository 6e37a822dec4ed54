package davclient

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
)

const (
	nsDAV     = "DAV:"
	nsCalDAV  = "urn:ietf:params:xml:ns:caldav"
	nsCardDAV = "urn:ietf:params:xml:ns:carddav"
	nsCS      = "http://calendarserver.org/ns/"
	nsICal    = "http://apple.com/ns/ical/"
)

// Calendar is a calendar collection (or a subscription) in the home set.
type Calendar struct {
	// Href is the collection's path on the server.
	Href string `json:"href"`
	// Name is the last path segment, the stable identifier tools accept.
	Name        string `json:"name"`
	DisplayName string `json:"display_name,omitempty"`
	Description string `json:"description,omitempty"`
	Color       string `json:"color,omitempty"`
	CTag        string `json:"ctag,omitempty"`
	// Components are the component types the calendar accepts (VEVENT,
	// VTODO, ...); empty means the server did not restrict them.
	Components []string `json:"components,omitempty"`
	// Subscription marks a webcal subscription (Nextcloud, Apple), which
	// is read-only; Source is its feed URL.
	Subscription bool   `json:"subscription,omitempty"`
	Source       string `json:"source,omitempty"`
	// ReadOnly is set for subscriptions and for calendars the user may
	// only read (shared read-only).
	ReadOnly bool `json:"read_only"`
}

// Accepts reports whether the calendar takes components of type comp.
func (c Calendar) Accepts(comp string) bool {
	if len(c.Components) == 0 {
		return true
	}
	for _, have := range c.Components {
		if strings.EqualFold(have, comp) {
			return true
		}
	}
	return false
}

// emptyProp is a property name in a PROPFIND body.
type emptyProp struct {
	XMLName xml.Name
}

type propfindBody struct {
	XMLName xml.Name `xml:"DAV: propfind"`
	Prop    struct {
		Props []emptyProp
	} `xml:"DAV: prop"`
}

var calendarProps = []emptyProp{
	{xml.Name{Space: nsDAV, Local: "resourcetype"}},
	{xml.Name{Space: nsDAV, Local: "displayname"}},
	{xml.Name{Space: nsCS, Local: "getctag"}},
	{xml.Name{Space: nsCalDAV, Local: "calendar-description"}},
	{xml.Name{Space: nsICal, Local: "calendar-color"}},
	{xml.Name{Space: nsCS, Local: "source"}},
	{xml.Name{Space: nsCalDAV, Local: "supported-calendar-component-set"}},
	{xml.Name{Space: nsDAV, Local: "current-user-privilege-set"}},
}

type multistatus struct {
	Responses []msResponse `xml:"DAV: response"`
}

type msResponse struct {
	Href      string       `xml:"DAV: href"`
	Propstats []msPropstat `xml:"DAV: propstat"`
}

type msPropstat struct {
	Status string      `xml:"DAV: status"`
	Prop   collectionP `xml:"DAV: prop"`
}

type collectionP struct {
	ResourceType struct {
		Types []emptyProp `xml:",any"`
	} `xml:"DAV: resourcetype"`
	DisplayName string `xml:"DAV: displayname"`
	CTag        string `xml:"http://calendarserver.org/ns/ getctag"`
	Description string `xml:"urn:ietf:params:xml:ns:caldav calendar-description"`
	Color       string `xml:"http://apple.com/ns/ical/ calendar-color"`
	Source      struct {
		Href string `xml:"DAV: href"`
	} `xml:"http://calendarserver.org/ns/ source"`
	Comps []struct {
		Name string `xml:"name,attr"`
	} `xml:"urn:ietf:params:xml:ns:caldav supported-calendar-component-set>comp"`
	Privileges *struct {
		Privilege []struct {
			Any []emptyProp `xml:",any"`
		} `xml:"DAV: privilege"`
	} `xml:"DAV: current-user-privilege-set"`
}

// canWrite tells from current-user-privilege-set (RFC 3744 §5.4) whether
// objects may be written: calendars shared read-only answer with "read"
// alone. Servers that do not report privileges are assumed writable.
func (p collectionP) canWrite() bool {
	if p.Privileges == nil {
		return true
	}
	for _, priv := range p.Privileges.Privilege {
		for _, a := range priv.Any {
			switch a.XMLName.Local {
			case "all", "write", "write-content", "bind":
				return true
			}
		}
	}
	return false
}

func (p collectionP) is(space, local string) bool {
	for _, t := range p.ResourceType.Types {
		if t.XMLName.Space == space && t.XMLName.Local == local {
			return true
		}
	}
	return false
}

func (c *Client) propfind(ctx context.Context, href, depth string, props []emptyProp) (*multistatus, error) {
	var pf propfindBody
	pf.Prop.Props = props
	body, err := xml.Marshal(pf)
	if err != nil {
		return nil, fmt.Errorf("encoding PROPFIND: %w", err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/xml; charset=utf-8")
	h.Set("Depth", depth)
	resp, err := c.send(ctx, "PROPFIND", href, bytes.NewReader(append([]byte(xml.Header), body...)), h)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ms multistatus
	if err := xml.NewDecoder(resp.Body).Decode(&ms); err != nil {
		return nil, fmt.Errorf("decoding PROPFIND %s: %w", href, err)
	}
	return &ms, nil
}

// calendarsFrom keeps the calendars and subscriptions of a multistatus:
// Nextcloud also lists its inbox, outbox, trash bin and deleted calendars.
func calendarsFrom(ms *multistatus) []Calendar {
	var out []Calendar
	for _, r := range ms.Responses {
		var cal Calendar
		found := false
		for _, ps := range r.Propstats {
			if !strings.Contains(ps.Status, " 200") {
				continue
			}
			p := ps.Prop
			if p.is(nsCalDAV, "calendar") {
				found = true
			}
			if p.is(nsCS, "subscribed") {
				found = true
				cal.Subscription = true
			}
			if p.DisplayName != "" {
				cal.DisplayName = p.DisplayName
			}
			if p.Description != "" {
				cal.Description = p.Description
			}
			if p.Color != "" {
				cal.Color = p.Color
			}
			if p.CTag != "" {
				cal.CTag = p.CTag
			}
			if p.Source.Href != "" {
				cal.Source = strings.TrimSpace(p.Source.Href)
			}
			for _, comp := range p.Comps {
				cal.Components = append(cal.Components, comp.Name)
			}
			if !p.canWrite() {
				cal.ReadOnly = true
			}
		}
		if !found {
			continue
		}
		href := r.Href
		if u, err := url.Parse(href); err == nil {
			href = u.Path
		}
		cal.Href = href
		cal.Name = path.Base(strings.TrimSuffix(href, "/"))
		if unescaped, err := url.PathUnescape(cal.Name); err == nil {
			cal.Name = unescaped
		}
		cal.ReadOnly = cal.ReadOnly || cal.Subscription
		out = append(out, cal)
	}
	return out
}

// Calendars lists the user's calendars and subscriptions. Subscriptions
// are only recognisable with webcal caching off (Nextcloud quirk).
func (c *Client) Calendars(ctx context.Context) ([]Calendar, error) {
	h, err := c.Homes(ctx)
	if err != nil {
		return nil, err
	}
	ms, err := c.propfind(withWebcalCaching(ctx, "Off"), h.Calendars, "1", calendarProps)
	if err != nil {
		return nil, c.ForgetHomesOn(ctx, err)
	}
	cals := calendarsFrom(ms)
	if cals == nil {
		cals = []Calendar{}
	}
	c.storeCollections(ctx, func(e *collectionsEntry) { e.cals, e.calsAt = slices.Clone(cals), time.Now() })
	return cals, nil
}

// FindCalendar returns the calendar whose name (path segment) is name, or
// failing that the one whose display name is name, ignoring case. It
// resolves from the cached listing (CachedCalendars) and asks the server
// again when that lacks name.
func (c *Client) FindCalendar(ctx context.Context, name string) (Calendar, error) {
	if e, ok := c.cachedCollections(ctx); ok && e.cals != nil && time.Since(e.calsAt) < collectionsTTL {
		if cal, err := PickCalendar(e.cals, name); err == nil {
			return cal, nil
		}
	}
	cals, err := c.Calendars(ctx)
	if err != nil {
		return Calendar{}, err
	}
	return PickCalendar(cals, name)
}

// PickCalendar finds name among cals (see FindCalendar).
func PickCalendar(cals []Calendar, name string) (Calendar, error) {
	for _, cal := range cals {
		if cal.Name == name {
			return cal, nil
		}
	}
	for _, cal := range cals {
		if strings.EqualFold(cal.DisplayName, name) || strings.EqualFold(cal.Name, name) {
			return cal, nil
		}
	}
	names := make([]string, 0, len(cals))
	for _, cal := range cals {
		names = append(names, cal.Name)
	}
	return Calendar{}, &NotFoundError{What: "calendar", Name: name, Known: names}
}

// NotFoundError names a collection or object that is not there, and what
// is there instead.
type NotFoundError struct {
	What  string
	Name  string
	Known []string
}

func (e *NotFoundError) Error() string {
	if e.Known == nil {
		return fmt.Sprintf("no %s %q", e.What, e.Name)
	}
	return fmt.Sprintf("no %s %q; existing: %s", e.What, e.Name, strings.Join(e.Known, ", "))
}

// NewCalendar describes a calendar to create.
type NewCalendar struct {
	Name        string
	DisplayName string
	Description string
	Color       string
	Components  []string
}

// encoding/xml gives the parents of an "a>b" path the child's namespace,
// so every element of these bodies is a struct of its own.
type mkcalendarBody struct {
	XMLName xml.Name `xml:"urn:ietf:params:xml:ns:caldav mkcalendar"`
	Set     struct {
		Prop mkcalProp `xml:"DAV: prop"`
	} `xml:"DAV: set"`
}

type mkcalProp struct {
	DisplayName string   `xml:"DAV: displayname,omitempty"`
	Description string   `xml:"urn:ietf:params:xml:ns:caldav calendar-description,omitempty"`
	Color       string   `xml:"http://apple.com/ns/ical/ calendar-color,omitempty"`
	CompSet     *compSet `xml:"urn:ietf:params:xml:ns:caldav supported-calendar-component-set,omitempty"`
}

type compSet struct {
	Comps []compEl `xml:"urn:ietf:params:xml:ns:caldav comp"`
}

type compEl struct {
	Name string `xml:"name,attr"`
}

// CreateCalendar issues MKCALENDAR (RFC 4791 §5.3.1) with the calendar's
// properties and waits until the new calendar shows in its home. The
// colour uses the Apple namespace, the only one Nextcloud stores.
func (c *Client) CreateCalendar(ctx context.Context, nc NewCalendar) (Calendar, error) {
	h, err := c.Homes(ctx)
	if err != nil {
		return Calendar{}, err
	}
	var body mkcalendarBody
	body.Set.Prop = mkcalProp{DisplayName: nc.DisplayName, Description: nc.Description, Color: nc.Color}
	if len(nc.Components) > 0 {
		body.Set.Prop.CompSet = &compSet{}
		for _, comp := range nc.Components {
			body.Set.Prop.CompSet.Comps = append(body.Set.Prop.CompSet.Comps, compEl{Name: comp})
		}
	}
	raw, err := xml.Marshal(body)
	if err != nil {
		return Calendar{}, fmt.Errorf("encoding MKCALENDAR: %w", err)
	}
	href := ChildHref(h.Calendars, nc.Name) + "/"
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/xml; charset=utf-8")
	resp, err := c.send(ctx, "MKCALENDAR", href, bytes.NewReader(append([]byte(xml.Header), raw...)), hdr)
	if err != nil {
		return Calendar{}, err
	}
	resp.Body.Close()
	c.ForgetCollections(ctx)
	return c.waitForCalendar(ctx, href)
}

func (c *Client) waitForCalendar(ctx context.Context, href string) (Calendar, error) {
	var lastErr error
	for i := 0; i < pollTries; i++ {
		ms, err := c.propfind(withWebcalCaching(ctx, "Off"), href, "0", calendarProps)
		if err == nil {
			if cals := calendarsFrom(ms); len(cals) == 1 {
				return cals[0], nil
			}
		} else if s := StatusOf(err); s != http.StatusNotFound {
			return Calendar{}, err
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return Calendar{}, ctx.Err()
		case <-time.After(pollInterval):
		}
	}
	return Calendar{}, fmt.Errorf("calendar %s created but not visible after %d tries: %v", href, pollTries, lastErr)
}

// Delete removes the collection or object at href; a non-empty etag makes
// the delete conditional.
func (c *Client) Delete(ctx context.Context, href, etag string) error {
	h := http.Header{}
	if etag != "" {
		h.Set("If-Match", QuoteETag(etag))
	}
	resp, err := c.send(ctx, http.MethodDelete, href, nil, h)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if strings.HasSuffix(href, "/") {
		c.ForgetCollections(ctx)
	}
	return nil
}

type mkcolBody struct {
	XMLName xml.Name `xml:"DAV: mkcol"`
	Set     struct {
		Prop mkcolProp `xml:"DAV: prop"`
	} `xml:"DAV: set"`
}

type mkcolProp struct {
	ResourceType struct {
		Collection  struct{} `xml:"DAV: collection"`
		AddressBook struct{} `xml:"urn:ietf:params:xml:ns:carddav addressbook"`
	} `xml:"DAV: resourcetype"`
	DisplayName string `xml:"DAV: displayname,omitempty"`
	Description string `xml:"urn:ietf:params:xml:ns:carddav addressbook-description,omitempty"`
}

// CreateAddressBook creates an address book with an extended MKCOL
// (RFC 5689), which go-webdav does not offer.
func (c *Client) CreateAddressBook(ctx context.Context, name, displayName, description string) (string, error) {
	h, err := c.Homes(ctx)
	if err != nil {
		return "", err
	}
	var body mkcolBody
	body.Set.Prop = mkcolProp{DisplayName: displayName, Description: description}
	raw, err := xml.Marshal(body)
	if err != nil {
		return "", fmt.Errorf("encoding MKCOL: %w", err)
	}
	href := ChildHref(h.AddressBooks, name) + "/"
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/xml; charset=utf-8")
	resp, err := c.send(ctx, "MKCOL", href, bytes.NewReader(append([]byte(xml.Header), raw...)), hdr)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	c.ForgetCollections(ctx)
	return href, nil
}

// ChildHref returns the href of a member called name inside the
// collection at parent, escaping name as one path segment.
func ChildHref(parent, name string) string {
	return strings.TrimSuffix(parent, "/") + "/" + url.PathEscape(name)
}

// CalendarChange names the properties to change; nil leaves one as it is.
type CalendarChange struct {
	DisplayName *string
	Description *string
	Color       *string
}

type proppatchBody struct {
	XMLName xml.Name `xml:"DAV: propertyupdate"`
	Set     struct {
		Prop struct {
			DisplayName *string `xml:"DAV: displayname,omitempty"`
			Description *string `xml:"urn:ietf:params:xml:ns:caldav calendar-description,omitempty"`
			Color       *string `xml:"http://apple.com/ns/ical/ calendar-color,omitempty"`
		} `xml:"DAV: prop"`
	} `xml:"DAV: set"`
}

type proppatchResult struct {
	Responses []struct {
		Propstats []struct {
			Status string `xml:"DAV: status"`
			Prop   struct {
				Any []emptyProp `xml:",any"`
			} `xml:"DAV: prop"`
		} `xml:"DAV: propstat"`
	} `xml:"DAV: response"`
}

// UpdateCalendar changes a calendar's name, description or colour with
// PROPPATCH (RFC 4918 §9.2), which go-webdav's client does not offer, and
// returns the calendar as the server now describes it.
func (c *Client) UpdateCalendar(ctx context.Context, href string, ch CalendarChange) (Calendar, error) {
	var body proppatchBody
	body.Set.Prop.DisplayName, body.Set.Prop.Description, body.Set.Prop.Color = ch.DisplayName, ch.Description, ch.Color
	raw, err := xml.Marshal(body)
	if err != nil {
		return Calendar{}, fmt.Errorf("encoding PROPPATCH: %w", err)
	}
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/xml; charset=utf-8")
	resp, err := c.send(ctx, "PROPPATCH", href, bytes.NewReader(append([]byte(xml.Header), raw...)), hdr)
	if err != nil {
		return Calendar{}, err
	}
	c.ForgetCollections(ctx)
	var res proppatchResult
	err = xml.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if err != nil {
		return Calendar{}, fmt.Errorf("decoding PROPPATCH answer: %w", err)
	}
	// The properties are set all or nothing (RFC 4918 §9.2); name the
	// ones the server refused.
	var refused []string
	for _, r := range res.Responses {
		for _, ps := range r.Propstats {
			if strings.Contains(ps.Status, " 200") || strings.Contains(ps.Status, " 424") {
				continue
			}
			for _, p := range ps.Prop.Any {
				refused = append(refused, p.XMLName.Local+" ("+strings.TrimPrefix(ps.Status, "HTTP/1.1 ")+")")
			}
		}
	}
	if len(refused) > 0 {
		return Calendar{}, fmt.Errorf("the server refused to change %s", strings.Join(refused, ", "))
	}
	return c.waitForCalendar(ctx, href)
}
