package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/scopegate/scopegate/internal/oidctest"
)

// goSDKRedirect is the Go SDK client's redirect URI; nothing listens
// there: the fetcher stops at the redirect, as a native app's loopback
// listener would take it.
const goSDKRedirect = "http://127.0.0.1:9/gosdk/callback"

// TestGoSDKInteractiveStepUp drives the official Go SDK (v1.8.0, which
// negotiates 2026-07-28) with its authorization code handler through the
// whole flow: 401 → resource metadata → authorization server metadata →
// registration as a public client → authorize (challenged scope, resource,
// S256) → token → tools/list (read tools only, hidden ones counted) →
// read call → write call: 403, the SDK re-authorizes with the challenged
// scope and retries by itself → tools/list now has the write tools.
func TestGoSDKInteractiveStepUp(t *testing.T) {
	t.Parallel()
	s := newNextcloudSite(t, oidctest.Options{})
	inv := ncInventory(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	wire := &wireLog{site: s, next: http.DefaultTransport}
	hc := &http.Client{Transport: wire}
	var authURLs []string
	handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			ClientName:              "scopegate e2e (go-sdk)",
			RedirectURIs:            []string{goSDKRedirect},
			TokenEndpointAuthMethod: "none",
			GrantTypes:              []string{"authorization_code"},
			ResponseTypes:           []string{"code"},
		}},
		RedirectURL: goSDKRedirect,
		AuthorizationCodeFetcher: func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
			authURLs = append(authURLs, args.URL)
			// The browser: its requests go through the logging front too.
			wire.mu.Lock()
			wire.entries = append(wire.entries, wireEntry{Method: http.MethodGet, URL: strings.SplitN(args.URL, "?", 2)[0], Kind: "authorize"})
			wire.mu.Unlock()
			q, err := oidctest.FollowAuthorization(ctx, args.URL, goSDKRedirect)
			if err != nil {
				return nil, err
			}
			if q.Get("error") != "" {
				return nil, errors.New("authorization refused: " + q.Get("error"))
			}
			return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
		},
		Client: hc,
	})
	if err != nil {
		t.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "scopegate-e2e-gosdk", Version: "1"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.resource, HTTPClient: hc, OAuthHandler: handler}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nrequests: %v", err, kinds(wire.all()))
	}
	defer session.Close()
	if res := session.InitializeResult(); res == nil || res.ProtocolVersion != "2026-07-28" {
		t.Errorf("negotiated %+v, want protocol 2026-07-28", res)
	}

	logins := s.provider.Logins()
	if len(logins) != 1 {
		t.Fatalf("%d logins before the first list, want 1", len(logins))
	}
	first := logins[0].Scopes
	for _, sc := range first {
		if strings.HasSuffix(sc, ":write") {
			t.Errorf("the first login asked for %s (scope %q): the 401 should ask for reading only", sc, first)
		}
	}

	list := func() ([]string, hiddenMeta) {
		t.Helper()
		var names []string
		var hidden hiddenMeta
		cursor := ""
		for {
			res, err := session.ListTools(ctx, &mcp.ListToolsParams{Cursor: cursor})
			if err != nil {
				t.Fatalf("tools/list: %v", err)
			}
			for _, tl := range res.Tools {
				names = append(names, tl.Name)
			}
			if raw, ok := res.Meta["scopegate/hidden"]; ok {
				b, _ := json.Marshal(raw)
				var h hiddenMeta
				if err := json.Unmarshal(b, &h); err != nil {
					t.Fatalf("scopegate/hidden %s: %v", b, err)
				}
				hidden.Count += h.Count
				hidden.Scopes = append(hidden.Scopes, h.Scopes...)
			}
			if res.TTLMs != 0 && hidden.Count > 0 {
				t.Errorf("a filtered list page has ttlMs %d, want 0", res.TTLMs)
			}
			if cursor = res.NextCursor; cursor == "" {
				break
			}
		}
		slices.Sort(names)
		slices.Sort(hidden.Scopes)
		hidden.Scopes = slices.Compact(hidden.Scopes)
		return names, hidden
	}

	names, hidden := list()
	if want := visible(inv, first); !slices.Equal(names, want) {
		t.Errorf("first tools/list: %d tools %q, want the %d visible to %q: %q", len(names), names, len(want), first, want)
	}
	if slices.Contains(names, writeTool) || !slices.Contains(names, readTool) {
		t.Errorf("first tools/list has %s: %v, %s: %v; want only the read", writeTool, slices.Contains(names, writeTool), readTool, slices.Contains(names, readTool))
	}
	if len(names)+hidden.Count != len(inv) || !slices.Contains(hidden.Scopes, "notes:write") {
		t.Errorf("first list: %d shown + %d hidden (scopes %q), want %d in all and notes:write among the scopes", len(names), hidden.Count, hidden.Scopes, len(inv))
	}
	t.Logf("first login scope %q: %d tools listed, %d hidden (revealed by %q)", strings.Join(first, " "), len(names), hidden.Count, hidden.Scopes)

	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: readTool, Arguments: readArgs})
	if err != nil || res.IsError {
		t.Fatalf("%s: %v %+v", readTool, err, res)
	}

	res, err = session.CallTool(ctx, &mcp.CallToolParams{Name: writeTool, Arguments: writeArgs})
	if err != nil || res.IsError {
		t.Fatalf("%s after step-up: %v %+v\nrequests: %v", writeTool, err, res, kinds(wire.all()))
	}
	var created struct {
		Note struct {
			ID int `json:"id"`
		} `json:"note"`
	}
	if b, _ := json.Marshal(res.StructuredContent); json.Unmarshal(b, &created) != nil || created.Note.ID != 359 {
		t.Errorf("%s = %s, want the fake's note 359", writeTool, b)
	}

	logins = s.provider.Logins()
	if len(logins) != 2 {
		t.Fatalf("%d logins, want 2 (first login, step-up)", len(logins))
	}
	second := logins[1].Scopes
	if !slices.Contains(second, "notes:write") || slices.ContainsFunc(first, func(sc string) bool { return !slices.Contains(second, sc) }) {
		t.Errorf("step-up login scope %q, want notes:write and all of the first %q", second, first)
	}

	names2, hidden2 := list()
	if want := visible(inv, second); !slices.Equal(names2, want) || !slices.Contains(names2, writeTool) {
		t.Errorf("tools/list after the step-up: %d tools, want the %d visible to %q (with %s)", len(names2), len(want), second, writeTool)
	}
	if hidden2.Count >= hidden.Count || len(names2)+hidden2.Count != len(inv) {
		t.Errorf("after the step-up %d shown + %d hidden, before %d hidden", len(names2), hidden2.Count, hidden.Count)
	}

	// The request order, as the client's logging front saw it.
	seq := kinds(wire.all())
	t.Logf("go-sdk requests: %s", strings.Join(seq, " → "))
	checkOrder(t, seq, []string{"mcp:401", "prm", "asm", "register", "authorize", "token", "mcp:200", "mcp:403", "authorize", "token", "mcp:200"})
	for _, e := range wire.all() {
		if e.Kind == "token" && !slices.Equal(e.Params["resource"], []string{s.resource}) {
			t.Errorf("token request %v without the resource", e.Params)
		}
		if e.Kind == "mcp" && e.Status == http.StatusForbidden && !strings.Contains(e.Challenge, `error="insufficient_scope"`) {
			t.Errorf("403 without an insufficient_scope challenge: %q", e.Challenge)
		}
	}
	for _, u := range authURLs {
		if !strings.Contains(u, "code_challenge_method=S256") || !strings.Contains(u, "resource=") {
			t.Errorf("authorization URL without S256 PKCE or resource: %s", u)
		}
	}
	authorizeScopes := s.checkProviderLog(t)
	if len(authorizeScopes) != 2 {
		t.Errorf("the provider saw %d authorization requests, want 2", len(authorizeScopes))
	}
	if n := len(s.provider.RegisteredClientIDs()); n < 1 {
		t.Errorf("no client registered")
	} else {
		t.Logf("go-sdk registered %d client(s)", n)
	}
}

// hiddenMeta is _meta["scopegate/hidden"].
type hiddenMeta struct {
	Count  int      `json:"count"`
	Scopes []string `json:"scopes"`
}
