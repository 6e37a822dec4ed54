package listfilter

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuMeter reports the process's CPU time (user and system, every
// goroutine: the in-process client, proxy and upstream too) per operation
// as cpu-ns/op. On a shared machine CPU time is steadier than wall time.
type cpuMeter struct{ start time.Duration }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuMeter { return cpuMeter{cpuTime()} }

func (m cpuMeter) report(b *testing.B) {
	b.ReportMetric(float64(cpuTime()-m.start)/float64(b.N), "cpu-ns/op")
}

// The benchmarks below model the list the issue measured: 110 entries of
// about 45 KB in all, each declaring its scopes in _meta, of which a token
// holding one scope sees 5. benchLists builds them for every list kind.

const benchEntries, benchKept = 110, 5

// benchList returns a list response of n entries of list (tools, resources
// or prompts), with id as its JSON-RPC id, about 410 bytes an entry.
func benchList(list List, id string, n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%s,"result":{%q:[`, id, list)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		scope := fmt.Sprintf("app%d:%s", i/benchKept, [2]string{"read", "write"}[i%2])
		switch list {
		case Tools:
			fmt.Fprintf(&b, `{"annotations":{"readOnlyHint":%t,"destructiveHint":false},`+
				`"description":"Tool number %d does one thing with an item of its app and returns the result as text.",`+
				`"inputSchema":{"type":"object","properties":{"id":{"type":"integer","description":"The item id"},"title":{"type":"string","description":"A title"}},"required":["id"]},`+
				`"name":"bench_tool_%03d","_meta":{"scopegate/scopes":[%q]}}`, i%2 == 0, i, i, scope)
		case Resources:
			fmt.Fprintf(&b, `{"uri":"nc://app/items/%03d","name":"item_%03d","title":"Item number %d of the app",`+
				`"description":"A resource of the bench app: item %d, served as JSON with its metadata, history and links to related items, for reading only.",`+
				`"mimeType":"application/json","annotations":{"audience":["user","assistant"],"priority":0.5},"size":%d,"_meta":{"scopegate/scopes":[%q]}}`, i, i, i, i, 1000+i, scope)
		case Prompts:
			fmt.Fprintf(&b, `{"name":"bench_prompt_%03d","title":"Prompt number %d",`+
				`"description":"A prompt of the bench app that drafts a reply about an item, in the tone asked for and the given language.",`+
				`"arguments":[{"name":"item","description":"The item id","required":true},{"name":"tone","description":"formal or casual","required":false},{"name":"language","description":"an IETF language tag","required":false}],"_meta":{"scopegate/scopes":[%q]}}`, i, i, scope)
		}
	}
	b.WriteString(`],"nextCursor":"Y3Vyc29yLTI="}}`)
	return b.Bytes()
}

// benchAllow models a token holding app0:read and app0:write: it sees the
// first benchKept entries. It reads the entry's name the way the gateway's
// catalog does, with a map lookup.
func benchAllow(it Item) bool {
	switch it.List {
	case Resources:
		return benchAllowed[it.URI]
	default:
		return benchAllowed[it.Name]
	}
}

var benchAllowed = func() map[string]bool {
	allowed := map[string]bool{}
	for i := range benchKept {
		allowed[fmt.Sprintf("bench_tool_%03d", i)] = true
		allowed[fmt.Sprintf("nc://app/items/%03d", i)] = true
		allowed[fmt.Sprintf("bench_prompt_%03d", i)] = true
	}
	return allowed
}()

var benchReveal = []string{"app1:read"}

// benchRewriter is configured as the gateway configures one: Allow,
// Observe and Reveal set.
func benchRewriter() *Rewriter {
	return &Rewriter{
		Allow:   benchAllow,
		Observe: func(List, []Item) {},
		Reveal:  func(Item) []string { return benchReveal },
	}
}

// sseStream wraps a response body in an event stream as mcp-go writes one.
func sseStream(body []byte) []byte {
	var b bytes.Buffer
	b.WriteString("event: message\ndata: ")
	b.Write(body)
	b.WriteString("\n\n")
	return b.Bytes()
}

// writeSSEChunks writes in to an SSEWriter in the proxy's 32 KiB chunks.
func writeSSEChunks(tb testing.TB, dst io.Writer, rw *Rewriter, in []byte) {
	s := NewSSEWriter(dst, rw)
	for p := in; len(p) > 0; {
		n := min(len(p), 32<<10)
		if _, err := s.Write(p[:n]); err != nil {
			tb.Fatal(err)
		}
		p = p[n:]
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
}

// memoBenchRewriter is benchRewriter with a shared memo, as the gateway
// makes one per request.
func memoBenchRewriter(m *Memo) func() *Rewriter {
	return func() *Rewriter {
		rw := benchRewriter()
		rw.Memo, rw.MemoKey = m, "app0:read app0:write|v1"
		return rw
	}
}

// BenchmarkRewriteList filters each list kind, JSON and SSE, with a fresh
// Rewriter every time: without a memo (miss: every response parsed and
// filtered), and with a shared memo answering responses that differ from
// the remembered one only by their id (hit).
func BenchmarkRewriteList(b *testing.B) {
	for _, list := range []List{Tools, Resources, Prompts} {
		bodies := make([][]byte, 8)
		for i := range bodies {
			bodies[i] = benchList(list, fmt.Sprint(i+1), benchEntries)
		}
		b.Run(string(list)+"/json/hit", func(b *testing.B) {
			newRW := memoBenchRewriter(NewMemo(0, 0))
			b.ReportAllocs()
			b.SetBytes(int64(len(bodies[0])))
			i := 0
			cpu := startCPU()
			for b.Loop() {
				out, err := newRW().RewriteJSON(bodies[i%len(bodies)])
				if err != nil || len(out) >= len(bodies[0]) {
					b.Fatal(err, len(out))
				}
				i++
			}
			cpu.report(b)
		})
		b.Run(string(list)+"/sse/hit", func(b *testing.B) {
			newRW := memoBenchRewriter(NewMemo(0, 0))
			streams := make([][]byte, len(bodies))
			for i := range bodies {
				streams[i] = sseStream(bodies[i])
			}
			var out bytes.Buffer
			b.ReportAllocs()
			b.SetBytes(int64(len(streams[0])))
			i := 0
			cpu := startCPU()
			for b.Loop() {
				out.Reset()
				writeSSEChunks(b, &out, newRW(), streams[i%len(streams)])
				i++
			}
			cpu.report(b)
		})
		body := bodies[0]
		b.Run(string(list)+"/json/miss", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			cpu := startCPU()
			for b.Loop() {
				out, err := benchRewriter().RewriteJSON(body)
				if err != nil || len(out) >= len(body) {
					b.Fatal(err, len(out))
				}
			}
			cpu.report(b)
		})
		stream := sseStream(body)
		b.Run(string(list)+"/sse/miss", func(b *testing.B) {
			var out bytes.Buffer
			b.ReportAllocs()
			b.SetBytes(int64(len(stream)))
			cpu := startCPU()
			for b.Loop() {
				out.Reset()
				writeSSEChunks(b, &out, benchRewriter(), stream)
			}
			cpu.report(b)
		})
	}
}

// TestBenchListShape holds the benchmark's model to what it claims: about
// 45 KB, 110 entries, 5 kept, for every list kind and both forms.
func TestBenchListShape(t *testing.T) {
	for _, list := range []List{Tools, Resources, Prompts} {
		body := benchList(list, "1", benchEntries)
		if len(body) < 40<<10 || len(body) > 50<<10 {
			t.Errorf("%s list is %d bytes, want about 45 KB", list, len(body))
		}
		var observed int
		rw := benchRewriter()
		rw.Observe = func(_ List, items []Item) { observed += len(items) }
		out, err := rw.RewriteJSON(body)
		if err != nil {
			t.Fatal(err)
		}
		if observed != benchEntries {
			t.Errorf("%s: observed %d entries, want %d", list, observed, benchEntries)
		}
		if n := strings.Count(string(out), `"scopegate/scopes"`); n != benchKept {
			t.Errorf("%s: %d entries kept, want %d: %s", list, n, benchKept, out)
		}
		if !strings.Contains(string(out), `"scopegate/hidden":{"count":105,"scopes":["app1:read"]}`) {
			t.Errorf("%s: no hidden annotation in %s", list, out)
		}
		var sse bytes.Buffer
		writeSSEChunks(t, &sse, benchRewriter(), sseStream(body))
		if want := "event: message\ndata: " + string(out) + "\n\n"; sse.String() != want {
			t.Errorf("%s: SSE form = %q, want %q", list, sse.String(), want)
		}
	}
}

// proxyUpstream serves the bench tools/list, in JSON or as an event
// stream, answering with the id the request's "id" query parameter names,
// as a backend answers each request with its own id.
func proxyUpstream(tb testing.TB, sse bool) *httptest.Server {
	bodies := map[string][]byte{}
	for i := range 8 {
		id := fmt.Sprint(i)
		bodies[id] = benchList(Tools, id, benchEntries)
		if sse {
			bodies[id] = sseStream(bodies[id])
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := bodies[r.URL.Query().Get("id")]
		if sse {
			w.Header().Set("Content-Type", "text/event-stream")
		} else {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		}
		_, _ = w.Write(body)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// listProxy is the plain reverse proxy, or the same proxy whose responses
// are filtered by a ResponseWriter made by newRewriter for each request, as
// the gateway wraps reverse_proxy.
func listProxy(tb testing.TB, upstream string, newRewriter func() *Rewriter) *httptest.Server {
	u, err := url.Parse(upstream)
	if err != nil {
		tb.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ErrorLog = nil
	var h http.Handler = proxy
	if newRewriter != nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del("Accept-Encoding")
			lw := NewResponseWriter(w, newRewriter())
			proxy.ServeHTTP(lw, r)
			if err := lw.Finish(); err != nil {
				tb.Error(err)
			}
		})
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

// benchProxy fetches the list through srv, b.N times, from a keep-alive
// client, cycling through 8 request ids. MB/s counts the upstream's bytes.
func benchProxy(b *testing.B, srv *httptest.Server, upstreamBytes int) {
	client := srv.Client()
	urls := make([]string, 8)
	for i := range urls {
		urls[i] = srv.URL + "/mcp?id=" + fmt.Sprint(i)
	}
	b.ReportAllocs()
	b.SetBytes(int64(upstreamBytes))
	i := 0
	cpu := startCPU()
	for b.Loop() {
		resp, err := client.Get(urls[i%len(urls)])
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatal(err, resp.StatusCode)
		}
		i++
	}
	cpu.report(b)
}

// benchProxyParallel is benchProxy from 16 concurrent clients per CPU, as
// a load generator keeps connections busy: throughput, not latency, and the
// JSON form's buffering no longer shows as waiting.
func benchProxyParallel(b *testing.B, srv *httptest.Server, upstreamBytes int) {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	client := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)
	b.ReportAllocs()
	b.SetBytes(int64(upstreamBytes))
	b.SetParallelism(16)
	cpu := startCPU()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			resp, err := client.Get(srv.URL + "/mcp?id=" + fmt.Sprint(i%8))
			if err != nil {
				b.Error(err)
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Error(err, resp.StatusCode)
				return
			}
			i++
		}
	})
	cpu.report(b)
}

// BenchmarkProxyToolsList is the side-by-side the issue asks for, in
// process: one upstream serving the 110-tool list; a plain
// httputil.ReverseProxy in front of it; and the same proxy with the list
// filter (a fresh Rewriter per request, as the gateway makes one), without
// and with a memo; one client at a time (latency) and many (parallel:
// throughput). Client,
// proxy and upstream share the CPU, so compare ns/op between the
// sub-benchmarks of one run, not with other machines.
func BenchmarkProxyToolsList(b *testing.B) {
	for _, form := range []string{"json", "sse"} {
		up := proxyUpstream(b, form == "sse")
		size := len(benchList(Tools, "0", benchEntries))
		b.Run(form+"/plain", func(b *testing.B) {
			benchProxy(b, listProxy(b, up.URL, nil), size)
		})
		b.Run(form+"/filtered-miss", func(b *testing.B) {
			benchProxy(b, listProxy(b, up.URL, benchRewriter), size)
		})
		b.Run(form+"/filtered-hit", func(b *testing.B) {
			benchProxy(b, listProxy(b, up.URL, memoBenchRewriter(NewMemo(0, 0))), size)
		})
		b.Run(form+"/parallel/plain", func(b *testing.B) {
			benchProxyParallel(b, listProxy(b, up.URL, nil), size)
		})
		b.Run(form+"/parallel/filtered-hit", func(b *testing.B) {
			benchProxyParallel(b, listProxy(b, up.URL, memoBenchRewriter(NewMemo(0, 0))), size)
		})
	}
}
