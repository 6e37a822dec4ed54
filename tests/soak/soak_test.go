package soak

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/caddyproc"
	"github.com/scopegate/scopegate/internal/oidctest"
)

var (
	soakDuration = flag.Duration("soak.duration", 60*time.Second, "how long the clients run (make soak: SOAK_DURATION, default 10m)")
	soakClients  = flag.Int("soak.clients", 300, "concurrent clients")
	soakThink    = flag.Duration("soak.think", 200*time.Millisecond, "mean pause of a client between operations (uniform 0…2×)")
	soakFault    = flag.String("soak.fault", "", `break the soak on purpose to see it fail: "drop" makes the recording backend forget one arrival, "dup" record one twice; "caches" sizes the gateway's token caches beyond what the run fills (cache_size 1000000, cache_ttl 1h), so Caddy's memory grows with every new token`)
)

func TestMain(m *testing.M) {
	code := m.Run()
	caddyproc.RemoveBuild()
	os.Exit(code)
}

// Growth limits. After the warm-up the gateway's state is bounded (the
// soak's Caddyfile sizes the token caches below what the run fills, and
// every client ends its sessions and streams), so Caddy's resident memory
// and goroutine count must be flat: a measured series grows when the line
// fitted through it after the warm-up rises faster than its slope limit,
// adds more than its growth limit across the window, and the slope is
// significant. Healthy 10-minute runs fit 0 to +0.3 MiB/min; a gateway
// whose token caches grow without bound (-soak.fault caches) +3.9 MiB/min
// (t≈15). At 300–900 requests/s, 2 MiB/min is a leak of 40–120 bytes per
// request; in the 60 s form the growth limit rules (8 MiB in the 40 s
// window), 250–700 bytes per request.
const (
	// warmupFraction of the run is not judged: caches fill, the heap finds
	// its size, connections are opened.
	warmupFraction = 1.0 / 3
	rssSlopeLimit  = 2 << 20 // bytes per minute
	rssGrowthLimit = 8 << 20 // bytes across the window
	// The goroutine count swings with the open streams (hundreds); a
	// leaked goroutine per stream or call adds over a thousand a minute.
	goroutineSlopeLimit  = 60 // per minute
	goroutineGrowthLimit = 150
	// minSignificance: t = slope / its standard error.
	minSignificance = 3
	// goroutineSlack: after the clients stop and their connections close
	// (idle upstream connections after 5 s, see caddyfile), the count must
	// come back within this of the baseline before the load, within
	// settleTimeout.
	goroutineSlack = 10
	// settleTimeout for the goroutine count to come back.
	settleTimeout = 60 * time.Second
)

// world is the soak's setup: provider, recording backend, Caddy.
type world struct {
	tb       testing.TB
	provider *oidctest.Provider
	backend  *backend
	caddy    *caddyproc.Process
	resource string
	// adminAddr is Caddy's admin endpoint, host:port.
	adminAddr string
	http      *http.Client
	led       *ledger
	tokenTTL  time.Duration
}

// opaqueClients are provider clients with opaque tokens, one subject each.
const opaqueClients = 30

func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: skipped with -short")
	}
	if f := *soakFault; f != "" && f != "drop" && f != "dup" && f != "caches" {
		t.Fatalf("-soak.fault %q: want drop, dup or caches", f)
	}
	d := *soakDuration
	w := startWorld(t, d)
	clients := newClients(t, w, *soakClients)

	// Before the load: a first list loads the gateway's catalog, then the
	// baseline.
	clients[0].list(context.Background())
	time.Sleep(2 * time.Second)
	baseline := w.mustSample(t, 0)
	t.Logf("soak: %d clients for %s (think %s), baseline RSS %.1f MiB, %d goroutines",
		len(clients), d, *soakThink, mib(baseline.rss), baseline.goroutines)

	stop, stopClients := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(stop, *soakThink)
		}()
	}
	interval := max(time.Second, d/150)
	var samples []sample
	peak, missed := baseline.goroutines, 0
	for tick := 1; time.Since(start) < d; tick++ {
		sleepUntil(start.Add(time.Duration(tick) * interval))
		s, err := w.sample(t, time.Since(start))
		if err != nil {
			// The shared machine can starve the admin endpoint for a
			// while; a missed reading is not a finding, too many are.
			missed++
			t.Logf("sample at %s: %v", time.Since(start).Round(time.Second), err)
			continue
		}
		samples = append(samples, s)
		peak = max(peak, s.goroutines)
	}
	stopClients()
	// Every request and stream is bounded by requestTimeout, so the
	// clients are done well within twice that.
	clientsDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(clientsDone)
	}()
	select {
	case <-clientsDone:
	case <-time.After(2 * requestTimeout):
		t.Fatalf("clients still running %s after the stop; Caddy's goroutines:\n%s", 2*requestTimeout, w.goroutineDump(t))
	}
	elapsed := time.Since(start)

	// After the load: the clients hang up; the goroutines come back.
	w.http.CloseIdleConnections()
	stopped := time.Now()
	end := w.mustSample(t, time.Since(start))
	for deadline := time.Now().Add(settleTimeout); end.goroutines > baseline.goroutines+goroutineSlack && time.Now().Before(deadline); {
		time.Sleep(time.Second)
		end = w.mustSample(t, time.Since(start))
	}
	settled := time.Since(stopped)

	arrivals, untagged := w.backend.snapshot()
	v := check(w.led.tags, arrivals)
	rss := judge(samples, d, func(s sample) float64 { return float64(s.rss) })
	gor := judge(samples, d, func(s sample) float64 { return float64(s.goroutines) })
	heap := judge(samples, d, func(s sample) float64 { return float64(s.heap) })
	rssLimit := limit{slopePerMin: rssSlopeLimit, growth: rssGrowthLimit}
	gorLimit := limit{slopePerMin: goroutineSlopeLimit, growth: goroutineGrowthLimit}

	t.Log("\n" + summary(w.led, v, untagged, elapsed, len(clients), baseline, end, peak, rss, heap, gor, rssLimit, gorLimit) +
		fmt.Sprintf("(\"after\": %s after the clients stopped; goroutines must be within %d of \"before\"; Caddy logged %d KiB)\n",
			settled.Round(time.Second), goroutineSlack, len(w.caddy.Logs())>>10))

	if w.led.nUnexp > 0 {
		t.Errorf("%d unexpected answers; first ones:\n%s", w.led.nUnexp, strings.Join(w.led.unexpected, "\n"))
	}
	if !v.ok() {
		t.Errorf("the backend's record disagrees with the answers: %s", v)
	}
	if missed > len(samples)/10 {
		t.Errorf("%d of %d readings of Caddy's state failed: too few to judge a trend", missed, missed+len(samples))
	}
	if v.mustArrive == 0 || v.mustNotArrive == 0 {
		t.Errorf("nothing to judge: %d allowed, %d refused tagged requests", v.mustArrive, v.mustNotArrive)
	}
	if rssLimit.exceeded(rss) {
		t.Errorf("Caddy's RSS grows: %+.2f MiB/min over the judged window (%+.1f MiB, t=%.1f), limits %.0f MiB/min and %.0f MiB",
			rss.slope*60/(1<<20), rss.growth/(1<<20), rss.t, rssLimit.slopePerMin/(1<<20), rssLimit.growth/(1<<20))
	}
	if gorLimit.exceeded(gor) {
		t.Errorf("Caddy's goroutines grow: %+.0f/min over the judged window (%+.0f, t=%.1f), limits %.0f/min and %.0f",
			gor.slope*60, gor.growth, gor.t, gorLimit.slopePerMin, gorLimit.growth)
	}
	if end.goroutines > baseline.goroutines+goroutineSlack {
		t.Errorf("goroutines did not come back: %d after the load, %d before (slack %d); Caddy's goroutines:\n%s",
			end.goroutines, baseline.goroutines, goroutineSlack, w.goroutineDump(t))
	}
}

// startWorld starts provider, backend and Caddy for a run of d.
func startWorld(t *testing.T, d time.Duration) *world {
	t.Helper()
	w := &world{tb: goroutineTB{t}, led: newLedger(), tokenTTL: d + 30*time.Minute}
	var extra []oidctest.Client
	for i := range opaqueClients {
		extra = append(extra, oidctest.Client{ID: fmt.Sprintf("soak-opaque-%d", i), Secret: oidctest.ClientSecret, Opaque: true})
	}
	w.provider = oidctest.Start(t, oidctest.Options{TokenLifetime: w.tokenTTL, Clients: extra})
	w.backend = startBackend(t, *soakFault)
	w.http = &http.Client{Transport: &http.Transport{MaxIdleConns: 4000, MaxIdleConnsPerHost: 4000, IdleConnTimeout: 30 * time.Second}}
	t.Cleanup(w.http.CloseIdleConnections)
	for range 3 {
		port, adminPort, httpsPort := caddyproc.FreePort(t), caddyproc.FreePort(t), caddyproc.FreePort(t)
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		w.resource = base + "/mcp"
		p, err := caddyproc.Start(t, caddyproc.Options{
			Caddyfile: caddyfile(port, adminPort, httpsPort, w.resource, w.provider.Issuer(), w.backend.addr, *soakFault == "caches"),
			Env:       []string{"MCP_CLIENT_ID=" + oidctest.ResourceServerID, "MCP_CLIENT_SECRET=" + oidctest.ClientSecret},
			AdminAddr: fmt.Sprintf("127.0.0.1:%d", adminPort),
			ReadyURL:  base + "/other",
		})
		if errors.Is(err, caddyproc.ErrAddressInUse) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		w.caddy, w.adminAddr = p, fmt.Sprintf("127.0.0.1:%d", adminPort)
		return w
	}
	t.Fatal("caddy: no free ports after 3 attempts")
	return nil
}

// caddyfile is the soak's site. The token caches are sized below what a
// run fills (fresh tokens at every step-up, a random token every few
// requests) and cache_ttl is short, so they reach their bound during the
// warm-up and memory growth after it is not theirs. Idle upstream
// connections close after 5 s instead of 2 min, so the goroutine count can
// be seen back at its baseline soon after the load; dialling the backend
// may take 30 s (not 3), as a starved shared machine once needed. The
// audit log (a line per decision) is written and discarded, so it costs
// what it costs in production without filling the test's log buffer. The reverse proxy
// logs only errors: it warns about every stream a client hangs up
// ("aborting with incomplete response"), thousands a minute here.
func caddyfile(port, adminPort, httpsPort int, resource, issuer, upstream string, bigCaches bool) string {
	cacheSize, cacheTTL := 500, "1m"
	if bigCaches {
		cacheSize, cacheTTL = 1000000, "1h"
	}
	return fmt.Sprintf(`{
	admin 127.0.0.1:%[2]d
	auto_https off
	http_port %[1]d
	https_port %[3]d
	persist_config off
	log default {
		output stderr
		exclude http.handlers.mcp_gateway.audit http.handlers.reverse_proxy
	}
	log proxy {
		output stderr
		include http.handlers.reverse_proxy
		level ERROR
	}
	log audit {
		output discard
		include http.handlers.mcp_gateway.audit
	}
}

http://127.0.0.1:%[1]d {
	mcp_gateway {
		resource %[4]s
		issuer %[5]s
		introspection {
			client_id {env.MCP_CLIENT_ID}
			client_secret {env.MCP_CLIENT_SECRET}
		}
		cache_ttl %[8]s
		cache_size %[7]d
		scopes_supported openid notes:read notes:write files:read admin
		resource_scope demo://public/* notes:read
		resource_scope secret://* admin
	}
	reverse_proxy /mcp* %[6]s {
		header_up Host {upstream_hostport}
		transport http {
			keepalive 5s
			dial_timeout 30s
		}
	}
	respond /other "passthrough" 200
}
`, port, adminPort, httpsPort, resource, issuer, upstream, cacheSize, cacheTTL)
}

// newClients makes n clients: a tenth with opaque tokens (2026-07-28 era),
// three tenths in the legacy session era, the rest 2026-07-28 with JWTs;
// half hold files:read besides notes:read.
func newClients(t *testing.T, w *world, n int) []*client {
	t.Helper()
	var out []*client
	for i := range n {
		c := &client{w: w, id: i, rng: mrand.New(mrand.NewPCG(uint64(i), 0x50a4)), subject: fmt.Sprintf("soak-user-%d", i)}
		c.scopes = []string{"notes:read"}
		if i%2 == 1 {
			c.scopes = append(c.scopes, "files:read")
		}
		switch i % 10 {
		case 0:
			c.opaqueClient = fmt.Sprintf("soak-opaque-%d", (i/10)%opaqueClients)
		case 1, 4, 7:
			c.legacy = true
		}
		tok, err := c.token(c.scopes)
		if err != nil {
			t.Fatalf("client %d: token: %v", i, err)
		}
		c.tok = tok
		out = append(out, c)
	}
	return out
}

// goroutineTB lets the clients' goroutines mint tokens with oidctest,
// whose helpers take a testing.TB: a failure there (it does not happen:
// signing with a generated key) panics instead of calling FailNow off the
// test goroutine.
type goroutineTB struct{ testing.TB }

func (g goroutineTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (g goroutineTB) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }

// sample is one reading of Caddy's state.
type sample struct {
	at         time.Duration
	rss        int64
	heap       int64 // go_memstats_heap_inuse_bytes, for the summary
	goroutines int
}

// sample reads Caddy's RSS from /proc and its heap and goroutines from
// the admin endpoint's metrics.
func (w *world) sample(t *testing.T, at time.Duration) (sample, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+w.adminAddr+"/metrics", nil)
	if err != nil {
		return sample{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return sample{}, fmt.Errorf("admin /metrics: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return sample{}, fmt.Errorf("admin /metrics: %d %v", resp.StatusCode, err)
	}
	m := string(b)
	return sample{at: at, rss: w.caddy.RSSBytes(t), heap: int64(metric(t, m, "go_memstats_heap_inuse_bytes")), goroutines: int(metric(t, m, "go_goroutines"))}, nil
}

// mustSample is sample with a few retries, for the readings the verdict
// cannot do without.
func (w *world) mustSample(t *testing.T, at time.Duration) sample {
	t.Helper()
	var err error
	for range 5 {
		var s sample
		if s, err = w.sample(t, at); err == nil {
			return s
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("sampling Caddy: %v", err)
	return sample{}
}

// metric reads an unlabelled metric from the admin endpoint's exposition.
func metric(t *testing.T, metrics, name string) float64 {
	t.Helper()
	for line := range strings.Lines(metrics) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s %q: %v", name, v, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in the admin metrics", name)
	return 0
}

// goroutineDump is the admin endpoint's goroutine profile, grouped.
func (w *world) goroutineDump(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + w.adminAddr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b)
}

func sleepUntil(when time.Time) { time.Sleep(time.Until(when)) }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// trend is the least-squares line through the judged samples.
type trend struct {
	n               int
	slope           float64 // per second
	t               float64 // slope / its standard error
	start, end      float64 // fitted values at the window's ends
	growth          float64 // end − start
	mean, min, maxV float64
	window          time.Duration
}

// limit is what a series may grow after the warm-up.
type limit struct{ slopePerMin, growth float64 }

// exceeded: the fitted line rises faster than the slope limit, adds more
// than the growth limit across the window, and the slope is significant,
// so neither one high reading, nor noise, nor a short window's wobble is
// taken for growth.
func (l limit) exceeded(tr trend) bool {
	return tr.slope*60 > l.slopePerMin && tr.growth > l.growth && tr.t > minSignificance
}

// judge fits value over the samples after the warm-up of a run of d.
func judge(samples []sample, d time.Duration, value func(sample) float64) trend {
	from := time.Duration(float64(d) * warmupFraction)
	var xs, ys []float64
	for _, s := range samples {
		if s.at >= from {
			xs = append(xs, s.at.Seconds())
			ys = append(ys, value(s))
		}
	}
	return fit(xs, ys)
}

// fit is ordinary least squares of ys on xs.
func fit(xs, ys []float64) trend {
	tr := trend{n: len(xs)}
	if len(xs) < 3 {
		return tr
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	n := float64(len(xs))
	mx, my = mx/n, my/n
	var sxx, sxy float64
	for i := range xs {
		sxx += (xs[i] - mx) * (xs[i] - mx)
		sxy += (xs[i] - mx) * (ys[i] - my)
	}
	if sxx == 0 {
		return tr
	}
	tr.slope = sxy / sxx
	var sse float64
	for i := range xs {
		r := ys[i] - (my + tr.slope*(xs[i]-mx))
		sse += r * r
	}
	se := math.Sqrt(sse / (n - 2) / sxx)
	switch {
	case se > 0:
		tr.t = tr.slope / se
	case tr.slope != 0:
		tr.t = 1e9 // a perfect line
	}
	tr.start = my + tr.slope*(xs[0]-mx)
	tr.end = my + tr.slope*(xs[len(xs)-1]-mx)
	tr.growth = tr.end - tr.start
	tr.mean, tr.min, tr.maxV = my, slices.Min(ys), slices.Max(ys)
	tr.window = time.Duration((xs[len(xs)-1] - xs[0]) * float64(time.Second))
	return tr
}
