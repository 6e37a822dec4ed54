package contacts

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav/carddav"
)

func card(t *testing.T, lines ...string) vcard.Card {
	t.Helper()
	text := "BEGIN:VCARD\r\n" + strings.Join(lines, "\r\n") + "\r\nEND:VCARD\r\n"
	c, err := vcard.NewDecoder(strings.NewReader(text)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func encode(t *testing.T, c vcard.Card) string {
	t.Helper()
	var b bytes.Buffer
	if err := vcard.NewEncoder(&b).Encode(c); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestContactFromBothVersions(t *testing.T) {
	v3 := card(t, "VERSION:3.0", "UID:a", "FN:Ada Lovelace", "N:Lovelace;Ada;;;", "EMAIL;TYPE=INTERNET;TYPE=WORK:ada@example.com",
		"TEL;TYPE=CELL,VOICE:+44 20", "BDAY:1815-12-10", "ORG:Engines;Research", "CATEGORIES:Team,VIP")
	v4 := card(t, "VERSION:4.0", "UID:g", "FN:Grace Hopper", "N:Hopper;Grace;;;", "EMAIL;TYPE=work:grace@example.com",
		"TEL;VALUE=uri;TYPE=\"work,voice\":tel:+1-555-0100", "BDAY:--1209", "CATEGORIES:Navy", "CATEGORIES:Science")
	tests := []struct {
		c        vcard.Card
		first    string
		email    Typed
		phone    Typed
		birthday string
		org      string
		cats     string
	}{
		{v3, "Ada", Typed{"ada@example.com", "work"}, Typed{"+44 20", "cell,voice"}, "1815-12-10", "Engines, Research", "Team|VIP"},
		{v4, "Grace", Typed{"grace@example.com", "work"}, Typed{"+1-555-0100", "work,voice"}, "--12-09", "", "Navy|Science"},
	}
	for _, tt := range tests {
		c := contactFrom(tt.c)
		if c.FirstName != tt.first || c.Emails[0] != tt.email || c.Phones[0] != tt.phone || c.Birthday != tt.birthday ||
			c.Organization != tt.org || strings.Join(c.Categories, "|") != tt.cats {
			t.Errorf("contactFrom(%s) = %+v", tt.c.Value(vcard.FieldUID), c)
		}
	}
}

func TestApplyMerges(t *testing.T) {
	base := func() vcard.Card {
		return card(t, "VERSION:3.0", "UID:a", "FN:Ada Lovelace", "N:Lovelace;Ada;;;", "EMAIL;TYPE=WORK:ada@example.com",
			"TEL;TYPE=CELL:+44 20", "NOTE:old", "X-CUSTOM:kept", "PHOTO;VALUE=uri:https://example.com/a.jpg")
	}
	tests := []struct {
		name    string
		data    contactData
		check   func(c Contact, raw vcard.Card) string
		wantErr string
	}{
		{
			name: "named fields replace, others stay",
			data: contactData{"note": "new", "emails": []any{map[string]any{"value": "ada@new.org", "type": "HOME"}, "second@new.org"}},
			check: func(c Contact, raw vcard.Card) string {
				if c.Note != "new" || len(c.Emails) != 2 || c.Emails[0] != (Typed{"ada@new.org", "home"}) || c.Phones[0].Value != "+44 20" ||
					raw.Value("X-CUSTOM") != "kept" || raw.Value(vcard.FieldPhoto) == "" {
					return "merge lost or kept the wrong fields"
				}
				return ""
			},
		},
		{
			name: "null removes",
			data: contactData{"phones": nil, "note": nil},
			check: func(c Contact, _ vcard.Card) string {
				if len(c.Phones) != 0 || c.Note != "" || len(c.Emails) != 1 {
					return "null did not remove"
				}
				return ""
			},
		},
		{
			name: "aliases and names",
			data: contactData{"fn": "Augusta Ada King", "first_name": "Augusta", "org": "Analytical Engines", "tel": "+1 555", "categories": "A, B"},
			check: func(c Contact, raw vcard.Card) string {
				if c.FullName != "Augusta Ada King" || c.FirstName != "Augusta" || c.LastName != "Lovelace" || c.Organization != "Analytical Engines" ||
					c.Phones[0].Value != "+1 555" || len(raw[vcard.FieldCategories]) != 2 {
					return "aliases not applied"
				}
				return ""
			},
		},
		{
			name: "addresses",
			data: contactData{"addresses": []any{map[string]any{"street": "1 Main St", "city": "Springfield", "country": "US", "type": "home"}}},
			check: func(c Contact, _ vcard.Card) string {
				if len(c.Addresses) != 1 || c.Addresses[0].City != "Springfield" || c.Addresses[0].Type != "home" {
					return "address not set"
				}
				return ""
			},
		},
		{name: "unknown key", data: contactData{"shoe_size": "42"}, wantErr: "unknown contact_data key"},
		{name: "wrong type", data: contactData{"note": 42.0}, wantErr: "must be a string"},
		{name: "no name left", data: contactData{"full_name": nil, "first_name": "", "last_name": ""}, wantErr: "needs full_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			err := apply(c, tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Round-trip through the encoder, as the server would see it.
			again, err := vcard.NewDecoder(strings.NewReader(encode(t, c))).Decode()
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.check(contactFrom(again), again); msg != "" {
				t.Errorf("%s:\n%s", msg, encode(t, c))
			}
		})
	}
}

func TestNewContactIsComplete(t *testing.T) {
	c := vcard.Card{}
	c.SetValue(vcard.FieldVersion, "4.0")
	c.SetValue(vcard.FieldUID, "x")
	if err := apply(c, contactData{"first_name": "Grace", "last_name": "Hopper"}); err != nil {
		t.Fatal(err)
	}
	if c.Value(vcard.FieldFormattedName) != "Grace Hopper" {
		t.Errorf("FN = %q", c.Value(vcard.FieldFormattedName))
	}
	c = vcard.Card{}
	c.SetValue(vcard.FieldVersion, "4.0")
	if err := apply(c, contactData{"full_name": "Cher"}); err != nil {
		t.Fatal(err)
	}
	if c.Name() == nil {
		t.Error("no N property, which vCard 3.0 readers require")
	}
}

func TestToVersion(t *testing.T) {
	tests := []struct {
		name    string
		c       vcard.Card
		version string
		want    []string
		absent  []string
	}{
		{
			name:    "3.0 upgraded to 4.0",
			c:       card(t, "VERSION:3.0", "UID:a", "FN:A", "N:A;;;;", "EMAIL;TYPE=INTERNET,PREF:a@example.com", "LABEL:old label"),
			version: "4.0",
			want:    []string{"VERSION:4.0", "EMAIL;PREF=1:a@example.com"},
			absent:  []string{"INTERNET", "LABEL"},
		},
		{
			name:    "3.0 with an inline photo stays 3.0",
			c:       card(t, "VERSION:3.0", "UID:a", "FN:A", "N:A;;;;", "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ"),
			version: "4.0",
			want:    []string{"VERSION:3.0", "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ"},
		},
		{
			name:    "4.0 written as 3.0 for a 3.0-only book",
			c:       card(t, "VERSION:4.0", "UID:a", "FN:A", "TEL;VALUE=uri;PREF=1:tel:+1-555"),
			version: "3.0",
			want:    []string{"VERSION:3.0", "TEL;TYPE=pref:+1-555", "N:A;;;;"},
			absent:  []string{"tel:", "PREF=1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			toVersion(tt.c, tt.version)
			out := encode(t, tt.c)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("missing %q in\n%s", w, out)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(out, a) {
					t.Errorf("unexpected %q in\n%s", a, out)
				}
			}
		})
	}
}

func TestWriteVersion(t *testing.T) {
	tests := []struct {
		data []carddav.AddressDataType
		want string
	}{
		{nil, "4.0"},
		{[]carddav.AddressDataType{{ContentType: "text/vcard", Version: "3.0"}, {ContentType: "text/vcard", Version: "4.0"}}, "4.0"},
		{[]carddav.AddressDataType{{ContentType: "text/vcard", Version: "3.0"}}, "3.0"},
	}
	for _, tt := range tests {
		if got := writeVersion(carddav.AddressBook{SupportedAddressData: tt.data}); got != tt.want {
			t.Errorf("writeVersion(%v) = %s, want %s", tt.data, got, tt.want)
		}
	}
}

func TestNormalizeDate(t *testing.T) {
	for in, want := range map[string]string{
		"1815-12-10": "1815-12-10", "18151210": "1815-12-10", "--1210": "--12-10",
		"1985-04-12T00:00:00Z": "1985-04-12", "--12-10": "--12-10", "": "",
	} {
		if got := normalizeDate(in); got != want {
			t.Errorf("normalizeDate(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMatches(t *testing.T) {
	c := Contact{UID: "ada-3c1e", FullName: "Ada Lovelace", Emails: []Typed{{Value: "ada@example.com"}}, Phones: []Typed{{Value: "+44 20 7946 0001"}},
		Organization: "Analytical Engines", Addresses: []Address{{City: "London"}}, Categories: []string{"VIP"}}
	tests := map[string]bool{
		"ada": true, "LOVELACE": true, "example.com": true, "4420 7946": true, "engines": true, "london": true,
		"vip": true, "grace": false, "12": false, "": false, "ADA-3C1E": true, "3c1e": false,
	}
	for q, want := range tests {
		if got := matches(c, q); got != want {
			t.Errorf("matches(%q) = %v", q, got)
		}
	}
}

// A formatted name alone is split into N as people read it (measured on
// Nextcloud 34: "Wilma Test" used to land whole in the family name and
// came back as last_name "Wilma Test"); explicit parts win.
func TestNameFromFormattedName(t *testing.T) {
	tests := []struct {
		data          contactData
		given, family string
	}{
		{contactData{"full_name": "Wilma Test"}, "Wilma", "Test"},
		{contactData{"full_name": "  Mary Ann   van Dyke "}, "Mary Ann van", "Dyke"},
		{contactData{"full_name": "Cher"}, "", "Cher"},
		{contactData{"full_name": "Wilma Test", "given_name": "Wilma T.", "family_name": "Flintstone"}, "Wilma T.", "Flintstone"},
		{contactData{"full_name": "Wilma Test", "family_name": "Test-Smith"}, "", "Test-Smith"},
		{contactData{"fn": "Ada King", "first_name": "Ada"}, "Ada", ""},
	}
	for _, tt := range tests {
		for _, version := range []string{"4.0", "3.0"} {
			c := vcard.Card{}
			c.SetValue(vcard.FieldVersion, "4.0")
			if err := apply(c, tt.data); err != nil {
				t.Fatal(err)
			}
			toVersion(c, version)
			n := c.Name()
			if n == nil || n.GivenName != tt.given || n.FamilyName != tt.family {
				t.Errorf("%v as %s: N = %+v, want given %q family %q", tt.data, version, n, tt.given, tt.family)
			}
			got := contactFrom(c)
			if got.FirstName != tt.given || got.LastName != tt.family {
				t.Errorf("%v as %s: read back first %q last %q", tt.data, version, got.FirstName, got.LastName)
			}
		}
	}
}
