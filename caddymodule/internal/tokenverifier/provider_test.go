package tokenverifier

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// testProvider is a minimal authorization server for unit tests: metadata,
// a JWKS it can rotate, and an introspection endpoint backed by a map. The
// end-to-end tests use a real OpenID provider instead.
type testProvider struct {
	t   testing.TB
	srv *httptest.Server

	mu      sync.Mutex
	keys    []jwk.Key // private keys; public halves are published
	opaque  map[string]map[string]any
	down    bool
	clientS string

	jwksFetches   atomic.Int64
	introspecting atomic.Int64
	discoveries   atomic.Int64

	// jwksGate, when set, holds every JWKS answer until it is closed, so
	// tests can pile requests onto a fetch in flight. jwksStatus, when
	// not zero, is the status of the JWKS answer (a failing provider).
	jwksGate   chan struct{}
	jwksStatus int
	// introDelay slows every introspection answer; introNow and introMax
	// count concurrent introspection calls.
	introDelay time.Duration
	introNow   atomic.Int64
	introMax   atomic.Int64
	// introRaw, when set, is written as the introspection answer body
	// instead of the JSON of the token's claims.
	introRaw map[string]string
}

func newTestProvider(t testing.TB) *testProvider {
	t.Helper()
	p := &testProvider{t: t, opaque: map[string]map[string]any{}, clientS: "gw-secret"}
	p.addKey("k1")
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		if p.isDown(w) {
			return
		}
		p.discoveries.Add(1)
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                 p.srv.URL,
			"jwks_uri":               p.srv.URL + "/jwks",
			"introspection_endpoint": p.srv.URL + "/introspect",
			"userinfo_endpoint":      p.srv.URL + "/userinfo",
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		if p.isDown(w) {
			return
		}
		p.jwksFetches.Add(1)
		p.mu.Lock()
		gate, status := p.jwksGate, p.jwksStatus
		p.mu.Unlock()
		if gate != nil {
			<-gate
		}
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		p.mu.Lock()
		set := jwk.NewSet()
		for _, k := range p.keys {
			pub, err := k.PublicKey()
			if err != nil {
				t.Error(err)
			}
			set.AddKey(pub)
		}
		p.mu.Unlock()
		json.NewEncoder(w).Encode(set)
	})
	mux.HandleFunc("/introspect", func(w http.ResponseWriter, r *http.Request) {
		if p.isDown(w) {
			return
		}
		p.introspecting.Add(1)
		n := p.introNow.Add(1)
		defer p.introNow.Add(-1)
		for {
			m := p.introMax.Load()
			if n <= m || p.introMax.CompareAndSwap(m, n) {
				break
			}
		}
		p.mu.Lock()
		delay := p.introDelay
		p.mu.Unlock()
		time.Sleep(delay)
		id, secret, ok := r.BasicAuth()
		if !ok || id != "gateway" || secret != p.clientS {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.ParseForm()
		p.mu.Lock()
		claims, found := p.opaque[r.PostForm.Get("token")]
		raw, isRaw := p.introRaw[r.PostForm.Get("token")]
		p.mu.Unlock()
		if isRaw {
			w.Write([]byte(raw))
			return
		}
		if !found {
			claims = map[string]any{"active": false}
		}
		json.NewEncoder(w).Encode(claims)
	})
	mux.HandleFunc("/userinfo", func(w http.ResponseWriter, r *http.Request) {
		if p.isDown(w) {
			return
		}
		p.mu.Lock()
		_, found := p.opaque[r.Header.Get("Authorization")[len("Bearer "):]]
		p.mu.Unlock()
		if !found {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"sub": "user-opaque"})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *testProvider) isDown(w http.ResponseWriter) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	}
	return false
}

func (p *testProvider) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

func (p *testProvider) addKey(kid string) jwk.Key {
	raw, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		p.t.Fatal(err)
	}
	k, err := jwk.Import(raw)
	if err != nil {
		p.t.Fatal(err)
	}
	k.Set(jwk.KeyIDKey, kid)
	p.mu.Lock()
	p.keys = append(p.keys, k)
	p.mu.Unlock()
	return k
}

func (p *testProvider) key(kid string) jwk.Key {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range p.keys {
		if id, _ := k.KeyID(); id == kid {
			return k
		}
	}
	p.t.Fatalf("no key %s", kid)
	return nil
}

// claims returns a valid claim set for the default test config.
func (p *testProvider) claims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss":       p.srv.URL,
		"sub":       "alice",
		"aud":       "https://mcp.example/mcp",
		"exp":       now.Add(time.Hour).Unix(),
		"iat":       now.Unix(),
		"client_id": "client-1",
		"scope":     "notes:read files:read",
	}
}

// sign makes a JWT with the given claims and the key kid, RS256.
func (p *testProvider) sign(claims map[string]any, kid string) string {
	p.t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			p.t.Fatal(err)
		}
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), p.key(kid)))
	if err != nil {
		p.t.Fatal(err)
	}
	return string(signed)
}

// holdJWKS makes JWKS answers wait until the returned function is called.
func (p *testProvider) holdJWKS() (release func()) {
	gate := make(chan struct{})
	p.mu.Lock()
	p.jwksGate = gate
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			p.jwksGate = nil
			p.mu.Unlock()
			close(gate)
		})
	}
}

func (p *testProvider) setJWKSStatus(status int) {
	p.mu.Lock()
	p.jwksStatus = status
	p.mu.Unlock()
}

func (p *testProvider) setIntrospectionDelay(d time.Duration) {
	p.mu.Lock()
	p.introDelay = d
	p.mu.Unlock()
}

// addRawIntrospection makes the provider answer the introspection of
// token with body, verbatim.
func (p *testProvider) addRawIntrospection(token, body string) {
	p.mu.Lock()
	if p.introRaw == nil {
		p.introRaw = map[string]string{}
	}
	p.introRaw[token] = body
	p.mu.Unlock()
}

func (p *testProvider) addOpaque(token string, claims map[string]any) {
	p.mu.Lock()
	p.opaque[token] = claims
	p.mu.Unlock()
}

func (p *testProvider) config() Config {
	return Config{
		Issuer:              p.srv.URL,
		Audiences:           []string{"https://mcp.example/mcp"},
		ClientID:            "gateway",
		ClientSecret:        p.clientS,
		JWKSRefetchInterval: time.Hour,
	}
}

// foreignECKey is a key the provider never published.
func foreignECKey(t *testing.T, kid string) jwk.Key {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	k.Set(jwk.KeyIDKey, kid)
	return k
}
