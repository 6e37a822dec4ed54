// Package tokenverifier validates OAuth 2.1 access tokens for the gateway:
// JWTs against the issuer's JWKS, opaque tokens by RFC 7662 introspection,
// and, only when configured, opaque tokens by the userinfo endpoint as a
// last resort. Results are cached by a hash of the token, never the token.
//
// Errors fall in two classes the gateway answers differently: an
// *InvalidTokenError is the token's fault (401 invalid_token), while
// ErrUnavailable means the provider could not be asked (503); a token is
// never accepted because the provider was unreachable.
package tokenverifier

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"go.uber.org/zap"
)

// Kinds of validation, used in Identity.Kind and in metrics labels.
const (
	KindJWT           = "jwt"
	KindIntrospection = "introspection"
	KindUserinfo      = "userinfo"
)

// MaxTokenLength bounds what is parsed at all; real access tokens are a few
// kilobytes at most.
const MaxTokenLength = 16 << 10

// ErrUnavailable means the authorization server (discovery, JWKS,
// introspection or userinfo) could not be reached or answered with a server
// error, so the token could not be judged.
var ErrUnavailable = errors.New("authorization server unavailable")

// InvalidTokenError is a token that is definitely not acceptable. Reason is
// short, safe to show to the client, and never contains the token.
type InvalidTokenError struct {
	Reason string
	// transient marks a rejection that may turn around soon (a key id the
	// gateway has not fetched yet): it is not remembered, so a retry after
	// the next allowed JWKS refetch succeeds.
	transient bool
}

func (e *InvalidTokenError) Error() string { return "invalid token: " + e.Reason }

func invalid(format string, args ...any) error {
	return &InvalidTokenError{Reason: fmt.Sprintf(format, args...)}
}

// Identity is what a valid token says about its holder.
type Identity struct {
	Subject  string
	ClientID string
	Scopes   []string
	// User is the value of Config.UserClaim, empty when no claim is
	// configured; a token without it is never valid.
	User string
	// Expiry is the token's exp; zero if the token did not say (only
	// possible for introspection or userinfo answers).
	Expiry time.Time
	// Kind is how the token was validated: KindJWT, KindIntrospection or
	// KindUserinfo.
	Kind string
}

// HasScope reports whether the identity holds scope s.
func (id Identity) HasScope(s string) bool { return slices.Contains(id.Scopes, s) }

// Config configures a Verifier. Issuer is required; everything else has a
// default or is discovered from the issuer's metadata.
type Config struct {
	// Issuer is compared exactly with iss and with the metadata's issuer.
	Issuer string
	// Audiences are the accepted aud values; a token must name at least one.
	Audiences []string
	// JWKSURI overrides the discovered jwks_uri.
	JWKSURI string
	// IntrospectionURL overrides the discovered introspection_endpoint.
	IntrospectionURL string
	// ClientID and ClientSecret authenticate the gateway at the
	// introspection endpoint. Client, if set, supplies them instead (for
	// dynamically registered credentials). Without either, opaque tokens
	// are not introspected.
	ClientID     string
	ClientSecret string
	Client       ClientSource
	// ProviderChecksAudience skips the aud comparison of introspection
	// answers, for providers that answer active:true only to a client
	// bound to the token's resource and report another value in aud
	// (Nextcloud's oidc app reports the owning client's id). JWTs are
	// always checked.
	ProviderChecksAudience bool
	// Userinfo enables userinfo as the last resort for opaque tokens when
	// introspection is not configured. UserinfoURL overrides discovery.
	Userinfo    bool
	UserinfoURL string
	// MaxConcurrentIntrospections caps the introspection calls in flight
	// at once, so a flood of random tokens cannot flood the provider.
	// Default 8.
	MaxConcurrentIntrospections int
	// CacheTTL is the longest a positive result is trusted (never past the
	// token's exp). Default 5m.
	CacheTTL time.Duration
	// NegativeTTL is how long a rejection is remembered. Default 30s.
	NegativeTTL time.Duration
	// CacheSize bounds the number of cached identities, and separately
	// the number of cached rejections, so rejections never evict
	// identities. Default 100000.
	CacheSize int
	// UserClaim, when set, names the claim (of a JWT's payload, an
	// introspection answer or a userinfo answer) that holds the user name
	// the backend knows the holder by, e.g. preferred_username. A token
	// whose answer lacks it, or holds anything but a non-empty string
	// there, is invalid: the gateway fails closed.
	UserClaim string
	// Leeway is the clock skew tolerated for exp, nbf and iat. Default 30s.
	Leeway time.Duration
	// JWKSRefetchInterval is the least time between two JWKS fetches caused
	// by unknown key ids, so a flood of random kids cannot hammer the
	// provider. Default 10s.
	JWKSRefetchInterval time.Duration
	// RequireTyp, when set, is the JWS typ header every JWT must carry
	// (RFC 9068: "at+jwt"), compared case-insensitively and with or
	// without the "application/" prefix, so ID tokens and other JWTs
	// signed by the same provider are refused.
	RequireTyp string
	// AllowedAlgorithms are the JWS algorithms accepted. Default: the
	// asymmetric ones (RS*, PS*, ES*, EdDSA); HMAC and none are never
	// accepted.
	AllowedAlgorithms []string
	// HTTPClient is used for every call to the provider. Default: a client
	// with a 10s timeout.
	HTTPClient *http.Client
	// Logger receives operational messages; never tokens.
	Logger *zap.Logger
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// DefaultAlgorithms are the accepted JWS algorithms unless configured.
var DefaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Verifier validates tokens. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	log    *zap.Logger
	meta   *metadataSource
	jwks   *keySource
	cache  *resultCache
	intro  *introspector
	uinfo  *userinfoClient
	closer context.CancelFunc

	// flights are the verifications in progress by token hash, so
	// concurrent first uses of one token cost one verification.
	fmu     sync.Mutex
	flights map[[32]byte]*tokenFlight
	// slots caps the provider calls for opaque tokens in flight.
	slots chan struct{}
}

// flightTimeout bounds one verification shared by concurrent requests,
// waiting for a free introspection slot included.
const flightTimeout = 30 * time.Second

// tokenFlight is one verification of a token that requests join.
type tokenFlight struct {
	f       *flight[verdict]
	waiters int
	cancel  context.CancelFunc
}

// verdict is a verification's outcome.
type verdict struct {
	id     Identity
	cached bool
	err    error
}

// New returns a Verifier. It does not contact the provider: discovery and
// key fetching happen on first use, so a provider that is down at start-up
// does not stop the server from starting.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("issuer is required")
	}
	if err := CheckURL(cfg.Issuer); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	for name, u := range map[string]string{"jwks_uri": cfg.JWKSURI, "introspection": cfg.IntrospectionURL, "userinfo": cfg.UserinfoURL} {
		if u == "" {
			continue
		}
		if err := CheckURL(u); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if len(cfg.Audiences) == 0 {
		return nil, errors.New("at least one accepted audience is required")
	}
	if (cfg.ClientID == "") != (cfg.ClientSecret == "") {
		return nil, errors.New("introspection needs both client_id and client_secret")
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 5 * time.Minute
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = 30 * time.Second
	}
	if cfg.NegativeTTL > cfg.CacheTTL {
		cfg.NegativeTTL = cfg.CacheTTL
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 100000
	}
	if cfg.MaxConcurrentIntrospections <= 0 {
		cfg.MaxConcurrentIntrospections = 8
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.JWKSRefetchInterval <= 0 {
		cfg.JWKSRefetchInterval = 10 * time.Second
	}
	if len(cfg.AllowedAlgorithms) == 0 {
		cfg.AllowedAlgorithms = DefaultAlgorithms
	}
	for _, a := range cfg.AllowedAlgorithms {
		if !slices.Contains(DefaultAlgorithms, a) {
			return nil, fmt.Errorf("algorithm %q is not allowed: only asymmetric JWS algorithms are", a)
		}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(ctx)
	if cfg.Client == nil && cfg.ClientID != "" {
		cfg.Client = StaticClient{ID: cfg.ClientID, Secret: cfg.ClientSecret}
	}
	v := &Verifier{cfg: cfg, log: cfg.Logger, closer: cancel, flights: map[[32]byte]*tokenFlight{},
		slots: make(chan struct{}, cfg.MaxConcurrentIntrospections)}
	v.meta = newMetadataSource(ctx, cfg.Issuer, cfg.HTTPClient, cfg.Now)
	jwks, err := newKeySource(ctx, v.meta, cfg)
	if err != nil {
		cancel()
		return nil, err
	}
	v.jwks = jwks
	cache, err := newResultCache(cfg.CacheSize, cfg.CacheSize)
	if err != nil {
		cancel()
		return nil, err
	}
	v.cache = cache
	if cfg.Client != nil {
		v.intro = &introspector{cfg: cfg, meta: v.meta}
	}
	if cfg.Userinfo {
		v.uinfo = &userinfoClient{cfg: cfg, meta: v.meta}
	}
	return v, nil
}

// Close stops background work (JWKS refreshing).
func (v *Verifier) Close() error {
	v.closer()
	return nil
}

// Verify validates a token and returns its identity. A cached result is
// used when there is one, so a token validated before keeps working while
// the provider is down, until its cache entry ends.
func (v *Verifier) Verify(ctx context.Context, token string) (Identity, error) {
	id, _, err := v.VerifyCached(ctx, token)
	return id, err
}

// VerifyCached is Verify that also reports whether the result came from
// the cache.
func (v *Verifier) VerifyCached(ctx context.Context, token string) (Identity, bool, error) {
	if token == "" {
		return Identity{}, false, invalid("empty token")
	}
	if len(token) > MaxTokenLength {
		return Identity{}, false, invalid("token too long")
	}
	key := tokenKey(token)
	if e, ok := v.cache.get(key, v.cfg.Now()); ok {
		return e.identity()
	}
	r := v.shared(ctx, key, token)
	return r.id, r.cached, r.err
}

// tokenKey is the cache key of a token: its SHA-256, hashed from the
// string's own bytes. sha256.Sum256([]byte(token)) would copy every token
// longer than 32 bytes to the heap on every request; the hash only reads
// them, so the copy buys nothing.
func tokenKey(token string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// identity turns a cache entry into VerifyCached's results.
func (e cacheEntry) identity() (Identity, bool, error) {
	if e.reason != "" {
		return Identity{}, true, &InvalidTokenError{Reason: e.reason}
	}
	return e.id, true, nil
}

// shared joins the verification of the token in flight, or starts one.
// The verification runs under its own deadline, detached from the request
// that started it; each request waits only as long as its own context
// allows, and when every request waiting for a verification has gone, the
// verification is called off (a flood of abandoned requests does not turn
// into calls to the provider).
func (v *Verifier) shared(ctx context.Context, key [32]byte, token string) verdict {
	v.fmu.Lock()
	tf := v.flights[key]
	if tf == nil {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flightTimeout)
		tf = &tokenFlight{f: newFlight[verdict](), cancel: cancel}
		v.flights[key] = tf
		go func() {
			defer cancel()
			r := v.verifyAndCache(fctx, key, token)
			v.fmu.Lock()
			if v.flights[key] == tf {
				delete(v.flights, key)
			}
			v.fmu.Unlock()
			tf.f.finish(r, nil)
		}()
	}
	tf.waiters++
	v.fmu.Unlock()
	r, err := tf.f.wait(ctx, "verify")
	if err != nil {
		v.fmu.Lock()
		if tf.waiters--; tf.waiters == 0 {
			tf.cancel()
			if v.flights[key] == tf {
				delete(v.flights, key)
			}
		}
		v.fmu.Unlock()
		return verdict{err: err}
	}
	return r
}

// verifyAndCache verifies the token and remembers the outcome, unless it
// is a transient rejection or the provider could not be asked.
func (v *Verifier) verifyAndCache(ctx context.Context, key [32]byte, token string) verdict {
	// A verification that finished between the caller's cache lookup and
	// this flight's start has left its result.
	if e, ok := v.cache.get(key, v.cfg.Now()); ok {
		id, cached, err := e.identity()
		return verdict{id: id, cached: cached, err: err}
	}
	id, err := v.verify(ctx, token)
	now := v.cfg.Now()
	var inv *InvalidTokenError
	switch {
	case err == nil:
		until := now.Add(v.cfg.CacheTTL)
		if !id.Expiry.IsZero() && id.Expiry.Before(until) {
			until = id.Expiry
		}
		v.cache.put(key, cacheEntry{id: id, until: until})
	case errors.As(err, &inv) && !inv.transient:
		v.cache.put(key, cacheEntry{reason: inv.Reason, until: now.Add(v.cfg.NegativeTTL)})
	}
	return verdict{id: id, err: err}
}

func (v *Verifier) verify(ctx context.Context, token string) (Identity, error) {
	if looksLikeJWT(token) {
		return v.jwks.verify(ctx, token)
	}
	if v.intro == nil && v.uinfo == nil {
		return Identity{}, invalid("opaque tokens are not accepted: introspection is not configured")
	}
	// Each opaque token the gateway has not seen costs a call to the
	// provider, so only so many run at once whoever sends the tokens.
	select {
	case v.slots <- struct{}{}:
		defer func() { <-v.slots }()
	case <-ctx.Done():
		return Identity{}, fmt.Errorf("introspect: %w: no free introspection slot: %w", ErrUnavailable, context.Cause(ctx))
	}
	if v.intro != nil {
		return v.intro.introspect(ctx, token)
	}
	return v.uinfo.lookup(ctx, token)
}

// CacheLen is the number of cached results, for tests and metrics.
func (v *Verifier) CacheLen() int { return v.cache.len() }

// Shape is "jwt" for a token in compact JWS form and "opaque" otherwise;
// a bounded label for metrics.
func Shape(token string) string {
	if looksLikeJWT(token) {
		return "jwt"
	}
	return "opaque"
}

// looksLikeJWT reports whether token has the compact JWS shape: three
// base64url segments. Anything else is treated as opaque.
func looksLikeJWT(token string) bool {
	dots := 0
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !jwtByte[c] {
			return false
		}
		if c == '.' {
			dots++
		}
	}
	return dots == 2
}

// jwtByte marks the bytes of base64url and the dot; a table, since every
// request's token is checked byte by byte.
var jwtByte = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") {
		t[c] = true
	}
	return t
}()

// scopesFrom turns a scope claim into a list: a space-separated string
// (RFC 9068 scope, RFC 7662) or an array of strings (scp as some providers
// issue it).
func scopesFrom(v any) []string {
	switch s := v.(type) {
	case string:
		return strings.Fields(s)
	case []string:
		return slices.Clone(s)
	case []any:
		out := make([]string, 0, len(s))
		for _, e := range s {
			if str, ok := e.(string); ok {
				out = append(out, strings.Fields(str)...)
			}
		}
		return out
	}
	return nil
}

// audienceOK reports whether any of aud is accepted.
func audienceOK(aud, accepted []string) bool {
	for _, a := range aud {
		if slices.Contains(accepted, a) {
			return true
		}
	}
	return false
}
