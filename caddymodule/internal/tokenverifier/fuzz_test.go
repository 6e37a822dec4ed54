package tokenverifier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"
)

// FuzzIntrospectionAnswer feeds arbitrary introspection answers to the
// parser. Properties: it never panics; whatever it accepts is a single
// JSON object with "active": true, a subject, a token_type (if any) naming
// an access token and an aud (if any) naming an accepted audience when
// it is a URL; every refusal is either a token verdict or unavailability.
func FuzzIntrospectionAnswer(f *testing.F) {
	for _, seed := range []string{
		`{"active":true,"sub":"bob","scope":"notes:read","exp":9999999999}`,
		`{"active":true,"sub":"bob","token_type":"Bearer","aud":"KoXDZzbW"}`,
		`{"active":true,"sub":"bob","token_type":"refresh_token"}`,
		`{"active":true,"sub":"bob","aud":"https://other.example/mcp"}`,
		`{"active":true,"sub":"bob"}{"active":false}`,
		`{"active":false}`,
		`[{"active":true,"sub":"bob"}]`,
		`{"active":true,"sub":"bob","exp":"soon"}`,
		`{"active":true,"active":false,"sub":"bob"}`,
		"{\"active\":true,\"sub\":\"bob\"}\n",
	} {
		f.Add([]byte(seed))
	}
	in := &introspector{cfg: Config{
		Issuer:                 "https://idp.example",
		Audiences:              []string{"https://mcp.example/mcp"},
		ProviderChecksAudience: true,
		Leeway:                 30 * time.Second,
		Now:                    func() time.Time { return time.Unix(1_700_000_000, 0) },
	}}
	f.Fuzz(func(t *testing.T, body []byte) {
		id, err := in.parse(body)
		if err != nil {
			var inv *InvalidTokenError
			if !errors.As(err, &inv) && !errors.Is(err, ErrUnavailable) {
				t.Fatalf("refusal of unknown class: %v", err)
			}
			return
		}
		if id.Subject == "" || id.Kind != KindIntrospection {
			t.Fatalf("accepted without a subject: %+v", id)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			t.Fatalf("accepted an answer that is not a JSON object: %q", body)
		}
		if dec.More() {
			t.Fatalf("accepted data after the object: %q", body)
		}
		if tt, ok := obj["token_type"]; ok && tt != nil {
			if s, _ := tt.(string); !tokenTypeOK(rawJSON(s)) {
				t.Fatalf("accepted token_type %v", tt)
			}
		}
		if aud, ok := obj["aud"].(string); ok && isURL(aud) && aud != "https://mcp.example/mcp" {
			t.Fatalf("accepted aud %q", aud)
		}
	})
}

func rawJSON(s string) *json.RawMessage {
	b, _ := json.Marshal(s)
	r := json.RawMessage(b)
	return &r
}

// FuzzVerifyJWT feeds arbitrary JWT-shaped tokens to a verifier that holds
// the test provider's keys and requires typ at+jwt. Properties: it never
// panics; it accepts only what the provider signed (the seed's identity)
// with the header's own RS256 and typ at+jwt; a refusal is a token verdict
// (the provider is up, so never unavailability).
func FuzzVerifyJWT(f *testing.F) {
	p := newTestProvider(f)
	good := p.signHeader(map[string]any{"alg": "RS256", "kid": "k1", "typ": "at+jwt"}, p.claims(), "k1")
	f.Add(good)
	f.Add(p.signHeader(map[string]any{"alg": "PS256", "kid": "k1", "typ": "at+jwt"}, p.claims(), "k1"))
	f.Add(p.signHeader(map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"}, p.claims(), "k1"))
	f.Add(p.signHeader(map[string]any{"alg": "RS256", "typ": "at+jwt"}, p.claims(), "k1"))
	f.Add(p.signHeader(map[string]any{"alg": "RS256", "kid": "k2", "typ": "at+jwt"}, p.claims(), "k1"))
	f.Add("e30.e30.")
	cfg := p.config()
	cfg.RequireTyp = "at+jwt"
	v, err := New(context.Background(), cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { v.Close() })
	if _, err := v.Verify(context.Background(), good); err != nil {
		f.Fatalf("seed token refused: %v", err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		if !looksLikeJWT(token) {
			return
		}
		id, err := v.jwks.verify(context.Background(), token)
		if err != nil {
			var inv *InvalidTokenError
			if !errors.As(err, &inv) {
				t.Fatalf("refusal that is not a verdict: %v", err)
			}
			return
		}
		if id.Subject != "alice" || id.ClientID != "client-1" {
			t.Fatalf("accepted a token the provider did not sign: %+v", id)
		}
		msg, err := jws.ParseString(token)
		if err != nil {
			t.Fatalf("accepted an unparseable token: %v", err)
		}
		hdr := msg.Signatures()[0].ProtectedHeaders()
		if alg, _ := hdr.Algorithm(); alg.String() != "RS256" {
			t.Fatalf("accepted alg %v", alg)
		}
		if typ, _ := hdr.Type(); !sameMediaType(typ, "at+jwt") {
			t.Fatalf("accepted typ %q", typ)
		}
	})
}
