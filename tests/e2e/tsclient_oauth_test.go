package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/oidctest"
)

// tsOAuthSummary is what tests/tsclient/oauth_flow.mjs prints.
type tsOAuthSummary struct {
	SDKVersion        string   `json:"sdkVersion"`
	ProtocolVersion   *string  `json:"protocolVersion"`
	Steps             []string `json:"steps"`
	AuthorizationURLs []string `json:"authorizationUrls"`
	Lists             []struct {
		Names  []string   `json:"names"`
		Hidden hiddenMeta `json:"hidden"`
	} `json:"lists"`
	Read *struct {
		IsError    bool            `json:"isError"`
		Structured json.RawMessage `json:"structured"`
	} `json:"read"`
	Write *struct {
		IsError    bool            `json:"isError"`
		Structured json.RawMessage `json:"structured"`
	} `json:"write"`
	Error *tsError    `json:"error"`
	Wire  []wireEntry `json:"wire"`
}

// TestTSClientOAuthStepUp drives the official TypeScript SDK (the newest
// release, pinned in tests/tsclient) through the whole interactive flow
// against the built binary in front of nextcloud_mcp: 401 → discovery →
// public registration → authorize (challenged scope, resource, S256) →
// token → list (read tools only) → read → write 403 → re-authorize with
// the challenged scope → the write succeeds → the list has the write
// tools.
//
// With a provider that issues refresh tokens, the SDK first refreshes on
// the 403 (which cannot widen the scope) and gives up with "403 after
// trying upscoping"; the app then starts the new authorization itself.
func TestTSClientOAuthStepUp(t *testing.T) {
	t.Parallel()
	dir := tsclientSetup(t)
	for _, tc := range []struct {
		name    string
		refresh bool
	}{{"without refresh tokens", false}, {"with refresh tokens", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tsOAuthFlow(t, dir, tc.refresh)
		})
	}
}

func tsOAuthFlow(t *testing.T, dir string, refresh bool) {
	s := newNextcloudSite(t, oidctest.Options{AlwaysRefresh: refresh})
	inv := ncInventory(t)

	readJSON, _ := json.Marshal(readArgs)
	writeJSON, _ := json.Marshal(writeArgs)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "oauth_flow.mjs", "--url", s.resource,
		"--read", readTool, "--read-args", string(readJSON), "--write", writeTool, "--write-args", string(writeJSON))
	cmd.Dir = dir
	cmd.Env = os.Environ()
	var sum tsOAuthSummary
	runTSScript(t, cmd, &sum)
	if sum.SDKVersion != tsclientSDKVersion {
		t.Errorf("script ran SDK %q, want %s", sum.SDKVersion, tsclientSDKVersion)
	}
	if sum.Error != nil {
		t.Fatalf("flow failed after steps %q: %s", sum.Steps, sum.Error)
	}
	t.Logf("steps: %s", strings.Join(sum.Steps, " → "))

	logins := s.provider.Logins()
	if len(logins) != 2 {
		t.Fatalf("%d logins, want 2 (first login, step-up)", len(logins))
	}
	first, second := logins[0].Scopes, logins[1].Scopes
	for _, sc := range first {
		if strings.HasSuffix(sc, ":write") {
			t.Errorf("the first login asked for %s (%q): the 401 should ask for reading only", sc, first)
		}
	}
	if !slices.Contains(second, "notes:write") || slices.ContainsFunc(first, func(sc string) bool { return !slices.Contains(second, sc) }) {
		t.Errorf("step-up login scope %q, want notes:write and all of the first %q", second, first)
	}

	if len(sum.Lists) != 2 {
		t.Fatalf("%d lists, want 2", len(sum.Lists))
	}
	l1, l2 := sum.Lists[0], sum.Lists[1]
	if want := visible(inv, first); !slices.Equal(l1.Names, want) || slices.Contains(l1.Names, writeTool) {
		t.Errorf("first list: %d tools, want the %d visible to %q, without %s", len(l1.Names), len(want), first, writeTool)
	}
	if len(l1.Names)+l1.Hidden.Count != len(inv) || !slices.Contains(l1.Hidden.Scopes, "notes:write") {
		t.Errorf("first list: %d shown + %d hidden (scopes %q), want %d in all, notes:write among the scopes", len(l1.Names), l1.Hidden.Count, l1.Hidden.Scopes, len(inv))
	}
	if want := visible(inv, second); !slices.Equal(l2.Names, want) || !slices.Contains(l2.Names, writeTool) {
		t.Errorf("list after the step-up: %d tools, want the %d visible to %q, with %s", len(l2.Names), len(want), second, writeTool)
	}
	if sum.Read == nil || sum.Read.IsError || sum.Write == nil || sum.Write.IsError {
		t.Errorf("read %+v, write %+v; want both to succeed", sum.Read, sum.Write)
	}
	if sum.Write != nil && !strings.Contains(string(sum.Write.Structured), `"id":359`) {
		t.Errorf("write result %s, want the fake's note 359", sum.Write.Structured)
	}

	for i := range sum.Wire {
		sum.Wire[i].Kind = s.kind(sum.Wire[i].Method, sum.Wire[i].URL)
	}
	seq := kinds(sum.Wire)
	t.Logf("typescript sdk %s requests: %s", sum.SDKVersion, strings.Join(seq, " → "))
	want := []string{"mcp:401", "prm", "asm", "register", "authorize", "login", "token", "mcp:200", "mcp:403", "authorize", "login", "token", "mcp:200"}
	var refreshes int
	for _, e := range sum.Wire {
		if e.Kind == "token" && e.Params.Get("grant_type") == "refresh_token" {
			refreshes++
			if e.Params.Get("scope") != "" {
				t.Logf("the SDK's refresh asked for scope %q", e.Params.Get("scope"))
			}
		}
	}
	gaveUp := slices.ContainsFunc(sum.Steps, func(st string) bool { return strings.Contains(st, "403 after trying upscoping") })
	if refresh {
		// The SDK refreshes first and gets the same 403 again.
		want = []string{"mcp:401", "prm", "asm", "register", "authorize", "login", "token", "mcp:200", "mcp:403", "token", "mcp:403", "authorize", "login", "token", "mcp:200"}
		if refreshes == 0 || !gaveUp {
			t.Errorf("with refresh tokens: %d refreshes, gave up after upscoping: %v; want the SDK to refresh first and give up", refreshes, gaveUp)
		}
	} else if refreshes != 0 || gaveUp {
		t.Errorf("without refresh tokens: %d refreshes, gave up: %v", refreshes, gaveUp)
	}
	checkOrder(t, seq, want)
	for _, e := range sum.Wire {
		if e.Kind == "token" && !slices.Equal(e.Params["resource"], []string{s.resource}) {
			t.Errorf("token request %v without the resource", e.Params)
		}
		if e.Kind == "authorize" && (e.Params.Get("code_challenge_method") != "S256" || !slices.Equal(e.Params["resource"], []string{s.resource})) {
			t.Errorf("authorization request %v without S256 PKCE or the resource", e.Params)
		}
		if e.Kind == "mcp" && e.Status == http.StatusForbidden && !strings.Contains(e.Challenge, `error="insufficient_scope"`) {
			t.Errorf("403 without an insufficient_scope challenge: %q", e.Challenge)
		}
	}
	if authorizeScopes := s.checkProviderLog(t); len(authorizeScopes) != 2 {
		t.Errorf("the provider saw %d authorization requests, want 2", len(authorizeScopes))
	}
}
