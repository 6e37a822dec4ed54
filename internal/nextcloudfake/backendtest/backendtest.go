// Package backendtest drives backend tools the way a client does: an
// mcp-go client speaks Streamable HTTP to the assembled backend on an
// httptest server, which calls the Nextcloud contract fake. Tests then
// compare the exact Nextcloud calls the fake saw.
package backendtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/nextcloudfake"
	"github.com/scopegate/scopegate/mcpbackend"
	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

// Harness is a running backend in front of a fake Nextcloud.
type Harness struct {
	Fake    *nextcloudfake.Fake
	Backend *mcpbackend.Server
	Client  *client.Client
	NC      *nextcloud.Client
	URL     string
}

// Options tune Start.
type Options struct {
	Fake nextcloudfake.Options
	// ProtocolVersion pins the client's protocol revision; empty lets it
	// negotiate (2026-07-28 with a v1.2.1 client).
	ProtocolVersion string
	Stateless       bool
	// NewDAV, when set, gives each harness a fresh real WebDAV handler
	// for the standard verbs on user files (Fake.DAV).
	NewDAV func(t testing.TB) http.Handler
}

// Start runs fam (by its app name) behind a backend using the admin's app
// password, with a connected client.
func Start(t testing.TB, name string, fam mcpbackend.Family, opts Options) *Harness {
	t.Helper()
	if opts.NewDAV != nil {
		opts.Fake.DAV = opts.NewDAV(t)
	}
	fake, ncSrv := nextcloudfake.Start(t, opts.Fake)
	nc, err := nextcloud.New(nextcloud.Options{BaseURL: ncSrv.URL, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := mcpbackend.New(mcpbackend.Config{
		Client:      nc,
		Credentials: mcpbackend.FixedCredentials(nextcloud.Basic{Username: nextcloudfake.AdminUser, Password: nextcloudfake.AdminPassword}),
		Families:    map[string]mcpbackend.Family{name: fam},
		Stateless:   opts.Stateless,
		// Every structured result must match its tool's output schema.
		ValidateOutput: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler)
	t.Cleanup(srv.Close)
	c, err := client.NewStreamableHttpClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = opts.ProtocolVersion
	init.Params.ClientInfo = mcp.Implementation{Name: "backendtest", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	return &Harness{Fake: fake, Backend: b, Client: c, NC: nc, URL: srv.URL}
}

// Call invokes a tool; a protocol-level failure fails the test.
func (h *Harness) Call(t testing.TB, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	res, err := h.Client.CallTool(context.Background(), req)
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return res
}

// Text joins a result's text contents.
func Text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// Case is one tool call and what must come of it.
type Case struct {
	Name string
	Tool string
	Args map[string]any
	// Serve names recordings to answer with first (Fake.Serve).
	Serve []string
	// ServeAs maps "METHOD /path" to recording names, comma-separated for
	// a sequence (Fake.ServeAs).
	ServeAs map[string]string
	// Calls are the Nextcloud requests expected, "METHOD /path?query",
	// in order, excluding the capabilities lookup.
	Calls []string
	// WantError expects a tool error (IsError) result.
	WantError bool
	// Contains must occur in the result's text.
	Contains []string
	// Structured, when set, names the key the structured content must
	// have.
	Structured string
}

// Run plays cases against a fresh harness each.
func Run(t *testing.T, name string, fam mcpbackend.Family, cases []Case, opts Options) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			h := Start(t, name, fam, opts)
			for _, s := range tc.Serve {
				if err := h.Fake.Serve(s); err != nil {
					t.Fatal(err)
				}
			}
			for k, name := range tc.ServeAs {
				method, path, _ := strings.Cut(k, " ")
				names := strings.Split(name, ",")
				if err := h.Fake.ServeAs(names[0], method, path, names[1:]...); err != nil {
					t.Fatal(err)
				}
			}
			res := h.Call(t, tc.Tool, tc.Args)
			text := Text(res)
			if res.IsError != tc.WantError {
				t.Errorf("IsError = %v, want %v; text: %s", res.IsError, tc.WantError, text)
			}
			for _, s := range tc.Contains {
				if !strings.Contains(text, s) {
					t.Errorf("result lacks %q:\n%s", s, text)
				}
			}
			if tc.Structured != "" {
				m, ok := res.StructuredContent.(map[string]any)
				if !ok {
					t.Errorf("structured content %T, want object", res.StructuredContent)
				} else if _, ok := m[tc.Structured]; !ok {
					b, _ := json.Marshal(m)
					t.Errorf("structured content lacks %q: %s", tc.Structured, b)
				}
			}
			got := slices.DeleteFunc(h.Fake.CallStrings(), func(s string) bool {
				return s == "GET /ocs/v2.php/cloud/capabilities"
			})
			if !slices.Equal(got, tc.Calls) {
				t.Errorf("Nextcloud calls:\n got  %q\n want %q", got, tc.Calls)
			}
		})
	}
}
