package mcpbackend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
	"github.com/scopegate/scopegate/mcpbackend/tooldef"
)

// Family builds the tools of one Nextcloud app family on a client.
type Family func(*nextcloud.Client) []tooldef.Tool

// CredentialsFunc picks the Nextcloud credentials for one MCP HTTP
// request; ok is false when the request carries none.
type CredentialsFunc func(r *http.Request) (c nextcloud.Credentials, ok bool)

// ForwardBearer forwards the MCP request's own "Authorization: Bearer"
// token, and nothing else.
func ForwardBearer(r *http.Request) (nextcloud.Credentials, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, false
	}
	return nextcloud.Bearer(tok), true
}

// FixedCredentials uses c for every request (one app password for a
// single-user deployment).
func FixedCredentials(c nextcloud.Credentials) CredentialsFunc {
	return func(*http.Request) (nextcloud.Credentials, bool) { return c, true }
}

// Config assembles a Server.
type Config struct {
	Client *nextcloud.Client
	// Credentials selects what is sent to Nextcloud for a request.
	Credentials CredentialsFunc
	// Families are the available tool families by name; nil means
	// DefaultFamilies().
	Families map[string]Family
	// Apps names the families to register; empty means all of Families.
	Apps []string
	// ScopeSeparator replaces ':' in published scopes ("notes.read").
	ScopeSeparator string
	// Stateless disables legacy-era sessions (no Mcp-Session-Id);
	// otherwise sessions are validated in memory, so a deleted or unknown
	// session answers 404. Modern-era (2026-07-28) requests are
	// stateless either way.
	Stateless bool
	// AllowedHosts are the Host header values (host or host:port)
	// accepted besides loopback ones: the public site name when the
	// handler is mounted in Caddy. Everything else gets 403, the
	// DNS-rebinding protection.
	AllowedHosts []string
	// AllowedOrigins are browser origins (scheme://host[:port]) accepted
	// besides those whose host is an allowed host. A request with any
	// other Origin gets 403, as the Streamable HTTP transport requires.
	AllowedOrigins []string
	// Subject names the authenticated user of a request (the Caddy
	// handler takes it from mcp_gateway). Cancellation is scoped by it:
	// a notifications/cancelled only reaches the same subject's requests.
	// Nil means one scope for all (a single-user server).
	Subject func(*http.Request) string
	// User names the Nextcloud user the gateway's user_claim says the
	// caller is, "" when the gateway has no user_claim. app_password
	// mode binds a connection to it instead of the subject.
	User    func(*http.Request) string
	Logger  *slog.Logger
	Version string
	// Connector, when set, is app_password mode: each user's own app
	// password from Login Flow v2 (Credentials then supplies nothing).
	// It adds the tools nc_connection_status and nc_disconnect.
	Connector *Connector
	// ValidateOutput checks every structured result against the tool's
	// output schema and turns a mismatch into a tool error. Tests turn it
	// on to hold the schemas to what Nextcloud really answers; in
	// production a Nextcloud surprise should reach the client as data.
	ValidateOutput bool
}

// SessionIdleTTL is how long a legacy-era session may stay unused before
// it is forgotten; without it abandoned sessions would pile up in memory.
// A client using a forgotten session gets 404 and starts a new one.
const SessionIdleTTL = time.Hour

// Server is the assembled MCP server.
type Server struct {
	MCP   *server.MCPServer
	Tools []tooldef.Tool
	// Handler serves Streamable HTTP for both protocol eras.
	Handler http.Handler

	streamable *server.StreamableHTTPServer
}

// Close ends all sessions and stops the idle-session sweeper.
func (s *Server) Close(ctx context.Context) error {
	return s.streamable.Shutdown(ctx)
}

// New assembles the MCP server and its HTTP handler.
func New(cfg Config) (*Server, error) {
	if cfg.Client == nil {
		return nil, errors.New("no Nextcloud client")
	}
	if cfg.Credentials == nil {
		return nil, errors.New("no credentials source")
	}
	fams := cfg.Families
	if fams == nil {
		fams = DefaultFamilies()
	}
	apps := cfg.Apps
	if len(apps) == 0 {
		for name := range fams {
			apps = append(apps, name)
		}
		sort.Strings(apps)
	}
	sep := cfg.ScopeSeparator
	if sep == "" {
		sep = ":"
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	version := cfg.Version
	if version == "" {
		version = "dev"
	}

	var tools []tooldef.Tool
	seen := map[string]bool{}
	for _, name := range apps {
		fam, ok := fams[name]
		if !ok {
			return nil, fmt.Errorf("unknown app %q (known: %s)", name, strings.Join(slices.Sorted(mapsKeys(fams)), ", "))
		}
		for _, t := range fam(cfg.Client) {
			if err := t.Check(); err != nil {
				return nil, err
			}
			if seen[t.Def.Name] {
				return nil, fmt.Errorf("tool %s registered twice", t.Def.Name)
			}
			seen[t.Def.Name] = true
			tools = append(tools, t)
		}
	}

	exempt := map[string]bool{}
	if cfg.Connector != nil {
		for _, t := range cfg.Connector.tools() {
			if err := t.Check(); err != nil {
				return nil, err
			}
			exempt[t.Def.Name] = true
			tools = append(tools, t)
		}
	}

	appOf := map[string]string{}
	for _, t := range tools {
		appOf[t.Def.Name] = t.App
	}
	hooks := &server.Hooks{}
	// Tools of apps the user's Nextcloud does not have are not listed.
	// Without credentials (the gateway learning the catalog) or when
	// capabilities cannot be read, the full list is served: calls fail
	// clearly anyway.
	hooks.AddAfterListTools(func(ctx context.Context, _ any, _ *mcp.ListToolsRequest, res *mcp.ListToolsResult) {
		if _, ok := nextcloud.CredentialsFrom(ctx); !ok || res == nil {
			return
		}
		caps, err := cfg.Client.Capabilities(ctx)
		if err != nil {
			logger.WarnContext(ctx, "reading capabilities for tools/list", "error", err)
			return
		}
		res.Tools = slices.DeleteFunc(res.Tools, func(t mcp.Tool) bool { return appOf[t.Name] != connectionApp && !caps.Enabled(appOf[t.Name]) })
	})

	sopts := []server.ServerOption{
		// Outermost: no tool answer shows Nextcloud's internal address.
		server.WithToolHandlerMiddleware(hideNextcloudAddress(cfg.Client.BaseURL())),
		server.WithToolCapabilities(false),
		// No prompts or resources, but answering their lists (empty, with
		// cache hints) serves clients that ask unconditionally better than
		// "method not found"; the conformance suite's caching scenario
		// expects it.
		server.WithPromptCapabilities(false),
		server.WithResourceCapabilities(false, false),
		server.WithRecovery(),
		server.WithHooks(hooks),
		server.WithLogger(logger),
		server.WithToolHandlerMiddleware(connectMiddleware(cfg.Connector, exempt)),
		server.WithToolHandlerMiddleware(requireApp(cfg.Client, appOf)),
		// Lists differ per user (disabled apps): never share caches.
		server.WithCacheHints(30_000, mcp.CacheScopePrivate),
		server.WithInstructions("Tools for one Nextcloud account (" + strings.Join(apps, ", ") + "). Every tool acts as the signed-in Nextcloud user."),
	}
	if cfg.ValidateOutput {
		sopts = append(sopts, server.WithOutputSchemaValidation())
	}
	s := server.NewMCPServer("scopegate-nextcloud", version, sopts...)
	st := make([]server.ServerTool, 0, len(tools))
	for _, t := range tools {
		st = append(st, t.ServerTool(sep))
	}
	s.AddTools(st...)
	if cfg.Connector != nil {
		cfg.Connector.mcp.Store(s)
	}

	credFn := cfg.Credentials
	opts := []server.StreamableHTTPOption{
		server.WithHTTPContextFunc(func(ctx context.Context, r *http.Request) context.Context {
			if cfg.Subject != nil {
				ctx = withSubject(ctx, cfg.Subject(r))
			}
			if cfg.User != nil {
				ctx = withUser(ctx, cfg.User(r))
			}
			if cfg.Connector != nil {
				ctx = withPublicOrigin(ctx, r)
			}
			if c, ok := credFn(r); ok {
				return nextcloud.WithCredentials(ctx, c)
			}
			return ctx
		}),
		server.WithStreamableHTTPLogger(logger),
		// Our allow-list below replaces mcp-go's loopback-only check,
		// which would reject the public Host header Caddy passes in.
		server.WithDisableLocalhostProtection(true),
	}
	if cfg.Stateless {
		opts = append(opts, server.WithStateLess(true))
	} else {
		opts = append(opts, server.WithStateful(true), server.WithSessionIdleTTL(SessionIdleTTL))
	}
	h := server.NewStreamableHTTPServer(s, opts...)
	guarded := rebindingGuard(cfg.AllowedHosts, cfg.AllowedOrigins, newCancelScope(cfg.Subject, h))
	return &Server{MCP: s, Tools: tools, Handler: guarded, streamable: h}, nil
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// requireApp answers calls of tools whose Nextcloud app is disabled for
// the caller with a clear tool error instead of a confusing 404.
func requireApp(c *nextcloud.Client, appOf map[string]string) server.ToolHandlerMiddleware {
	return func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			app := appOf[req.Params.Name]
			if app == "" || app == connectionApp {
				return next(ctx, req)
			}
			caps, err := c.Capabilities(ctx)
			if err != nil {
				return nextcloud.ToolError(req.Params.Name, "reading the instance capabilities", err)
			}
			if !caps.Enabled(app) {
				return mcp.NewToolResultError(fmt.Sprintf("%s failed: the Nextcloud app %q is not enabled on this instance", req.Params.Name, app)), nil
			}
			return next(ctx, req)
		}
	}
}

// rebindingGuard is the DNS-rebinding protection: only loopback Host
// values and the configured public hosts are served, and a browser's
// Origin must name one of them (or be listed in origins); requests without
// Origin (every non-browser client) are not affected. The backend checks
// this itself, not only the gateway, so it is safe where it runs alone.
func rebindingGuard(hosts, origins []string, next http.Handler) http.Handler {
	set := map[string]bool{}
	for _, h := range hosts {
		set[strings.ToLower(h)] = true
	}
	orig := map[string]bool{}
	for _, o := range origins {
		orig[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r.Host, set) {
			http.Error(w, fmt.Sprintf("Forbidden: invalid Host header %q", r.Host), http.StatusForbidden)
			return
		}
		if !originAllowed(r, set, orig) {
			http.Error(w, "Forbidden: Origin not allowed", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// originAllowed accepts no Origin, or exactly one that is listed, or one
// whose host is an allowed host; a loopback origin only on a loopback
// Host (a local setup), never on a public one.
func originAllowed(r *http.Request, hosts, origins map[string]bool) bool {
	values := r.Header.Values("Origin")
	if len(values) == 0 {
		return true
	}
	if len(values) > 1 {
		return false
	}
	o := strings.ToLower(strings.TrimSuffix(values[0], "/"))
	if origins[o] {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return false // "null", opaque or malformed origins
	}
	if isLoopback(u.Host) {
		return isLoopback(r.Host)
	}
	return hostAllowed(u.Host, hosts)
}

func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(strings.ToLower(hostport))
	if err != nil {
		host = strings.Trim(strings.ToLower(hostport), "[]")
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func hostAllowed(hostport string, set map[string]bool) bool {
	hostport = strings.ToLower(hostport)
	if isLoopback(hostport) {
		return true
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = strings.Trim(hostport, "[]")
	}
	return set[hostport] || set[host]
}
