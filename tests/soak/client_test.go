package soak

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/scopegate/scopegate/internal/oidctest"
)

// requestTimeout bounds one request (a stream: until its first event).
// Generous: the machine is shared and the soak saturates it on purpose.
const requestTimeout = 60 * time.Second

// client is one simulated MCP client: its own subject, one protocol era,
// a base token with least privilege, and a loop of weighted operations.
type client struct {
	w      *world
	id     int
	rng    *mrand.Rand
	legacy bool
	// opaqueClient is the provider client whose opaque tokens this client
	// uses; "" for JWTs minted for subject.
	opaqueClient string
	subject      string
	scopes       []string // the base token's
	tok          string
	sid          string // legacy session, "" before initialize
	opsLeft      int    // operations before the legacy session ends
	seq          int
}

// An operation and its weight in the mix.
type operation struct {
	name   string
	weight int
	run    func(c *client, stop context.Context)
}

var operations = []operation{
	{"call", 30, (*client).callAllowed},
	{"call_stream", 8, (*client).callStream},
	{"call_denied", 10, (*client).callDenied},
	{"stepup", 8, (*client).stepUp},
	{"list", 12, (*client).list},
	{"listen", 6, (*client).listen},
	{"listen_denied", 3, (*client).listenDenied},
	{"subscribe", 3, (*client).subscribe}, // legacy only; modern clients list instead
	{"expired", 5, (*client).expired},
	{"random_token", 5, (*client).randomToken},
}

var totalWeight = func() int {
	n := 0
	for _, o := range operations {
		n += o.weight
	}
	return n
}()

// run performs operations until stop, then ends its session.
func (c *client) run(stop context.Context, think time.Duration) {
	for stop.Err() == nil {
		if c.legacy && c.sid == "" {
			if !c.initialize() {
				sleep(stop, time.Second)
				continue
			}
		}
		n := c.rng.IntN(totalWeight)
		for _, o := range operations {
			if n < o.weight {
				o.run(c, stop)
				break
			}
			n -= o.weight
		}
		if c.legacy {
			c.opsLeft--
			if c.opsLeft <= 0 {
				c.endSession()
			}
		}
		sleep(stop, time.Duration(c.rng.Int64N(int64(2*think)+1)))
	}
	if c.sid != "" {
		c.endSession()
	}
}

func sleep(stop context.Context, d time.Duration) {
	select {
	case <-stop.Done():
	case <-time.After(d):
	}
}

// nextTag is a tag unique in the run.
func (c *client) nextTag() string {
	c.seq++
	return fmt.Sprintf("c%d-%d", c.id, c.seq)
}

// has reports whether the base token holds every scope.
func has(held []string, need []string) bool {
	for _, s := range need {
		if !slices.Contains(held, s) {
			return false
		}
	}
	return true
}

// allowedTools are the tools scopes may call, sorted.
func allowedTools(scopes []string) []string {
	var out []string
	for name, need := range toolScopes {
		if has(scopes, need) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// deniedTool picks a tool the base token may not call.
func (c *client) deniedTool() string {
	var out []string
	for name, need := range toolScopes {
		if !has(c.scopes, need) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out[c.rng.IntN(len(out))]
}

// token mints (or, for an opaque client, requests) a token with scopes.
func (c *client) token(scopes []string) (string, error) {
	if c.opaqueClient != "" {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		tr, err := c.w.provider.RequestToken(ctx, oidctest.TokenRequest{ClientID: c.opaqueClient, Scopes: scopes, Audience: []string{c.w.resource}})
		if err != nil {
			return "", err
		}
		return tr.AccessToken, nil
	}
	return c.w.provider.MintJWT(c.w.tb, oidctest.MintRequest{Subject: c.subject, Audience: []string{c.w.resource}, Scopes: scopes,
		ExpiresAt: time.Now().Add(c.w.tokenTTL)}), nil
}

// answer is a fully read response and the JSON-RPC message answering the
// request in it (from a JSON body or an event stream).
type answer struct {
	status int
	header http.Header
	body   []byte
	sse    bool
	rpc    struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
}

// toolText is the first text content of a tools/call result.
func (a answer) toolText() string {
	var r struct {
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
		IsError bool `json:"isError"`
	}
	if json.Unmarshal(a.rpc.Result, &r) != nil || len(r.Content) == 0 || r.IsError {
		return ""
	}
	return r.Content[0].Text
}

// message builds a request body of this client's era; id 0 makes a
// notification.
func (c *client) message(id int, method string, params map[string]any) []byte {
	if params == nil {
		params = map[string]any{}
	}
	if !c.legacy {
		params["_meta"] = map[string]any{
			mcp.MetaKeyProtocolVersion:    mcp.ProtocolVersion20260728,
			mcp.MetaKeyClientInfo:         map[string]any{"name": "scopegate-soak", "version": "0"},
			mcp.MetaKeyClientCapabilities: map[string]any{},
		}
	}
	msg := map[string]any{"jsonrpc": "2.0", "method": method, "params": params}
	if id != 0 {
		msg["id"] = id
	}
	b, err := json.Marshal(msg)
	if err != nil {
		panic(err)
	}
	return b
}

// newRequest is a POST of body (or a GET when body is nil) with tok and
// this client's era headers.
func (c *client) newRequest(ctx context.Context, tok string, body []byte, method, name string) *http.Request {
	httpMethod := http.MethodPost
	if body == nil {
		httpMethod = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, httpMethod, c.w.resource, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	if body == nil {
		req.Body, req.ContentLength = nil, 0
		req.Header.Set("Accept", "text/event-stream")
	} else {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if c.legacy {
		req.Header.Set(mcp.HeaderProtocolVersion, mcp.LATEST_LEGACY_PROTOCOL_VERSION)
		if c.sid != "" {
			req.Header.Set("Mcp-Session-Id", c.sid)
		}
	} else {
		req.Header.Set(mcp.HeaderProtocolVersion, mcp.ProtocolVersion20260728)
		req.Header.Set(mcp.HeaderMethod, method)
		if name != "" {
			req.Header.Set(mcp.HeaderName, name)
		}
	}
	return req
}

// do sends a request, reads the whole answer and records it under kind.
// A transport error is status 0.
func (c *client) do(kind string, tok string, body []byte, method, name string) answer {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	start := time.Now()
	var a answer
	resp, err := c.w.http.Do(c.newRequest(ctx, tok, body, method, name))
	if err != nil {
		c.w.led.answer(kind, 0, time.Since(start))
		c.w.led.fail("%s %s (client %d): %v", kind, method, c.id, err)
		return a
	}
	defer resp.Body.Close()
	a.status, a.header = resp.StatusCode, resp.Header
	a.body, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	c.w.led.answer(kind, a.status, time.Since(start))
	if err != nil {
		c.w.led.fail("%s %s (client %d): read answer: %v", kind, method, c.id, err)
		a.status = 0
		return a
	}
	a.sse = strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	data := a.body
	if a.sse {
		data = nil
		for _, ev := range sseData(a.body) {
			if bytes.Contains(ev, []byte(`"result"`)) || bytes.Contains(ev, []byte(`"error"`)) {
				data = ev
			}
		}
	}
	if len(data) > 0 {
		_ = json.Unmarshal(data, &a.rpc)
	}
	return a
}

// sseData returns the data of each event of an event-stream body.
func sseData(body []byte) [][]byte {
	var out [][]byte
	var cur []byte
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if cur != nil {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		if d, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			cur = append(cur, bytes.TrimPrefix(d, []byte(" "))...)
		}
	}
	if cur != nil {
		out = append(out, cur)
	}
	return out
}

// call sends a tagged tools/call and returns the tag and the answer.
func (c *client) call(kind, tok, tool string) (string, answer) {
	tag := c.nextTag()
	c.w.led.send(tag)
	return tag, c.do(kind, tok, c.message(c.seq, "tools/call", map[string]any{"name": tool, "arguments": map[string]any{"tag": tag}}), "tools/call", tool)
}

// expectResult settles a call that must have succeeded.
func (c *client) expectResult(kind, tag, tool string, a answer) bool {
	if a.status == http.StatusOK && a.toolText() == "DONE "+tool+" "+tag {
		c.w.led.settle(tag, mustArrive)
		return true
	}
	if a.status != 0 {
		c.w.led.fail("%s %s (client %d, legacy %v): %d %.300s, want 200 with its result", kind, tool, c.id, c.legacy, a.status, a.body)
	}
	return false
}

// expectRefusal settles a request that must have been refused with status
// and its challenge: insufficient_scope naming want for 403, invalid_token
// for 401.
func (c *client) expectRefusal(kind, tag string, status int, want string, a answer) bool {
	ok := a.status == status
	h := a.header.Get("WWW-Authenticate")
	switch {
	case ok && status == http.StatusForbidden:
		ok = strings.Contains(h, `error="insufficient_scope"`) && strings.Contains(h, want)
	case ok && status == http.StatusUnauthorized:
		ok = strings.HasPrefix(h, "Bearer ") && strings.Contains(h, `error="invalid_token"`)
	}
	if ok {
		c.w.led.settle(tag, mustNotArrive)
		return true
	}
	if a.status != 0 {
		c.w.led.fail("%s (client %d, legacy %v): %d %q %.300s, want %d", kind, c.id, c.legacy, a.status, a.header.Get("WWW-Authenticate"), a.body, status)
	}
	return false
}

func (c *client) callAllowed(context.Context) {
	tools := allowedTools(c.scopes)
	tools = slices.DeleteFunc(tools, func(s string) bool { return s == toolStream })
	tool := tools[c.rng.IntN(len(tools))]
	tag, a := c.call("call", c.tok, tool)
	c.expectResult("call", tag, tool, a)
}

func (c *client) callStream(context.Context) {
	tag, a := c.call("call_stream", c.tok, toolStream)
	c.expectResult("call_stream", tag, toolStream, a)
}

func (c *client) callDenied(context.Context) {
	tool := c.deniedTool()
	tag, a := c.call("call_denied", c.tok, tool)
	c.expectRefusal("call_denied", tag, http.StatusForbidden, toolScopes[tool][0], a)
}

// stepUp: a call the base token may not make gets 403; the client gets a
// token with the challenge's scope and retries under a new tag, which must
// arrive once. The base token stays, so the next step-up happens again.
func (c *client) stepUp(context.Context) {
	tool := c.deniedTool()
	tag, a := c.call("stepup_denied", c.tok, tool)
	if !c.expectRefusal("stepup_denied", tag, http.StatusForbidden, toolScopes[tool][0], a) {
		return
	}
	scope, ok := challengeScope(a.header.Get("WWW-Authenticate"))
	if !ok || !has(scope, toolScopes[tool]) || !has(scope, c.scopes) {
		c.w.led.fail("stepup (client %d): challenge %q, want the tool's and the held scopes", c.id, a.header.Get("WWW-Authenticate"))
		return
	}
	tok, err := c.token(scope)
	if err != nil {
		c.w.led.fail("stepup (client %d): token: %v", c.id, err)
		return
	}
	tag, a = c.call("stepup_retry", tok, tool)
	c.expectResult("stepup_retry", tag, tool, a)
}

// challengeScope reads scope="…" of a WWW-Authenticate challenge.
func challengeScope(h string) ([]string, bool) {
	_, rest, ok := strings.Cut(h, `scope="`)
	if !ok {
		return nil, false
	}
	v, _, ok := strings.Cut(rest, `"`)
	return strings.Fields(v), ok
}

// list: tools/list shows exactly the tools the base token may call.
func (c *client) list(context.Context) {
	c.seq++
	a := c.do("list", c.tok, c.message(c.seq, "tools/list", nil), "tools/list", "")
	var r struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	var names []string
	if a.status == http.StatusOK && json.Unmarshal(a.rpc.Result, &r) == nil {
		for _, t := range r.Tools {
			names = append(names, t.Name)
		}
		slices.Sort(names)
	}
	if want := allowedTools(c.scopes); a.status != 0 && (a.status != http.StatusOK || !slices.Equal(names, want)) {
		c.w.led.fail("list (client %d, legacy %v): %d %v, want 200 %v; %.300s", c.id, c.legacy, a.status, names, want, a.body)
	}
}

// listen holds a listening stream open for a while: 2026-07-28
// subscriptions/listen for a readable resource (tagged: it must arrive
// once, and its acknowledgement must come through), or the legacy GET
// stream of the session.
func (c *client) listen(stop context.Context) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var req *http.Request
	tag := ""
	if c.legacy {
		req = c.newRequest(ctx, c.tok, nil, "", "")
	} else {
		tag = c.nextTag()
		c.w.led.send(tag)
		req = c.newRequest(ctx, c.tok, c.message(c.seq, "subscriptions/listen",
			map[string]any{"notifications": map[string]any{"resourceSubscriptions": []string{publicPrefix + tag}}}), "subscriptions/listen", "")
	}
	start := time.Now()
	resp, err := c.w.http.Do(req)
	if err != nil {
		c.w.led.answer("listen", 0, time.Since(start))
		c.w.led.fail("listen (client %d, legacy %v): %v", c.id, c.legacy, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		c.w.led.answer("listen", resp.StatusCode, time.Since(start))
		c.w.led.fail("listen (client %d, legacy %v): %d %q %.300s, want an event stream", c.id, c.legacy, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		return
	}
	if !c.legacy {
		// The acknowledgement is the stream's first message.
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadString('\n')
			if strings.HasPrefix(line, "data:") && strings.Contains(line, "notifications/subscriptions/acknowledged") && strings.Contains(line, publicPrefix+tag) {
				break
			}
			if err != nil {
				c.w.led.answer("listen", resp.StatusCode, time.Since(start))
				c.w.led.fail("listen (client %d): stream ended without its acknowledgement: %v", c.id, err)
				return
			}
		}
		c.w.led.settle(tag, mustArrive)
	}
	c.w.led.answer("listen", resp.StatusCode, time.Since(start))
	// Hold the stream, then hang up as a client does.
	sleep(stop, 500*time.Millisecond+time.Duration(c.rng.Int64N(int64(4*time.Second))))
}

// listenDenied asks for updates of a resource the token may not read:
// subscriptions/listen (2026-07-28) or resources/subscribe (legacy) of a
// secret uri, refused with 403 before the backend.
func (c *client) listenDenied(context.Context) {
	tag := c.nextTag()
	c.w.led.send(tag)
	var a answer
	if c.legacy {
		a = c.do("listen_denied", c.tok, c.message(c.seq, "resources/subscribe", map[string]any{"uri": secretPrefix + tag}), "resources/subscribe", "")
	} else {
		a = c.do("listen_denied", c.tok, c.message(c.seq, "subscriptions/listen",
			map[string]any{"notifications": map[string]any{"resourceSubscriptions": []string{secretPrefix + tag}}}), "subscriptions/listen", "")
	}
	c.expectRefusal("listen_denied", tag, http.StatusForbidden, "admin", a)
}

// subscribe (legacy): resources/subscribe to a readable uri arrives once.
// A 2026-07-28 client, where the method no longer exists, lists instead.
func (c *client) subscribe(stop context.Context) {
	if !c.legacy {
		c.list(stop)
		return
	}
	tag := c.nextTag()
	c.w.led.send(tag)
	a := c.do("subscribe", c.tok, c.message(c.seq, "resources/subscribe", map[string]any{"uri": publicPrefix + tag}), "resources/subscribe", "")
	if a.status == http.StatusOK && a.rpc.Result != nil && a.rpc.Error == nil {
		c.w.led.settle(tag, mustArrive)
		return
	}
	if a.status != 0 {
		c.w.led.fail("subscribe (client %d): %d %.300s, want 200 with a result", c.id, a.status, a.body)
	}
}

// expired: a call with a token expired ten minutes ago (of this client's
// subject, in its session) is refused with 401.
func (c *client) expired(context.Context) {
	tok := c.w.provider.BadToken(c.w.tb, oidctest.Expired, oidctest.MintRequest{Subject: c.subject, Audience: []string{c.w.resource}, Scopes: c.scopes})
	tag, a := c.call("expired", tok, toolRead)
	c.expectRefusal("expired", tag, http.StatusUnauthorized, "", a)
}

// randomToken: a call with a random opaque token (which the gateway asks
// the provider about) or random JWT-shaped garbage is refused with 401.
func (c *client) randomToken(context.Context) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	if c.rng.IntN(2) == 0 {
		tok = "eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ." + tok[:20] + "." + tok[20:]
	}
	tag, a := c.call("random_token", tok, toolRead)
	c.expectRefusal("random_token", tag, http.StatusUnauthorized, "", a)
}

// initialize opens a legacy session.
func (c *client) initialize() bool {
	c.sid = ""
	a := c.do("initialize", c.tok, []byte(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"scopegate-soak","version":"0"}}}`), "initialize", "")
	sid := a.header.Get("Mcp-Session-Id")
	if a.status != http.StatusOK || sid == "" {
		if a.status != 0 {
			c.w.led.fail("initialize (client %d): %d %.300s", c.id, a.status, a.body)
		}
		return false
	}
	c.sid = sid
	if a := c.do("initialized", c.tok, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), "notifications/initialized", ""); a.status != http.StatusAccepted && a.status != 0 {
		c.w.led.fail("notifications/initialized (client %d): %d %.300s", c.id, a.status, a.body)
	}
	c.opsLeft = 5 + c.rng.IntN(30)
	return true
}

// endSession ends the legacy session with DELETE, as a well-behaved
// client does.
func (c *client) endSession() {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req := c.newRequest(ctx, c.tok, []byte{}, "", "")
	req.Method, req.Body, req.ContentLength = http.MethodDelete, nil, 0
	start := time.Now()
	resp, err := c.w.http.Do(req)
	c.sid = ""
	if err != nil {
		c.w.led.answer("delete", 0, time.Since(start))
		c.w.led.fail("delete (client %d): %v", c.id, err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.w.led.answer("delete", resp.StatusCode, time.Since(start))
	if resp.StatusCode/100 != 2 {
		c.w.led.fail("delete (client %d): %d", c.id, resp.StatusCode)
	}
}
