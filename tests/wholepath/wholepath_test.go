// Package wholepath is the end-to-end test of the whole product path: the
// built Caddy binary running the repository's sample Caddyfile, unchanged,
// as the edge of a Nextcloud site. mcp_gateway authenticates tokens of a
// real OpenID provider (internal/oidctest) and enforces scopes in front of
// the in-process nextcloud_mcp backend, which reaches "Nextcloud": an
// in-test front that sends calendar and address book DAV traffic to a real
// Radicale and everything else to the Nextcloud contract fake. An mcp-go
// client drives it in both protocol eras.
//
// The test is skipped under `go test -short`; in the full run a missing
// radicale fails it.
package wholepath

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/internal/oidctest"
	"github.com/scopegate/scopegate/internal/radicaletest"
	"github.com/scopegate/scopegate/mcpbackend"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

// readScopes are every read scope of the catalog: a user who granted an
// MCP client read access to everything.
var readScopes = []string{
	"notes:read", "files:read", "sharing:read", "deck:read", "cookbook:read",
	"tables:read", "calendar:read", "todo:read", "contacts:read",
}

// catalog is the backend's tool inventory as the code declares it:
// family and required scopes per tool name.
type catalogTool struct {
	family   string
	scopes   []string
	readOnly bool // annotations.readOnlyHint
}

func catalog(t *testing.T) map[string]catalogTool {
	t.Helper()
	c, err := nextcloud.New(nextcloud.Options{BaseURL: "http://nextcloud.invalid"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]catalogTool{}
	for fam, tools := range mcpbackend.DefaultFamilies() {
		for _, tl := range tools(c) {
			ro := tl.Def.Annotations.ReadOnlyHint != nil && *tl.Def.Annotations.ReadOnlyHint
			out[tl.Def.Name] = catalogTool{family: fam, scopes: tl.Scopes, readOnly: ro}
		}
	}
	return out
}

// env is everything the test runs.
type env struct {
	provider *oidctest.Provider
	radicale *radicaletest.Server
	fake     *nextcloudfake.Fake
	front    *front
	site     *site
}

func TestWholePath(t *testing.T) {
	if testing.Short() {
		t.Skip("whole-path end-to-end test: skipped with -short")
	}
	started := time.Now()
	e := &env{}
	e.provider = oidctest.Start(t, oidctest.Options{})
	e.radicale = radicaletest.Start(t)
	fake, fakeSrv := nextcloudfake.Start(t, nextcloudfake.Options{})
	e.fake = fake
	e.front = startFront(t, fake, fakeSrv.URL, e.radicale.URL, e.provider)
	e.site = startSample(t, func(base string, httpPort, httpsPort, adminPort int) []string {
		return []string{
			"MCP_SITE=" + base,
			"MCP_PUBLIC_HOST=127.0.0.1",
			"MCP_RESOURCE=" + base + "/mcp",
			"OIDC_ISSUER=" + e.provider.Issuer(),
			"NEXTCLOUD_URL=" + e.front.URL,
			"MCP_CLIENT_ID=" + oidctest.ResourceServerID,
			"MCP_CLIENT_SECRET=" + oidctest.ClientSecret,
			fmt.Sprintf("HTTP_PORT=%d", httpPort),
			fmt.Sprintf("HTTPS_PORT=%d", httpsPort),
			fmt.Sprintf("CADDY_ADMIN=127.0.0.1:%d", adminPort),
		}
	}, "/status.php")
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range e.front.requests() {
				t.Logf("front saw %s %s -> %s", r.Method, r.Path, r.Upstream)
			}
		}
	})
	t.Logf("peers and binary up after %v: provider %s, radicale %s, front %s, site %s",
		time.Since(started).Round(time.Millisecond), e.provider.Issuer(), e.radicale.URL, e.front.URL, e.site.base)

	e.seedRadicale(t)
	cat := catalog(t)

	// 1. Unauthenticated: 401 with the RFC 9728 challenge.
	var metadataURL, challengedScope string
	t.Run("unauthenticated challenge", func(t *testing.T) {
		r := doReq(t, http.MethodPost, e.site.resource, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"wholepath","version":"0"}}}`,
			map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
		if r.status != http.StatusUnauthorized {
			t.Fatalf("POST /mcp without a token: %d %s, want 401", r.status, r.body)
		}
		h := r.header.Get("WWW-Authenticate")
		t.Logf("HTTP 401, WWW-Authenticate: %s", h)
		params := parseChallenge(t, h)
		metadataURL, challengedScope = params["resource_metadata"], params["scope"]
		if want := e.site.base + "/.well-known/oauth-protected-resource/mcp"; metadataURL != want {
			t.Errorf("challenge %q: resource_metadata %q, want %q", h, metadataURL, want)
		}
		if challengedScope == "" {
			t.Errorf("challenge %q has no scope", h)
		}
		if _, ok := params["error"]; ok {
			t.Errorf("challenge %q to a request without credentials carries an error code (RFC 6750 §3.1)", h)
		}
	})
	if metadataURL == "" {
		t.FailNow()
	}

	// 2. The protected resource metadata document.
	var supported []string
	t.Run("metadata", func(t *testing.T) {
		r := doReq(t, http.MethodGet, metadataURL, "", nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", metadataURL, r.status, r.body)
		}
		var md struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
			ScopesSupported      []string `json:"scopes_supported"`
		}
		if err := json.Unmarshal([]byte(r.body), &md); err != nil {
			t.Fatalf("metadata %s: %v", r.body, err)
		}
		if md.Resource != e.site.resource {
			t.Errorf("resource %q, want %q", md.Resource, e.site.resource)
		}
		if !slices.Equal(md.AuthorizationServers, []string{e.provider.Issuer()}) {
			t.Errorf("authorization_servers %q, want [%s]", md.AuthorizationServers, e.provider.Issuer())
		}
		var all []string
		for _, ct := range cat {
			all = append(all, ct.scopes...)
		}
		slices.Sort(all)
		all = slices.Compact(all)
		for _, s := range all {
			if !slices.Contains(md.ScopesSupported, s) {
				t.Errorf("scopes_supported %q lacks the catalog scope %s", md.ScopesSupported, s)
			}
		}
		supported = md.ScopesSupported
	})

	// The sample sets no challenge_scopes: the default is least privilege,
	// the base scopes plus the scopes of every tool annotated readOnlyHint
	// (Gateway.ChallengeScopes). Clients take the challenge's scope first
	// (MCP authorization, scope selection), so the very first 401 of a
	// fresh site must already name the read scopes (otherwise a client asks
	// only for identity scopes and sees no tool) and no write scope (writes
	// come by step-up).
	var leastPrivilege []string
	for _, ct := range cat {
		if ct.readOnly {
			leastPrivilege = append(leastPrivilege, ct.scopes...)
		}
	}
	leastPrivilege = append(leastPrivilege, "openid", "profile", "email")
	slices.Sort(leastPrivilege)
	leastPrivilege = slices.Compact(leastPrivilege)
	t.Run("first 401 names the read scopes", func(t *testing.T) {
		got := slices.Sorted(slices.Values(strings.Fields(challengedScope)))
		if !slices.Equal(got, leastPrivilege) {
			t.Errorf("the first 401 challenge of the fresh site has scope=%q, want %q", challengedScope, strings.Join(leastPrivilege, " "))
		}
		for _, s := range got {
			if strings.HasSuffix(s, ":write") {
				t.Errorf("the first 401 challenge asks for %s", s)
			}
		}
		if len(got) >= len(supported) {
			t.Errorf("the challenge %q asks for as much as scopes_supported %q", got, supported)
		}
	})

	// Later 401 challenges stay the same.
	t.Run("challenge after catalog discovery", func(t *testing.T) {
		r := doReq(t, http.MethodPost, e.site.resource, `{"jsonrpc":"2.0","id":1,"method":"ping"}`,
			map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
		params := parseChallenge(t, r.header.Get("WWW-Authenticate"))
		if got := slices.Sorted(slices.Values(strings.Fields(params["scope"]))); r.status != http.StatusUnauthorized || !slices.Equal(got, leastPrivilege) {
			t.Errorf("401 after discovery: %d %q, want scope %q", r.status, r.header.Get("WWW-Authenticate"), strings.Join(leastPrivilege, " "))
		}
	})

	for _, era := range []struct{ name, version, want string }{
		{"legacy 2025-11-25", mcp.LATEST_LEGACY_PROTOCOL_VERSION, mcp.LATEST_LEGACY_PROTOCOL_VERSION},
		{"modern default", "", mcp.LATEST_PROTOCOL_VERSION},
	} {
		t.Run(era.name, func(t *testing.T) { e.journey(t, cat, era.version, era.want) })
	}

	// Opaque tokens, as most MCP clients registered at Nextcloud hold:
	// only introspection with the sample's gateway client resolves them.
	t.Run("opaque token through introspection", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tok := e.provider.Token(t, oidctest.TokenRequest{Opaque: true, Scopes: readScopes, Audience: []string{e.site.resource}})
		if strings.Count(tok, ".") == 2 {
			t.Fatalf("the opaque client got a JWT")
		}
		before := e.provider.Hits("/oauth/introspect")
		c, _ := newClient(t, e.site.resource, tok, "")
		initialize(ctx, t, c, mcp.LATEST_PROTOCOL_VERSION)
		if got, want := slices.Sorted(maps.Keys(listTools(ctx, t, c))), visibleTo(cat, readScopes); !slices.Equal(got, want) {
			t.Errorf("tools/list with an opaque read token:\n got  %q\n want %q", got, want)
		}
		callOK(ctx, t, c, "nc_notes_get_note", map[string]any{"note_id": 359}, nil)
		if e.provider.Hits("/oauth/introspect") == before {
			t.Errorf("the gateway accepted an opaque token without introspecting it")
		}
		_, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "nc_notes_create_note", Arguments: map[string]any{"title": "x", "content": "y", "category": ""}}})
		if err == nil || !strings.Contains(err.Error(), "notes:write") {
			t.Errorf("nc_notes_create_note with an opaque read token: %v, want the refusal naming notes:write", err)
		}
	})

	t.Run("nextcloud passthrough", e.passthrough)
	t.Run("attacker replays MCP tokens against Nextcloud", e.attackerReplay)
	t.Logf("whole path test took %v", time.Since(started).Round(time.Millisecond))
}

// seedRadicale creates the user's calendar and address book directly in
// Radicale, as Nextcloud creates "personal" and "contacts" for new users.
func (e *env) seedRadicale(t *testing.T) {
	t.Helper()
	base := strings.TrimSuffix(e.radicale.URL, "/")
	for _, c := range []struct{ method, path, body string }{
		{"MKCALENDAR", "/" + ncUser + "/personal/", `<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
<D:displayname>Personal</D:displayname>
<C:supported-calendar-component-set><C:comp name="VEVENT"/><C:comp name="VTODO"/></C:supported-calendar-component-set>
</D:prop></D:set></C:mkcalendar>`},
		{"MKCOL", "/" + ncUser + "/contacts/", `<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>
<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>
<D:displayname>Contacts</D:displayname>
</D:prop></D:set></D:mkcol>`},
	} {
		req, err := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(ncUser, "seed")
		req.Header.Set("Content-Type", "application/xml; charset=utf-8")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s at radicale: %v", c.method, c.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s %s at radicale: %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
}

// token gets a JWT for the MCP resource from the provider.
func (e *env) token(t *testing.T, scopes []string) string {
	t.Helper()
	tok := e.provider.Token(t, oidctest.TokenRequest{Scopes: scopes, Audience: []string{e.site.resource}})
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("the provider's token is not a JWT: %q", tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Aud   any    `json:"aud"`
		Scope string `json:"scope"`
	}
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		t.Fatalf("undecodable JWT payload %q: %v", parts[1], err)
	}
	aud := fmt.Sprint(claims.Aud)
	if claims.Aud != e.site.resource && aud != "["+e.site.resource+"]" {
		t.Fatalf("token aud %v, want the MCP resource %s", claims.Aud, e.site.resource)
	}
	if got := strings.Fields(claims.Scope); !subset(scopes, got) || !subset(got, scopes) {
		t.Fatalf("token scope %q, want %q", claims.Scope, scopes)
	}
	return tok
}

// visibleTo is the part of the catalog a token with scopes may see.
func visibleTo(cat map[string]catalogTool, scopes []string) []string {
	var out []string
	for name, ct := range cat {
		if subset(ct.scopes, scopes) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// journey is the whole client journey in one protocol era.
func (e *env) journey(t *testing.T, cat map[string]catalogTool, version, wantVersion string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// mcp-go's own view of the missing token.
	t.Run("mcp-go without token", func(t *testing.T) {
		c, _ := newClient(t, e.site.resource, "", version)
		_, err := c.Initialize(ctx, mcp.InitializeRequest{})
		var authErr *transport.AuthorizationRequiredError
		if !errors.As(err, &authErr) {
			t.Fatalf("initialize without a token: %v (%T), want AuthorizationRequiredError", err, err)
		}
		if want := e.site.base + "/.well-known/oauth-protected-resource/mcp"; authErr.ResourceMetadataURL != want {
			t.Errorf("mcp-go read resource_metadata %q, want %q", authErr.ResourceMetadataURL, want)
		}
	})

	// A read-only token sees exactly the read tools of every family.
	readTok := e.token(t, readScopes)
	c, rec := newClient(t, e.site.resource, readTok, version)
	initialize(ctx, t, c, wantVersion)
	listed := listTools(ctx, t, c)
	t.Run("read token lists the read tools of every family", func(t *testing.T) {
		want := visibleTo(cat, readScopes)
		names := slices.Sorted(maps.Keys(listed))
		if !slices.Equal(names, want) {
			t.Errorf("tools/list with read scopes:\n got  %d %q\n want %d %q", len(names), names, len(want), want)
		}
		families := map[string]int{}
		for name, tool := range listed {
			meta := metaScopes(tool)
			if meta == nil {
				t.Errorf("%s: no %s in _meta", name, tooldef.MetaScopesKey)
			}
			for _, s := range meta {
				if strings.HasSuffix(s, ":write") || !slices.Contains(readScopes, s) {
					t.Errorf("%s is listed to a read-only token but requires %s", name, s)
				}
			}
			if !slices.Equal(meta, cat[name].scopes) {
				t.Errorf("%s: _meta scopes %q, catalog %q", name, meta, cat[name].scopes)
			}
			families[cat[name].family]++
		}
		for fam := range mcpbackend.DefaultFamilies() {
			if families[fam] == 0 {
				t.Errorf("no read tool of family %s listed (families seen: %v)", fam, families)
			}
		}
		t.Logf("%d read tools listed across %d families: %v", len(names), len(families), families)
	})

	// Read tools work end to end: CalDAV through the front to Radicale,
	// CardDAV likewise, Notes to the fake.
	t.Run("read tools", func(t *testing.T) {
		type calendar struct {
			Name        string `json:"name"`
			DisplayName string `json:"display_name"`
			Href        string `json:"href"`
		}
		var cals struct {
			Calendars []calendar `json:"calendars"`
		}
		callOK(ctx, t, c, "nc_calendar_list_calendars", nil, &cals)
		i := slices.IndexFunc(cals.Calendars, func(x calendar) bool { return x.Name == "personal" })
		if i < 0 || cals.Calendars[i].DisplayName != "Personal" || cals.Calendars[i].Href != "/remote.php/dav/calendars/"+ncUser+"/personal/" {
			t.Errorf("nc_calendar_list_calendars = %+v, want the seeded Radicale calendar personal (Personal) at /remote.php/dav/calendars/%s/personal/", cals, ncUser)
		}
		text := callOK(ctx, t, c, "nc_contacts_list_addressbooks", nil, nil)
		if !strings.Contains(text, `"contacts"`) || !strings.Contains(text, "Contacts") {
			t.Errorf("nc_contacts_list_addressbooks = %s, want the seeded address book contacts", text)
		}
		var note struct {
			Note struct {
				ID    int    `json:"id"`
				Title string `json:"title"`
				ETag  string `json:"etag"`
			} `json:"note"`
		}
		callOK(ctx, t, c, "nc_notes_get_note", map[string]any{"note_id": 359}, &note)
		if note.Note.ID != 359 || note.Note.Title != "Fixture shopping list" || note.Note.ETag != "80e0d0abccaa35392f70e1b4cdd570b2" {
			t.Errorf("nc_notes_get_note 359 = %+v, want the fake's recorded note", note)
		}
		// The backend sent the user's own token; the front let it in.
		if !e.frontSawToken(readTok, "fake", "/index.php/apps/notes/api/v1/notes/359") {
			t.Errorf("the front never saw the read token on GET /index.php/apps/notes/api/v1/notes/359: %v", e.front.requests())
		}
		if !e.frontSawToken(readTok, "radicale", "/remote.php/dav/calendars/"+ncUser+"/") {
			t.Errorf("the front never saw the read token on the calendar home")
		}
	})

	// A write tool is refused with a step-up challenge; a token for the
	// challenged scopes gets it done, and the write lands in the fake.
	noteArgs := map[string]any{"title": "Fixture shopping list", "content": "# Fixture shopping list\n\n- milk\n- eggs\n- bread", "category": "Personal"}
	writeTok := e.stepUp(ctx, t, c, rec, readTok, "nc_notes_create_note", noteArgs, "notes:write", readScopes)
	if writeTok == "" {
		t.FailNow()
	}
	c2, rec2 := newClient(t, e.site.resource, writeTok, version)
	initialize(ctx, t, c2, wantVersion)
	t.Run("notes write after step-up", func(t *testing.T) {
		got, want := slices.Sorted(maps.Keys(listTools(ctx, t, c2))), visibleTo(cat, strings.Fields(e.lastScopes(writeTok)))
		if !slices.Contains(got, "nc_notes_create_note") || !slices.Equal(got, want) {
			t.Errorf("tools/list after the step-up:\n got  %q\n want %q", got, want)
		}
		before := e.fakePosts()
		var created struct {
			Note struct {
				ID    int    `json:"id"`
				Title string `json:"title"`
			} `json:"note"`
		}
		callOK(ctx, t, c2, "nc_notes_create_note", noteArgs, &created)
		if created.Note.ID != 359 || created.Note.Title != "Fixture shopping list" {
			t.Errorf("nc_notes_create_note = %+v", created)
		}
		posts := e.fakePosts()
		if len(posts) != len(before)+1 {
			t.Fatalf("the fake got %d note POSTs (before: %d), want one more", len(posts), len(before))
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(posts[len(posts)-1].Body), &body); err != nil || body["title"] != "Fixture shopping list" || body["category"] != "Personal" {
			t.Errorf("the fake received the note %q (%v)", posts[len(posts)-1].Body, err)
		}
		if !e.frontSawToken(writeTok, "fake", "/index.php/apps/notes/api/v1/notes") {
			t.Errorf("the note POST did not reach the front with the stepped-up token")
		}
	})

	// Calendar write: another step-up, then the event is in Radicale.
	calScopes := strings.Fields(e.lastScopes(writeTok))
	title := "Scopegate whole path " + wantVersion
	eventArgs := map[string]any{"calendar_name": "personal", "title": title, "start_datetime": "2026-12-01T10:00:00", "end_datetime": "2026-12-01T11:00:00", "timezone": "Europe/Berlin", "location": "Loopback"}
	calTok := e.stepUp(ctx, t, c2, rec2, writeTok, "nc_calendar_create_event", eventArgs, "calendar:write", calScopes)
	if calTok == "" {
		t.FailNow()
	}
	c3, _ := newClient(t, e.site.resource, calTok, version)
	initialize(ctx, t, c3, wantVersion)
	t.Run("calendar write after step-up", func(t *testing.T) {
		var ev struct {
			UID      string `json:"uid"`
			Calendar string `json:"calendar"`
			Href     string `json:"href"`
			Title    string `json:"title"`
		}
		got, want := slices.Sorted(maps.Keys(listTools(ctx, t, c3))), visibleTo(cat, strings.Fields(e.lastScopes(calTok)))
		if !slices.Contains(got, "nc_calendar_create_event") || !slices.Equal(got, want) {
			t.Errorf("tools/list after the second step-up:\n got  %q\n want %q", got, want)
		}
		callOK(ctx, t, c3, "nc_calendar_create_event", eventArgs, &ev)
		if ev.UID == "" || ev.Calendar != "personal" || ev.Title != title {
			t.Fatalf("nc_calendar_create_event = %+v", ev)
		}
		// Read it back from Radicale itself, bypassing front and backend.
		obj := e.radicaleEvent(t, ev.UID)
		if obj == nil {
			t.Fatalf("event %s not in Radicale's /%s/personal/", ev.UID, ncUser)
		}
		if got, _ := obj.Props.Text(ical.PropSummary); got != title {
			t.Errorf("Radicale has SUMMARY %q, want %q", got, title)
		}
		if got, _ := obj.Props.Text(ical.PropLocation); got != "Loopback" {
			t.Errorf("Radicale has LOCATION %q, want Loopback", got)
		}
		if p := obj.Props.Get(ical.PropDateTimeStart); p == nil || p.Value != "20261201T100000" || p.Params.Get(ical.ParamTimezoneID) != "Europe/Berlin" {
			t.Errorf("Radicale has DTSTART %+v, want 20261201T100000 in Europe/Berlin", p)
		}
		if want := "/remote.php/dav/calendars/" + ncUser + "/personal/"; !strings.HasPrefix(ev.Href, want) {
			t.Errorf("event href %q, want it below %s", ev.Href, want)
		}
		if !e.frontSawToken(calTok, "radicale", strings.TrimSuffix(ev.Href, "/")) {
			t.Errorf("the event PUT did not reach the front with the calendar token")
		}
		// And through MCP again.
		var back struct {
			UID   string `json:"uid"`
			Title string `json:"title"`
		}
		callOK(ctx, t, c3, "nc_calendar_get_event", map[string]any{"calendar_name": "personal", "event_uid": ev.UID}, &back)
		if back.UID != ev.UID || back.Title != title {
			t.Errorf("nc_calendar_get_event = %+v", back)
		}
	})
}

// stepUp calls a write tool the token lacks a scope for and checks the
// refusal: mcp-go reports an error, the HTTP answer was 403 with an
// insufficient_scope challenge naming the missing scope (and keeping the
// scopes held), nothing reached Nextcloud. It returns a token for the
// challenged scopes.
func (e *env) stepUp(ctx context.Context, t *testing.T, c *client.Client, rec *recorder, tok, tool string, args map[string]any, missing string, held []string) string {
	t.Helper()
	var next string
	t.Run("step-up for "+tool, func(t *testing.T) {
		frontBefore := len(e.front.requests())
		rec.reset()
		_, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: args}})
		if err == nil {
			t.Fatalf("%s with scopes %q succeeded, want a refusal", tool, held)
		}
		r, ok := rec.last(http.MethodPost)
		if !ok {
			t.Fatalf("%s: no POST recorded (error %v)", tool, err)
		}
		if r.status != http.StatusForbidden {
			t.Fatalf("%s: HTTP %d, want 403 (mcp-go error %v)", tool, r.status, err)
		}
		h := r.header.Get("WWW-Authenticate")
		t.Logf("%s refused: HTTP 403, WWW-Authenticate: %s", tool, h)
		params := parseChallenge(t, h)
		if params["error"] != "insufficient_scope" {
			t.Errorf("challenge %q: error %q, want insufficient_scope", h, params["error"])
		}
		if want := e.site.base + "/.well-known/oauth-protected-resource/mcp"; params["resource_metadata"] != want {
			t.Errorf("challenge %q: resource_metadata %q, want %q", h, params["resource_metadata"], want)
		}
		scopes := strings.Fields(params["scope"])
		if !slices.Contains(scopes, missing) {
			t.Errorf("challenge %q: scope lacks the required %s", h, missing)
		}
		if !subset(held, scopes) {
			t.Errorf("challenge %q: scope drops scopes the token holds (%q)", h, held)
		}
		if !strings.Contains(err.Error(), missing) {
			t.Errorf("mcp-go error %q does not name %s", err, missing)
		}
		for _, fr := range e.front.requests()[frontBefore:] {
			t.Errorf("the refused call reached Nextcloud: %s %s", fr.Method, fr.Path)
		}
		next = e.token(t, scopes)
		e.rememberScopes(next, params["scope"])
	})
	return next
}

var (
	scopesMu  sync.Mutex
	scopesFor = map[string]string{}
)

func (e *env) rememberScopes(tok, scope string) {
	scopesMu.Lock()
	defer scopesMu.Unlock()
	scopesFor[tok] = scope
}

func (e *env) lastScopes(tok string) string {
	scopesMu.Lock()
	defer scopesMu.Unlock()
	return scopesFor[tok]
}

// fakePosts are the note creations the fake received.
func (e *env) fakePosts() []nextcloudfake.Call {
	var out []nextcloudfake.Call
	for _, c := range e.fake.Calls() {
		if c.Method == http.MethodPost && c.Path == "/index.php/apps/notes/api/v1/notes" {
			out = append(out, c)
		}
	}
	return out
}

// frontSawToken reports whether the front got a request for path (with or
// without a trailing slash) carrying the user's token, sent on to upstream.
func (e *env) frontSawToken(tok, upstream, path string) bool {
	path = strings.TrimSuffix(path, "/")
	for _, r := range e.front.requests() {
		if r.Authorization == "Bearer "+tok && r.Upstream == upstream && strings.TrimSuffix(r.Path, "/") == path {
			return true
		}
	}
	return false
}

// radicaleEvent finds the VEVENT with uid in the user's personal calendar,
// asking Radicale directly.
func (e *env) radicaleEvent(t *testing.T, uid string) *ical.Component {
	t.Helper()
	hc := webdav.HTTPClientWithBasicAuth(&http.Client{Timeout: 10 * time.Second}, ncUser, "check")
	cc, err := caldav.NewClient(hc, e.radicale.URL)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := cc.QueryCalendar(context.Background(), "/"+ncUser+"/personal/", &caldav.CalendarQuery{
		CompRequest: caldav.CalendarCompRequest{Name: "VCALENDAR", AllProps: true, AllComps: true},
		CompFilter:  caldav.CompFilter{Name: "VCALENDAR", Comps: []caldav.CompFilter{{Name: "VEVENT"}}},
	})
	if err != nil {
		t.Fatalf("calendar-query at radicale: %v", err)
	}
	for _, o := range objs {
		for _, ev := range o.Data.Events() {
			if got, _ := ev.Props.Text(ical.PropUID); got == uid {
				return ev.Component
			}
		}
	}
	return nil
}

// passthrough: Nextcloud's own traffic on the same site goes through the
// gateway untouched. Each request is sent to the site and to the front
// directly; status, body and the front's headers must be the same, and the
// front must have received the request as the client sent it.
func (e *env) passthrough(t *testing.T) {
	// A token of another client of the same provider, for another
	// audience: Nextcloud accepts it, and the gateway's fence lets it pass
	// (the MCP resource's own tokens are refused: see attackerReplay).
	tok := e.provider.Token(t, oidctest.TokenRequest{Scopes: readScopes, Audience: []string{"https://desktop.example/app"}})
	cases := []struct {
		name, method, path, body string
		header                   map[string]string
		wantStatus               int
	}{
		{"status.php", http.MethodGet, "/status.php", "", nil, http.StatusOK},
		{"cookie session", http.MethodGet, "/status.php", "", map[string]string{"Cookie": "oc_sessionPassphrase=abc; nc_session_id=def"}, http.StatusOK},
		{"OCS with a bearer token of another audience", http.MethodGet, "/ocs/v2.php/cloud/capabilities", "", map[string]string{"Authorization": "Bearer " + tok, "OCS-APIRequest": "true", "Accept": "application/json"}, http.StatusOK},
		{"OCS user with basic credentials", http.MethodGet, "/ocs/v2.php/cloud/user?format=json", "", map[string]string{"Authorization": "Basic " + basic(nextcloudfake.AdminUser, nextcloudfake.AdminPassword), "OCS-APIRequest": "true", "Accept": "application/json"}, http.StatusOK},
		{"app route without credentials: Nextcloud's own 401", http.MethodGet, "/index.php/apps/notes/api/v1/notes", "", nil, http.StatusUnauthorized},
		{"OCS with a bogus bearer token: Nextcloud's own 401", http.MethodGet, "/ocs/v2.php/cloud/user", "", map[string]string{"Authorization": "Bearer not-a-token", "OCS-APIRequest": "true", "Accept": "application/json"}, http.StatusUnauthorized},
		{"CalDAV PROPFIND of the calendar home", "PROPFIND", "/remote.php/dav/calendars/" + ncUser + "/", `<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:displayname/></d:prop></d:propfind>`,
			map[string]string{"Authorization": "Bearer " + tok, "Depth": "1", "Content-Type": "application/xml; charset=utf-8"}, http.StatusMultiStatus},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := len(e.front.requests())
			via := doReq(t, tc.method, e.site.base+tc.path, tc.body, tc.header)
			reqs := e.front.requests()[n:]
			direct := doReq(t, tc.method, e.front.URL+tc.path, tc.body, tc.header)
			if via.status != tc.wantStatus || direct.status != tc.wantStatus {
				t.Fatalf("through the site %d, directly %d, want %d\nsite body: %s", via.status, direct.status, tc.wantStatus, via.body)
			}
			if via.body != direct.body {
				t.Errorf("body through the site differs from the front's:\n site:   %s\n direct: %s", via.body, direct.body)
			}
			for k, v := range direct.header {
				if k == "Date" || k == "X-Request-Id" {
					// Per answer, like Nextcloud's own request id.
					continue
				}
				if !slices.Equal(via.header[k], v) {
					t.Errorf("header %s: through the site %q, directly %q", k, via.header[k], v)
				}
			}
			for k, v := range via.header {
				if _, ok := direct.header[k]; ok {
					continue
				}
				switch k {
				case "Server", "Strict-Transport-Security", "Via", "Alt-Svc":
					// the edge's own headers (HSTS from the sample)
				default:
					t.Errorf("the site added header %s: %q", k, v)
				}
			}
			if len(reqs) != 1 {
				t.Fatalf("the front saw %d requests through the site, want 1: %+v", len(reqs), reqs)
			}
			got := reqs[0]
			if path, _, _ := strings.Cut(tc.path, "?"); got.Method != tc.method || got.Path != path {
				t.Errorf("the front got %s %s, want %s %s", got.Method, got.Path, tc.method, tc.path)
			}
			if got.Authorization != tc.header["Authorization"] {
				t.Errorf("the front got Authorization %q, want it as sent (%q)", got.Authorization, tc.header["Authorization"])
			}
			if c := got.Header.Get("Cookie"); c != tc.header["Cookie"] {
				t.Errorf("the front got Cookie %q, want it as sent (%q)", c, tc.header["Cookie"])
			}
			for _, h := range []string{"X-Scopegate-Subject", "X-Scopegate-Scopes"} {
				if v := got.Header.Get(h); v != "" {
					t.Errorf("the gateway added %s: %q to pass-through traffic", h, v)
				}
			}
			if got.Header.Get("X-Forwarded-Proto") != "http" || got.Header.Get("X-Forwarded-Host") == "" {
				t.Errorf("forwarded headers missing: %v", got.Header)
			}
		})
	}
	t.Run("metadata paths stay with the gateway", func(t *testing.T) {
		n := len(e.front.requests())
		for _, p := range []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"} {
			r := doReq(t, http.MethodGet, e.site.base+p, "", nil)
			var md struct {
				Resource string `json:"resource"`
			}
			if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &md) != nil || md.Resource != e.site.resource {
				t.Errorf("GET %s: %d %s, want the gateway's metadata", p, r.status, r.body)
			}
		}
		if reqs := e.front.requests()[n:]; len(reqs) != 0 {
			t.Errorf("metadata requests reached Nextcloud: %+v", reqs)
		}
	})
	t.Run("well-known caldav redirect", func(t *testing.T) {
		r := doReq(t, "PROPFIND", e.site.base+"/.well-known/caldav", "", map[string]string{"Depth": "0"})
		if r.status != http.StatusMovedPermanently || r.header.Get("Location") != "/remote.php/dav/" {
			t.Errorf("PROPFIND /.well-known/caldav: %d Location %q, want 301 /remote.php/dav/", r.status, r.header.Get("Location"))
		}
	})
}

// attackerReplay: an MCP client holding the smallest token of the MCP
// resource replays it one path over, against WebDAV and OCS, where
// Nextcloud would accept any token of its provider. The gateway's fence
// refuses it (JWT and opaque alike) and Nextcloud never sees it; only the
// provider's own endpoints (userinfo) may still be called with it.
func (e *env) attackerReplay(t *testing.T) {
	const fenced = `Bearer error="invalid_token", error_description="token is for the MCP resource"`
	tokens := map[string]string{
		"JWT":    e.token(t, []string{"notes:read"}),
		"opaque": e.provider.Token(t, oidctest.TokenRequest{Opaque: true, Scopes: []string{"notes:read"}, Audience: []string{e.site.resource}}),
	}
	for kind, tok := range tokens {
		for _, tc := range []struct {
			name, method, path, body string
			header                   map[string]string
		}{
			{"WebDAV DELETE", http.MethodDelete, "/remote.php/dav/files/" + ncUser + "/important.txt", "", nil},
			{"OCS public share", http.MethodPost, "/ocs/v2.php/apps/files_sharing/api/v1/shares", "path=/secret&shareType=3",
				map[string]string{"OCS-APIRequest": "true", "Content-Type": "application/x-www-form-urlencoded"}},
		} {
			t.Run(kind+" "+tc.name, func(t *testing.T) {
				h := map[string]string{"Authorization": "Bearer " + tok}
				for k, v := range tc.header {
					h[k] = v
				}
				n := len(e.front.requests())
				r := doReq(t, tc.method, e.site.base+tc.path, tc.body, h)
				t.Logf("%s %s with the MCP %s token: HTTP %d, WWW-Authenticate: %s", tc.method, tc.path, kind, r.status, r.header.Get("WWW-Authenticate"))
				if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != fenced {
					t.Errorf("replay: %d %q %s, want 401 %q", r.status, r.header.Get("WWW-Authenticate"), r.body, fenced)
				}
				if reqs := e.front.requests()[n:]; len(reqs) != 0 {
					t.Errorf("the replayed request reached Nextcloud: %+v", reqs)
				}
			})
		}
		t.Run(kind+" userinfo stays reachable", func(t *testing.T) {
			u, err := url.Parse(e.provider.UserinfoEndpoint())
			if err != nil {
				t.Fatal(err)
			}
			n := len(e.front.requests())
			r := doReq(t, http.MethodGet, e.site.base+u.Path, "", map[string]string{"Authorization": "Bearer " + tok})
			if r.header.Get("WWW-Authenticate") == fenced {
				t.Fatalf("the userinfo path %s was fenced", u.Path)
			}
			reqs := e.front.requests()[n:]
			if len(reqs) != 1 || reqs[0].Path != u.Path || reqs[0].Authorization != "Bearer "+tok {
				t.Errorf("userinfo with the MCP token did not reach Nextcloud as sent: %+v", reqs)
			}
		})
	}
}

// --- small helpers ---

type response struct {
	status int
	header http.Header
	body   string
}

// recorder keeps the status and headers of the mcp-go client's HTTP
// exchanges: mcp-go does not surface a 403's challenge.
type recorder struct {
	mu   sync.Mutex
	seen []struct {
		method string
		response
	}
	base http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.seen = append(r.seen, struct {
			method string
			response
		}{req.Method, response{status: resp.StatusCode, header: resp.Header.Clone()}})
		r.mu.Unlock()
	}
	return resp, err
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = nil
}

func (r *recorder) last(method string) (response, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.seen) - 1; i >= 0; i-- {
		if r.seen[i].method == method {
			return r.seen[i].response, true
		}
	}
	return response{}, false
}

func newClient(t *testing.T, endpoint, token, version string) (*client.Client, *recorder) {
	t.Helper()
	rec := &recorder{base: http.DefaultTransport}
	opts := []transport.StreamableHTTPCOption{transport.WithHTTPBasicClient(&http.Client{Transport: rec, Timeout: 30 * time.Second})}
	if token != "" {
		opts = append(opts, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	}
	tr, err := transport.NewStreamableHTTP(endpoint, opts...)
	if err != nil {
		t.Fatalf("transport: %v", err)
	}
	var copts []client.ClientOption
	if version != "" {
		copts = append(copts, client.WithProtocolVersion(version))
	}
	c := client.NewClient(tr, copts...)
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("client start: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, rec
}

func initialize(ctx context.Context, t *testing.T, c *client.Client, want string) {
	t.Helper()
	res, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ClientInfo: mcp.Implementation{Name: "wholepath", Version: "0"}}})
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if res.ProtocolVersion != want {
		t.Fatalf("negotiated %s, want %s", res.ProtocolVersion, want)
	}
}

func listTools(ctx context.Context, t *testing.T, c *client.Client) map[string]mcp.Tool {
	t.Helper()
	out := map[string]mcp.Tool{}
	req := mcp.ListToolsRequest{}
	for range 50 {
		res, err := c.ListTools(ctx, req)
		if err != nil {
			t.Fatalf("tools/list: %v", err)
		}
		for _, tool := range res.Tools {
			if _, dup := out[tool.Name]; dup {
				t.Errorf("tools/list repeats %s", tool.Name)
			}
			out[tool.Name] = tool
		}
		if res.NextCursor == "" {
			return out
		}
		req.Params.Cursor = res.NextCursor
	}
	t.Fatal("tools/list: more than 50 pages")
	return nil
}

// callOK calls a tool that must succeed; its structured content is
// decoded into out when out is not nil. It returns the text content.
func callOK(ctx context.Context, t *testing.T, c *client.Client, tool string, args map[string]any, out any) string {
	t.Helper()
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: args}})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	var text strings.Builder
	for _, ct := range res.Content {
		if tc, ok := ct.(mcp.TextContent); ok {
			text.WriteString(tc.Text)
		}
	}
	if res.IsError {
		t.Fatalf("%s: tool error: %s", tool, text.String())
	}
	if out != nil {
		b, err := json.Marshal(res.StructuredContent)
		if err != nil || json.Unmarshal(b, out) != nil {
			t.Fatalf("%s: structured content %s: %v", tool, b, err)
		}
	}
	return text.String()
}

func metaScopes(tool mcp.Tool) []string {
	if tool.Meta == nil {
		return nil
	}
	raw, ok := tool.Meta.AdditionalFields[tooldef.MetaScopesKey]
	if !ok {
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil
	}
	var out []string
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func doReq(t *testing.T, method, url, body string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	hc := &http.Client{Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// parseChallenge splits `Bearer k="v", k="v"` into its parameters.
func parseChallenge(t *testing.T, h string) map[string]string {
	t.Helper()
	rest, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		t.Fatalf("challenge %q does not start with \"Bearer \"", h)
	}
	params := map[string]string{}
	for rest != "" {
		name, after, ok := strings.Cut(rest, `="`)
		if !ok {
			t.Fatalf("challenge %q: malformed near %q", h, rest)
		}
		value, after, ok := strings.Cut(after, `"`)
		if !ok {
			t.Fatalf("challenge %q: unterminated value", h)
		}
		params[strings.TrimSpace(name)] = value
		rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(after), ","))
	}
	return params
}

func basic(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}
