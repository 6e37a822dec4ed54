package mcpbackend_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/mcpbackend"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/notes"
)

// appPasswordServer serves the backend in app_password mode on storage,
// with the subject taken from X-Scopegate-Subject (as behind a gateway).
func appPasswordServer(t *testing.T, ncURL string, st certmagic.Storage) string {
	t.Helper()
	c, err := nextcloud.New(nextcloud.Options{BaseURL: ncURL})
	if err != nil {
		t.Fatal(err)
	}
	key, err := mcpbackend.AppPasswordKey(context.Background(), st, "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := mcpbackend.NewConnector(mcpbackend.ConnectorConfig{Client: c, Storage: st, Key: key, PollInterval: 20 * time.Millisecond, ElicitationWait: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	srv, err := mcpbackend.New(mcpbackend.Config{
		Client:      c,
		Credentials: func(*http.Request) (nextcloud.Credentials, bool) { return nil, false },
		Connector:   conn,
		Families:    map[string]mcpbackend.Family{"notes": notes.Tools},
		Subject:     func(r *http.Request) string { return r.Header.Get(mcpbackend.HeaderSubject) },
		User:        func(r *http.Request) string { return r.Header.Get(mcpbackend.HeaderUser) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	hs := httptest.NewServer(srv.Handler)
	t.Cleanup(hs.Close)
	return hs.URL
}

func connectAs(t *testing.T, url, subject string, caps mcp.ClientCapabilities, opts ...client.ClientOption) *client.Client {
	t.Helper()
	return connectWith(t, url, map[string]string{mcpbackend.HeaderSubject: subject}, caps, opts...)
}

// connectWith is connectAs with the gateway's headers given in full.
func connectWith(t *testing.T, url string, headers map[string]string, caps mcp.ClientCapabilities, opts ...client.ClientOption) *client.Client {
	t.Helper()
	// What a client sends; it must never reach Nextcloud.
	headers["Authorization"] = "Bearer " + nextcloudfake.AccessToken
	tr, err := transport.NewStreamableHTTP(url, transport.WithHTTPHeaders(headers))
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(tr, opts...)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = "2025-11-25"
	init.Params.ClientInfo = mcp.Implementation{Name: "test", Version: "1"}
	init.Params.Capabilities = caps
	if _, err := c.Initialize(context.Background(), init); err != nil {
		t.Fatal(err)
	}
	return c
}

func resultText(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

var loginURL = regexp.MustCompile(`http://[^ ]+/index\.php/login/v2/flow/[A-Za-z0-9]+`)

type connStatus struct {
	Status struct {
		Connected     bool   `json:"connected"`
		NextcloudUser string `json:"nextcloud_user"`
		LoginURL      string `json:"login_url"`
		Message       string `json:"message"`
	} `json:"status"`
}

func status(t *testing.T, c *client.Client) connStatus {
	t.Helper()
	res := call(t, c, "nc_connection_status", nil)
	var st connStatus
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &st); err != nil || res.IsError {
		t.Fatalf("status: %v %s", err, resultText(res))
	}
	return st
}

func waitConnected(t *testing.T, c *client.Client, want bool) connStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := status(t, c)
		if st.Status.Connected == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("connected never became %v: %+v", want, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAppPasswordFlow: the first call sends the user to Nextcloud's login
// URL (link fallback: this client has no URL elicitation); once approved,
// calls run with the user's own app password in Basic auth and no bearer
// token reaches Nextcloud; another subject neither shares the connection
// nor can complete it with another account; a revoked password leads to
// reconnection; nc_disconnect revokes at Nextcloud.
func TestAppPasswordFlow(t *testing.T) {
	fake, nc := nextcloudfake.Start(t, nextcloudfake.Options{})
	st := &certmagic.FileStorage{Path: t.TempDir()}
	url := appPasswordServer(t, nc.URL, st)
	admin := connectAs(t, url, nextcloudfake.AdminUser, mcp.ClientCapabilities{})

	// 1. Not connected: the tool answers with the link, never the poll token.
	res := call(t, admin, "nc_notes_get_note", map[string]any{"note_id": 359})
	text := resultText(res)
	link := loginURL.FindString(text)
	if !res.IsError || link == "" || !strings.Contains(text, "again") {
		t.Fatalf("first call: error %v, %q", res.IsError, text)
	}
	for _, cl := range fake.Calls() {
		if cl.Path == "/index.php/login/v2/poll" && strings.Contains(text, strings.TrimPrefix(cl.Body, "token=")) {
			t.Fatal("the poll token is in the tool answer")
		}
	}
	if st := status(t, admin); st.Status.Connected || st.Status.LoginURL != link {
		t.Fatalf("status before approval: %+v", st)
	}
	// A second call before approval reuses the flow.
	if l2 := loginURL.FindString(resultText(call(t, admin, "nc_notes_get_note", map[string]any{"note_id": 359}))); l2 != link {
		t.Errorf("second call started another flow: %s", l2)
	}

	// 2. The user approves in the browser; the poller connects.
	if _, err := fake.ApproveLogin(link, nextcloudfake.AdminUser); err != nil {
		t.Fatal(err)
	}
	if st := waitConnected(t, admin, true); st.Status.NextcloudUser != nextcloudfake.AdminUser {
		t.Fatalf("status: %+v", st)
	}
	fake.Reset()
	if res := call(t, admin, "nc_notes_get_note", map[string]any{"note_id": 359}); res.IsError {
		t.Fatalf("connected call: %s", resultText(res))
	}
	calls := fake.Calls()
	if len(calls) == 0 {
		t.Fatal("no Nextcloud calls")
	}
	for _, cl := range calls {
		u, p, ok := (&http.Request{Header: cl.Header}).BasicAuth()
		if !ok || u != nextcloudfake.AdminUser || len(p) != 72 || strings.Contains(cl.Header.Get("Authorization"), "Bearer") {
			t.Errorf("%s: Authorization %q", cl, cl.Header.Get("Authorization"))
		}
	}

	// 3. Another subject has no connection, and its link approved by
	// another Nextcloud account (admin) is refused and revoked.
	other := connectAs(t, url, nextcloudfake.User2, mcp.ClientCapabilities{})
	res = call(t, other, "nc_notes_get_note", map[string]any{"note_id": 359})
	link2 := loginURL.FindString(resultText(res))
	if !res.IsError || link2 == "" || link2 == link {
		t.Fatalf("user2's first call: %s", resultText(res))
	}
	if n := fake.AppPasswords(nextcloudfake.AdminUser); n != 1 {
		t.Fatalf("admin holds %d app passwords", n)
	}
	if _, err := fake.ApproveLogin(link2, nextcloudfake.AdminUser); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(status(t, other).Status.Message, "not yours") {
		if time.Now().After(deadline) {
			t.Fatalf("user2's flow approved by admin was not refused: %+v", status(t, other))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := fake.AppPasswords(nextcloudfake.AdminUser); n != 1 {
		t.Errorf("the foreign app password was not revoked: admin holds %d", n)
	}
	if status(t, other).Status.Connected {
		t.Error("user2 connected with admin's account")
	}

	// 4. Revoked in Nextcloud's settings: the call says so, the
	// connection is gone, the next call starts a new flow.
	fake.RevokeAppPasswords(nextcloudfake.AdminUser)
	res = call(t, admin, "nc_notes_get_note", map[string]any{"note_id": 359})
	if !res.IsError || !strings.Contains(resultText(res), "reconnect") {
		t.Fatalf("call with a revoked password: %s", resultText(res))
	}
	waitConnected(t, admin, false)
	res = call(t, admin, "nc_notes_get_note", map[string]any{"note_id": 359})
	link3 := loginURL.FindString(resultText(res))
	if link3 == "" || link3 == link {
		t.Fatalf("no new flow after revocation: %s", resultText(res))
	}

	// 5. nc_disconnect revokes the password at Nextcloud.
	if _, err := fake.ApproveLogin(link3, nextcloudfake.AdminUser); err != nil {
		t.Fatal(err)
	}
	waitConnected(t, admin, true)
	if res := call(t, admin, "nc_disconnect", nil); res.IsError || !strings.Contains(resultText(res), "revoked") {
		t.Fatalf("disconnect: %s", resultText(res))
	}
	if n := fake.AppPasswords(nextcloudfake.AdminUser); n != 0 {
		t.Errorf("after nc_disconnect admin holds %d app passwords", n)
	}
	waitConnected(t, admin, false)
}

// approver is a client's elicitation handler that opens the URL and
// approves, as the user would in the browser.
type approver struct {
	fake *nextcloudfake.Fake
	user string
	seen chan mcp.ElicitationParams
}

func (a *approver) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	a.seen <- req.Params
	if _, err := a.fake.ApproveLogin(req.Params.URL, a.user); err != nil {
		return nil, err
	}
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionAccept}}, nil
}

// TestAppPasswordURLElicitation: a client that declared URL elicitation
// gets the login URL as elicitation/create mode "url"; approved there,
// the same call goes on and succeeds.
func TestAppPasswordURLElicitation(t *testing.T) {
	fake, nc := nextcloudfake.Start(t, nextcloudfake.Options{})
	url := appPasswordServer(t, nc.URL, &certmagic.FileStorage{Path: t.TempDir()})
	a := &approver{fake: fake, user: nextcloudfake.AdminUser, seen: make(chan mcp.ElicitationParams, 1)}
	c := connectAs(t, url, nextcloudfake.AdminUser, mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapability{URL: &struct{}{}}},
		client.WithElicitationHandler(a))
	completed := make(chan string, 4)
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == string(mcp.MethodNotificationElicitationComplete) {
			id, _ := n.Params.AdditionalFields["elicitationId"].(string)
			completed <- id
		}
	})
	res := call(t, c, "nc_notes_get_note", map[string]any{"note_id": 359})
	if res.IsError {
		t.Fatalf("call after URL elicitation: %s", resultText(res))
	}
	select {
	case p := <-a.seen:
		if p.Mode != mcp.ElicitationModeURL || !loginURL.MatchString(p.URL) || p.ElicitationID == "" {
			t.Errorf("elicitation: %+v", p)
		}
		select {
		case id := <-completed:
			if id != p.ElicitationID {
				t.Errorf("elicitation/complete for %q, want %q", id, p.ElicitationID)
			}
		case <-time.After(10 * time.Second):
			t.Error("no notifications/elicitation/complete")
		}
	default:
		t.Fatal("no elicitation")
	}
}

// TestAppPasswordSharedStorage: two instances on one storage (two
// replicas) share the key and the connection.
func TestAppPasswordSharedStorage(t *testing.T) {
	fake, nc := nextcloudfake.Start(t, nextcloudfake.Options{})
	st := &certmagic.FileStorage{Path: t.TempDir()}
	a := connectAs(t, appPasswordServer(t, nc.URL, st), nextcloudfake.AdminUser, mcp.ClientCapabilities{})
	b := connectAs(t, appPasswordServer(t, nc.URL, st), nextcloudfake.AdminUser, mcp.ClientCapabilities{})
	link := loginURL.FindString(resultText(call(t, a, "nc_notes_get_note", map[string]any{"note_id": 359})))
	if _, err := fake.ApproveLogin(link, nextcloudfake.AdminUser); err != nil {
		t.Fatal(err)
	}
	waitConnected(t, a, true)
	if res := call(t, b, "nc_notes_get_note", map[string]any{"note_id": 359}); res.IsError {
		t.Fatalf("the other instance: %s", resultText(res))
	}
	// The stored record does not show the password.
	keys, err := st.List(context.Background(), "scopegate/nextcloud_mcp/app_passwords", false)
	if err != nil || len(keys) != 1 {
		t.Fatalf("stored: %v %v", keys, err)
	}
	blob, _ := st.Load(context.Background(), keys[0])
	for _, cl := range fake.Calls() {
		if _, p, ok := (&http.Request{Header: cl.Header}).BasicAuth(); ok && len(p) == 72 && strings.Contains(string(blob), p) {
			t.Fatal("app password stored in clear")
		}
	}
}
