package contacts

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/emersion/go-vcard"
)

// Typed is a value with its vCard TYPE labels (work, home, cell, ...).
type Typed struct {
	Value string `json:"value"`
	Type  string `json:"type,omitempty" jsonschema:"comma-separated labels such as work, home, cell, voice"`
}

// Address is a postal address (ADR).
type Address struct {
	Street     string `json:"street,omitempty"`
	City       string `json:"city,omitempty"`
	Region     string `json:"region,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country,omitempty"`
	Type       string `json:"type,omitempty"`
}

// Contact is a vCard as the tools return it, whichever version it was
// stored in.
type Contact struct {
	UID          string    `json:"uid"`
	AddressBook  string    `json:"addressbook"`
	Href         string    `json:"href,omitempty" jsonschema:"the object's path on the server"`
	ETag         string    `json:"etag,omitempty" jsonschema:"pass to update as etag to make sure nobody changed it since"`
	Version      string    `json:"vcard_version"`
	FullName     string    `json:"full_name"`
	FirstName    string    `json:"first_name,omitempty"`
	LastName     string    `json:"last_name,omitempty"`
	Nickname     string    `json:"nickname,omitempty"`
	Emails       []Typed   `json:"emails,omitempty"`
	Phones       []Typed   `json:"phones,omitempty"`
	Addresses    []Address `json:"addresses,omitempty"`
	Organization string    `json:"organization,omitempty"`
	Title        string    `json:"title,omitempty"`
	Birthday     string    `json:"birthday,omitempty" jsonschema:"YYYY-MM-DD, or --MM-DD without a year"`
	URL          string    `json:"url,omitempty"`
	Note         string    `json:"note,omitempty"`
	Categories   []string  `json:"categories,omitempty"`
}

// contactFrom describes a vCard 3.0 or 4.0.
func contactFrom(card vcard.Card) Contact {
	c := Contact{
		UID:          card.Value(vcard.FieldUID),
		Version:      card.Value(vcard.FieldVersion),
		FullName:     card.PreferredValue(vcard.FieldFormattedName),
		Nickname:     card.PreferredValue(vcard.FieldNickname),
		Organization: strings.TrimRight(strings.ReplaceAll(card.PreferredValue(vcard.FieldOrganization), ";", ", "), ", "),
		Title:        card.PreferredValue(vcard.FieldTitle),
		Birthday:     normalizeDate(card.Value(vcard.FieldBirthday)),
		URL:          card.PreferredValue(vcard.FieldURL),
		Note:         card.Value(vcard.FieldNote),
	}
	for _, f := range card[vcard.FieldCategories] {
		for _, cat := range strings.Split(f.Value, ",") {
			if cat = strings.TrimSpace(cat); cat != "" {
				c.Categories = append(c.Categories, cat)
			}
		}
	}
	if n := card.Name(); n != nil {
		c.FirstName, c.LastName = n.GivenName, n.FamilyName
	}
	for _, f := range card[vcard.FieldEmail] {
		c.Emails = append(c.Emails, Typed{Value: f.Value, Type: types(f)})
	}
	for _, f := range card[vcard.FieldTelephone] {
		// vCard 4.0 may write numbers as tel: URIs.
		c.Phones = append(c.Phones, Typed{Value: strings.TrimPrefix(f.Value, "tel:"), Type: types(f)})
	}
	for _, a := range card.Addresses() {
		c.Addresses = append(c.Addresses, Address{
			Street: a.StreetAddress, City: a.Locality, Region: a.Region,
			PostalCode: a.PostalCode, Country: a.Country, Type: types(a.Field),
		})
	}
	return c
}

// types lists a field's TYPE labels in lower case, without the 3.0-only
// "internet" and "pref" markers, which carry no meaning for the model.
func types(f *vcard.Field) string {
	var out []string
	for _, t := range f.Params.Types() {
		for _, one := range strings.Split(t, ",") {
			one = strings.ToLower(strings.TrimSpace(one))
			if one != "" && one != "internet" && one != "pref" {
				out = append(out, one)
			}
		}
	}
	return strings.Join(out, ",")
}

var compactDate = regexp.MustCompile(`^(\d{4}|--)(\d{2})(\d{2})$`)

// normalizeDate turns vCard dates (19851210, --1210, 1985-12-10,
// 1985-12-10T00:00:00Z) into YYYY-MM-DD or --MM-DD.
func normalizeDate(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, 'T'); i > 0 {
		s = s[:i]
	}
	if m := compactDate.FindStringSubmatch(s); m != nil {
		if m[1] == "--" {
			return "--" + m[2] + "-" + m[3]
		}
		return m[1] + "-" + m[2] + "-" + m[3]
	}
	return s
}

// contactData is what create and update accept: known keys only, so a
// misspelt key is reported rather than silently dropped. A key present
// with null removes the property on update.
type contactData map[string]any

var knownKeys = []string{
	"full_name", "first_name", "last_name", "nickname", "emails", "phones", "addresses",
	"organization", "title", "birthday", "url", "note", "categories",
}

var keyAliases = map[string]string{
	"fn": "full_name", "name": "full_name", "email": "emails", "phone": "phones", "tel": "phones",
	"telephone": "phones", "org": "organization", "company": "organization", "address": "addresses",
	"given_name": "first_name", "family_name": "last_name", "bday": "birthday",
}

func (d contactData) normalized() (contactData, error) {
	out := contactData{}
	for k, v := range d {
		key := strings.ToLower(k)
		if a, ok := keyAliases[key]; ok {
			key = a
		}
		known := false
		for _, kk := range knownKeys {
			known = known || kk == key
		}
		if !known {
			return nil, fmt.Errorf("unknown contact_data key %q; known keys: %s", k, strings.Join(knownKeys, ", "))
		}
		out[key] = v
	}
	return out, nil
}

// apply merges d into card: the properties d names are replaced (or
// removed when null), everything else, photos and vendor extensions
// included, is kept.
func apply(card vcard.Card, d contactData) error {
	d, err := d.normalized()
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := d[k]
		switch k {
		case "full_name":
			if err := setString(card, vcard.FieldFormattedName, v, k); err != nil {
				return err
			}
		case "nickname":
			err = setString(card, vcard.FieldNickname, v, k)
		case "organization":
			err = setString(card, vcard.FieldOrganization, v, k)
		case "title":
			err = setString(card, vcard.FieldTitle, v, k)
		case "url":
			err = setString(card, vcard.FieldURL, v, k)
		case "note":
			err = setString(card, vcard.FieldNote, v, k)
		case "birthday":
			err = setString(card, vcard.FieldBirthday, v, k)
		case "first_name", "last_name":
			s, e := stringOf(v, k)
			if e != nil {
				return e
			}
			n := card.Name()
			if n == nil {
				n = &vcard.Name{}
			}
			if k == "first_name" {
				n.GivenName = s
			} else {
				n.FamilyName = s
			}
			card.SetName(n)
		case "emails", "phones":
			list, e := typedList(v, k)
			if e != nil {
				return e
			}
			field := vcard.FieldEmail
			if k == "phones" {
				field = vcard.FieldTelephone
			}
			delete(card, field)
			for _, t := range list {
				f := &vcard.Field{Value: t.Value, Params: vcard.Params{}}
				if t.Type != "" {
					f.Params.Set(vcard.ParamType, strings.ToLower(t.Type))
				}
				card.Add(field, f)
			}
		case "addresses":
			list, e := addressList(v)
			if e != nil {
				return e
			}
			delete(card, vcard.FieldAddress)
			for _, a := range list {
				addr := &vcard.Address{
					Field:         &vcard.Field{Params: vcard.Params{}},
					StreetAddress: a.Street, Locality: a.City, Region: a.Region, PostalCode: a.PostalCode, Country: a.Country,
				}
				if a.Type != "" {
					addr.Field.Params.Set(vcard.ParamType, strings.ToLower(a.Type))
				}
				card.AddAddress(addr)
			}
		case "categories":
			list, e := stringList(v, k)
			if e != nil {
				return e
			}
			// One property per category: go-vcard escapes the commas of a
			// joined list, which other clients would read as one category.
			delete(card, vcard.FieldCategories)
			for _, cat := range list {
				card.Add(vcard.FieldCategories, &vcard.Field{Value: cat, Params: vcard.Params{}})
			}
		}
		if err != nil {
			return err
		}
	}
	return complete(card)
}

// complete fills what every vCard needs: FN (required by 3.0 and 4.0) and
// N (required by 3.0).
func complete(card vcard.Card) error {
	n := card.Name()
	if card.PreferredValue(vcard.FieldFormattedName) == "" {
		if n == nil || strings.TrimSpace(n.GivenName+n.FamilyName) == "" {
			return fmt.Errorf("a contact needs full_name or first_name/last_name")
		}
		card.SetValue(vcard.FieldFormattedName, strings.TrimSpace(n.GivenName+" "+n.FamilyName))
	}
	if n == nil {
		card.SetName(nameFrom(card.PreferredValue(vcard.FieldFormattedName)))
	}
	return nil
}

// nameFrom splits a formatted name into N when the caller gave no parts:
// the last word is the family name, the words before it the given names.
// Writing the whole FN into the family name (as this backend once did)
// made Nextcloud show "Wilma Test" as a surname.
func nameFrom(fn string) *vcard.Name {
	words := strings.Fields(fn)
	if len(words) == 0 {
		return &vcard.Name{}
	}
	return &vcard.Name{GivenName: strings.Join(words[:len(words)-1], " "), FamilyName: words[len(words)-1]}
}

func stringOf(v any, key string) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	}
	return "", fmt.Errorf("contact_data.%s must be a string", key)
}

func setString(card vcard.Card, field string, v any, key string) error {
	s, err := stringOf(v, key)
	if err != nil {
		return err
	}
	if s == "" {
		delete(card, field)
		return nil
	}
	if field == vcard.FieldOrganization {
		// ORG is structured (name;unit); a comma in a plain name stays text.
		s = strings.ReplaceAll(s, ";", ",")
	}
	card.SetValue(field, s)
	return nil
}

func stringList(v any, key string) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		var out []string
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	case []any:
		var out []string
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("contact_data.%s must be a list of strings", key)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("contact_data.%s must be a string or a list of strings", key)
}

// typedList accepts "a@x", ["a@x", ...] or [{"value": "a@x", "type": "work"}].
func typedList(v any, key string) ([]Typed, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		ss, _ := stringList(x, key)
		out := make([]Typed, 0, len(ss))
		for _, s := range ss {
			out = append(out, Typed{Value: s})
		}
		return out, nil
	case []any:
		var out []Typed
		for _, e := range x {
			switch y := e.(type) {
			case string:
				out = append(out, Typed{Value: y})
			case map[string]any:
				val, _ := y["value"].(string)
				typ, _ := y["type"].(string)
				if val == "" {
					return nil, fmt.Errorf("contact_data.%s entries need a value", key)
				}
				out = append(out, Typed{Value: val, Type: typ})
			default:
				return nil, fmt.Errorf("contact_data.%s must list strings or {value, type} objects", key)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("contact_data.%s must be a string or a list", key)
}

func addressList(v any) ([]Address, error) {
	var raw []any
	switch x := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		raw = []any{x}
	case []any:
		raw = x
	default:
		return nil, fmt.Errorf("contact_data.addresses must be a list of address objects")
	}
	var out []Address
	for _, e := range raw {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("contact_data.addresses must be a list of address objects")
		}
		s := func(k string) string { v, _ := m[k].(string); return v }
		out = append(out, Address{Street: s("street"), City: s("city"), Region: s("region"), PostalCode: s("postal_code"), Country: s("country"), Type: s("type")})
	}
	return out, nil
}

// toVersion converts a card to the vCard version the address book takes.
func toVersion(card vcard.Card, version string) {
	if version == "3.0" {
		toV3(card)
		return
	}
	if strings.HasPrefix(card.Value(vcard.FieldVersion), "3.") && hasInlineBinary(card) {
		return
	}
	toV4(card)
}

// toV4 upgrades a 3.0 card: the library sets VERSION; TYPE=pref becomes
// PREF=1 and the 3.0-only INTERNET label and LABEL property go.
func toV4(card vcard.Card) {
	vcard.ToV4(card)
	for k, fields := range card {
		if k == vcard.FieldVersion {
			continue
		}
		for _, f := range fields {
			pref := f.Params.Get("pref") != ""
			delete(f.Params, "pref")
			var keep []string
			for _, typ := range f.Params.Types() {
				for _, one := range strings.Split(typ, ",") {
					switch l := strings.ToLower(strings.TrimSpace(one)); l {
					case "pref":
						pref = true
					case "internet", "":
					default:
						keep = append(keep, l)
					}
				}
			}
			if _, ok := f.Params[vcard.ParamType]; ok {
				delete(f.Params, vcard.ParamType)
				for _, typ := range keep {
					f.Params.Add(vcard.ParamType, typ)
				}
			}
			if pref {
				f.Params.Set(vcard.ParamPreferred, "1")
			}
		}
	}
	delete(card, "LABEL")
}

// hasInlineBinary reports 3.0-style ENCODING=b values (photos, logos).
// Their 4.0 form is a data: URI, whose comma go-vcard escapes, so such
// cards stay 3.0 rather than lose their photo.
func hasInlineBinary(card vcard.Card) bool {
	for _, fields := range card {
		for _, f := range fields {
			if enc := strings.ToLower(f.Params.Get("ENCODING")); enc == "b" || enc == "base64" {
				return true
			}
		}
	}
	return false
}

// toV3 writes a card for an address book that only takes 3.0.
func toV3(card vcard.Card) {
	card.SetValue(vcard.FieldVersion, "3.0")
	for _, fields := range card {
		for _, f := range fields {
			if f.Params.Get(vcard.ParamPreferred) != "" {
				delete(f.Params, vcard.ParamPreferred)
				f.Params.Add(vcard.ParamType, "pref")
			}
			if strings.EqualFold(f.Params.Get(vcard.ParamValue), "uri") && strings.HasPrefix(f.Value, "tel:") {
				f.Value = strings.TrimPrefix(f.Value, "tel:")
				delete(f.Params, vcard.ParamValue)
			}
		}
	}
	if card.Name() == nil {
		card.SetName(nameFrom(card.PreferredValue(vcard.FieldFormattedName)))
	}
}

// matches reports whether a query is the contact's UID or occurs in its
// names, addresses, numbers, organisation or categories.
func matches(c Contact, q string) bool {
	q = strings.ToLower(strings.TrimSpace(q))
	if q != "" && strings.ToLower(c.UID) == q {
		return true
	}
	hay := []string{c.FullName, c.FirstName, c.LastName, c.Nickname, c.Organization, c.Title, c.Note}
	hay = append(hay, c.Categories...)
	for _, e := range c.Emails {
		hay = append(hay, e.Value)
	}
	for _, p := range c.Phones {
		hay = append(hay, p.Value)
		// Compare numbers by digits so "+44 20" finds "+442079460001".
		if d := digits(q); len(d) >= 3 && strings.Contains(digits(p.Value), d) {
			return true
		}
	}
	for _, a := range c.Addresses {
		hay = append(hay, a.Street, a.City, a.Country)
	}
	for _, h := range hay {
		if q != "" && strings.Contains(strings.ToLower(h), q) {
			return true
		}
	}
	return false
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
