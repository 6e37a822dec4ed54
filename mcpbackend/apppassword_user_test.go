package mcpbackend_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/mcpbackend"
)

// TestAppPasswordUserClaim: with the gateway's user_claim the connection
// is bound to the user it names, not to the subject. A subject that is
// not a Nextcloud user id connects when the claim names the approving
// account; a claim naming another account than the approver's is refused
// and the app password revoked, even when the subject would match; and a
// stored connection is not used for a token whose claim names another
// account.
func TestAppPasswordUserClaim(t *testing.T) {
	fake, nc := nextcloudfake.Start(t, nextcloudfake.Options{})
	url := appPasswordServer(t, nc.URL, &certmagic.FileStorage{Path: t.TempDir()})
	as := func(subject, user string) *client.Client {
		return connectWith(t, url, map[string]string{mcpbackend.HeaderSubject: subject, mcpbackend.HeaderUser: user}, mcp.ClientCapabilities{})
	}
	note := map[string]any{"note_id": 359}

	// 1. sub is an opaque id, the claim names admin: admin's approval
	// connects, and calls run as admin.
	const sub = "7f3c2a90-opaque-subject"
	admin := as(sub, nextcloudfake.AdminUser)
	link := loginURL.FindString(resultText(call(t, admin, "nc_notes_get_note", note)))
	if link == "" {
		t.Fatal("no login link")
	}
	if _, err := fake.ApproveLogin(link, nextcloudfake.AdminUser); err != nil {
		t.Fatal(err)
	}
	if st := waitConnected(t, admin, true); st.Status.NextcloudUser != nextcloudfake.AdminUser {
		t.Fatalf("status: %+v", st)
	}
	fake.Reset()
	if res := call(t, admin, "nc_notes_get_note", note); res.IsError {
		t.Fatalf("connected call: %s", resultText(res))
	}
	for _, cl := range fake.Calls() {
		if u, _, ok := (&http.Request{Header: cl.Header}).BasicAuth(); !ok || u != nextcloudfake.AdminUser {
			t.Errorf("%s: not admin's app password", cl)
		}
	}

	// 2. The same subject whose token now names user2 does not get
	// admin's stored connection.
	res := call(t, as(sub, nextcloudfake.User2), "nc_notes_get_note", note)
	if !res.IsError || !strings.Contains(resultText(res), "belongs to the account") {
		t.Fatalf("stored connection used for another user: %s", resultText(res))
	}

	// 3. The subject equals admin's id but the claim names user2: admin's
	// approval is refused and revoked (the claim, not the subject, decides).
	mixed := as(nextcloudfake.AdminUser, nextcloudfake.User2)
	link2 := loginURL.FindString(resultText(call(t, mixed, "nc_notes_get_note", note)))
	if link2 == "" {
		t.Fatal("no login link for the second subject")
	}
	before := fake.AppPasswords(nextcloudfake.AdminUser)
	if _, err := fake.ApproveLogin(link2, nextcloudfake.AdminUser); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(status(t, mixed).Status.Message, "not yours") {
		if time.Now().After(deadline) {
			t.Fatalf("approval by another account than the claim's was not refused: %+v", status(t, mixed))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if status(t, mixed).Status.Connected {
		t.Error("connected with an account the claim does not name")
	}
	if n := fake.AppPasswords(nextcloudfake.AdminUser); n != before {
		t.Errorf("the refused app password was not revoked: admin holds %d, had %d", n, before)
	}
}
