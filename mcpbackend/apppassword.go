package mcpbackend

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/scopegate/scopegate/mcpbackend/nextcloud"
)

// credentials app_password: each user connects once through Nextcloud's
// Login Flow v2, and the backend calls Nextcloud with that user's own app
// password. No MCP token ever reaches Nextcloud (the MCP authorization
// specification forbids token passthrough), so Nextcloud's bearer
// validation can be switched off.
//
// A tool call of a subject without a stored password starts a flow and
// sends the user to its login URL (URL-mode elicitation where the client
// supports it, else a tool error with the link). A background poller
// collects the password, checks at /ocs/v2.php/cloud/user that it belongs
// to the token's Nextcloud account (the gateway's user_claim when set,
// else the OAuth subject, which is the Nextcloud user id with Nextcloud's
// oidc app), and stores it AES-GCM encrypted in
// Caddy storage under the subject's hash, so every replica shares it.
// When Nextcloud answers 401 for it (revoked in the user's security
// settings), it is deleted and the user is told to reconnect.

// Storage keys.
const (
	appPasswordPrefix = "scopegate/nextcloud_mcp/app_passwords/"
	appPasswordKeyKey = "scopegate/nextcloud_mcp/app_password.key"
	// AppPasswordUserAgent names the app password in Nextcloud (the
	// client shown on the grant page and in the security settings).
	AppPasswordUserAgent = "Scopegate MCP (nextcloud_mcp)"
	// LoginFlowLifetime is how long Nextcloud keeps a flow.
	LoginFlowLifetime = 20 * time.Minute
)

// connectionApp is the pseudo app of the connection tools: always there.
const connectionApp = "scopegate"

// ConnectorConfig sets up app_password mode.
type ConnectorConfig struct {
	Client  *nextcloud.Client
	Storage certmagic.Storage
	// Key is the 32-byte AES-256-GCM key.
	Key    []byte
	Logger *slog.Logger
	// PollInterval between polls of a flow; default 3s.
	PollInterval time.Duration
	// PublicURL is Nextcloud's public URL, where users' browsers reach
	// it; empty means the scheme and host the MCP request came in at.
	PublicURL string
	// ElicitationWait is how long a call whose URL elicitation the user
	// accepted waits for the approval before answering "call again";
	// default 30s.
	ElicitationWait time.Duration
}

// Connector keeps the users' app passwords.
type Connector struct {
	cfg  ConnectorConfig
	aead cipher.AEAD
	log  *slog.Logger
	mcp  atomic.Pointer[server.MCPServer]

	mu    sync.Mutex
	flows map[string]*pendingFlow // by subject
	stop  chan struct{}
	once  sync.Once
}

type pendingFlow struct {
	id      string // elicitation id, not a secret
	login   string
	poll    string // the secret poll token: never shown, never logged
	expires time.Time
	// user is the Nextcloud user id the approval must come from.
	user string
	done chan struct{}
	// failure, once done, says why the flow did not connect.
	failure string
	// elicited is the session that was sent the URL elicitation (under
	// Connector.mu), told notifications/elicitation/complete at the end.
	elicited server.ClientSession
}

// storedPassword is what is stored, encrypted, per subject.
type storedPassword struct {
	LoginName string    `json:"login_name"`
	Password  string    `json:"app_password"`
	UserID    string    `json:"user_id"`
	Since     time.Time `json:"since"`
}

// NewConnector checks cfg and returns a connector.
func NewConnector(cfg ConnectorConfig) (*Connector, error) {
	if cfg.Client == nil || cfg.Storage == nil {
		return nil, errors.New("app_password: client and storage required")
	}
	if len(cfg.Key) != 32 {
		return nil, fmt.Errorf("app_password: encryption key must be 32 bytes, got %d", len(cfg.Key))
	}
	block, err := aes.NewCipher(cfg.Key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 3 * time.Second
	}
	if cfg.ElicitationWait <= 0 {
		cfg.ElicitationWait = 30 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Connector{cfg: cfg, aead: aead, log: log, flows: map[string]*pendingFlow{}, stop: make(chan struct{})}, nil
}

// Close stops the pollers.
func (c *Connector) Close() { c.once.Do(func() { close(c.stop) }) }

// AppPasswordKey returns the encryption key: configured (base64 of 32
// bytes), or generated once into storage, under its lock, so that all
// replicas sharing the storage use the same one.
func AppPasswordKey(ctx context.Context, st certmagic.Storage, configured string) ([]byte, error) {
	if configured != "" {
		k, err := base64.StdEncoding.DecodeString(configured)
		if err != nil || len(k) != 32 {
			return nil, errors.New("app_password: the encryption key must be 32 bytes in base64 (openssl rand -base64 32)")
		}
		return k, nil
	}
	load := func() ([]byte, error) {
		b, err := st.Load(ctx, appPasswordKeyKey)
		if err != nil {
			return nil, err
		}
		k, err := base64.StdEncoding.DecodeString(string(b))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("app_password: the key in storage (%s) is damaged", appPasswordKeyKey)
		}
		return k, nil
	}
	if k, err := load(); err == nil {
		return k, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		if strings.HasPrefix(err.Error(), "app_password:") {
			return nil, err // a damaged key, said as such
		}
		return nil, fmt.Errorf("app_password: reading the encryption key from storage: %w", err)
	}
	if err := st.Lock(ctx, appPasswordKeyKey); err != nil {
		return nil, fmt.Errorf("app_password: locking the key in storage: %w", err)
	}
	defer st.Unlock(context.WithoutCancel(ctx), appPasswordKeyKey)
	if k, err := load(); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := st.Store(ctx, appPasswordKeyKey, []byte(base64.StdEncoding.EncodeToString(k))); err != nil {
		return nil, fmt.Errorf("app_password: storing a new key: %w", err)
	}
	return k, nil
}

func subjectHash(subject string) string {
	sum := sha256.Sum256([]byte("scopegate app password\x00" + subject))
	return hex.EncodeToString(sum[:])
}

// load returns the subject's stored password, or nil.
func (c *Connector) load(ctx context.Context, subject string) (*storedPassword, error) {
	h := subjectHash(subject)
	b, err := c.cfg.Storage.Load(ctx, appPasswordPrefix+h)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading the app password: %w", err)
	}
	ns := c.aead.NonceSize()
	if len(b) < ns {
		return nil, errors.New("stored app password damaged")
	}
	// The subject's hash is the additional data: a record copied to
	// another subject's key does not decrypt.
	plain, err := c.aead.Open(nil, b[:ns], b[ns:], []byte(h))
	if err != nil {
		return nil, errors.New("stored app password does not decrypt (another key, or not this subject's)")
	}
	var sp storedPassword
	if err := json.Unmarshal(plain, &sp); err != nil {
		return nil, fmt.Errorf("stored app password: %w", err)
	}
	return &sp, nil
}

func (c *Connector) save(ctx context.Context, subject string, sp *storedPassword) error {
	h := subjectHash(subject)
	plain, err := json.Marshal(sp)
	if err != nil {
		return err
	}
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	return c.cfg.Storage.Store(ctx, appPasswordPrefix+h, c.aead.Seal(nonce, nonce, plain, []byte(h)))
}

// forget deletes the subject's stored password if it still is sp (another
// replica may have stored a new one meanwhile).
func (c *Connector) forget(ctx context.Context, subject string, sp *storedPassword) error {
	cur, err := c.load(ctx, subject)
	if err != nil || cur == nil || (sp != nil && cur.Password != sp.Password) {
		return err
	}
	if err := c.cfg.Storage.Delete(ctx, appPasswordPrefix+subjectHash(subject)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// appCredentials are a stored password in use for one tool call; a 401
// marks it revoked.
type appCredentials struct {
	nextcloud.Basic
	revoked atomic.Bool
}

func (a *appCredentials) Unauthorized() { a.revoked.Store(true) }

type subjectKey struct{}

type publicOriginKey struct{}

// withPublicOrigin remembers the scheme and host the MCP client reached
// the site at: Nextcloud builds the login URL from the host the backend
// called it at (its internal address), which the user's browser cannot
// open; in the deployment this module is made for, Nextcloud is served
// at the same public site.
func withPublicOrigin(ctx context.Context, r *http.Request) context.Context {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return context.WithValue(ctx, publicOriginKey{}, scheme+"://"+r.Host)
}

// publicLoginURL moves a login URL on Nextcloud's internal address to the
// public origin of the request, keeping its path.
func (c *Connector) publicLoginURL(ctx context.Context, login string) string {
	u, err := url.Parse(login)
	if err != nil {
		return login
	}
	base, err := url.Parse(c.cfg.Client.BaseURL())
	if err != nil || !strings.EqualFold(u.Host, base.Host) {
		return login // Nextcloud already names its public host (overwritehost)
	}
	origin := c.cfg.PublicURL
	if origin == "" {
		origin, _ = ctx.Value(publicOriginKey{}).(string)
	}
	pub, err := url.Parse(origin)
	if err != nil || pub.Host == "" {
		return login
	}
	path := strings.TrimPrefix(u.EscapedPath(), strings.TrimSuffix(base.EscapedPath(), "/"))
	return strings.TrimSuffix(pub.String(), "/") + path
}

func withSubject(ctx context.Context, s string) context.Context {
	return context.WithValue(ctx, subjectKey{}, s)
}

func subjectFrom(ctx context.Context) string {
	s, _ := ctx.Value(subjectKey{}).(string)
	return s
}

type userKey struct{}

func withUser(ctx context.Context, u string) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// expectedUser is the Nextcloud user id the caller's connection must
// belong to: the gateway's user_claim when it set one, else the subject
// (with Nextcloud's oidc app, sub is the user id).
func expectedUser(ctx context.Context, subject string) string {
	if u, _ := ctx.Value(userKey{}).(string); u != "" {
		return u
	}
	return subject
}

// middleware gives every tool call the caller's app password, or starts
// the connection.
func (c *Connector) middleware(exempt map[string]bool) server.ToolHandlerMiddleware {
	return func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if exempt[req.Params.Name] {
				return next(ctx, req)
			}
			subject := subjectFrom(ctx)
			if subject == "" {
				return mcp.NewToolResultError(req.Params.Name + " failed: no authenticated user; credentials app_password needs mcp_gateway in front"), nil
			}
			sp, err := c.load(ctx, subject)
			if err != nil {
				c.log.ErrorContext(ctx, "reading the stored app password", "error", err)
				return nil, fmt.Errorf("%s: %w", req.Params.Name, err)
			}
			if sp == nil {
				sp, res := c.connect(ctx, subject, req.Params.Name)
				if sp == nil {
					return res, nil
				}
				return c.run(ctx, next, req, subject, sp)
			}
			if want := expectedUser(ctx, subject); sp.UserID != want {
				// The token now names another user than the one the
				// connection was approved by (user_claim configured or
				// changed since): never act as the stored account.
				return mcp.NewToolResultError(fmt.Sprintf("%s failed: your stored Nextcloud connection belongs to the account %q, but your token names %q. "+
					"Call nc_disconnect, then call %s again to connect the right account.", req.Params.Name, sp.UserID, want, req.Params.Name)), nil
			}
			return c.run(ctx, next, req, subject, sp)
		}
	}
}

func (c *Connector) run(ctx context.Context, next server.ToolHandlerFunc, req mcp.CallToolRequest, subject string, sp *storedPassword) (*mcp.CallToolResult, error) {
	cred := &appCredentials{Basic: nextcloud.Basic{Username: sp.LoginName, Password: sp.Password}}
	res, err := next(nextcloud.WithCredentials(ctx, cred), req)
	if cred.revoked.Load() {
		if ferr := c.forget(context.WithoutCancel(ctx), subject, sp); ferr != nil {
			c.log.ErrorContext(ctx, "deleting a revoked app password", "error", ferr)
		}
		c.log.InfoContext(ctx, "Nextcloud refused the stored app password (revoked); connection removed", "subject_hash", subjectHash(subject)[:12])
		return mcp.NewToolResultError(req.Params.Name + " failed: Nextcloud no longer accepts this connection's app password (it was revoked in Nextcloud's security settings, or expired). " +
			"The connection was removed: call the tool again to reconnect."), nil
	}
	return res, err
}

// connect returns the stored password once the subject's flow completed
// during this call; otherwise the tool answer that sends the user to the
// login URL.
func (c *Connector) connect(ctx context.Context, subject, tool string) (*storedPassword, *mcp.CallToolResult) {
	_, failure := c.pending(subject)
	f, err := c.flow(ctx, subject)
	if err != nil {
		c.log.ErrorContext(ctx, "starting a Nextcloud login flow", "error", err)
		res, _ := nextcloud.ToolError(tool, "starting the connection to Nextcloud (Login Flow v2)", err)
		if res == nil {
			res = mcp.NewToolResultError(tool + " failed: starting the connection to Nextcloud: " + err.Error())
		}
		return nil, res
	}
	msg := "Connect Scopegate to your Nextcloud account: open " + f.login
	if failure != "" {
		msg = "The last connection attempt failed: " + failure + ". " + msg
	}
	msg += " , log in and grant access. " +
		"Nextcloud then creates an app password named \"" + AppPasswordUserAgent + "\" for this connection (you can revoke it in Nextcloud's security settings, or with nc_disconnect)."
	if c.elicit(ctx, f, msg) {
		select {
		case <-f.done:
			if sp, err := c.load(ctx, subject); err == nil && sp != nil {
				return sp, nil
			}
		case <-time.After(c.cfg.ElicitationWait):
		case <-ctx.Done():
		}
	}
	return nil, mcp.NewToolResultError(tool + " needs a connection to your Nextcloud account first. " + msg + " Then call " + tool + " again once you have approved.")
}

// elicit sends a URL-mode elicitation when the client declared support for
// it (legacy sessions; 2026-07-28 has no server-initiated requests), and
// reports whether the user accepted.
func (c *Connector) elicit(ctx context.Context, f *pendingFlow, msg string) bool {
	s := c.mcp.Load()
	session := server.ClientSessionFromContext(ctx)
	if s == nil || session == nil {
		return false
	}
	ci, ok := session.(server.SessionWithClientInfo)
	if !ok {
		return false
	}
	caps := ci.GetClientCapabilities()
	if caps.Elicitation == nil || caps.Elicitation.URL == nil {
		return false
	}
	c.mu.Lock()
	f.elicited = session
	c.mu.Unlock()
	res, err := s.RequestURLElicitation(ctx, session, f.id, f.login, msg)
	if err != nil {
		c.log.DebugContext(ctx, "URL elicitation not possible", "error", err)
		return false
	}
	return res.Action == mcp.ElicitationResponseActionAccept
}

// flow returns the subject's pending flow, starting one when there is
// none (or it expired or failed).
func (c *Connector) flow(ctx context.Context, subject string) (*pendingFlow, error) {
	c.mu.Lock()
	f := c.flows[subject]
	if f != nil && time.Now().Before(f.expires) {
		select {
		case <-f.done:
		default:
			c.mu.Unlock()
			return f, nil
		}
	}
	c.mu.Unlock()
	lf, err := c.cfg.Client.StartLoginFlow(ctx, AppPasswordUserAgent)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	f = &pendingFlow{id: hex.EncodeToString(id), login: c.publicLoginURL(ctx, lf.Login), poll: lf.PollToken, expires: time.Now().Add(LoginFlowLifetime - time.Minute),
		user: expectedUser(ctx, subject), done: make(chan struct{})}
	c.mu.Lock()
	if cur := c.flows[subject]; cur != nil && cur != f && time.Now().Before(cur.expires) {
		select {
		case <-cur.done:
		default:
			c.mu.Unlock()
			return cur, nil // a concurrent call started one first; ours expires unused
		}
	}
	c.flows[subject] = f
	c.mu.Unlock()
	go c.poll(subject, f)
	return f, nil
}

// poll collects the flow's password, checks whose it is and stores it.
func (c *Connector) poll(subject string, f *pendingFlow) {
	defer close(f.done)
	defer func() {
		c.mu.Lock()
		if c.flows[subject] == f && f.failure == "" {
			delete(c.flows, subject)
		}
		c.mu.Unlock()
	}()
	ctx, cancel := context.WithDeadline(context.Background(), f.expires)
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(c.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pw, ok, err := c.cfg.Client.PollLoginFlow(ctx, f.poll)
		if err != nil {
			c.log.Warn("polling a Nextcloud login flow", "error", err)
			continue
		}
		if !ok {
			continue
		}
		c.complete(ctx, subject, f, pw)
		return
	}
}

func (c *Connector) complete(ctx context.Context, subject string, f *pendingFlow, pw *nextcloud.AppPassword) {
	cred := nextcloud.WithCredentials(ctx, pw.Credentials())
	id, err := c.cfg.Client.UserID(cred)
	var failure string
	switch {
	case err != nil:
		failure = "Nextcloud did not confirm the new app password: " + err.Error()
	case id != f.user:
		// Someone else approved this subject's link (or the subject holds
		// another Nextcloud account): never bind it.
		failure = fmt.Sprintf("the connection was approved by the Nextcloud account %q, which is not yours; it was discarded", id)
		c.log.Warn("login flow approved by another Nextcloud user; app password revoked and discarded",
			"subject_hash", subjectHash(subject)[:12], "nextcloud_user", id)
	}
	if failure != "" {
		if err := c.cfg.Client.RevokeAppPassword(cred); err != nil {
			c.log.Warn("revoking an app password that was not bound", "error", err)
		}
		// Reported (under mu, read by pending) only once revoked.
		c.setFailure(f, failure)
		return
	}
	sp := &storedPassword{LoginName: pw.LoginName, Password: pw.Password, UserID: id, Since: time.Now().UTC().Truncate(time.Second)}
	if err := c.save(ctx, subject, sp); err != nil {
		c.setFailure(f, "storing the connection failed")
		c.log.Error("storing an app password", "error", err)
		return
	}
	c.log.Info("connected a user to Nextcloud with an app password", "subject_hash", subjectHash(subject)[:12], "nextcloud_user", id)
	c.mu.Lock()
	session := f.elicited
	c.mu.Unlock()
	if s := c.mcp.Load(); s != nil && session != nil {
		// The client may show the elicitation as done; a session that is
		// gone meanwhile is no error.
		_ = s.SendElicitationComplete(ctx, session, f.id)
	}
}

// setFailure records why f did not connect.
func (c *Connector) setFailure(f *pendingFlow, failure string) {
	c.mu.Lock()
	f.failure = failure
	c.mu.Unlock()
}

// pending returns the subject's flow in progress, or a failure to report.
func (c *Connector) pending(subject string) (login, failure string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.flows[subject]
	if f == nil {
		return "", ""
	}
	if f.failure != "" {
		delete(c.flows, subject)
		return "", f.failure
	}
	if time.Now().After(f.expires) {
		return "", ""
	}
	return f.login, ""
}

// connectMiddleware is the app_password middleware, or a pass-through in
// the other modes.
func connectMiddleware(c *Connector, exempt map[string]bool) server.ToolHandlerMiddleware {
	if c == nil {
		return func(next server.ToolHandlerFunc) server.ToolHandlerFunc { return next }
	}
	return c.middleware(exempt)
}
