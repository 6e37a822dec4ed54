package mcpbackend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler is the nextcloud_mcp HTTP handler: it serves the Nextcloud MCP
// server in-process. It is terminal: it answers every request it gets and
// never calls the next handler, so mount it on the MCP path (behind
// mcp_gateway, which enforces the scopes).
type Handler struct {
	// Nextcloud is the base URL of the Nextcloud instance.
	Nextcloud string `json:"nextcloud,omitempty"`
	// Credentials says what is sent to Nextcloud: "bearer" forwards the
	// MCP request's own bearer token (validated by Nextcloud's
	// user_oidc); "basic" sends one user's app password.
	Credentials CredentialsConfig `json:"credentials,omitzero"`
	// Apps are the tool families to offer; empty means all.
	Apps []string `json:"apps,omitempty"`
	// ScopeSeparator replaces ':' in the published scope names, for
	// providers that reject colons ("notes.read"). Default ":".
	ScopeSeparator string `json:"scope_separator,omitempty"`
	// AllowedHosts are the public Host values accepted besides loopback
	// ones (DNS-rebinding protection). List the site's host names.
	AllowedHosts []string `json:"allowed_hosts,omitempty"`
	// AllowedOrigins are browser origins accepted besides those whose
	// host is in AllowedHosts; any other Origin gets 403.
	AllowedOrigins []string `json:"allowed_origins,omitempty"`
	// ExternalGateway says mcp_gateway runs in another process (a
	// reverse_proxy in front): requests are then served without the
	// gateway's request variable, and the X-Scopegate-Subject header
	// names the user. Without it every request that no mcp_gateway of
	// this Caddy process handled is refused with 401.
	ExternalGateway bool `json:"external_gateway,omitempty"`
	// Stateless turns off legacy-era sessions.
	Stateless bool `json:"stateless,omitempty"`
	// Timeout bounds each Nextcloud request. Default 30s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	handler   http.Handler
	server    *Server
	connector *Connector
	logger    *zap.Logger
}

// CredentialsConfig selects the credentials sent to Nextcloud.
type CredentialsConfig struct {
	// Mode is "bearer" (default), "basic" or "app_password".
	Mode string `json:"mode,omitempty"`
	// User and Password are the login and app password for "basic".
	// Placeholders such as {env.NC_APP_PASSWORD} are resolved at
	// provisioning.
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	// EncryptionKey (app_password) is the base64 AES-256 key the stored
	// app passwords are encrypted with; empty means one generated once
	// into Caddy storage. Placeholders are resolved at provisioning.
	EncryptionKey string `json:"encryption_key,omitempty"`
	// PollInterval (app_password) is the time between polls of a login
	// flow; default 3s.
	PollInterval caddy.Duration `json:"poll_interval,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.nextcloud_mcp",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision builds the client and the MCP server.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	repl := caddy.NewReplacer()
	base := repl.ReplaceKnown(h.Nextcloud, "")
	cred, err := h.credentials(repl)
	if err != nil {
		return err
	}
	nc, err := nextcloud.New(nextcloud.Options{BaseURL: base, Timeout: time.Duration(h.Timeout)})
	if err != nil {
		return err
	}
	hosts := make([]string, 0, len(h.AllowedHosts))
	for _, a := range h.AllowedHosts {
		hosts = append(hosts, repl.ReplaceKnown(a, ""))
	}
	slogger := slog.New(quietInfo{zapslog.NewHandler(h.logger.Core(), zapslog.WithName("mcp"))})
	if h.mode() == "app_password" {
		key, err := AppPasswordKey(ctx, ctx.Storage(), repl.ReplaceKnown(h.Credentials.EncryptionKey, ""))
		if err != nil {
			return err
		}
		h.connector, err = NewConnector(ConnectorConfig{Client: nc, Storage: ctx.Storage(), Key: key, Logger: slogger,
			PollInterval: time.Duration(h.Credentials.PollInterval)})
		if err != nil {
			return err
		}
	}
	srv, err := New(Config{
		Connector:      h.connector,
		Client:         nc,
		Credentials:    cred,
		Apps:           h.Apps,
		ScopeSeparator: h.ScopeSeparator,
		Stateless:      h.Stateless,
		AllowedHosts:   hosts,
		AllowedOrigins: h.AllowedOrigins,
		Subject: func(r *http.Request) string {
			sub, _ := h.gatewaySubject(r)
			return sub
		},
		User:   h.gatewayUser,
		Logger: slog.New(quietInfo{zapslog.NewHandler(h.logger.Core(), zapslog.WithName("mcp"))}),
	})
	if err != nil {
		return fmt.Errorf("assembling the MCP server: %w", err)
	}
	h.handler, h.server = srv.Handler, srv
	h.warnSelfAddress(base, hosts)
	h.logger.Info("nextcloud MCP backend ready",
		zap.String("nextcloud", base), zap.String("credentials", h.mode()),
		zap.Int("tools", len(srv.Tools)), zap.Strings("allowed_hosts", hosts))
	return nil
}

func (h *Handler) mode() string {
	if h.Credentials.Mode == "" {
		return "bearer"
	}
	return h.Credentials.Mode
}

func (h *Handler) credentials(repl *caddy.Replacer) (CredentialsFunc, error) {
	switch h.mode() {
	case "bearer":
		return ForwardBearer, nil
	case "basic":
		user := repl.ReplaceKnown(h.Credentials.User, "")
		pass := repl.ReplaceKnown(h.Credentials.Password, "")
		if user == "" || pass == "" {
			return nil, errors.New("credentials basic: user and app password must not be empty")
		}
		return FixedCredentials(nextcloud.Basic{Username: user, Password: pass}), nil
	case "app_password":
		// The connector supplies each call's credentials.
		return func(*http.Request) (nextcloud.Credentials, bool) { return nil, false }, nil
	}
	return nil, fmt.Errorf("credentials %q: want bearer, basic or app_password", h.Credentials.Mode)
}

// Validate checks the configuration before provisioning.
func (h *Handler) Validate() error {
	if h.Nextcloud == "" {
		return errors.New("nextcloud: base URL required")
	}
	if !strings.Contains(h.Nextcloud, "{") {
		if u, err := url.Parse(h.Nextcloud); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("nextcloud: %q is not an http(s) URL", h.Nextcloud)
		}
	}
	if m := h.mode(); m != "bearer" && m != "basic" && m != "app_password" {
		return fmt.Errorf("credentials %q: want bearer, basic or app_password", m)
	}
	if h.ScopeSeparator != "" && h.ScopeSeparator != ":" && h.ScopeSeparator != "." {
		return fmt.Errorf("scope_separator %q: want \":\" or \".\"", h.ScopeSeparator)
	}
	known := DefaultFamilies()
	for _, a := range h.Apps {
		if _, ok := known[a]; !ok {
			return fmt.Errorf("apps: unknown app %q (known: %s)", a, strings.Join(slices.Sorted(mapsKeys(known)), ", "))
		}
	}
	return nil
}

// Cleanup ends the sessions of this configuration when Caddy unloads it.
func (h *Handler) Cleanup() error {
	if h.connector != nil {
		h.connector.Close()
	}
	if h.server == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return h.server.Close(ctx)
}

// ServeHTTP serves the MCP endpoint; it never calls next.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if _, ok := h.gatewaySubject(r); !ok {
		h.logger.Warn("refused a request that did not pass mcp_gateway",
			zap.String("remote_ip", r.RemoteAddr), zap.String("method", r.Method), zap.String("uri", r.URL.Path))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, notFromGateway+"\n")
		return nil
	}
	if _, ok := w.(http.Flusher); !ok {
		w = flushWriter{w}
	}
	h.handler.ServeHTTP(w, r)
	return nil
}

// flushWriter makes Caddy's response writer an http.Flusher again. Caddy's
// writers (and the wrappers of handlers before this one, the gateway's
// among them) flush only through http.ResponseController, but mcp-go
// decides whether a response may become an SSE stream by asserting
// http.Flusher: without this every stream (subscriptions/listen, progress
// and log notifications, server-to-client requests such as URL
// elicitation) collapsed into a single JSON reply.
type flushWriter struct{ http.ResponseWriter }

func (f flushWriter) Flush() { _ = http.NewResponseController(f.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the writers below (write
// deadlines, full duplex).
func (f flushWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
