package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The workloads, by the short names -workloads takes.
var workloadIDs = []string{"call", "list", "list-sse", "denied"}

func workloadNames() string { return strings.Join(workloadIDs, ",") }

// modernRequest is a 2026-07-28 (stateless) request: no session, the
// protocol version and client in _meta, the method and name as headers.
func modernRequest(method, name string, params map[string]any) ([]byte, http.Header) {
	params["_meta"] = map[string]any{
		"io.modelcontextprotocol/protocolVersion":    "2026-07-28",
		"io.modelcontextprotocol/clientCapabilities": map[string]any{},
		"io.modelcontextprotocol/clientInfo":         map[string]any{"name": "scopebench", "version": "1"},
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	if err != nil {
		panic(err) // static data
	}
	h := http.Header{
		"Content-Type":         {"application/json"},
		"Accept":               {"application/json, text/event-stream"},
		"Mcp-Protocol-Version": {"2026-07-28"},
		"Mcp-Method":           {method},
	}
	if name != "" {
		h.Set("Mcp-Name", name)
	}
	return body, h
}

func allWorkloads() []workload {
	args := map[string]any{"id": 42}
	callBody, callHeader := modernRequest("tools/call", toolName(0), map[string]any{"name": toolName(0), "arguments": args})
	// toolName(1) needs scopes[1], which the token does not hold.
	deniedBody, deniedHeader := modernRequest("tools/call", toolName(1), map[string]any{"name": toolName(1), "arguments": args})
	listBody, listHeader := modernRequest("tools/list", "", map[string]any{})
	sseHeader := listHeader.Clone()
	sseHeader.Set(streamHeader, "1")
	return []workload{
		{name: "tools/call", body: callBody, header: callHeader},
		{name: "tools/list JSON", body: listBody, header: listHeader, list: true},
		{name: "tools/list SSE", body: listBody, header: sseHeader, list: true},
		{name: "denied call (403)", body: deniedBody, header: deniedHeader, denied: true},
	}
}

func selectWorkloads(only string) ([]workload, error) {
	all := allWorkloads()
	if only == "" {
		return all, nil
	}
	var out []workload
	for _, id := range strings.Split(only, ",") {
		i := slices.Index(workloadIDs, strings.TrimSpace(id))
		if i < 0 {
			return nil, fmt.Errorf("unknown workload %q (have %s)", id, workloadNames())
		}
		out = append(out, all[i])
	}
	return out, nil
}

// cellKey names a (workload, configuration) cell by index.
type cellKey struct{ w, c int }

// expectation is what every response of a cell must be: the status and
// the body length of the response verify checked in full. Answers are
// deterministic (a fixed request id), so a response of another length is
// a wrong one.
type expectation struct {
	status int
	size   uint64
}

// cell accumulates one (workload, configuration) over the rounds.
type cell struct {
	latency   vegeta.Metrics // every response of every round
	good, bad uint64
	elapsed   time.Duration // sum of the rounds' attack durations
	cpu       time.Duration // Caddy's CPU time during the rounds
	perRound  []float64     // good responses per second in each round
	rssMax    int64
	errs      []string // distinct failures, a few
}

type bench struct {
	o         options
	r         *runner
	configs   []config
	workloads []workload
	expect    map[cellKey]expectation
	cells     map[cellKey]*cell
	started   time.Time
	loadavg   string
}

func newBench(o options, r *runner, configs []config, workloads []workload) *bench {
	return &bench{o: o, r: r, configs: configs, workloads: workloads,
		expect: map[cellKey]expectation{}, cells: map[cellKey]*cell{}}
}

func (b *bench) header(k cellKey) http.Header {
	h := b.workloads[k.w].header.Clone()
	h.Set("Authorization", "Bearer "+b.configs[k.c].token)
	return h
}

// verify sends each cell's request once and checks the answer in full:
// the call's result, a 403 challenge for the denied call at the gateway,
// all 110 tools from the backend and the plain proxy, and exactly the
// five the token's scope allows from the gateway, JSON or event stream.
func (b *bench) verify() error {
	client := &http.Client{Timeout: 30 * time.Second}
	for w, wl := range b.workloads {
		for c, cfg := range b.configs {
			k := cellKey{w, c}
			req, err := http.NewRequest(http.MethodPost, cfg.url, bytes.NewReader(wl.body))
			if err != nil {
				return err
			}
			req.Header = b.header(k)
			resp, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("%s via %s: %w", wl.name, cfg.name, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return fmt.Errorf("%s via %s: read: %w", wl.name, cfg.name, err)
			}
			if err := check(wl, cfg, resp, body); err != nil {
				return fmt.Errorf("%s via %s: %w\n%.600s", wl.name, cfg.name, err, body)
			}
			b.expect[k] = expectation{status: resp.StatusCode, size: uint64(len(body))}
		}
	}
	return nil
}

func check(wl workload, cfg config, resp *http.Response, body []byte) error {
	wantStatus := http.StatusOK
	if wl.denied && cfg.gateway {
		wantStatus = http.StatusForbidden
	}
	if resp.StatusCode != wantStatus {
		return fmt.Errorf("status %d, want %d", resp.StatusCode, wantStatus)
	}
	if wantStatus == http.StatusForbidden {
		if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			return fmt.Errorf("403 without an insufficient_scope challenge: %q", resp.Header.Get("WWW-Authenticate"))
		}
		return nil
	}
	msg := body
	if wl.header.Get(streamHeader) != "" && wl.list {
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
			return fmt.Errorf("Content-Type %q, want an event stream", ct)
		}
		var data []byte
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if d, ok := bytes.CutPrefix(sc.Bytes(), []byte("data:")); ok {
				data = append(data, bytes.TrimPrefix(d, []byte(" "))...)
			}
		}
		msg = data
	}
	var rpc struct {
		ID     json.RawMessage `json:"id"`
		Result struct {
			Content []json.RawMessage `json:"content"`
			Tools   []struct {
				Name string `json:"name"`
				Meta struct {
					Scopes []string `json:"scopegate/scopes"`
				} `json:"_meta"`
			} `json:"tools"`
		} `json:"result"`
	}
	if err := json.Unmarshal(msg, &rpc); err != nil {
		return fmt.Errorf("response: %w", err)
	}
	if string(rpc.ID) != "1" {
		return fmt.Errorf("response id %s, want 1", rpc.ID)
	}
	if !wl.list {
		if len(rpc.Result.Content) == 0 {
			return fmt.Errorf("tools/call result without content")
		}
		return nil
	}
	want := numTools
	if cfg.gateway {
		want = numTools / numScopes
	}
	if len(rpc.Result.Tools) != want {
		return fmt.Errorf("%d tools listed, want %d", len(rpc.Result.Tools), want)
	}
	for _, t := range rpc.Result.Tools {
		if cfg.gateway && !slices.Equal(t.Meta.Scopes, scopes[:1]) {
			return fmt.Errorf("tool %s needs %v, listed to a token holding only %s", t.Name, t.Meta.Scopes, scopes[0])
		}
	}
	return nil
}

// run warms every cell up, then runs the rounds: in each, every workload
// against every configuration in turn, the order of the configurations
// rotated from round to round.
func (b *bench) run() {
	b.started = time.Now().UTC()
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.loadavg = strings.Join(strings.Fields(string(la))[:3], " ")
	}
	if b.o.warmup > 0 {
		for w := range b.workloads {
			for c := range b.configs {
				b.attack(cellKey{w, c}, b.o.warmup, nil)
			}
		}
	}
	for round := range b.o.rounds {
		for w, wl := range b.workloads {
			for i := range b.configs {
				c := (i + round) % len(b.configs)
				k := cellKey{w, c}
				cl := b.cells[k]
				if cl == nil {
					cl = &cell{}
					b.cells[k] = cl
				}
				var profiled func()
				if b.o.pprof != "" && round == 0 && b.configs[c].proc != nil {
					profiled = b.profile(k)
				}
				rate := b.attack(k, b.o.duration, cl)
				if profiled != nil {
					profiled()
				}
				fmt.Fprintf(os.Stderr, "round %d/%d  %-18s %-15s %9.0f req/s\n", round+1, b.o.rounds, wl.name, b.configs[c].name, rate)
			}
		}
	}
}

// attack runs one cell for d and adds its responses to cl (nil: warm-up,
// nothing kept). It returns the good responses per second.
func (b *bench) attack(k cellKey, d time.Duration, cl *cell) float64 {
	cfg := b.configs[k.c]
	exp := b.expect[k]
	n := uint64(b.o.conns)
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        b.o.conns,
		MaxIdleConnsPerHost: b.o.conns,
		DisableCompression:  true, // as wrk: no Accept-Encoding
	}
	defer transport.CloseIdleConnections()
	// MaxBody(0) keeps vegeta from copying each body into memory; the
	// counting transport measures it as it is drained instead.
	atk := vegeta.NewAttacker(
		vegeta.Workers(n), vegeta.MaxWorkers(n), vegeta.MaxBody(0),
		vegeta.Client(&http.Client{
			Transport:     countingTransport{transport},
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}),
	)
	target := vegeta.Target{Method: http.MethodPost, URL: cfg.url, Body: b.workloads[k.w].body, Header: b.header(k)}
	pacer := vegeta.ConstantPacer{Freq: b.o.rate, Per: time.Second}

	var cpu0 time.Duration
	if cfg.proc != nil && cl != nil {
		cpu0 = cfg.proc.CPUTime(b.r)
	}
	var m vegeta.Metrics
	var good uint64
	for res := range atk.Attack(vegeta.NewStaticTargeter(target), pacer, d, "") {
		m.Add(res)
		size := bodySize(res.Headers)
		ok := res.Code == uint16(exp.status) && size == exp.size
		if ok {
			good++
		}
		if cl == nil {
			continue
		}
		cl.latency.Add(res)
		if ok {
			cl.good++
			continue
		}
		cl.bad++
		if len(cl.errs) < 3 {
			e := fmt.Sprintf("status %d, %d bytes (want %d, %d bytes) %s", res.Code, size, exp.status, exp.size, res.Error)
			if !slices.Contains(cl.errs, e) {
				cl.errs = append(cl.errs, e)
			}
		}
	}
	m.Close()
	elapsed := m.Duration + m.Wait
	rate := 0.0
	if elapsed > 0 {
		rate = float64(good) / elapsed.Seconds()
	}
	if cl != nil {
		if cfg.proc != nil {
			cl.cpu += cfg.proc.CPUTime(b.r) - cpu0
			cl.rssMax = max(cl.rssMax, cfg.proc.RSSBytes(b.r))
		}
		cl.elapsed += elapsed
		cl.perRound = append(cl.perRound, rate)
	}
	return rate
}

// sizeHeader is where countingTransport leaves the length of a response
// body once it has been read to its end.
const sizeHeader = "X-Scopebench-Body-Bytes"

// countingTransport wraps each response body to count its bytes, so the
// load generator can check every answer's length without keeping it.
type countingTransport struct{ http.RoundTripper }

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.RoundTripper.RoundTrip(req)
	if err == nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, header: resp.Header}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	header http.Header
	n      uint64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += uint64(n)
	if err == io.EOF {
		b.header[sizeHeader] = []string{strconv.FormatUint(b.n, 10)}
	}
	return n, err
}

// bodySize is the length countingTransport recorded; 1<<63 if the body
// was not read to its end.
func bodySize(h http.Header) uint64 {
	v := h[sizeHeader]
	if len(v) != 1 {
		return 1 << 63
	}
	n, err := strconv.ParseUint(v[0], 10, 64)
	if err != nil {
		return 1 << 63
	}
	return n
}

// profile starts a CPU profile of the cell's Caddy through its admin API
// for (almost) the cell's duration; the returned function waits for it
// and writes it to the -pprof directory as <workload>_<config>.pprof.
func (b *bench) profile(k cellKey) func() {
	secs := max(1, int(b.o.duration/time.Second)-1)
	name := strings.NewReplacer("/", "-", " ", "_", "(", "", ")", "").Replace(b.workloads[k.w].name + "_" + b.configs[k.c].name)
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", b.configs[k.c].proc.AdminAddr(), secs)
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			done <- fmt.Errorf("status %d", resp.StatusCode)
			return
		}
		f, err := os.Create(filepath.Join(b.o.pprof, name+".pprof"))
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return func() {
		if err := <-done; err != nil {
			fmt.Fprintf(os.Stderr, "profile of %s: %v\n", name, err)
		}
	}
}
