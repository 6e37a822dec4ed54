package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/mcptestserver"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// TestMCPClient: mcp-go's own client works through the gateway in both
// protocol eras, and gets an authorization error without a token.
func TestMCPClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tests := []struct {
		name    string
		version string // pinned; "" is the client default
		want    string // negotiated
		opaque  bool
	}{
		{"legacy jwt", mcp.LATEST_LEGACY_PROTOCOL_VERSION, mcp.LATEST_LEGACY_PROTOCOL_VERSION, false},
		{"legacy opaque", mcp.LATEST_LEGACY_PROTOCOL_VERSION, mcp.LATEST_LEGACY_PROTOCOL_VERSION, true},
		{"modern jwt", "", mcp.LATEST_PROTOCOL_VERSION, false},
		{"modern opaque", "", mcp.LATEST_PROTOCOL_VERSION, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := e.token(t, tc.opaque, "notes:read", "notes:write", "files:read")
			c := newMCPClient(t, e.resource, tok, tc.version)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			init, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{ClientInfo: mcp.Implementation{Name: "e2e", Version: "0"}}})
			if err != nil {
				t.Fatalf("initialize: %v", err)
			}
			if init.ProtocolVersion != tc.want {
				t.Fatalf("negotiated %s, want %s", init.ProtocolVersion, tc.want)
			}
			list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
			if err != nil {
				t.Fatalf("tools/list: %v", err)
			}
			// Every declared tool is allowed to this token; the undeclared
			// one is refused by default and so not listed.
			var names []string
			for _, tool := range list.Tools {
				names = append(names, tool.Name)
			}
			if len(list.Tools) != len(mcptestserver.ToolScopes)-1 || slices.Contains(names, mcptestserver.ToolUndeclared) {
				t.Errorf("tools/list = %v, want the %d declared tools", names, len(mcptestserver.ToolScopes)-1)
			}
			for _, tool := range []string{mcptestserver.ToolEchoRead, mcptestserver.ToolEchoStream} {
				res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: map[string]any{"text": "hi"}}})
				if err != nil {
					t.Fatalf("tools/call %s: %v", tool, err)
				}
				echo, err := mcptestserver.DecodeEcho(res)
				if err != nil {
					t.Fatal(err)
				}
				h := http.Header(echo.Headers)
				if echo.Tool != tool || h.Get("X-Scopegate-Scopes") != "notes:read notes:write files:read" || h.Get("Authorization") != "Bearer "+tok {
					t.Errorf("tools/call %s echo: tool %s, scopes %q, authorization forwarded %v", tool, echo.Tool, h.Get("X-Scopegate-Scopes"), h.Get("Authorization") == "Bearer "+tok)
				}
			}
		})
	}

	t.Run("no token", func(t *testing.T) {
		c := newMCPClient(t, e.resource, "", "")
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_, err := c.Initialize(ctx, mcp.InitializeRequest{})
		var authErr *transport.AuthorizationRequiredError
		if !errors.As(err, &authErr) {
			t.Fatalf("initialize without token: %v (%T), want AuthorizationRequiredError", err, err)
		}
	})
}

func newMCPClient(t *testing.T, endpoint, token, version string) *client.Client {
	t.Helper()
	var trOpts []transport.StreamableHTTPCOption
	if token != "" {
		trOpts = append(trOpts, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	}
	var c *client.Client
	if version == "" {
		// The plain constructor, as an MCP host would use it.
		var err error
		if c, err = client.NewStreamableHttpClient(endpoint, trOpts...); err != nil {
			t.Fatalf("client: %v", err)
		}
	} else {
		// Pinning a version needs a client option, which the plain
		// constructor does not take.
		tr, err := transport.NewStreamableHTTP(endpoint, trOpts...)
		if err != nil {
			t.Fatalf("transport: %v", err)
		}
		c = client.NewClient(tr, client.WithProtocolVersion(version))
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("client start: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// eventually retries f until it reports done, for at most 30 s.
func eventually(t *testing.T, what string, f func() (done bool, last string)) {
	t.Helper()
	var last string
	start := time.Now()
	for i := range 150 {
		var done bool
		if done, last = f(); done {
			t.Logf("%s: after %d attempts, %v", what, i+1, time.Since(start).Round(time.Millisecond))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: gave up; last: %s", what, last)
}

func statusOf(r response) string {
	return fmt.Sprintf("%d %s %s", r.status, r.header.Get("WWW-Authenticate"), r.body)
}

// TestKeyRotation: the provider rotates its signing key while the gateway
// runs. Tokens of the new key are accepted (the gateway refetches the JWKS
// on an unknown kid); tokens of the old key keep working while it is
// published; once the JWKS no longer has the old key and the gateway has
// refetched, the old key's tokens are rejected.
//
// The gateway refetches at most once per refetch interval (10 s) and
// remembers rejections for a while, so each attempt presents a fresh token:
// the test asserts that new-key tokens are accepted once a refetch is
// allowed, not how soon.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	oldKID := e.provider.ActiveKeyID()
	oldTok := e.token(t, false, "notes:read")
	unusedOldTok := e.token(t, false, "notes:read") // first shown after the old key is retired
	if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(oldTok)); r.status != http.StatusOK {
		t.Fatalf("token before rotation: %s", statusOf(r))
	}
	acceptNewKeyTokens := func(what string) string {
		var accepted string
		eventually(t, what, func() (bool, string) {
			tok := e.token(t, false, "notes:read")
			r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
			if r.status == http.StatusOK {
				accepted = tok
				return true, ""
			}
			return false, statusOf(r)
		})
		return accepted
	}

	e.provider.Rotate(t)
	newTok := acceptNewKeyTokens("token of the new key accepted")
	if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(oldTok)); r.status != http.StatusOK {
		t.Errorf("old key still published, its token rejected: %s", statusOf(r))
	}

	e.provider.RetireKey(t, oldKID)
	e.provider.Rotate(t)
	acceptNewKeyTokens("token of the second new key accepted")
	// The gateway's JWKS is now the provider's, without the old key.
	checkInvalidToken(t, e, e.callTool(t, mcptestserver.ToolEchoRead, bearer(unusedOldTok)), unusedOldTok, "key")
	if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(newTok)); r.status != http.StatusOK {
		t.Errorf("token of the still-published key rejected: %s", statusOf(r))
	}
}

// TestProviderOutage: with the provider down, tokens validated before keep
// working from the cache; a new opaque token (which needs introspection) gets
// 503 with Retry-After, never a pass; after the provider returns it works.
func TestProviderOutage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	seenJWT := e.token(t, false, "notes:read")
	seenOpaque := e.token(t, true, "notes:read")
	newOpaque := e.token(t, true, "notes:read")
	newJWT := e.token(t, false, "notes:read")
	for _, tok := range []string{seenJWT, seenOpaque} {
		if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok)); r.status != http.StatusOK {
			t.Fatalf("before the outage: %s", statusOf(r))
		}
	}

	e.provider.Stop()
	for name, tok := range map[string]string{"jwt": seenJWT, "opaque": seenOpaque} {
		if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok)); r.status != http.StatusOK {
			t.Errorf("cached %s token during the outage: %s", name, statusOf(r))
		}
	}
	before := e.upstreamCalls()
	r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(newOpaque))
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("new opaque token during the outage: %s, want 503", statusOf(r))
	}
	if ra := r.header.Get("Retry-After"); ra == "" {
		t.Error("503 without Retry-After")
	} else if n, err := strconv.Atoi(ra); err != nil || n <= 0 {
		t.Errorf("Retry-After %q is not a positive number of seconds", ra)
	}
	if e.upstreamCalls() != before {
		t.Error("a token that could not be validated reached the upstream")
	}
	// A JWT whose key the gateway already holds verifies without the
	// provider; that is validation, not a silent pass.
	if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(newJWT)); r.status != http.StatusOK {
		t.Errorf("new JWT of a known key during the outage: %s, want 200", statusOf(r))
	}

	e.provider.Restart(t)
	eventually(t, "new opaque token accepted after the outage", func() (bool, string) {
		r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(newOpaque))
		return r.status == http.StatusOK, statusOf(r)
	})
}

// TestBogusTokensBoundedMemory: 1,000 random tokens (opaque and JWT-shaped
// with random kids) are all rejected, and Caddy's resident memory grows by
// far less than it would if the gateway kept them.
func TestBogusTokensBoundedMemory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	send := func(n int) {
		for i := range n {
			tok := randomToken(i)
			r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
			if r.status != http.StatusUnauthorized {
				t.Fatalf("bogus token %d: %s, want 401", i, statusOf(r))
			}
		}
	}
	send(200) // warm up connections, caches and the runtime
	before := e.caddy.RSSBytes(t)
	const n = 1000
	send(n)
	after := e.caddy.RSSBytes(t)
	// The tokens are 12-15 KiB each, so a gateway that kept them (or
	// anything proportional to them) would grow by 12 MiB or more; a
	// bounded one grows by about 1-2 MiB of runtime noise here.
	const bound = 8 << 20
	t.Logf("caddy RSS before %d KiB, after %d KiB", before>>10, after>>10)
	if after-before > bound {
		t.Errorf("RSS grew by %d KiB after %d bogus tokens, bound %d KiB", (after-before)>>10, n, bound>>10)
	}
	if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, false, "notes:read"))); r.status != http.StatusOK {
		t.Errorf("valid token after the flood: %s", statusOf(r))
	}
}

// randomToken alternates opaque strings and JWT-shaped tokens with random
// kids, 12-15 KiB long: below the gateway's 16 KiB limit, so they are
// validated (and cached) rather than refused unread.
func randomToken(i int) string {
	b := make([]byte, 9<<10+i%(2<<10))
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	body := base64.RawURLEncoding.EncodeToString(b)
	if i%2 == 0 {
		return body
	}
	kid := make([]byte, 8)
	_, _ = rand.Read(kid)
	header := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"alg":"RS256","typ":"JWT","kid":"%x"}`, kid))
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x","exp":9999999999}`))
	return header + "." + payload + "." + body
}

var validationLine = regexp.MustCompile(`(?m)^caddy_mcp_gateway_token_validations_total\{([^}]*)\} (\S+)$`)

// TestMetrics: the admin /metrics endpoint counts validations by result and
// kind, and has the latency histogram.
func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	valid := e.token(t, false, "notes:read")
	e.callTool(t, mcptestserver.ToolEchoRead, bearer(valid))
	e.callTool(t, mcptestserver.ToolEchoRead, bearer(valid)) // from the cache
	e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, true, "notes:read")))
	e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.provider.BadToken(t, oidctest.Expired, oidctest.MintRequest{Audience: []string{e.resource}})))
	e.callTool(t, mcptestserver.ToolEchoRead, nil)

	text := e.caddy.Metrics(t)
	counts := map[string]float64{}
	for _, m := range validationLine.FindAllStringSubmatch(text, -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("metric value %q: %v", m[2], err)
		}
		for _, label := range strings.Split(m[1], ",") {
			counts[label] += v
		}
	}
	t.Logf("validations by label: %v", counts)
	for label, want := range map[string]float64{
		`result="valid"`:   3,
		`result="invalid"`: 1,
		`result="missing"`: 1,
	} {
		if counts[label] != want {
			t.Errorf("validations with %s = %v, want %v", label, counts[label], want)
		}
	}
	kinds := 0
	for label := range counts {
		if strings.HasPrefix(label, "kind=") {
			kinds++
		}
	}
	if kinds < 2 {
		t.Errorf("validations carry %d kind labels, want JWT and opaque told apart", kinds)
	}
	if !strings.Contains(text, "caddy_mcp_gateway_token_validation_seconds_bucket{") {
		t.Error("no caddy_mcp_gateway_token_validation_seconds histogram")
	}
}

// TestTokensNotLogged: with debug logging on, Caddy's logs never contain a
// token the gateway saw, valid or not.
func TestTokensNotLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	mint := oidctest.MintRequest{Audience: []string{e.resource}}
	toks := []string{
		e.token(t, false, "notes:read"),
		e.token(t, true, "notes:read"),
		e.provider.BadToken(t, oidctest.Expired, mint),
		e.provider.BadToken(t, oidctest.UnknownKey, mint),
		"opaque-" + strings.Repeat("y", 40),
	}
	for _, tok := range toks {
		e.callTool(t, mcptestserver.ToolEchoRead, bearer(tok))
		do(t, newRequest(t, http.MethodGet, e.base+"/mcp?access_token="+tok, "", nil))
	}
	e.caddy.Stop() // flush
	logs := e.caddy.Logs()
	if !strings.Contains(logs, "mcp_gateway") && !strings.Contains(logs, "http.handlers") {
		t.Fatalf("logs look empty; the check would prove nothing:\n%s", logs)
	}
	if strings.Contains(logs, oidctest.ClientSecret) {
		t.Error("the introspection client secret appears in Caddy's logs")
	}
	for i, tok := range toks {
		for _, part := range tokenParts(tok) {
			if strings.Contains(logs, part) {
				t.Errorf("token %d appears in Caddy's logs", i)
				break
			}
		}
	}
}

// TestUnknownKidFloodSparesProvider: a burst of tokens naming random kids,
// sent concurrently, makes the gateway refetch the JWKS only as often as its
// refetch interval (10 s) allows, not once per token.
func TestUnknownKidFloodSparesProvider(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	if r := e.callTool(t, mcptestserver.ToolEchoRead, bearer(e.token(t, false, "notes:read"))); r.status != http.StatusOK {
		t.Fatalf("valid token: %s", statusOf(r))
	}
	before := e.provider.Hits("/keys")
	start := time.Now()
	const workers, perWorker = 20, 25
	var wg sync.WaitGroup
	statuses := make(chan int, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				// Odd indexes are JWT-shaped with a random kid.
				tok := randomToken(2*(w*perWorker+i) + 1)
				statuses <- e.callToolStatus(tok)
			}
		})
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusUnauthorized {
			t.Fatalf("random-kid token answered %d, want 401", s)
		}
	}
	fetches := e.provider.Hits("/keys") - before
	// One refetch per started 10 s interval, plus one for a boundary.
	allowed := int(time.Since(start)/(10*time.Second)) + 2
	t.Logf("%d random-kid tokens caused %d JWKS fetches", workers*perWorker, fetches)
	if fetches > allowed {
		t.Errorf("%d JWKS fetches for %d random-kid tokens, want at most %d", fetches, workers*perWorker, allowed)
	}
}
