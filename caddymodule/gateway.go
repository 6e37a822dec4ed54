// Package caddymodule provides the mcp_gateway Caddy HTTP handler: OAuth 2.1
// bearer authentication and scope enforcement in front of any MCP server,
// as the MCP authorization specification asks of a protected resource.
// It knows nothing of the server behind it beyond what MCP says.
package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/scopegate/scopegate/caddymodule/internal/listfilter"
	"github.com/scopegate/scopegate/caddymodule/internal/rpcmessage"
	"github.com/scopegate/scopegate/caddymodule/internal/scopecatalog"
	"github.com/scopegate/scopegate/caddymodule/internal/sessionbind"
	"github.com/scopegate/scopegate/caddymodule/internal/taskbind"
	"github.com/scopegate/scopegate/caddymodule/internal/tokenverifier"
)

func init() {
	caddy.RegisterModule(Gateway{})
}

// Gateway is the mcp_gateway handler. It owns three kinds of request: the
// RFC 9728 metadata documents, and every request to the protected MCP
// endpoint (the resource's path and below), which it authenticates. All
// other requests pass to the next handler untouched, so the same site can
// also proxy the application the MCP server belongs to.
type Gateway struct {
	// Resource is the canonical URL of the protected MCP endpoint, exactly
	// as clients use it and as tokens name it in aud (no trailing slash).
	// Required.
	Resource string `json:"resource,omitempty"`

	// Issuer is the OAuth/OpenID issuer whose tokens are accepted. Its
	// metadata (jwks_uri, introspection_endpoint, userinfo_endpoint) is
	// discovered from /.well-known/openid-configuration, falling back to
	// /.well-known/oauth-authorization-server. Required.
	Issuer string `json:"issuer,omitempty"`

	// AuthorizationServers are advertised in the metadata document.
	// Default: the issuer.
	AuthorizationServers []string `json:"authorization_servers,omitempty"`

	// Audience lists the accepted aud values. Default: the resource.
	Audience []string `json:"audience,omitempty"`

	// JWKSURI overrides the discovered jwks_uri.
	JWKSURI string `json:"jwks_uri,omitempty"`

	// Introspection configures RFC 7662 introspection of opaque tokens.
	// Without it opaque tokens are rejected (unless Userinfo is on).
	Introspection *Introspection `json:"introspection,omitempty"`

	// Userinfo is "off" (the default), "on" (the discovered endpoint) or
	// a URL. It is the last resort for opaque tokens when introspection is
	// not configured; such tokens carry no scopes.
	Userinfo string `json:"userinfo,omitempty"`

	// CacheTTL is the longest a validation result is trusted; never past
	// the token's exp. Default 5m.
	CacheTTL caddy.Duration `json:"cache_ttl,omitempty"`

	// CacheSize bounds the number of cached validation results: as many
	// identities, and separately as many rejections, so a flood of bad
	// tokens never evicts a validated one. Default 100000.
	CacheSize int `json:"cache_size,omitempty"`

	// MaxIntrospections caps the calls to the provider for opaque tokens
	// (introspection or userinfo) in flight at once; concurrent first
	// uses of one token share one call. Default 8.
	MaxIntrospections int `json:"max_introspections,omitempty"`

	// RequireTyp, when set, is the JWS typ every JWT access token must
	// carry: "at+jwt" (RFC 9068) refuses ID tokens and other JWTs of the
	// same provider. Compared case-insensitively. Default: not checked,
	// as several providers put "JWT" there.
	RequireTyp string `json:"require_typ,omitempty"`

	// UserClaim names the token claim (JWT payload, introspection or
	// userinfo answer) holding the user name the upstream knows the
	// holder by, for providers whose sub is not that name. When set, a
	// token without it as a non-empty string is refused, and its value
	// goes upstream as X-Scopegate-User and request variable
	// scopegate_user. Default: none.
	UserClaim string `json:"user_claim,omitempty"`

	// ScopesSupported overrides scopes_supported in the metadata
	// document. Default: the base scopes plus every scope of the catalog.
	ScopesSupported []string `json:"scopes_supported,omitempty"`

	// BaseScopes are the identity scopes always advertised. Default:
	// openid profile email.
	BaseScopes []string `json:"base_scopes,omitempty"`

	// ChallengeScopes is the scope parameter of 401 challenges. Default:
	// least privilege, the base scopes plus the scopes of every tool
	// annotated readOnlyHint true; scopes_supported when no tool carries
	// the annotation or when ScopesSupported is configured.
	ChallengeScopes []string `json:"challenge_scopes,omitempty"`

	// AllowedOrigins are the browser origins allowed besides the
	// resource's own; a request with any other Origin gets 403.
	AllowedOrigins []string `json:"allowed_origins,omitempty"`

	// ForwardToken keeps the Authorization header for the upstream
	// (default true; an MCP server that calls an API on the user's behalf
	// needs it). Set false for upstreams that must not see the token.
	ForwardToken *bool `json:"forward_token,omitempty"`

	// ToolRules set the scopes of tools by name or glob; they override
	// what the backend declares in _meta.
	ToolRules []ScopeRule `json:"tool_rules,omitempty"`

	// ResourceRules set the scopes of resources by uri glob, for
	// resources/read and resource listings.
	ResourceRules []ScopeRule `json:"resource_rules,omitempty"`

	// PromptRules set the scopes of prompts by name or glob.
	PromptRules []ScopeRule `json:"prompt_rules,omitempty"`

	// UnknownTool decides tools with no declared scopes and no rule:
	// "deny" (the default; a gateway fails closed) or "allow" (any valid
	// token).
	UnknownTool string `json:"unknown_tool,omitempty"`

	// UnknownResource decides resources no rule covers; default "deny".
	UnknownResource string `json:"unknown_resource,omitempty"`

	// UnknownPrompt decides prompts no rule covers; default "deny".
	UnknownPrompt string `json:"unknown_prompt,omitempty"`

	// MaxBodySize caps a POST body to the endpoint, in bytes (413 above
	// it). Default 1 MiB.
	MaxBodySize int64 `json:"max_body_size,omitempty"`

	// BodyGrace is how long a client has for the first bytes of a POST
	// body before the minimum rate applies. Default 10s.
	BodyGrace caddy.Duration `json:"body_grace,omitempty"`

	// BodyMinBytes must arrive in every BodyRateWindow once the grace has
	// passed, or the client gets 408 and its connection is closed.
	// Default 1 KiB in 5s; negative turns the minimum rate off.
	BodyMinBytes   int64          `json:"body_min_bytes,omitempty"`
	BodyRateWindow caddy.Duration `json:"body_rate_window,omitempty"`

	// BodyTimeout caps the time to read a whole body (408 above it).
	// Default 60s per MiB of max_body_size, so 60s by default.
	BodyTimeout caddy.Duration `json:"body_timeout,omitempty"`

	// AllowMethods extends the JSON-RPC methods that pass for any valid
	// token. Every method not known to the gateway is refused otherwise.
	AllowMethods []string `json:"allow_methods,omitempty"`

	// SessionCapacity bounds how many legacy sessions are bound to their
	// subjects (least recently used dropped first). Default 100000.
	SessionCapacity int `json:"session_capacity,omitempty"`

	// SessionIdleTimeout drops a session binding unused this long; the
	// client then gets 404 and starts a new session. Default 12h.
	SessionIdleTimeout caddy.Duration `json:"session_idle_timeout,omitempty"`

	// FenceOff turns the token fence off: by default every request
	// outside the MCP endpoint that carries a bearer token bound to the
	// MCP resource is refused (401), so an MCP token cannot be replayed
	// against the rest of the site (see fence.go).
	FenceOff bool `json:"fence_off,omitempty"`

	// FenceExempt are more path prefixes where MCP tokens may go, besides
	// the authorization server's own endpoints and discovery documents.
	FenceExempt []string `json:"fence_exempt,omitempty"`

	// AuditRefusalsOnly keeps the audit logger's "mcp decision" lines to
	// refusals (and fenced tokens): allowed messages are then only
	// counted in the metrics. By default every decision is written, one
	// line each, which on a busy site is the gateway's largest cost per
	// call (a JSON line and a write to the log's output).
	AuditRefusalsOnly bool `json:"audit_refusals_only,omitempty"`

	// SessionKeyRotation is how long one key wraps new session ids
	// before a new one replaces it (the keys live in Caddy storage,
	// shared by every replica). Default 24h.
	SessionKeyRotation caddy.Duration `json:"session_key_rotation,omitempty"`

	// SessionKeyOverlap is how long a replaced key still verifies the
	// ids it wrapped; a session id lives at least this long after a
	// rotation, at most rotation + overlap. Default 24h.
	SessionKeyOverlap caddy.Duration `json:"session_key_overlap,omitempty"`

	// MaxStreamsPerSubject caps the GET listening streams one subject may
	// hold open at once (429 above it). Default 16.
	MaxStreamsPerSubject int `json:"max_streams_per_subject,omitempty"`

	// MaxSessionsPerSubject caps the legacy sessions bound to one subject
	// (429 for an initialize above it). Default 100.
	MaxSessionsPerSubject int `json:"max_sessions_per_subject,omitempty"`

	resourceURL  *url.URL
	resourcePath string
	metaPaths    []string
	metadataURL  string
	origins      map[string]bool
	verifier     tokenVerifier
	metrics      *gatewayMetrics
	logger       *zap.Logger
	audits       *zap.Logger
	allowMethods map[string]bool
	catalog      *scopecatalog.Catalog
	listMemo     *listfilter.Memo
	discoverer   *scopecatalog.Discoverer
	sessions     *sessionbind.Store
	sessionKey   string
	sessionKeys  *sessionbind.Keyring
	sessionEnds  *sessionbind.Store
	tasks        *taskbind.Store
	taskKey      string
	disc         *discoveryState
	fence        *fence
	relist       *rediscovery
	streams      *subjectCounter
	body         bodyPace
	slowLog      *onceLog
}

// ScopeRule requires scopes for the names a pattern matches. In a pattern
// '*' matches any run of characters ('/' included).
type ScopeRule struct {
	// Pattern is an exact name (or uri), or a glob with '*'.
	Pattern string `json:"pattern"`
	// Scopes are all required; none means any valid token.
	Scopes []string `json:"scopes,omitempty"`
}

// Introspection is the gateway's own client at the introspection endpoint.
type Introspection struct {
	// URL of the introspection endpoint. Default: the issuer's
	// introspection_endpoint.
	URL string `json:"url,omitempty"`
	// ClientID authenticates the gateway (client_secret_basic).
	ClientID string `json:"client_id,omitempty"`
	// ClientSecret authenticates the gateway. Use a placeholder such as
	// {env.MCP_CLIENT_SECRET} or {file./run/secrets/x}.
	ClientSecret string `json:"client_secret,omitempty"`
	// ProviderChecksAudience skips the aud comparison of introspection
	// answers. Set it for providers that answer active:true only to a
	// client bound to the token's resource and put something else in aud:
	// Nextcloud's oidc app reports the owning client's id there. JWTs are
	// always checked.
	ProviderChecksAudience bool `json:"provider_checks_audience,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Gateway) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.mcp_gateway",
		New: func() caddy.Module { return new(Gateway) },
	}
}

// Provision resolves placeholders, fills defaults and sets up token
// verification. It contacts no provider: discovery happens on first use.
func (g *Gateway) Provision(ctx caddy.Context) error {
	g.logger = ctx.Logger()
	repl := caddy.NewReplacer()
	g.Resource = strings.TrimSuffix(repl.ReplaceKnown(g.Resource, ""), "/")
	g.Issuer = repl.ReplaceKnown(g.Issuer, "")
	g.JWKSURI = repl.ReplaceKnown(g.JWKSURI, "")
	g.Userinfo = repl.ReplaceKnown(g.Userinfo, "")
	replaceAll(repl, g.AuthorizationServers)
	replaceAll(repl, g.Audience)
	replaceAll(repl, g.AllowedOrigins)

	if len(g.AuthorizationServers) == 0 && g.Issuer != "" {
		g.AuthorizationServers = []string{g.Issuer}
	}
	if len(g.Audience) == 0 && g.Resource != "" {
		g.Audience = []string{g.Resource}
	}
	if len(g.BaseScopes) == 0 {
		g.BaseScopes = []string{"openid", "profile", "email"}
	}
	if g.ForwardToken == nil {
		t := true
		g.ForwardToken = &t
	}
	if err := g.setupResource(); err != nil {
		return err
	}

	g.metrics = registerMetrics(ctx.GetMetricsRegistry())
	g.setupBody()
	g.audits = g.logger.Named("audit")
	if err := g.setupEnforcement(ctx); err != nil {
		return err
	}
	g.setupSessionKeys(ctx.Storage())

	if err := g.setupTokens(ctx, repl); err != nil {
		return err
	}
	return g.setupFence(ctx.GetMetricsRegistry())
}

// setupTokens builds the token verifier. Secrets are resolved here from
// placeholders and kept out of the JSON-visible fields.
func (g *Gateway) setupTokens(ctx caddy.Context, repl *caddy.Replacer) error {
	cfg := tokenverifier.Config{
		Issuer:    g.Issuer,
		Audiences: g.Audience,
		JWKSURI:   g.JWKSURI,
		CacheTTL:  time.Duration(g.CacheTTL),
		CacheSize: g.CacheSize,
		Logger:    g.logger.Named("tokens"),

		MaxConcurrentIntrospections: g.MaxIntrospections,
		RequireTyp:                  g.RequireTyp,
		UserClaim:                   g.UserClaim,
	}
	switch strings.ToLower(g.Userinfo) {
	case "", "off":
	case "on":
		cfg.Userinfo = true
	default:
		cfg.Userinfo, cfg.UserinfoURL = true, g.Userinfo
	}
	var verifier *tokenverifier.Verifier
	if in := g.Introspection; in != nil {
		cfg.IntrospectionURL = repl.ReplaceKnown(in.URL, "")
		cfg.ClientID = repl.ReplaceKnown(in.ClientID, "")
		cfg.ClientSecret = repl.ReplaceKnown(in.ClientSecret, "")
		cfg.ProviderChecksAudience = in.ProviderChecksAudience
		if cfg.ClientID == "" && cfg.ClientSecret == "" {
			// No configured client: register one (RFC 7591) on first need.
			reg := &registration{
				issuer:   g.Issuer,
				resource: g.Resource,
				storage:  ctx.Storage(),
				client:   &http.Client{Timeout: 15 * time.Second},
				logger:   g.logger.Named("registration"),
				now:      time.Now,
			}
			reg.metadata = func(c context.Context) (*tokenverifier.ProviderMetadata, error) { return verifier.Metadata(c) }
			cfg.Client = reg
		}
	}
	verifier, err := tokenverifier.New(ctx, cfg)
	if err != nil {
		return fmt.Errorf("mcp_gateway: %w", err)
	}
	g.verifier = verifier
	return nil
}

// setupResource derives the endpoint path, the metadata paths and URL,
// and the origins allowed by default from the resource URL.
func (g *Gateway) setupResource() error {
	if g.Resource == "" {
		return nil // reported by Validate
	}
	u, err := url.Parse(g.Resource)
	if err != nil {
		return fmt.Errorf("mcp_gateway: resource: %w", err)
	}
	g.resourceURL = u
	g.resourcePath = strings.TrimSuffix(u.EscapedPath(), "/")
	g.metaPaths = []string{wellKnownPRM}
	if g.resourcePath != "" {
		g.metaPaths = append([]string{wellKnownPRM + g.resourcePath}, g.metaPaths...)
	}
	g.metadataURL = u.Scheme + "://" + u.Host + g.metaPaths[0]
	g.origins = map[string]bool{strings.ToLower(u.Scheme + "://" + u.Host): true}
	for _, o := range g.AllowedOrigins {
		g.origins[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	return nil
}

// Validate rejects configurations that cannot be safe.
func (g *Gateway) Validate() error {
	if g.Resource == "" {
		return errors.New("mcp_gateway: resource is required")
	}
	if err := checkResource(g.Resource); err != nil {
		return fmt.Errorf("mcp_gateway: resource: %w", err)
	}
	if g.Issuer == "" {
		return errors.New("mcp_gateway: issuer is required")
	}
	for _, u := range append([]string{g.Issuer}, g.AuthorizationServers...) {
		if err := tokenverifier.CheckURL(u); err != nil {
			return fmt.Errorf("mcp_gateway: %w", err)
		}
	}
	if g.Introspection != nil && (g.Introspection.ClientID == "") != (g.Introspection.ClientSecret == "") {
		return errors.New("mcp_gateway: introspection needs both client_id and client_secret")
	}
	if g.CacheSize < 0 || g.CacheTTL < 0 || g.MaxIntrospections < 0 {
		return errors.New("mcp_gateway: cache_size, cache_ttl and max_introspections must not be negative")
	}
	if err := g.validateBody(); err != nil {
		return err
	}
	for _, o := range g.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("mcp_gateway: allowed_origins: %q is not an origin (scheme://host[:port])", o)
		}
	}
	return nil
}

// Cleanup stops the token verifier's background work and releases the
// session store (kept while a newer config still uses it).
func (g *Gateway) Cleanup() error {
	if g.relist != nil {
		g.relist.stop()
	}
	if g.sessionKey != "" {
		if _, err := sessionPool.Delete(g.sessionKey); err != nil {
			g.logger.Warn("releasing the session store", zap.Error(err))
		}
	}
	g.releaseTasks()
	if g.verifier != nil {
		return g.verifier.Close()
	}
	return nil
}

// ServeHTTP is the way of a request through the gateway, top to bottom.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	g.remember(r, next)

	// 1. Metadata documents are public.
	if g.isMetadataPath(r.URL.Path) {
		return g.serveMetadata(w, r)
	}

	// 2. Everything that is not the MCP endpoint is not ours, but tokens
	// of the MCP resource are fenced out of it.
	if !g.isResourcePath(r.URL.Path) {
		return g.passFenced(w, r, next)
	}

	// 3. Browser origins other than our own are refused (DNS rebinding);
	// allowed ones may read the answers, and their preflights pass. From
	// here on, an answer given before the body is read closes the
	// connection rather than draining the body.
	closeUntilBodyRead(w, r)
	if !g.originAllowed(r) {
		return g.writeError(w, http.StatusForbidden, "origin not allowed")
	}
	w = ownCORS(w, r)
	if isPreflight(r) {
		return preflight(w, r)
	}

	// 4. Authenticate: exactly one bearer token, in the header only.
	token, status, why := bearerToken(r)
	switch status {
	case http.StatusBadRequest:
		return g.writeError(w, http.StatusBadRequest, why)
	case http.StatusUnauthorized:
		if why == errMalformed {
			g.metrics.observe("unknown", resultInvalid, "", 0)
			return g.challenge(w, "invalid_token", why)
		}
		g.metrics.observe("none", resultMissing, "", 0)
		return g.challenge(w, "", why)
	}
	id, err := g.authenticate(r, token)
	if err != nil {
		var inv *tokenverifier.InvalidTokenError
		if errors.As(err, &inv) {
			return g.challenge(w, "invalid_token", inv.Reason)
		}
		return g.unavailable(w, err)
	}

	// 5. Tell the upstream who is calling, and nothing the client made up.
	g.setIdentity(r, id)

	// 6. A legacy session belongs to the subject that created it: the id
	// the client holds is unwrapped for the backend, the backend's wrapped.
	var answered bool
	if next, answered, err = g.bindSession(w, r, next, id.Subject); answered {
		return err
	}

	// 7. Only a POST carries a message; GET streams (filtered) and DELETE
	// pass without a body, other methods are refused.
	if r.Method != http.MethodPost {
		return g.passOther(w, r, next, id)
	}

	// 8. Classify the body: exactly one unambiguous JSON-RPC message.
	start := time.Now()
	msg, ok, err := g.readMessage(w, r)
	if !ok {
		return err
	}

	// 9. Enforce the scopes the method's target requires.
	d := g.decide(msg, id)
	g.metrics.decided(msg.Method, d.verdict, time.Since(start))
	if d.verdict != verdictAllow {
		g.audit(msg, id, d, time.Since(start))
		return g.refuse(w, msg, id, d)
	}
	if !g.AuditRefusalsOnly {
		defer func() { g.audit(msg, id, d, time.Since(start)) }()
	}

	// 10. Pass it on; list responses are rewritten for this token.
	return g.forward(w, r, next, msg, id, d)
}

// forward hands an allowed message to the backend. List responses are
// filtered for the token; the initialize response's session is bound to
// the subject; everything else passes unbuffered, watched for
// notifications/tools/list_changed.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, msg rpcmessage.Message, id tokenverifier.Identity, d decision) error {
	switch {
	case d.list || d.task || d.stream:
		// Compressed bodies cannot be filtered: ask for plain ones.
		r.Header.Del("Accept-Encoding")
		out := w
		if !d.list {
			out = g.watch(w) // a tool's or a listening stream's notifications
		}
		lw := listfilter.NewResponseWriter(out, g.streamRewriter(msg, id, d))
		if err := next.ServeHTTP(lw, r); err != nil {
			return err
		}
		if err := lw.Finish(); err != nil {
			g.logger.Warn("list response replaced by an error", zap.String("method", msg.Method), zap.Error(err))
		}
		return nil
	case msg.Method == methodCancelled && r.Header.Get(headerSession) == "":
		return g.dropCancellation(w)
	case msg.Method == "initialize":
		return g.serveInitialize(w, r, next, id.Subject)
	default:
		return next.ServeHTTP(g.watch(w), r)
	}
}

// passOther forwards the two other methods of the Streamable HTTP
// transport, without a body, for only a POST carries a message the gateway
// judges: GET (a legacy listening stream, or one resumed with
// Last-Event-ID) and DELETE (ending a session). A resumed stream may replay
// a list response, so GET streams go through the list filter, event by
// event and never buffered. Every other method is refused.
func (g *Gateway) passOther(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, id tokenverifier.Identity) error {
	switch r.Method {
	case http.MethodGet, http.MethodDelete:
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		return writeJSONRPCError(w, http.StatusMethodNotAllowed, nil, codeInvalidRequest, "method not allowed on the MCP endpoint")
	}
	r.Body, r.ContentLength, r.TransferEncoding = http.NoBody, 0, nil
	r.Header.Del("Content-Length")
	r.Header.Del("Content-Type")
	if r.Method == http.MethodGet {
		if !g.streams.acquire(id.Subject) {
			return tooManyStreams(w)
		}
		defer g.streams.release(id.Subject)
		r.Header.Del("Accept-Encoding")
		lw := listfilter.NewResponseWriter(g.watch(w), g.listRewriter(rpcmessage.Message{}, id))
		if err := next.ServeHTTP(lw, r); err != nil {
			return err
		}
		if err := lw.Finish(); err != nil {
			g.logger.Warn("listening stream replaced by an error", zap.Error(err))
		}
		return nil
	}
	rec := caddyhttp.NewResponseRecorder(w, nil, nil)
	if err := next.ServeHTTP(rec, r); err != nil {
		return err
	}
	if sid := r.Header.Get(headerSession); sid != "" && rec.Status() >= 200 && rec.Status() < 300 {
		g.sessions.Forget(sid)
		g.sessionEnds.Bind(sid, "")
	}
	return nil
}

func (g *Gateway) watch(w http.ResponseWriter) http.ResponseWriter {
	return &listChangedWatcher{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w}, onChange: g.relist.onChange}
}

// authenticate verifies the token and records the outcome.
func (g *Gateway) authenticate(r *http.Request, token string) (tokenverifier.Identity, error) {
	start := time.Now()
	id, cached, err := g.verifier.VerifyCached(r.Context(), token)
	kind := tokenverifier.Shape(token)
	if err == nil {
		g.metrics.observe(kind, resultValid, source(cached), time.Since(start))
		return id, nil
	}
	// Declared here, not above: errors.As makes it escape, and the
	// common case should not pay an allocation for it.
	var inv *tokenverifier.InvalidTokenError
	switch {
	case errors.As(err, &inv):
		g.metrics.observe(kind, resultInvalid, source(cached), time.Since(start))
		if c := g.logger.Check(zapcore.DebugLevel, "token rejected"); c != nil {
			c.Write(zap.String("reason", inv.Reason), zap.String("remote", r.RemoteAddr))
		}
	default:
		g.metrics.observe(kind, resultUnavailable, source(cached), time.Since(start))
		g.logger.Warn("cannot validate token: authorization server unavailable", zap.Error(err))
	}
	return id, err
}

func source(cached bool) string {
	if cached {
		return "cache"
	}
	return "provider"
}

// isResourcePath reports whether p may reach the MCP endpoint. Caddy's
// path matchers compare cleaned paths case-insensitively, and "/mcp*"
// also matches "/mcpx", so the gateway claims every path that, cleaned and
// lower-cased, begins with the resource's path: better to challenge a
// request the backend would not serve than to let one through
// unauthenticated.
func (g *Gateway) isResourcePath(p string) bool {
	if g.resourcePath == "" {
		return true
	}
	return strings.HasPrefix(normalizePath(p), strings.ToLower(g.resourcePath))
}

func (g *Gateway) isMetadataPath(p string) bool {
	for _, mp := range g.metaPaths {
		if p == mp {
			return true
		}
	}
	return false
}

// normalizePath cleans p ("." and ".." segments, duplicate slashes) and
// lower-cases it.
func normalizePath(p string) string {
	// Clean("/"+p) is Clean(p) for a p that starts with a slash; sparing
	// the concatenation leaves a clean lower-case path unallocated.
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return strings.ToLower(path.Clean(p))
}

func replaceAll(repl *caddy.Replacer, vals []string) {
	for i, v := range vals {
		vals[i] = repl.ReplaceKnown(v, "")
	}
}

// checkResource applies the MCP spec's canonical URI rules: absolute,
// no fragment, https unless loopback.
func checkResource(raw string) error {
	if err := tokenverifier.CheckURL(raw); err != nil {
		return err
	}
	u, _ := url.Parse(raw)
	if u.RawQuery != "" {
		return fmt.Errorf("%q must not have a query", raw)
	}
	return nil
}

// tokenVerifier is what ServeHTTP needs of token verification; unit tests
// substitute it.
type tokenVerifier interface {
	VerifyCached(ctx context.Context, token string) (tokenverifier.Identity, bool, error)
	Close() error
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Gateway)(nil)
	_ caddy.Validator             = (*Gateway)(nil)
	_ caddy.CleanerUpper          = (*Gateway)(nil)
	_ caddyhttp.MiddlewareHandler = (*Gateway)(nil)
)
