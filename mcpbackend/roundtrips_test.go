package mcpbackend_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/internal/nextcloudfake/backendtest"
	"github.com/scopegate/scopegate/internal/radicaletest"
	"github.com/scopegate/scopegate/mcpbackend"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

// Round trips are what a tool costs against a real Nextcloud: on a small
// PHP server every DAV request is a few hundred milliseconds, so the
// number of requests, not the Go code around them, decides how fast a
// tool answers. Unlike times, the numbers are deterministic, so they are
// pinned per tool in testdata/roundtrips/*.txt and any change fails:
// an increase is a regression, a decrease is pinned with
// -update-roundtrips.
//
// Each tool is called twice, each time on a backend of its own: "cold"
// on a fresh backend (the first call a user makes: capabilities and, for
// CalDAV/CardDAV, discovery included), "warm" after the per-user caches
// were filled by earlier calls (for CalDAV/CardDAV: after the user listed
// calendars and address books).
var updateRoundTrips = flag.Bool("update-roundtrips", false, "rewrite testdata/roundtrips/*.txt with the measured counts")

// counter is the transport under the Nextcloud client: it counts every
// HTTP exchange the backend starts, retries included.
type counter struct {
	base http.RoundTripper
	mu   sync.Mutex
	sent []string
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	line := r.Method + " " + r.URL.Path
	if d := r.Header.Get("Depth"); d != "" {
		line += " (Depth " + d + ")"
	}
	c.sent = append(c.sent, line)
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

func (c *counter) reset() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sent
	c.sent = nil
	return s
}

// rtBackend is one assembled backend in front of base, counting its
// requests.
type rtBackend struct {
	nc    *nextcloud.Client
	count *counter
	creds nextcloud.Credentials
	c     *client.Client
}

func startRT(t *testing.T, base string, creds nextcloud.Credentials, fams map[string]mcpbackend.Family) *rtBackend {
	t.Helper()
	cnt := &counter{base: http.DefaultTransport}
	nc, err := nextcloud.New(nextcloud.Options{BaseURL: base, Base: cnt, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := mcpbackend.New(mcpbackend.Config{Client: nc, Credentials: mcpbackend.FixedCredentials(creds), Families: fams, ValidateOutput: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler)
	t.Cleanup(srv.Close)
	return &rtBackend{nc: nc, count: cnt, creds: creds, c: connect(t, srv.URL, nil)}
}

// warm fills the per-user caches earlier calls fill: capabilities and,
// with dav set, what listing the calendars and address books leaves (the
// discovered homes and the collection lists).
func (b *rtBackend) warm(t *testing.T, dav bool) {
	t.Helper()
	ctx := nextcloud.WithCredentials(context.Background(), b.creds)
	if _, err := b.nc.Capabilities(ctx); err != nil {
		t.Fatal(err)
	}
	if dav {
		for _, tool := range []string{"nc_calendar_list_calendars", "nc_contacts_list_addressbooks"} {
			if res := call(t, b.c, tool, map[string]any{}); res.IsError {
				t.Fatalf("warming up with %s: %s", tool, backendtest.Text(res))
			}
		}
	}
	b.count.reset()
}

// measure calls tool and returns the requests it made.
func (b *rtBackend) measure(t *testing.T, tool string, args map[string]any) ([]string, *mcp.CallToolResult) {
	t.Helper()
	b.count.reset()
	res := call(t, b.c, tool, args)
	return b.count.reset(), res
}

// restArgs are the arguments the REST tools are called with: objects the
// recordings hold, so most calls take their usual path. Tools not listed
// get schema defaults (rtDefaults).
var restArgs = map[string]map[string]any{
	"nc_notes_get_note":           {"note_id": 359},
	"nc_notes_append_content":     {"note_id": 359, "content": "more"},
	"nc_notes_update_note":        {"note_id": 359, "etag": "x", "content": "new"},
	"nc_notes_delete_note":        {"note_id": 359},
	"nc_notes_get_attachment":     {"note_id": 359, "attachment_filename": "a.png"},
	"nc_notes_create_note":        {"title": "T", "content": "C", "category": ""},
	"nc_notes_search_notes":       {"query": "MCP"},
	"deck_get_board":              {"board_id": 12},
	"deck_get_stacks":             {"board_id": 12},
	"deck_get_labels":             {"board_id": 12},
	"deck_get_board_overview":     {"board_id": 12},
	"deck_get_cards":              {"board_id": 12, "stack_id": 22},
	"deck_get_card":               {"board_id": 12, "stack_id": 22, "card_id": 20},
	"nc_cookbook_get_recipe":      {"recipe_id": 392},
	"nc_tables_read_table":        {"table_id": 10},
	"nc_tables_get_schema":        {"table_id": 10},
	"nc_share_get":                {"share_id": 37},
	"nc_webdav_read_file":         {"path": "Fixtures/hello.txt"},
	"nc_webdav_list_directory":    {"path": "Fixtures"},
	"nc_webdav_write_file":        {"path": "Fixtures/new.txt", "content": "x"},
	"nc_webdav_copy_resource":     {"source_path": "Fixtures/hello.txt", "destination_path": "Fixtures/copy.txt"},
	"nc_webdav_move_resource":     {"source_path": "Fixtures/hello.txt", "destination_path": "Fixtures/moved.txt"},
	"nc_webdav_delete_resource":   {"path": "Fixtures/other.txt"},
	"nc_webdav_create_directory":  {"path": "Fixtures/sub"},
	"nc_webdav_list_comments":     {"path": "Fixtures/hello.txt"},
	"nc_webdav_create_comment":    {"path": "Fixtures/hello.txt", "message": "hi"},
	"nc_share_create":             {"path": "Fixtures/hello.txt", "share_type": 3},
	"nc_share_create_public_link": {"path": "Fixtures/hello.txt"},
}

// davArgs call the CalDAV/CardDAV tools on the objects seedDAV creates,
// so each takes its successful path.
var davArgs = map[string]map[string]any{
	"nc_calendar_list_calendars":      {},
	"nc_calendar_create_event":        {"calendar_name": "work", "title": "Review", "start_datetime": "2031-01-02T10:00:00"},
	"nc_calendar_list_events":         {},
	"nc_calendar_get_event":           {"calendar_name": "work", "event_uid": "rt-event"},
	"nc_calendar_update_event":        {"calendar_name": "work", "event_uid": "rt-event", "title": "Standup (moved)"},
	"nc_calendar_delete_event":        {"calendar_name": "work", "event_uid": "rt-event"},
	"nc_calendar_create_meeting":      {"calendar_name": "work", "title": "Sync", "date": "2031-01-03", "time": "10:00"},
	"nc_calendar_get_upcoming_events": {},
	"nc_calendar_find_availability":   {"duration_minutes": 30},
	"nc_calendar_bulk_operations":     {"operation": "update", "calendar_name": "work", "title_contains": "Standup", "new_location": "Room 2"},
	"nc_calendar_manage_calendar":     {"action": "create", "display_name": "Projects"},
	"nc_calendar_list_todos":          {"calendar_name": "work"},
	"nc_calendar_create_todo":         {"summary": "Write the report"},
	"nc_calendar_update_todo":         {"calendar_name": "work", "todo_uid": "rt-todo", "priority": 1},
	"nc_calendar_complete_todo":       {"calendar_name": "work", "todo_uid": "rt-todo"},
	"nc_calendar_delete_todo":         {"calendar_name": "work", "todo_uid": "rt-todo"},
	"nc_calendar_search_todos":        {"summary_contains": "quarterly"},
	"nc_contacts_list_addressbooks":   {},
	"nc_contacts_create_addressbook":  {"name": "team", "display_name": "Team"},
	"nc_contacts_delete_addressbook":  {"name": "contacts"},
	"nc_contacts_list_contacts":       {"addressbook": "contacts"},
	"nc_contacts_search_contacts":     {"query": "lovelace"},
	"nc_contacts_create_contact":      {"addressbook": "contacts", "uid": "rt-new", "contact_data": map[string]any{"full_name": "Grace Hopper", "emails": "grace@example.com"}},
	"nc_contacts_update_contact":      {"addressbook": "contacts", "uid": "rt-contact", "contact_data": map[string]any{"full_name": "Ada King"}},
	"nc_contacts_delete_contact":      {"addressbook": "contacts", "uid": "rt-contact"},
}

// rtIDs are objects the recordings hold, by parameter name.
var rtIDs = map[string]any{
	"board_id": 12, "stack_id": 22, "card_id": 20, "label_id": 55, "acl_id": 5,
	"note_id": 359, "recipe_id": 392, "table_id": 10, "row_id": 30, "share_id": 37,
	"path": "Fixtures/hello.txt", "source_path": "Fixtures/hello.txt", "color": "0082c9", "url": "https://example.com/recipe",
}

// rtDefaults fills a tool's required arguments from its input schema, with
// the recorded objects of rtIDs where the name says what is meant.
func rtDefaults(tool mcp.Tool) map[string]any {
	args := map[string]any{}
	for _, name := range tool.InputSchema.Required {
		p, _ := tool.InputSchema.Properties[name].(map[string]any)
		typ, _ := p["type"].(string)
		if v, ok := rtIDs[name]; ok {
			args[name] = v
			continue
		}
		switch {
		case typ == "integer" || typ == "number":
			args[name] = 1
		case typ == "boolean":
			args[name] = false
		case typ == "array":
			args[name] = []any{"x"}
		case typ == "object":
			args[name] = map[string]any{"x": "y"}
		default:
			if enum, ok := p["enum"].([]any); ok && len(enum) > 0 {
				args[name] = enum[0]
			} else {
				args[name] = "x"
			}
		}
	}
	return args
}

// rtTool is a tool and the family it belongs to.
type rtTool struct {
	def    mcp.Tool
	family string
}

func familyTools(t *testing.T, fams map[string]mcpbackend.Family) map[string]rtTool {
	t.Helper()
	c, err := nextcloud.New(nextcloud.Options{BaseURL: "http://nextcloud.invalid"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]rtTool{}
	for name, fam := range fams {
		for _, tl := range fam(c) {
			out[tl.Def.Name] = rtTool{def: tl.Def, family: name}
		}
	}
	return out
}

type rtCount struct{ cold, warm int }

func goldenPath(name string) string { return filepath.Join("testdata", "roundtrips", name+".txt") }

func readGolden(t *testing.T, name string) map[string]rtCount {
	t.Helper()
	f, err := os.Open(goldenPath(name))
	if os.IsNotExist(err) && *updateRoundTrips {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]rtCount{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			t.Fatalf("%s: bad line %q", goldenPath(name), line)
		}
		cold, err1 := strconv.Atoi(fields[1])
		warm, err2 := strconv.Atoi(fields[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: bad line %q", goldenPath(name), line)
		}
		out[fields[0]] = rtCount{cold, warm}
	}
	return out
}

// checkGolden compares the counts with the pinned ones, or rewrites them.
func checkGolden(t *testing.T, name string, got map[string]rtCount) {
	t.Helper()
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range got {
			if !yield(k) {
				return
			}
		}
	})
	total := rtCount{}
	for _, n := range names {
		total.cold += got[n].cold
		total.warm += got[n].warm
	}
	t.Logf("%d tools: %d round trips cold, %d warm", len(names), total.cold, total.warm)
	if *updateRoundTrips {
		var b strings.Builder
		fmt.Fprintf(&b, "# HTTP round trips per tool call (TestRoundTrips*, -update-roundtrips rewrites).\n# tool cold warm; total %d cold, %d warm\n", total.cold, total.warm)
		for _, n := range names {
			fmt.Fprintf(&b, "%s %d %d\n", n, got[n].cold, got[n].warm)
		}
		if err := os.MkdirAll(filepath.Dir(goldenPath(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath(name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readGolden(t, name)
	for _, n := range names {
		w, ok := want[n]
		switch g := got[n]; {
		case !ok:
			t.Errorf("%s: %d/%d round trips (cold/warm) are not pinned in %s", n, g.cold, g.warm, goldenPath(name))
		case g.cold > w.cold || g.warm > w.warm:
			t.Errorf("%s: %d/%d round trips (cold/warm), more than the pinned %d/%d", n, g.cold, g.warm, w.cold, w.warm)
		case g != w:
			t.Errorf("%s: %d/%d round trips (cold/warm), fewer than the pinned %d/%d: pin them with -update-roundtrips", n, g.cold, g.warm, w.cold, w.warm)
		}
	}
	for n := range want {
		if _, ok := got[n]; !ok {
			t.Errorf("%s is pinned in %s but was not measured", n, goldenPath(name))
		}
	}
}

// TestRoundTripsREST pins the round trips of every tool of the REST and
// WebDAV-files families against the contract fake. Arguments not taken
// from the recordings make some calls fail; a failure's round trips are
// as deterministic as a success's.
func TestRoundTripsREST(t *testing.T) {
	fams := mcpbackend.DefaultFamilies()
	delete(fams, "calendar")
	delete(fams, "contacts")
	tools := familyTools(t, fams)
	creds := nextcloud.Basic{Username: nextcloudfake.AdminUser, Password: nextcloudfake.AdminPassword}
	files := map[string]string{"Fixtures/": "", "Fixtures/hello.txt": "hello", "Fixtures/other.txt": "other"}
	got := map[string]rtCount{}
	failed := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(tools)) {
		args, ok := restArgs[name]
		if !ok {
			args = rtDefaults(tools[name].def)
		}
		var c rtCount
		for i, warm := range []bool{false, true} {
			_, srv := nextcloudfake.Start(t, nextcloudfake.Options{DAV: backendtest.NewDAV(t, files)})
			fam := tools[name].family
			b := startRT(t, srv.URL, creds, map[string]mcpbackend.Family{fam: fams[fam]})
			if warm {
				b.warm(t, false)
			}
			sent, res := b.measure(t, name, args)
			if res.IsError {
				failed[name] = backendtest.Text(res)
			}
			t.Logf("%s %s: %d\n\t%s", name, map[bool]string{false: "cold", true: "warm"}[warm], len(sent), strings.Join(sent, "\n\t"))
			if i == 0 {
				c.cold = len(sent)
			} else {
				c.warm = len(sent)
			}
		}
		got[name] = c
	}
	t.Logf("%d of %d calls ended in a tool error (their round trips are pinned all the same)", len(failed), len(got))
	for _, n := range slices.Sorted(maps.Keys(failed)) {
		t.Logf("  %s: %.160s", n, failed[n])
	}
	checkGolden(t, "rest", got)
}

// TestRoundTripsDAV pins the round trips of every calendar, task and
// contacts tool against a real CalDAV/CardDAV server (Radicale) laid out
// like Nextcloud: it is served under /remote.php/dav/ and /.well-known/
// redirects there, while the capabilities come from the contract fake.
// Every call must succeed, so the counts are those of the path users
// take. Each call gets a user of its own, seeded with a calendar holding
// an event and a task, and an address book holding a contact.
func TestRoundTripsDAV(t *testing.T) {
	rad := radicaletest.Start(t)
	fams := map[string]mcpbackend.Family{"calendar": mcpbackend.DefaultFamilies()["calendar"], "contacts": mcpbackend.DefaultFamilies()["contacts"]}
	tools := familyTools(t, fams)
	_, fake := nextcloudfake.Start(t, nextcloudfake.Options{})
	front := nextcloudFront(t, rad.URL, fake.URL)

	got := map[string]rtCount{}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range tools {
			if !yield(k) {
				return
			}
		}
	}) {
		args, ok := davArgs[name]
		if !ok {
			t.Errorf("%s: no arguments in davArgs", name)
			continue
		}
		var c rtCount
		for i, warm := range []bool{false, true} {
			user := fmt.Sprintf("rt%d-%s", i, strings.TrimPrefix(name, "nc_"))
			seedDAV(t, rad.URL, user)
			b := startRT(t, front, nextcloud.Basic{Username: user, Password: "pw"}, fams)
			if warm {
				b.warm(t, true)
			}
			sent, res := b.measure(t, name, args)
			if res.IsError {
				t.Errorf("%s failed: %s", name, backendtest.Text(res))
			}
			if i == 0 {
				c.cold = len(sent)
			} else {
				c.warm = len(sent)
			}
			t.Logf("%s %s: %d\n\t%s", name, map[bool]string{false: "cold", true: "warm"}[warm], len(sent), strings.Join(sent, "\n\t"))
		}
		if c.warm >= c.cold {
			t.Errorf("%s: %d round trips warm, %d cold: the user's discovery is not reused", name, c.warm, c.cold)
		}
		got[name] = c
	}
	checkGolden(t, "dav", got)
}

// nextcloudFront serves Radicale under Nextcloud's DAV root
// (/remote.php/dav/, announced to Radicale with X-Script-Name) and
// everything else from the contract fake, as the admin.
func nextcloudFront(t *testing.T, radicale, fake string) string {
	t.Helper()
	ru, _ := url.Parse(radicale)
	fu, _ := url.Parse(fake)
	toRad := httputil.NewSingleHostReverseProxy(ru)
	toFake := httputil.NewSingleHostReverseProxy(fu)
	const root = "/remote.php/dav"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/.well-known/"):
			r.Header.Set("X-Script-Name", root)
			toRad.ServeHTTP(w, r)
		case r.URL.Path == root || strings.HasPrefix(r.URL.Path, root+"/"):
			r.URL.Path = strings.TrimPrefix(r.URL.Path, root)
			r.URL.RawPath = ""
			if r.URL.Path == "" {
				r.URL.Path = "/"
			}
			r.Header.Set("X-Script-Name", root)
			toRad.ServeHTTP(w, r)
		default:
			// The recordings are the admin's: the per-test users
			// exist only in Radicale.
			r.SetBasicAuth(nextcloudfake.AdminUser, nextcloudfake.AdminPassword)
			toFake.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// seedDAV creates user's calendar "work" (events and tasks) with an event
// tomorrow and an open task, and the address book "contacts" with one
// contact, directly on Radicale.
func seedDAV(t *testing.T, radicale, user string) {
	t.Helper()
	tomorrow := time.Now().UTC().Add(24 * time.Hour).Format("20060102")
	send := func(method, p, ctype, body string) {
		req, err := http.NewRequest(method, strings.TrimSuffix(radicale, "/")+"/"+user+"/"+p, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(user, "pw")
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("seeding %s %s: %s", method, p, resp.Status)
		}
	}
	const xmlType = "application/xml; charset=utf-8"
	send("MKCALENDAR", "work/", xmlType, `<?xml version="1.0"?><c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>Work</d:displayname><c:supported-calendar-component-set><c:comp name="VEVENT"/><c:comp name="VTODO"/></c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>`)
	ics := func(body string) string {
		return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//roundtrips//EN\r\n" + body + "END:VCALENDAR\r\n"
	}
	send(http.MethodPut, "work/rt-event.ics", "text/calendar; charset=utf-8", ics("BEGIN:VEVENT\r\nUID:rt-event\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:"+tomorrow+"T090000Z\r\nDTEND:"+tomorrow+"T093000Z\r\nSUMMARY:Standup\r\nEND:VEVENT\r\n"))
	send(http.MethodPut, "work/rt-todo.ics", "text/calendar; charset=utf-8", ics("BEGIN:VTODO\r\nUID:rt-todo\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Write quarterly report\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\n"))
	send("MKCOL", "contacts/", xmlType, `<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype><d:displayname>Contacts</d:displayname></d:prop></d:set></d:mkcol>`)
	send(http.MethodPut, "contacts/rt-contact.vcf", "text/vcard; charset=utf-8", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:rt-contact\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\nEMAIL:ada@example.com\r\nEND:VCARD\r\n")
}
