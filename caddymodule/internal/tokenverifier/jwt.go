package tokenverifier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
)

// jwksRefresh is how old a key set may grow before the next verification
// refreshes it in the background.
const jwksRefresh = 15 * time.Minute

// keySet is one fetched JWKS with its fetch time.
type keySet struct {
	set jwk.Set
	at  time.Time
}

// keySource holds the issuer's JWKS and verifies JWTs against it. The set
// is fetched on first use, refreshed when it grows old, and refetched when
// a token names an unknown kid, but at most once per JWKSRefetchInterval
// and one fetch at a time (single-flight).
type keySource struct {
	cfg  Config
	meta *metadataSource
	log  *zap.Logger

	current atomic.Pointer[keySet]
	group   singleflight.Group

	mu          sync.Mutex
	lastAttempt time.Time

	validateOpts []jwt.ValidateOption
	allowed      []jwa.SignatureAlgorithm
	ctx          context.Context
}

func newKeySource(ctx context.Context, meta *metadataSource, cfg Config) (*keySource, error) {
	ks := &keySource{cfg: cfg, meta: meta, log: cfg.Logger, ctx: ctx}
	for _, a := range cfg.AllowedAlgorithms {
		alg, ok := jwa.LookupSignatureAlgorithm(a)
		if !ok {
			return nil, fmt.Errorf("unknown JWS algorithm %q", a)
		}
		ks.allowed = append(ks.allowed, alg)
	}
	// Options that do not depend on the key set are built once.
	ks.validateOpts = []jwt.ValidateOption{
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithRequiredClaim("exp"),
		jwt.WithAcceptableSkew(cfg.Leeway),
		jwt.WithClock(jwt.ClockFunc(cfg.Now)),
		jwt.WithValidator(jwt.ValidatorFunc(func(_ context.Context, t jwt.Token) error {
			aud, _ := t.Audience()
			if !audienceOK(aud, cfg.Audiences) {
				return jwt.InvalidAudienceError()
			}
			return nil
		})),
	}
	return ks, nil
}

// keys returns the current key set, fetching it if there is none yet, and
// starting a background refresh when it is old.
func (ks *keySource) keys(ctx context.Context) (jwk.Set, error) {
	cur := ks.current.Load()
	if cur == nil {
		return ks.refetch(ctx, true)
	}
	if ks.cfg.Now().Sub(cur.at) > jwksRefresh {
		go func() {
			if _, err := ks.refetch(ks.ctx, true); err != nil {
				ks.log.Warn("refreshing JWKS failed; keeping the old key set", zap.Error(err))
			}
		}()
	}
	return cur.set, nil
}

// refetch fetches the JWKS anew. Unless force is set, it does so only when
// the last attempt is older than JWKSRefetchInterval; otherwise it returns
// the current set.
func (ks *keySource) refetch(ctx context.Context, force bool) (jwk.Set, error) {
	ks.mu.Lock()
	now := ks.cfg.Now()
	if !force && now.Sub(ks.lastAttempt) < ks.cfg.JWKSRefetchInterval {
		ks.mu.Unlock()
		if cur := ks.current.Load(); cur != nil {
			return cur.set, nil
		}
		return nil, fmt.Errorf("jwks: %w: no key set yet", ErrUnavailable)
	}
	if force && ks.current.Load() == nil && now.Sub(ks.lastAttempt) < metadataRetryAfter && !ks.lastAttempt.IsZero() {
		// The provider just failed; do not hammer it on every request.
		ks.mu.Unlock()
		return nil, fmt.Errorf("jwks: %w: last fetch failed moments ago", ErrUnavailable)
	}
	ks.lastAttempt = now
	ks.mu.Unlock()

	v, err, _ := ks.group.Do("jwks", func() (any, error) {
		set, err := ks.fetch(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		ks.current.Store(&keySet{set: set, at: ks.cfg.Now()})
		return set, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(jwk.Set), nil
}

func (ks *keySource) fetch(ctx context.Context) (jwk.Set, error) {
	uri := ks.cfg.JWKSURI
	if uri == "" {
		md, err := ks.meta.get(ctx)
		if err != nil {
			return nil, err
		}
		if md.JWKSURI == "" {
			return nil, fmt.Errorf("jwks: %w: the issuer's metadata has no jwks_uri", ErrUnavailable)
		}
		uri = md.JWKSURI
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	set, err := jwk.Fetch(ctx, uri, jwk.WithHTTPClient(ks.cfg.HTTPClient))
	if err != nil {
		return nil, fmt.Errorf("jwks: fetching %s: %w: %w", uri, ErrUnavailable, err)
	}
	// Only public signing keys of the provider belong here: a symmetric
	// key in a remote JWKS would let anyone who read it sign tokens.
	out := jwk.NewSet()
	for i := range set.Len() {
		k, _ := set.Key(i)
		if k.KeyType() == jwa.OctetSeq() {
			continue
		}
		if use, ok := k.KeyUsage(); ok && use != "sig" {
			continue
		}
		if err := out.AddKey(k); err != nil {
			return nil, fmt.Errorf("jwks: %w", err)
		}
	}
	if out.Len() == 0 {
		return nil, fmt.Errorf("jwks: %s holds no usable signing key", uri)
	}
	return out, nil
}

// verify checks a compact JWS access token.
func (ks *keySource) verify(ctx context.Context, token string) (Identity, error) {
	msg, err := jws.ParseString(token)
	if err != nil || len(msg.Signatures()) != 1 {
		return Identity{}, invalid("malformed token")
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	alg, ok := hdr.Algorithm()
	if !ok || !slices.Contains(ks.allowed, alg) {
		return Identity{}, invalid("signing algorithm not allowed")
	}
	kid, hasKid := hdr.KeyID()
	// RFC 7515 §4.1.11: a recipient must reject a JWS whose "crit" names
	// an extension it does not understand, and the gateway understands
	// none.
	if crit, ok := hdr.Critical(); ok || len(crit) > 0 {
		return Identity{}, invalid("unsupported critical header")
	}

	set, err := ks.keys(ctx)
	if err != nil {
		return Identity{}, err
	}
	if !hasKid && set.Len() != 1 {
		return Identity{}, invalid("token names no key id")
	}
	if hasKid {
		if _, found := set.LookupKeyID(kid); !found {
			// Maybe the provider rotated its keys: look again, but only
			// as often as the refetch interval allows.
			set, err = ks.refetch(ctx, false)
			if err != nil {
				return Identity{}, err
			}
			if _, found := set.LookupKeyID(kid); !found {
				return Identity{}, &InvalidTokenError{Reason: "unknown signing key", transient: true}
			}
		}
	}

	// Three steps, so each failure is named for what failed: the
	// signature, the claims' syntax, or their values.
	payload, err := jws.Verify([]byte(token),
		jws.WithKeySet(set, jws.WithInferAlgorithmFromKey(true), jws.WithRequireKid(hasKid), jws.WithUseDefault(!hasKid)))
	if err != nil {
		return Identity{}, invalid("signature verification failed")
	}
	tok, err := jwt.Parse(payload, jwt.WithVerify(false), jwt.WithValidate(false))
	if err != nil {
		return Identity{}, invalid("malformed claims")
	}
	if err := jwt.Validate(tok, ks.validateOpts...); err != nil {
		return Identity{}, jwtReason(err)
	}
	return identityFromJWT(tok)
}

// jwtReason maps a jwx error to a short reason that never echoes the token.
func jwtReason(err error) error {
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return invalid("token expired")
	case errors.Is(err, jwt.TokenNotYetValidError()):
		return invalid("token not yet valid")
	case errors.Is(err, jwt.InvalidIssuedAtError()):
		return invalid("token issued in the future")
	case errors.Is(err, jwt.InvalidIssuerError()):
		return invalid("wrong issuer")
	case errors.Is(err, jwt.InvalidAudienceError()):
		return invalid("wrong audience")
	case errors.Is(err, jwt.MissingRequiredClaimError()):
		return invalid("token has no expiry")
	case errors.Is(err, jwt.ValidateError()):
		return invalid("token claims not valid")
	default:
		return invalid("signature verification failed")
	}
}

func identityFromJWT(tok jwt.Token) (Identity, error) {
	id := Identity{Kind: KindJWT}
	id.Subject, _ = tok.Subject()
	if id.Subject == "" {
		return Identity{}, invalid("token has no subject")
	}
	id.Expiry, _ = tok.Expiration()
	for _, name := range []string{"client_id", "azp"} {
		var s string
		if err := tok.Get(name, &s); err == nil && s != "" {
			id.ClientID = s
			break
		}
	}
	var raw any
	if err := tok.Get("scope", &raw); err == nil {
		id.Scopes = scopesFrom(raw)
	} else if err := tok.Get("scp", &raw); err == nil {
		id.Scopes = scopesFrom(raw)
	}
	return id, nil
}
