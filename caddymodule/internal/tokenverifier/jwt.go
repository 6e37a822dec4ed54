package tokenverifier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"go.uber.org/zap"
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
// is fetched on first use, refreshed in the background when it grows old,
// and refetched when a token names an unknown kid. There is at most one
// fetch at a time, and every request that needs a fetch while one is in
// flight joins it and decides with its result (issue 17: answering such
// requests as if the provider had failed refused valid tokens on every
// cold start and key rotation). The refetch interval only limits how often
// a new fetch starts; a kid known after any fetch is verified.
type keySource struct {
	cfg  Config
	meta *metadataSource
	log  *zap.Logger

	current atomic.Pointer[keySet]

	mu          sync.Mutex
	inflight    *flight[jwk.Set] // the fetch in progress, nil if none
	lastAttempt time.Time        // when the latest fetch started
	failed      error            // the latest fetch's error, nil if it succeeded
	failedAt    time.Time

	validateOpts []jwt.ValidateOption
	allowed      []jwa.SignatureAlgorithm
	// ctx lives as long as the Verifier: fetches run under it, not under
	// the request that started them, which may end first.
	ctx context.Context
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

// startLocked starts a fetch; ks.mu must be held. The result replaces the
// current set on success and is remembered with its cause on failure.
func (ks *keySource) startLocked() *flight[jwk.Set] {
	f := newFlight[jwk.Set]()
	ks.inflight = f
	ks.lastAttempt = ks.cfg.Now()
	go func() {
		set, err := ks.fetch(ks.ctx)
		ks.mu.Lock()
		if err != nil {
			ks.failed, ks.failedAt = err, ks.cfg.Now()
		} else {
			ks.current.Store(&keySet{set: set, at: ks.cfg.Now()})
			ks.failed = nil
		}
		held := ks.current.Load() != nil
		ks.inflight = nil
		ks.mu.Unlock()
		if err != nil {
			ks.log.Warn("fetching the JWKS failed", zap.Bool("keeping_old_key_set", held), zap.Error(err))
		}
		f.finish(set, err)
	}()
	return f
}

// keys returns the current key set. Without one it joins the fetch in
// flight or starts one, unless the last fetch failed moments ago; an old
// set is returned at once while a refresh runs in the background.
func (ks *keySource) keys(ctx context.Context) (jwk.Set, error) {
	cur := ks.current.Load()
	now := ks.cfg.Now()
	if cur != nil {
		if now.Sub(cur.at) > jwksRefresh {
			ks.mu.Lock()
			if ks.inflight == nil && now.Sub(ks.lastAttempt) >= ks.cfg.JWKSRefetchInterval {
				ks.startLocked()
			}
			ks.mu.Unlock()
		}
		return cur.set, nil
	}
	ks.mu.Lock()
	if cur := ks.current.Load(); cur != nil {
		ks.mu.Unlock()
		return cur.set, nil
	}
	f := ks.inflight
	if f == nil {
		if ks.failed != nil && now.Sub(ks.failedAt) < metadataRetryAfter {
			// A fetch really failed just now: do not hammer the
			// provider on every request, and say why.
			cause, ago := ks.failed, now.Sub(ks.failedAt).Round(time.Millisecond)
			ks.mu.Unlock()
			return nil, fmt.Errorf("jwks: last fetch failed moments ago (%v), retrying after %v: %w", ago, metadataRetryAfter, cause)
		}
		f = ks.startLocked()
	}
	ks.mu.Unlock()
	return f.wait(ctx, "jwks")
}

// forKid returns a key set after looking for kid anew: the set another
// fetch brought in meanwhile, the result of the fetch in flight, or of a
// new fetch if the refetch interval allows one; otherwise the current set.
func (ks *keySource) forKid(ctx context.Context, kid string) (jwk.Set, error) {
	ks.mu.Lock()
	cur := ks.current.Load()
	if cur != nil {
		if _, found := cur.set.LookupKeyID(kid); found {
			ks.mu.Unlock()
			return cur.set, nil
		}
	}
	f := ks.inflight
	if f == nil {
		if ks.cfg.Now().Sub(ks.lastAttempt) < ks.cfg.JWKSRefetchInterval {
			failed := ks.failed
			ks.mu.Unlock()
			if cur == nil {
				return nil, fmt.Errorf("jwks: %w: no key set yet", ErrUnavailable)
			}
			if failed != nil {
				// The kid may be the provider's new key that the failed
				// fetch would have brought: unjudged, not invalid.
				return nil, fmt.Errorf("jwks: %w: key id not in the held set, and the latest fetch failed: %w", ErrUnavailable, failed)
			}
			return cur.set, nil
		}
		f = ks.startLocked()
	}
	ks.mu.Unlock()
	return f.wait(ctx, "jwks")
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
	if want := ks.cfg.RequireTyp; want != "" {
		// RFC 9068 §4: the typ header tells access tokens from ID
		// tokens and other JWTs the same provider signs.
		if typ, _ := hdr.Type(); !sameMediaType(typ, want) {
			return Identity{}, invalid("not an access token (typ)")
		}
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
	if hasKid {
		key, known := keyFor(set, kid, alg)
		if !known {
			// Maybe the provider rotated its keys: look again.
			set, err = ks.forKid(ctx, kid)
			if err != nil {
				return Identity{}, err
			}
			if key, known = keyFor(set, kid, alg); !known {
				return Identity{}, &InvalidTokenError{Reason: "unknown signing key", transient: true}
			}
		}
		if key == nil {
			return Identity{}, invalid("signing algorithm does not match the key")
		}
		return ks.verifyWith(token, alg, key)
	}
	if set.Len() != 1 {
		return Identity{}, invalid("token names no key id")
	}
	key, _ := set.Key(0)
	if ka, ok := key.Algorithm(); ok && ka.String() != alg.String() {
		return Identity{}, invalid("signing algorithm does not match the key")
	}
	return ks.verifyWith(token, alg, key)
}

// keyFor finds the key kid for alg. known reports whether the set has a
// key kid at all; key is nil when none of them may be used with alg (a
// key whose JWK names its algorithm is used with no other).
func keyFor(set jwk.Set, kid string, alg jwa.SignatureAlgorithm) (key jwk.Key, known bool) {
	for i := range set.Len() {
		k, _ := set.Key(i)
		if id, ok := k.KeyID(); !ok || id != kid {
			continue
		}
		known = true
		if ka, ok := k.Algorithm(); ok && ka.String() != alg.String() {
			continue
		}
		return k, true
	}
	return nil, known
}

// verifyWith checks the signature with exactly the header's algorithm and
// the key found by kid (RFC 8725 §3.1): nothing is inferred from the key,
// so a header cannot make an RS256 signature pass for PS256 or RS384.
func (ks *keySource) verifyWith(token string, alg jwa.SignatureAlgorithm, key jwk.Key) (Identity, error) {
	// Three steps, so each failure is named for what failed: the
	// signature, the claims' syntax, or their values.
	payload, err := jws.Verify([]byte(token), jws.WithKey(alg, key), jws.WithAlgorithmMatch(true))
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
	id, err := identityFromJWT(tok)
	if err != nil {
		return Identity{}, err
	}
	if id.User, err = userClaim(ks.cfg.UserClaim, payload); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// sameMediaType compares two JWS typ values as media types: case
// insensitive, and "application/" may be left out (RFC 7515 §4.1.9).
func sameMediaType(a, b string) bool {
	norm := func(s string) string {
		s = strings.ToLower(s)
		return strings.TrimPrefix(s, "application/")
	}
	return a != "" && norm(a) == norm(b)
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
