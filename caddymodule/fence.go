package caddymodule

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/caddymodule/internal/tokenverifier"
)

// The token fence. Nextcloud (with the oidc app's bearer validation)
// accepts every token of its provider on every API, whatever the token's
// audience or scopes, so a token minted for the MCP resource would open
// WebDAV and OCS to an MCP client one path over. The gateway is the edge of
// the whole site, so it refuses, outside the MCP endpoint, every bearer
// token bound to the MCP resource. Tokens of other audiences, Basic
// credentials, cookies and anonymous requests pass untouched.

// fenceDescription is the error_description of a fenced request.
const fenceDescription = "token is for the MCP resource"

// fenceNotBoundTTL is how long an opaque token judged not bound is
// remembered: a token's resource never changes, so long is safe.
const fenceNotBoundTTL = 24 * time.Hour

// metadataVerifier is what the fence needs besides VerifyCached: the
// provider's metadata, for the paths of its endpoints.
type metadataVerifier interface {
	Metadata(ctx context.Context) (*tokenverifier.ProviderMetadata, error)
}

// fence decides whether a request outside the MCP endpoint carries a token
// bound to the MCP resource.
type fence struct {
	audiences []string // accepted audiences, normalized by normAudience
	// static exemptions: the discovery documents (exact paths) and the
	// configured prefixes.
	exact    map[string]bool
	prefixes []string
	verify   func(ctx context.Context, token string) (tokenverifier.Identity, bool, error)
	metadata func(ctx context.Context) (*tokenverifier.ProviderMetadata, error)
	notBound *lru.Cache[[32]byte, time.Time]
	now      func() time.Time
	// endpoints caches the exempt paths derived from one metadata
	// document; recomputed when the verifier's document changes.
	endpoints atomic.Pointer[endpointPaths]
}

type endpointPaths struct {
	md    *tokenverifier.ProviderMetadata
	paths map[string]bool
}

// fenceVerdict is what the fence decides about one request.
type fenceVerdict uint8

const (
	fencePass        fenceVerdict = iota // forward untouched
	fenceRefuse                          // a token bound to the MCP resource
	fenceUnavailable                     // the token cannot be judged now
)

// setupFence builds the fence unless `fence off`.
func (g *Gateway) setupFence(reg *prometheus.Registry) error {
	if g.FenceOff {
		return nil
	}
	if reg != nil {
		// Already registered by an earlier config: counting goes on.
		_ = reg.Register(fenceCounter())
	}
	size := g.CacheSize
	if size <= 0 {
		size = 100000
	}
	cache, err := lru.New[[32]byte, time.Time](size)
	if err != nil {
		return fmt.Errorf("mcp_gateway: fence: %w", err)
	}
	f := &fence{
		exact:    map[string]bool{},
		verify:   g.verifier.VerifyCached,
		notBound: cache,
		now:      time.Now,
	}
	for _, a := range g.Audience {
		f.audiences = append(f.audiences, normAudience(a))
	}
	// The discovery documents, at the root and (RFC 8414 §3.1, OpenID
	// Discovery §4) for an issuer with a path.
	ipath := ""
	if u, err := url.Parse(g.Issuer); err == nil {
		ipath = strings.TrimSuffix(u.EscapedPath(), "/")
	}
	for _, p := range []string{
		"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server",
		ipath + "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server" + ipath,
	} {
		f.exact[p] = true
	}
	for _, p := range g.FenceExempt {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("mcp_gateway: fence_exempt: %q is not a path prefix (it must begin with /)", p)
		}
		f.prefixes = append(f.prefixes, p)
	}
	if mv, ok := g.verifier.(metadataVerifier); ok {
		f.metadata = mv.Metadata
	}
	g.fence = f
	return nil
}

// passFenced is step 2 of ServeHTTP: a request outside the MCP endpoint
// goes to the next handler, unless it carries a token of the MCP resource.
func (g *Gateway) passFenced(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if g.fence == nil {
		return next.ServeHTTP(w, r)
	}
	start := time.Now()
	verdict, kind, id, err := g.fence.judge(r)
	switch verdict {
	case fenceRefuse:
		fenceCounter().WithLabelValues(kind, "fenced").Inc()
		g.auditFenced(r, kind, id, time.Since(start))
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+fenceDescription+`"`)
		return writeJSONRPCError(w, http.StatusUnauthorized, nil, codeUnauthorized, fenceDescription+": it is not accepted outside the MCP endpoint")
	case fenceUnavailable:
		fenceCounter().WithLabelValues(kind, "unavailable").Inc()
		g.logger.Warn("token fence: cannot judge a bearer token outside the MCP endpoint", zap.String("kind", kind), zap.Error(err))
		return g.unavailable(w, err)
	}
	return next.ServeHTTP(w, r)
}

// judge decides a request. kind is the token's shape ("jwt", "opaque") for
// metrics; id what is known of the token's holder (unverified for a JWT).
func (f *fence) judge(r *http.Request) (fenceVerdict, string, tokenverifier.Identity, error) {
	tokens := bearerCandidates(r)
	if len(tokens) == 0 {
		return fencePass, "", tokenverifier.Identity{}, nil
	}
	if f.staticExempt(r) {
		return fencePass, "", tokenverifier.Identity{}, nil
	}
	// Every token the request carries is judged: an upstream may read any
	// of them.
	for _, tok := range tokens {
		kind := tokenverifier.Shape(tok)
		bound, id, err := f.bound(r.Context(), tok, kind)
		if err != nil {
			return fenceUnavailable, kind, id, err
		}
		if !bound {
			continue
		}
		// Bound: only the provider's own endpoints may see it.
		exempt, err := f.endpointExempt(r)
		if err != nil {
			return fenceUnavailable, kind, id, err
		}
		if exempt {
			return fencePass, kind, id, nil
		}
		return fenceRefuse, kind, id, nil
	}
	return fencePass, "", tokenverifier.Identity{}, nil
}

// bound reports whether tok is a token of the MCP resource.
func (f *fence) bound(ctx context.Context, tok, kind string) (bool, tokenverifier.Identity, error) {
	if kind == "jwt" {
		c, ok := unverifiedClaims(tok)
		if !ok {
			// JWT-shaped but unreadable: no provider issues that, and a
			// lenient upstream parser might read an audience we cannot.
			return true, tokenverifier.Identity{}, nil
		}
		for _, a := range c.aud {
			if f.accepted(a) {
				return true, tokenverifier.Identity{Subject: c.sub, ClientID: c.client, Kind: tokenverifier.KindJWT}, nil
			}
		}
		return false, tokenverifier.Identity{}, nil
	}
	key := sha256.Sum256([]byte(tok))
	if until, ok := f.notBound.Get(key); ok && f.now().Before(until) {
		return false, tokenverifier.Identity{}, nil
	}
	id, _, err := f.verify(ctx, tok)
	var inv *tokenverifier.InvalidTokenError
	switch {
	case err == nil:
		// Introspection with the gateway's own client answers active only
		// for tokens valid for the resource. Userinfo cannot tell a
		// token's audience: such tokens are not judged bound, or every
		// other client of the provider would be locked out of the site.
		if id.Kind == tokenverifier.KindIntrospection {
			return true, id, nil
		}
	case errors.As(err, &inv):
		// A token not yet valid may become an MCP token later: it is not
		// remembered (the verifier keeps it for its short negative TTL).
		if strings.Contains(inv.Reason, "not yet valid") {
			return false, tokenverifier.Identity{}, nil
		}
	default:
		return false, tokenverifier.Identity{}, err
	}
	f.notBound.Add(key, f.now().Add(fenceNotBoundTTL))
	return false, tokenverifier.Identity{}, nil
}

func (f *fence) accepted(aud string) bool {
	n := normAudience(aud)
	for _, a := range f.audiences {
		if a == n {
			return true
		}
	}
	return false
}

// normAudience compares audiences generously (case, one trailing slash):
// refusing a token that is almost ours is the safe direction.
func normAudience(a string) string {
	return strings.ToLower(strings.TrimSuffix(a, "/"))
}

// staticExempt: the discovery documents and the fence_exempt prefixes.
// Only a path with no dot segments, duplicate slashes or unusual escapes is
// exempt by prefix, so "/exempt/../ocs/..." cannot pass as exempt.
func (f *fence) staticExempt(r *http.Request) bool {
	p := r.URL.EscapedPath()
	if f.exact[p] {
		return true
	}
	if len(f.prefixes) == 0 || r.URL.RawPath != "" || !cleanPath(r.URL.Path) {
		return false
	}
	for _, pre := range f.prefixes {
		if strings.HasPrefix(r.URL.Path, pre) {
			return true
		}
	}
	return false
}

func cleanPath(p string) bool {
	c := path.Clean(p)
	return c == p || c+"/" == p
}

// endpointExempt reports whether the request goes to one of the
// authorization server's own endpoints, by path: behind a proxy the host
// the metadata advertises may differ from the request's.
func (f *fence) endpointExempt(r *http.Request) (bool, error) {
	if f.metadata == nil {
		return false, nil
	}
	md, err := f.metadata(r.Context())
	if err != nil {
		return false, err
	}
	ep := f.endpoints.Load()
	if ep == nil || ep.md != md {
		ep = &endpointPaths{md: md, paths: map[string]bool{}}
		for _, raw := range []string{md.AuthorizationEndpoint, md.TokenEndpoint, md.UserinfoEndpoint,
			md.IntrospectionEndpoint, md.RevocationEndpoint, md.RegistrationEndpoint, md.JWKSURI, md.EndSessionEndpoint} {
			if u, err := url.Parse(raw); err == nil && raw != "" && u.Path != "" {
				ep.paths[u.EscapedPath()] = true
			}
		}
		f.endpoints.Store(ep)
	}
	return ep.paths[r.URL.EscapedPath()], nil
}

// bearerCandidates are the tokens a request carries where an upstream
// might read one: every Authorization header with the Bearer scheme, and
// an access_token query parameter (RFC 6750 §2.3).
func bearerCandidates(r *http.Request) []string {
	var out []string
	for _, h := range r.Header.Values("Authorization") {
		scheme, rest, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") {
			if tok := strings.TrimSpace(rest); tok != "" {
				out = append(out, tok)
			}
		}
	}
	if q := r.URL.RawQuery; q != "" && containsTokenFold(q) {
		if vals, err := url.ParseQuery(q); err == nil {
			for k, vs := range vals {
				if strings.EqualFold(k, "access_token") {
					out = append(out, vs...)
				}
			}
		}
	}
	return out
}

// containsTokenFold reports whether s contains "token" in any case,
// without allocating: most queries carry none, and are not parsed.
func containsTokenFold(s string) bool {
	const word = "token"
	for i := 0; i+len(word) <= len(s); i++ {
		j := 0
		for ; j < len(word); j++ {
			if s[i+j]|0x20 != word[j] {
				break
			}
		}
		if j == len(word) {
			return true
		}
	}
	return false
}

// jwtClaims are the claims the fence reads, unverified.
type jwtClaims struct {
	aud    []string
	sub    string
	client string
}

// unverifiedClaims decodes a compact JWS payload without checking the
// signature. Every top-level "aud" member counts (a duplicate key must not
// hide one), as a string or an array of strings.
func unverifiedClaims(tok string) (jwtClaims, bool) {
	_, rest, _ := strings.Cut(tok, ".")
	seg, _, _ := strings.Cut(rest, ".")
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return jwtClaims{}, false
	}
	// The common payload, one "aud" key and no escapes, decodes in one
	// go; anything else (duplicate or case-variant keys, which
	// encoding/json would fold into one, or escaped key names) member by
	// member.
	if countAudKeys(payload) <= 1 && !bytes.Contains(payload, []byte(`\u`)) {
		return quickClaims(payload)
	}
	return claimsByMember(payload)
}

// countAudKeys counts `"aud"` in any letter case.
func countAudKeys(p []byte) int {
	n := 0
	for i := 0; i+5 <= len(p); i++ {
		if p[i] == '"' && p[i+4] == '"' && p[i+1]|0x20 == 'a' && p[i+2]|0x20 == 'u' && p[i+3]|0x20 == 'd' {
			n++
		}
	}
	return n
}

func quickClaims(payload []byte) (jwtClaims, bool) {
	var raw struct {
		Aud      json.RawMessage `json:"aud"`
		Sub      any             `json:"sub"`
		ClientID any             `json:"client_id"`
		Azp      any             `json:"azp"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return jwtClaims{}, false
	}
	c := jwtClaims{}
	c.sub, _ = raw.Sub.(string)
	if c.client, _ = raw.ClientID.(string); c.client == "" {
		c.client, _ = raw.Azp.(string)
	}
	if len(raw.Aud) > 0 && string(raw.Aud) != "null" {
		aud, ok := audienceValues(raw.Aud)
		if !ok {
			return jwtClaims{}, false
		}
		c.aud = aud
	}
	return c, true
}

func audienceValues(v json.RawMessage) ([]string, bool) {
	var one string
	if json.Unmarshal(v, &one) == nil {
		return []string{one}, true
	}
	var many []string
	if json.Unmarshal(v, &many) == nil {
		return many, true
	}
	return nil, false
}

// claimsByMember reads the payload member by member, so no key hides
// another.
func claimsByMember(payload []byte) (jwtClaims, bool) {
	var c jwtClaims
	dec := json.NewDecoder(bytes.NewReader(payload))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return c, false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return c, false
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return c, false
		}
		switch strings.ToLower(key) {
		case "aud":
			if string(v) == "null" {
				continue
			}
			aud, ok := audienceValues(v)
			if !ok {
				return c, false
			}
			c.aud = append(c.aud, aud...)
		case "sub":
			_ = json.Unmarshal(v, &c.sub)
		case "client_id", "azp":
			if c.client == "" {
				_ = json.Unmarshal(v, &c.client)
			}
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return c, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return c, false // trailing data
	}
	return c, true
}

// auditFenced records a refused request. A JWT's subject and client are
// read from the unverified token and logged as claimed.
func (g *Gateway) auditFenced(r *http.Request, kind string, id tokenverifier.Identity, took time.Duration) {
	c := g.audits.Check(zap.InfoLevel, "mcp token fenced")
	if c == nil {
		return
	}
	sub, client := "subject", "client_id"
	if kind == "jwt" {
		sub, client = "claimed_subject", "claimed_client_id"
	}
	c.Write(
		zap.String(sub, id.Subject),
		zap.String(client, id.ClientID),
		zap.String("token_kind", kind),
		zap.String("method", r.Method),
		zap.String("path", r.URL.Path),
		zap.String("remote", r.RemoteAddr),
		zap.String("decision", "fenced"),
		zap.Duration("duration", took),
	)
}

var (
	fenceOnce    sync.Once
	fenceCounted *prometheus.CounterVec
)

// fenceCounter counts fence outcomes by token kind: "fenced" (refused with
// 401) or "unavailable" (503, the provider could not judge an opaque
// token).
func fenceCounter() *prometheus.CounterVec {
	fenceOnce.Do(func() {
		fenceCounted = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy",
			Subsystem: "mcp_gateway",
			Name:      "fence_total",
			Help:      "Requests outside the MCP endpoint refused by the token fence, by token kind and outcome (fenced, unavailable).",
		}, []string{"kind", "outcome"})
	})
	return fenceCounted
}
