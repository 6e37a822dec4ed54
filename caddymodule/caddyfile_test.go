package caddymodule

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddytest"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`mcp_gateway {
		resource https://cloud.example.com/mcp
		issuer https://cloud.example.com
		authorization_servers https://a.example https://b.example
		audience https://cloud.example.com/mcp client-1
		jwks_uri https://cloud.example.com/jwks
		introspection https://cloud.example.com/introspect {
			client_id {env.MCP_CLIENT_ID}
			client_secret {env.MCP_CLIENT_SECRET}
		}
		userinfo off
		cache_ttl 2m
		cache_size 500
		max_introspections 4
		require_typ at+jwt
		user_claim preferred_username
		scopes_supported openid notes:read
		challenge_scopes notes:read
		allowed_origins https://app.example
		forward_token off
		fence off
		fence_exempt /apps/public/ /index.php/apps/oidc/
		audit refusals
		max_sessions_per_subject 20
		max_streams_per_subject 4
		body_grace 5s
		body_min_rate 2KiB/3s
		body_timeout 30s
		session_idle_timeout 2h
		session_key_rotation 6h
		session_key_overlap 3h
	}`)
	var g Gateway
	if err := g.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	want := Gateway{
		Resource:              "https://cloud.example.com/mcp",
		Issuer:                "https://cloud.example.com",
		AuthorizationServers:  []string{"https://a.example", "https://b.example"},
		Audience:              []string{"https://cloud.example.com/mcp", "client-1"},
		JWKSURI:               "https://cloud.example.com/jwks",
		Introspection:         &Introspection{URL: "https://cloud.example.com/introspect", ClientID: "{env.MCP_CLIENT_ID}", ClientSecret: "{env.MCP_CLIENT_SECRET}"},
		Userinfo:              "off",
		CacheTTL:              caddy.Duration(2 * time.Minute),
		CacheSize:             500,
		MaxIntrospections:     4,
		RequireTyp:            "at+jwt",
		UserClaim:             "preferred_username",
		ScopesSupported:       []string{"openid", "notes:read"},
		ChallengeScopes:       []string{"notes:read"},
		AllowedOrigins:        []string{"https://app.example"},
		FenceOff:              true,
		FenceExempt:           []string{"/apps/public/", "/index.php/apps/oidc/"},
		AuditRefusalsOnly:     true,
		MaxSessionsPerSubject: 20,
		MaxStreamsPerSubject:  4,
		BodyGrace:             caddy.Duration(5 * time.Second),
		BodyMinBytes:          2048,
		BodyRateWindow:        caddy.Duration(3 * time.Second),
		BodyTimeout:           caddy.Duration(30 * time.Second),
		SessionIdleTimeout:    caddy.Duration(2 * time.Hour),
		SessionKeyRotation:    caddy.Duration(6 * time.Hour),
		SessionKeyOverlap:     caddy.Duration(3 * time.Hour),
	}
	off := false
	want.ForwardToken = &off
	gotJSON, _ := json.Marshal(g)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("got  %s\nwant %s", gotJSON, wantJSON)
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	for name, input := range map[string]string{
		"unknown option":             "mcp_gateway {\n bogus 1\n}",
		"argument on directive":      "mcp_gateway extra {\n}",
		"resource without value":     "mcp_gateway {\n resource\n}",
		"resource with two values":   "mcp_gateway {\n resource a b\n}",
		"bad duration":               "mcp_gateway {\n cache_ttl soon\n}",
		"bad cache size":             "mcp_gateway {\n cache_size -1\n}",
		"bad max_introspections":     "mcp_gateway {\n max_introspections 0\n}",
		"max_introspections twice":   "mcp_gateway {\n max_introspections 1 2\n}",
		"require_typ without type":   "mcp_gateway {\n require_typ\n}",
		"require_typ two types":      "mcp_gateway {\n require_typ at+jwt JWT\n}",
		"user_claim without claim":   "mcp_gateway {\n user_claim\n}",
		"user_claim two claims":      "mcp_gateway {\n user_claim a b\n}",
		"bad forward_token":          "mcp_gateway {\n forward_token maybe\n}",
		"introspection twice":        "mcp_gateway {\n introspection\n introspection\n}",
		"unknown introspection":      "mcp_gateway {\n introspection {\n  tenant x\n }\n}",
		"empty scopes_supported":     "mcp_gateway {\n scopes_supported\n}",
		"bad fence":                  "mcp_gateway {\n fence maybe\n}",
		"fence without value":        "mcp_gateway {\n fence\n}",
		"fence_exempt without path":  "mcp_gateway {\n fence_exempt\n}",
		"bad audit":                  "mcp_gateway {\n audit allowed\n}",
		"audit without value":        "mcp_gateway {\n audit\n}",
		"fence_exempt not a path":    "mcp_gateway {\n fence_exempt apps/\n}",
		"zero stream limit":          "mcp_gateway {\n max_streams_per_subject 0\n}",
		"bad session limit":          "mcp_gateway {\n max_sessions_per_subject many\n}",
		"rate without window":        "mcp_gateway {\n body_min_rate 1KiB\n}",
		"rate with bad size":         "mcp_gateway {\n body_min_rate lots/5s\n}",
		"rate of zero bytes":         "mcp_gateway {\n body_min_rate 0/5s\n}",
		"rate with zero window":      "mcp_gateway {\n body_min_rate 1KiB/0s\n}",
		"rate with two values":       "mcp_gateway {\n body_min_rate 1KiB/5s 2KiB/5s\n}",
		"negative grace":             "mcp_gateway {\n body_grace -1s\n}",
		"body_timeout without value": "mcp_gateway {\n body_timeout\n}",
	} {
		t.Run(name, func(t *testing.T) {
			var g Gateway
			if err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err == nil {
				t.Errorf("accepted:\n%s", input)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	base := func() *Gateway {
		return &Gateway{Resource: "https://h.example/mcp", Issuer: "https://h.example"}
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	for name, mutate := range map[string]func(*Gateway){
		"no resource":                func(g *Gateway) { g.Resource = "" },
		"no issuer":                  func(g *Gateway) { g.Issuer = "" },
		"http issuer":                func(g *Gateway) { g.Issuer = "http://h.example" },
		"http resource":              func(g *Gateway) { g.Resource = "http://h.example/mcp" },
		"resource with query":        func(g *Gateway) { g.Resource = "https://h.example/mcp?a=1" },
		"resource fragment":          func(g *Gateway) { g.Resource = "https://h.example/mcp#x" },
		"http auth server":           func(g *Gateway) { g.AuthorizationServers = []string{"http://as.example"} },
		"half introspection":         func(g *Gateway) { g.Introspection = &Introspection{ClientID: "x"} },
		"origin with path":           func(g *Gateway) { g.AllowedOrigins = []string{"https://a.example/x"} },
		"origin without scheme":      func(g *Gateway) { g.AllowedOrigins = []string{"a.example"} },
		"negative introspection cap": func(g *Gateway) { g.MaxIntrospections = -1 },
		"negative body grace":        func(g *Gateway) { g.BodyGrace = -1 },
		"negative body timeout":      func(g *Gateway) { g.BodyTimeout = -1 },
	} {
		t.Run(name, func(t *testing.T) {
			g := base()
			mutate(g)
			if err := g.Validate(); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestBodyMinRateOff(t *testing.T) {
	var g Gateway
	if err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser("mcp_gateway {\n body_min_rate off\n}")); err != nil {
		t.Fatal(err)
	}
	if g.BodyMinBytes != -1 {
		t.Errorf("body_min_rate off: BodyMinBytes %d, want -1", g.BodyMinBytes)
	}
}

// TestAdapt holds every testdata/adapt/*.caddyfiletest to its golden JSON:
// the Caddyfile, a line of dashes, then the expected JSON. Run with
// UPDATE_GOLDEN=1 to rewrite the JSON half.
func TestAdapt(t *testing.T) {
	files, _ := filepath.Glob("testdata/adapt/*.caddyfiletest")
	if len(files) == 0 {
		t.Fatal("no adapt goldens")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			input, expected, ok := strings.Cut(string(raw), "\n----------\n")
			if !ok {
				t.Fatalf("%s: no ---------- separator", f)
			}
			if os.Getenv("UPDATE_GOLDEN") != "" {
				out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), nil)
				if err != nil {
					t.Fatal(err)
				}
				var pretty bytes.Buffer
				json.Indent(&pretty, out, "", "\t")
				os.WriteFile(f, []byte(input+"\n----------\n"+pretty.String()), 0o644)
				return
			}
			if !caddytest.CompareAdapt(t, f, input, "caddyfile", expected) {
				t.Errorf("%s: adapted JSON differs from the golden", f)
			}
		})
	}
}
