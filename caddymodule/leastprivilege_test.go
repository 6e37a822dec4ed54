package caddymodule

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// annotatedToolsList is a backend inventory whose tools carry MCP
// annotations: two read-only tools, two writes, and one without a hint.
func annotatedToolsList(annotated bool) string {
	ann := func(ro bool) string {
		if !annotated {
			return ""
		}
		return fmt.Sprintf(`"annotations":{"title":"t","readOnlyHint":%t,"destructiveHint":false},`, ro)
	}
	return `{"jsonrpc":"2.0","id":"scopegate-discovery","result":{"tools":[` +
		`{"name":"notes_list",` + ann(true) + `"inputSchema":{"type":"object"},"_meta":{"scopegate/scopes":["notes:read"]}},` +
		`{"name":"files_get",` + ann(true) + `"inputSchema":{"type":"object"},"_meta":{"scopegate/scopes":["files:read"]}},` +
		`{"name":"notes_create",` + ann(false) + `"inputSchema":{"type":"object"},"_meta":{"scopegate/scopes":["notes:write"]}},` +
		`{"name":"files_delete",` + ann(false) + `"inputSchema":{"type":"object"},"_meta":{"scopegate/scopes":["files:read","files:write"]}},` +
		`{"name":"deck_list","inputSchema":{"type":"object"},"_meta":{"scopegate/scopes":["deck:read"]}}` +
		`],"ttlMs":30000}}`
}

// listBackend answers every tools/list, the gateway's discovery and
// clients' alike, with body.
func listBackend(body string) caddyhttp.Handler {
	return caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		raw, _ := io.ReadAll(r.Body)
		var msg struct {
			Method string          `json:"method"`
			ID     json.RawMessage `json:"id"`
		}
		_ = json.Unmarshal(raw, &msg)
		w.Header().Set("Content-Type", "application/json")
		if msg.Method != "tools/list" {
			w.WriteHeader(http.StatusAccepted)
			return nil
		}
		_, err := io.WriteString(w, strings.Replace(body, `"id":"scopegate-discovery"`, `"id":`+string(msg.ID), 1))
		return err
	})
}

// challengedScope discovers the backend's catalog through g and returns the
// scope of a 401 challenge.
func challengedScope(t *testing.T, g *Gateway, next caddyhttp.Handler) string {
	t.Helper()
	serveNext(t, g, next, post("good", `{"jsonrpc":"2.0","id":0,"method":"ping"}`))
	g.discoverer.Ensure()
	<-g.discoverer.Ready()
	r := httptest401(t, g, next)
	return r
}

func httptest401(t *testing.T, g *Gateway, next caddyhttp.Handler) string {
	t.Helper()
	req := post("", `{"jsonrpc":"2.0","id":1,"method":"initialize"}`)
	req.Header.Del("Authorization")
	w := serveNext(t, g, next, req)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", w.Code)
	}
	h := w.Header().Get("WWW-Authenticate")
	_, rest, ok := strings.Cut(h, `scope="`)
	if !ok {
		t.Fatalf("challenge %q has no scope", h)
	}
	scope, _, _ := strings.Cut(rest, `"`)
	return scope
}

func TestChallengeScopeLeastPrivilege(t *testing.T) {
	tests := []struct {
		name      string
		annotated bool
		mutate    func(*Gateway)
		want      string
	}{
		{
			name:      "annotated catalog: base scopes and the read-only tools' scopes",
			annotated: true,
			want:      "email files:read notes:read openid profile",
		},
		{
			name: "no annotations: every scope, as before",
			want: "deck:read email files:read files:write notes:read notes:write openid profile",
		},
		{
			name:      "challenge_scopes still overrides",
			annotated: true,
			mutate:    func(g *Gateway) { g.ChallengeScopes = []string{"openid", "notes:read"} },
			want:      "openid notes:read",
		},
		{
			name:      "a configured scopes_supported stays the challenge",
			annotated: true,
			mutate:    func(g *Gateway) { g.ScopesSupported = []string{"openid", "notes:read", "notes:write"} },
			want:      "openid notes:read notes:write",
		},
		{
			name:      "a rule decides a read-only tool's scopes",
			annotated: true,
			mutate:    func(g *Gateway) { g.ToolRules = []ScopeRule{{Pattern: "files_get", Scopes: []string{"files:list"}}} },
			want:      "email files:list notes:read openid profile",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := testGateway(t, func(g *Gateway) {
				g.ScopesSupported = nil // testGateway's default; a case may set it
				if tt.mutate != nil {
					tt.mutate(g)
				}
			})
			if got := challengedScope(t, g, listBackend(annotatedToolsList(tt.annotated))); got != tt.want {
				t.Fatalf("401 challenge scope = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestScopesSupportedStaysComplete: the least-privilege challenge does not
// shrink what the metadata advertises.
func TestScopesSupportedStaysComplete(t *testing.T) {
	g := testGateway(t, func(g *Gateway) { g.ScopesSupported = nil })
	next := listBackend(annotatedToolsList(true))
	challengedScope(t, g, next)
	w := serveNext(t, g, next, httptestGet("/.well-known/oauth-protected-resource/mcp"))
	var md protectedResourceMetadata
	if err := json.Unmarshal(w.Body.Bytes(), &md); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(md.ScopesSupported, " "), "deck:read email files:read files:write notes:read notes:write openid profile"; got != want {
		t.Fatalf("scopes_supported = %q, want %q", got, want)
	}
}

// TestChallengeScopeLearnsFromClientLists: annotations seen in a client's
// tools/list count too, not only discovery's.
func TestChallengeScopeLearnsFromClientLists(t *testing.T) {
	g := testGateway(t, func(g *Gateway) { g.ScopesSupported = nil })
	plain, annotated := listBackend(annotatedToolsList(false)), listBackend(annotatedToolsList(true))
	if got := challengedScope(t, g, plain); strings.Contains(got, "notes:write") == false {
		t.Fatalf("before any annotation the challenge is %q, want every scope", got)
	}
	w := serveNext(t, g, annotated, post("good", `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`))
	if w.Code != http.StatusOK {
		t.Fatalf("tools/list: %d %s", w.Code, w.Body)
	}
	if got, want := httptest401(t, g, annotated), "email files:read notes:read openid profile"; got != want {
		t.Fatalf("after an annotated list the challenge is %q, want %q", got, want)
	}
}

func httptestGet(target string) *http.Request {
	r := post("", "")
	r.Method = http.MethodGet
	r.URL.Path = target
	r.RequestURI = target
	r.Header.Del("Authorization")
	return r
}
