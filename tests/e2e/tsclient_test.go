package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/mcptestserver"
	"github.com/scopegate/scopegate/internal/oidctest"
)

// The official MCP TypeScript SDK as a test peer: tests/tsclient/client.mjs
// drives @modelcontextprotocol/sdk's StreamableHTTPClientTransport against
// the gateway and prints a JSON summary, which these tests check.
//
// SDK 1.32.2 speaks the legacy protocol era only (its
// SUPPORTED_PROTOCOL_VERSIONS end at 2025-11-25; it has no 2026-07-28
// support, no server/discover), so every test here runs in the legacy era,
// with initialize and a session.

// tsclientSDKVersion is the version tests/tsclient/package.json pins.
const tsclientSDKVersion = "1.32.2"

// tsclientStepHeader tags every request the script sends with its step, so
// the upstream's request log shows which step a forwarded request belonged
// to.
const tsclientStepHeader = "X-Tsclient-Step"

// tsclientSetup returns the script's directory with its dependencies
// installed.
func tsclientSetup(t *testing.T) string {
	return npmPeer{folder: "tsclient", pkg: "@modelcontextprotocol/sdk", version: tsclientSDKVersion, what: "the TypeScript SDK tests"}.setup(t)
}

// tsRun is one run of the script.
type tsRun struct {
	auth  string // static, client_credentials or interactive
	token string
	// clientID, clientSecret, scope and issuer configure client_credentials
	// (clientID also names the interactive client).
	clientID, clientSecret, scope, issuer string
	call                                  []string
	forbidden                             string
}

// tsError is an error as the script reports it: the class name, the
// message and the SDK's numeric code (the HTTP status for
// StreamableHTTPError).
type tsError struct {
	// Step is set on transport errors only.
	Step    string   `json:"step"`
	Name    string   `json:"name"`
	Message string   `json:"message"`
	Code    *int     `json:"code"`
	Cause   *tsError `json:"cause"`
}

func (e *tsError) String() string {
	if e == nil {
		return "<nil>"
	}
	code := "-"
	if e.Code != nil {
		code = fmt.Sprint(*e.Code)
	}
	return fmt.Sprintf("%s(code %s): %s", e.Name, code, e.Message)
}

type tsOutcome struct {
	Tool    string   `json:"tool"`
	OK      bool     `json:"ok"`
	IsError bool     `json:"isError"`
	Text    string   `json:"text"`
	Error   *tsError `json:"error"`
}

type tsExchange struct {
	Step            string   `json:"step"`
	Method          string   `json:"method"`
	URL             string   `json:"url"`
	Auth            bool     `json:"auth"`
	Status          int      `json:"status"`
	WWWAuthenticate string   `json:"wwwAuthenticate"`
	ContentType     string   `json:"contentType"`
	Error           *tsError `json:"error"`
	// Form is a form-encoded request body without its secrets (token
	// requests).
	Form map[string]string `json:"form"`
}

type tsSummary struct {
	SDKVersion      string `json:"sdkVersion"`
	ProtocolVersion string `json:"protocolVersion"`
	SessionID       bool   `json:"sessionId"`
	Connect         struct {
		OK    bool     `json:"ok"`
		Error *tsError `json:"error"`
	} `json:"connect"`
	Tools             []string     `json:"tools"`
	ListError         *tsError     `json:"listError"`
	Calls             []tsOutcome  `json:"calls"`
	Forbidden         *tsOutcome   `json:"forbidden"`
	Close             *tsOutcome   `json:"close"`
	AuthorizationURLs []string     `json:"authorizationUrls"`
	TransportErrors   []tsError    `json:"transportErrors"`
	Wire              []tsExchange `json:"wire"`
}

// exchanges are the recorded exchanges of one step, optionally only those
// to url.
func (s *tsSummary) exchanges(step, url string) []tsExchange {
	var out []tsExchange
	for _, x := range s.Wire {
		if x.Step == step && (url == "" || x.URL == url) {
			out = append(out, x)
		}
	}
	return out
}

// runTSScript runs one of the TypeScript peer's scripts, which prints a JSON
// summary on stdout, and decodes that summary into out. A script that
// fails, or prints no summary, fails the test; the summary is logged when
// the test fails later.
func runTSScript(t *testing.T, cmd *exec.Cmd, out any) {
	t.Helper()
	script := strings.Join(cmd.Args[1:2], "")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("node %s: %s", script, time.Since(start).Round(time.Millisecond))
	if stderr.Len() > 0 {
		t.Logf("%s stderr:\n%s", script, stderr.String())
	}
	if err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s", script, err, stdout.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("decode %s summary: %v\n%s", script, err, stdout.String())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s summary:\n%s", script, stdout.String())
		}
	})
}

// runTSClient runs the script against e and decodes its summary.
func runTSClient(t *testing.T, dir string, e *env, r tsRun) *tsSummary {
	t.Helper()
	if r.forbidden == "" {
		r.forbidden = mcptestserver.ToolEchoWrite
	}
	if r.call == nil {
		r.call = []string{mcptestserver.ToolEchoRead}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "client.mjs", "--url", e.resource, "--auth", r.auth,
		"--call", strings.Join(r.call, ","), "--forbidden", r.forbidden)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"SCOPEGATE_TOKEN="+r.token,
		"SCOPEGATE_CLIENT_ID="+r.clientID,
		"SCOPEGATE_CLIENT_SECRET="+r.clientSecret,
		"SCOPEGATE_SCOPE="+r.scope,
		"SCOPEGATE_ISSUER="+r.issuer,
	)
	var s tsSummary
	runTSScript(t, cmd, &s)
	if s.SDKVersion != tsclientSDKVersion {
		t.Errorf("script ran SDK %q, want %s", s.SDKVersion, tsclientSDKVersion)
	}
	return &s
}

// tsUpstreamSteps counts the requests the MCP server received per script
// step.
func tsUpstreamSteps(e *env) map[string]int {
	steps := map[string]int{}
	for _, r := range e.mcp.Requests() {
		steps[r.Header.Get(tsclientStepHeader)]++
	}
	return steps
}

// checkTSSession checks a run that connected with a notes:read token: the
// legacy era, the filtered list, the allowed calls echoing the subject the
// gateway set, the session's DELETE, and that nothing of the forbidden step
// reached the upstream.
func checkTSSession(t *testing.T, e *env, s *tsSummary, subject string) {
	t.Helper()
	if !s.Connect.OK {
		t.Fatalf("connect failed: %s", s.Connect.Error)
	}
	if s.ProtocolVersion != "2025-11-25" || !s.SessionID {
		t.Errorf("protocol %q, session %v; want the legacy era 2025-11-25 with a session", s.ProtocolVersion, s.SessionID)
	}
	if want := []string{mcptestserver.ToolEchoRead, mcptestserver.ToolEchoStream}; !slices.Equal(s.Tools, want) {
		t.Errorf("tools/list showed %v (list error %s), want exactly %v for notes:read", s.Tools, s.ListError, want)
	}
	if len(s.Calls) == 0 {
		t.Fatal("no allowed call in the summary")
	}
	for _, c := range s.Calls {
		if !c.OK {
			t.Errorf("call %s failed: %s (isError %v, text %q)", c.Tool, c.Error, c.IsError, c.Text)
			continue
		}
		var echo mcptestserver.Echo
		if err := json.Unmarshal([]byte(c.Text), &echo); err != nil {
			t.Errorf("call %s: result text %q is not an echo: %v", c.Tool, c.Text, err)
			continue
		}
		if echo.Tool != c.Tool {
			t.Errorf("call %s answered by %q", c.Tool, echo.Tool)
		}
		if got := echo.Headers["X-Scopegate-Subject"]; !slices.Equal(got, []string{subject}) {
			t.Errorf("call %s: upstream saw X-Scopegate-Subject %q, want [%s]", c.Tool, got, subject)
		}
		if got := echo.Headers[tsclientStepHeader]; !slices.Equal(got, []string{"call:" + c.Tool}) {
			t.Errorf("call %s: upstream saw %s %q; the step tag did not pass the gateway", c.Tool, tsclientStepHeader, got)
		}
	}
	var listen bool
	for _, x := range s.exchanges("connect", e.resource) {
		listen = listen || (x.Method == "GET" && x.Status == 200 && strings.HasPrefix(x.ContentType, "text/event-stream"))
	}
	if !listen {
		t.Errorf("the SDK's GET listen stream was not opened through the gateway")
	}
	if s.Close == nil || !s.Close.OK {
		t.Errorf("DELETE of the session failed: %+v", s.Close)
	}
	steps := tsUpstreamSteps(e)
	t.Logf("upstream requests per script step: %v", steps)
	if n := steps["forbidden"]; n != 0 {
		t.Errorf("%d requests of the forbidden step reached the upstream, want 0", n)
	}
	for _, c := range s.Calls {
		if steps["call:"+c.Tool] == 0 {
			t.Errorf("the upstream log has no request of step call:%s; the forbidden-step check proves nothing", c.Tool)
		}
	}
	for _, r := range e.mcp.Requests() {
		if r.Header.Get("Mcp-Name") == mcptestserver.ToolEchoWrite {
			t.Errorf("upstream received a request naming echo_write: %s %s", r.Method, r.Path)
		}
	}
	for _, x := range s.TransportErrors {
		t.Logf("transport error reported to Client.onerror in step %s: %s", x.Step, x.String())
	}
}

// checkTSStepUp checks one 403 insufficient_scope exchange for echo_write.
func checkTSStepUp(t *testing.T, e *env, x tsExchange) {
	t.Helper()
	if x.Method != "POST" || x.Status != 403 {
		t.Errorf("forbidden call: %s → %d, want POST → 403", x.Method, x.Status)
		return
	}
	ch := parseChallenge(t, x.WWWAuthenticate)
	if ch["error"] != "insufficient_scope" || !slices.Contains(strings.Fields(ch["scope"]), "notes:write") ||
		ch["resource_metadata"] != e.base+"/.well-known/oauth-protected-resource/mcp" {
		t.Errorf("forbidden call challenge %q: want error=insufficient_scope, a scope with notes:write and the resource metadata URL", x.WWWAuthenticate)
	}
}

// TestTSClientStaticBearer: the SDK with a static Authorization header (no
// authProvider), as a host configured with a pasted token runs it, and a
// notes:read token, JWT and opaque. The SDK sees only the notes:read tools,
// its echo_read call reaches the upstream with the gateway's identity
// header, and echo_write fails with the HTTP 403 as a StreamableHTTPError.
// Without an authProvider the SDK does not retry.
//
// echo_stream is listed but not called: the SDK always opens the GET listen
// stream of a legacy session, and mcp-go v1.2.1 hands a session's
// notifications to whichever of the GET stream and the POST's forwarder
// reads the channel first; when the GET stream wins, mcptestserver's
// streamHandler waits in vain for its progress event on the POST and fails
// after 5s. That happens without the gateway too.
func TestTSClientStaticBearer(t *testing.T) {
	t.Parallel()
	dir := tsclientSetup(t)
	for _, opaque := range []bool{false, true} {
		name, clientID := "jwt", oidctest.JWTClientID
		if opaque {
			name, clientID = "opaque", oidctest.OpaqueClientID
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			s := runTSClient(t, dir, e, tsRun{auth: "static", token: e.token(t, opaque, "notes:read")})
			checkTSSession(t, e, s, "sub-"+clientID)

			f := s.Forbidden
			if f == nil || f.OK || f.Error == nil {
				t.Fatalf("echo_write: %+v, want an error", f)
			}
			t.Logf("SDK error for echo_write: %s", f.Error)
			if f.Error.Name != "StreamableHTTPError" || f.Error.Code == nil || *f.Error.Code != 403 {
				t.Errorf("echo_write error %s, want StreamableHTTPError with code 403", f.Error)
			}
			xs := s.exchanges("forbidden", e.resource)
			if len(xs) != 1 {
				t.Fatalf("forbidden step sent %d requests, want 1 (no retry without an authProvider): %+v", len(xs), xs)
			}
			checkTSStepUp(t, e, xs[0])
		})
	}
}

// TestTSClientNoToken: without a token the SDK's initialize fails with the
// HTTP 401 as a StreamableHTTPError; nothing reaches the upstream.
func TestTSClientNoToken(t *testing.T) {
	t.Parallel()
	dir := tsclientSetup(t)
	e := newEnv(t, envOptions{})
	s := runTSClient(t, dir, e, tsRun{auth: "static"})
	if s.Connect.OK {
		t.Fatal("connect without a token succeeded")
	}
	err := s.Connect.Error
	t.Logf("SDK error without a token: %s", err)
	if err.Name != "StreamableHTTPError" || err.Code == nil || *err.Code != 401 {
		t.Errorf("connect error %s, want StreamableHTTPError with code 401", err)
	}
	xs := s.exchanges("connect", e.resource)
	if len(xs) != 1 || xs[0].Status != 401 {
		t.Fatalf("connect exchanges %+v, want one 401", xs)
	}
	ch := parseChallenge(t, xs[0].WWWAuthenticate)
	if ch["resource_metadata"] != e.base+"/.well-known/oauth-protected-resource/mcp" {
		t.Errorf("401 challenge %q lacks the resource metadata URL", xs[0].WWWAuthenticate)
	}
	if strings.Contains(err.Message, "oauth-protected-resource") {
		t.Logf("the SDK's error message names the resource metadata")
	} else {
		t.Logf("the SDK's error message does not surface the challenge (it carries only the status and the body)")
	}
	if n := e.upstreamCalls(); n != 0 {
		t.Errorf("upstream saw %d requests, want 0", n)
	}
}

// TestTSClientClientCredentials: the SDK's own OAuth machinery. With
// ClientCredentialsProvider it starts without a token, follows the 401
// challenge's resource_metadata to the provider, gets a notes:read token
// for the resource (RFC 8707) and connects. On echo_write's 403
// insufficient_scope it fetches a new token and resends once; the new
// token has the same scope (the SDK's client_credentials path asks for the
// configured scope, not the challenged one), the second 403 ends the call,
// and neither attempt reaches the upstream.
func TestTSClientClientCredentials(t *testing.T) {
	t.Parallel()
	dir := tsclientSetup(t)
	e := newEnv(t, envOptions{})
	s := runTSClient(t, dir, e, tsRun{
		auth:         "client_credentials",
		clientID:     oidctest.JWTClientID,
		clientSecret: oidctest.ClientSecret,
		scope:        "notes:read",
		issuer:       e.provider.Issuer(),
		call:         []string{mcptestserver.ToolEchoRead},
	})
	checkTSSession(t, e, s, "sub-"+oidctest.JWTClientID)

	// Discovery: the first POST has no token and gets the 401; the SDK then
	// reads the resource metadata the challenge names and asks the provider.
	prm := e.base + "/.well-known/oauth-protected-resource/mcp"
	connect := s.exchanges("connect", "")
	if len(connect) < 4 || connect[0].URL != e.resource || connect[0].Auth || connect[0].Status != 401 {
		t.Fatalf("connect began %+v, want an unauthenticated POST answered 401", connect)
	}
	var sawPRM bool
	for _, x := range connect {
		sawPRM = sawPRM || (x.URL == prm && x.Status == 200)
	}
	if !sawPRM {
		t.Errorf("connect: the SDK did not fetch the resource metadata %s", prm)
	}
	// Token requests: client_credentials for notes:read with the resource
	// indicator, once to connect and once after the 403. The SDK's
	// client_credentials path asks for the provider's configured scope
	// again, not the challenged one.
	var tokenSteps []string
	for _, x := range s.Wire {
		if x.URL != e.provider.TokenEndpoint() {
			continue
		}
		tokenSteps = append(tokenSteps, x.Step)
		if x.Method != "POST" || x.Status != 200 || x.Form["grant_type"] != "client_credentials" ||
			x.Form["scope"] != "notes:read" || x.Form["resource"] != e.resource {
			t.Errorf("token request in step %s: %s → %d, form %v; want client_credentials for notes:read and resource %s",
				x.Step, x.Method, x.Status, x.Form, e.resource)
		}
	}
	if !slices.Equal(tokenSteps, []string{"connect", "forbidden"}) {
		t.Errorf("token requests in steps %v, want [connect forbidden]", tokenSteps)
	}

	f := s.Forbidden
	if f == nil || f.OK || f.Error == nil {
		t.Fatalf("echo_write: %+v, want an error", f)
	}
	t.Logf("SDK error for echo_write: %s", f.Error)
	if f.Error.Name != "StreamableHTTPError" || f.Error.Code == nil || *f.Error.Code != 403 ||
		!strings.Contains(f.Error.Message, "upscoping") {
		t.Errorf("echo_write error %s, want StreamableHTTPError 403 after trying upscoping", f.Error)
	}
	xs := s.exchanges("forbidden", e.resource)
	if len(xs) != 2 {
		t.Fatalf("forbidden step sent %d MCP requests, want 2 (one retry after a new token): %+v", len(xs), xs)
	}
	for _, x := range xs {
		checkTSStepUp(t, e, x)
	}
}

// TestTSClientInteractiveStepUp: with an authorization-code provider that
// already holds a notes:read token, echo_write's 403 sends the SDK to the
// authorization endpoint with the challenged scope and the resource; the
// call fails with UnauthorizedError and nothing reaches the upstream. Without a
// token, the 401 challenge does the same with the scopes_supported scope.
func TestTSClientInteractiveStepUp(t *testing.T) {
	t.Parallel()
	dir := tsclientSetup(t)

	t.Run("step-up", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{})
		s := runTSClient(t, dir, e, tsRun{auth: "interactive", token: e.token(t, false, "notes:read")})
		checkTSSession(t, e, s, "sub-"+oidctest.JWTClientID)
		f := s.Forbidden
		if f == nil || f.OK || f.Error == nil {
			t.Fatalf("echo_write: %+v, want an error", f)
		}
		t.Logf("SDK error for echo_write: %s", f.Error)
		if f.Error.Name != "UnauthorizedError" {
			t.Errorf("echo_write error %s, want UnauthorizedError (authorization redirect)", f.Error)
		}
		xs := s.exchanges("forbidden", e.resource)
		if len(xs) != 1 {
			t.Fatalf("forbidden step sent %d MCP requests, want 1: %+v", len(xs), xs)
		}
		checkTSStepUp(t, e, xs[0])
		challenged := parseChallenge(t, xs[0].WWWAuthenticate)["scope"]
		checkTSAuthorizationURL(t, e, s, challenged)
	})

	t.Run("no token", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{})
		s := runTSClient(t, dir, e, tsRun{auth: "interactive"})
		if s.Connect.OK {
			t.Fatal("connect without a token succeeded")
		}
		t.Logf("SDK error without a token: %s", s.Connect.Error)
		if s.Connect.Error.Name != "UnauthorizedError" {
			t.Errorf("connect error %s, want UnauthorizedError (authorization redirect)", s.Connect.Error)
		}
		var sawPRM bool
		for _, x := range s.exchanges("connect", "") {
			sawPRM = sawPRM || (x.URL == e.base+"/.well-known/oauth-protected-resource/mcp" && x.Status == 200)
		}
		if !sawPRM {
			t.Errorf("the SDK did not fetch the resource metadata named by the 401 challenge")
		}
		checkTSAuthorizationURL(t, e, s, scopesSupported)
		if n := e.upstreamCalls(); n != 0 {
			t.Errorf("upstream saw %d requests, want 0", n)
		}
	})
}

// checkTSAuthorizationURL checks the one authorization URL the SDK would
// have opened: PKCE, the resource indicator and exactly the scope given.
func checkTSAuthorizationURL(t *testing.T, e *env, s *tsSummary, scope string) {
	t.Helper()
	if len(s.AuthorizationURLs) != 1 {
		t.Fatalf("SDK opened %d authorization URLs %q, want 1", len(s.AuthorizationURLs), s.AuthorizationURLs)
	}
	u, err := url.Parse(s.AuthorizationURLs[0])
	if err != nil {
		t.Fatalf("authorization URL %q: %v", s.AuthorizationURLs[0], err)
	}
	t.Logf("authorization URL: %s", u)
	q := u.Query()
	if !strings.HasPrefix(u.String(), e.provider.Issuer()+"/") {
		t.Errorf("authorization URL %s is not at the provider %s", u, e.provider.Issuer())
	}
	if q.Get("scope") != scope {
		t.Errorf("authorization scope %q, want the challenged %q", q.Get("scope"), scope)
	}
	if q.Get("resource") != e.resource {
		t.Errorf("authorization resource %q, want %q", q.Get("resource"), e.resource)
	}
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		t.Errorf("authorization URL %s lacks response_type=code with S256 PKCE", u)
	}
}
