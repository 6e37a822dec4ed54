package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/caddyproc"
)

// TestRunThroughBinary runs the whole benchmark briefly through the
// built binary, so that `make bench` cannot rot unnoticed: every cell
// verified, every answer as expected, one row per cell in the table.
func TestRunThroughBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built binary: skipped with -short")
	}
	var out bytes.Buffer
	o := options{caddy: caddyproc.Binary(t), duration: 300 * time.Millisecond, rounds: 1, conns: 4, markdown: true}
	if err := run(o, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	// run fails on any unexpected answer; here, one row per cell.
	table := out.String()
	rows := 0
	for line := range strings.Lines(table) {
		if strings.HasPrefix(line, "| ") && strings.Contains(line, " ms | ") {
			rows++
		}
	}
	if rows != 20 {
		t.Errorf("%d rows, want 20 (4 workloads × 5 configurations):\n%s", rows, table)
	}
	for _, want := range []string{"gateway opaque", "audit refusals", "tools/list SSE", "denied call (403)", "req/s ÷ plain"} {
		if !strings.Contains(table, want) {
			t.Errorf("table without %q:\n%s", want, table)
		}
	}
	t.Logf("\n%s", table)
}

// TestBackendAnswers holds the fixed backend to the shape the benchmark
// claims: a ~45 KB list of 110 tools, five per scope, a tools/call answer
// of about 285 bytes, the list as an event stream on request, and ids
// echoed for messages that are not the benchmark's own (discovery).
func TestBackendAnswers(t *testing.T) {
	wls := allWorkloads()
	be, err := startBackend(wls[0].body, wls[1].body)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	post := func(body []byte, h http.Header) (*http.Response, []byte) {
		req, err := http.NewRequest(http.MethodPost, be.url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = h
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	resp, list := post(wls[1].body, wls[1].header)
	if err := check(wls[1], config{name: "backend"}, resp, list); err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	if len(list) < 40_000 || len(list) > 50_000 {
		t.Errorf("tools/list answer is %d bytes, want about 45 KB", len(list))
	}
	perScope := map[string]int{}
	var parsed struct {
		Result struct {
			Tools []struct {
				Meta map[string][]string `json:"_meta"`
			} `json:"tools"`
		} `json:"result"`
	}
	if err := json.Unmarshal(list, &parsed); err != nil {
		t.Fatal(err)
	}
	for _, tool := range parsed.Result.Tools {
		s := tool.Meta["scopegate/scopes"]
		if len(s) != 1 {
			t.Fatalf("tool declares %v", s)
		}
		perScope[s[0]]++
	}
	if len(perScope) != numScopes {
		t.Errorf("%d scopes declared, want %d", len(perScope), numScopes)
	}
	for s, n := range perScope {
		if n != 5 {
			t.Errorf("%d tools need %s, want 5", n, s)
		}
	}

	resp, call := post(wls[0].body, wls[0].header)
	if err := check(wls[0], config{name: "backend"}, resp, call); err != nil {
		t.Fatalf("tools/call: %v", err)
	}
	if len(call) < 260 || len(call) > 310 {
		t.Errorf("tools/call answer is %d bytes, want about 285: %s", len(call), call)
	}

	resp, sse := post(wls[2].body, wls[2].header)
	if err := check(wls[2], config{name: "backend"}, resp, sse); err != nil {
		t.Fatalf("tools/list SSE: %v", err)
	}

	t.Logf("tools/list %d bytes, tools/call %d bytes", len(list), len(call))
	_, other := post([]byte(`{"jsonrpc":"2.0","id":"scopegate-discovery","method":"tools/list","params":{}}`), http.Header{})
	if !bytes.HasPrefix(other, []byte(`{"jsonrpc":"2.0","id":"scopegate-discovery","result":{"tools":[`)) {
		t.Errorf("discovery answer %.100s", other)
	}
	if resp, _ := post([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), http.Header{}); resp.StatusCode != http.StatusAccepted {
		t.Errorf("notification: status %d, want 202", resp.StatusCode)
	}
}

// TestCheckRefusesWrongLists: verify must fail a gateway that lists a
// tool the token may not use, or lists everything, or answers 200 to the
// denied call.
func TestCheckRefusesWrongLists(t *testing.T) {
	wls := allWorkloads()
	gw := config{name: "gateway", gateway: true}
	ok := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}}
	full := `{"jsonrpc":"2.0","id":1,"result":` + string(toolsResult()) + `}`
	if err := check(wls[1], gw, ok, []byte(full)); err == nil {
		t.Error("a gateway listing all 110 tools passed")
	}
	var five []string
	for i := range 5 {
		five = append(five, `{"name":"`+toolName(i*numScopes)+`","_meta":{"scopegate/scopes":["`+scopes[0]+`"]}}`)
	}
	good := `{"jsonrpc":"2.0","id":1,"result":{"tools":[` + strings.Join(five, ",") + `]}}`
	if err := check(wls[1], gw, ok, []byte(good)); err != nil {
		t.Errorf("the right five tools: %v", err)
	}
	five[4] = `{"name":"` + toolName(1) + `","_meta":{"scopegate/scopes":["` + scopes[1] + `"]}}`
	bad := `{"jsonrpc":"2.0","id":1,"result":{"tools":[` + strings.Join(five, ",") + `]}}`
	if err := check(wls[1], gw, ok, []byte(bad)); err == nil {
		t.Error("a list with a tool of another scope passed")
	}
	if err := check(wls[3], gw, ok, []byte(`{"jsonrpc":"2.0","id":1,"result":{"content":[{}]}}`)); err == nil {
		t.Error("a denied call answered 200 passed")
	}
}

func TestReplaceBetweenMarkers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(path, []byte("# A\n"+beginMarker+"\nold\n"+endMarker+"\ntail\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := replaceBetweenMarkers(path, "new table\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if want := "# A\n" + beginMarker + "\nnew table\n" + endMarker + "\ntail\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if err := os.WriteFile(path, []byte("no markers"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := replaceBetweenMarkers(path, "x"); err == nil {
		t.Error("a file without markers was accepted")
	}
}

func TestFmtRate(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 6147.4: "6,147", 1234567: "1,234,567"} {
		if got := fmtRate(in); got != want {
			t.Errorf("fmtRate(%v) = %q, want %q", in, got, want)
		}
	}
}

// TestGoals: issue 11's targets are judged from the ratios, throughput
// only when the load is closed-loop.
func TestGoals(t *testing.T) {
	call := func(rps, p99 float64) row {
		return row{workload: "tools/call", config: "gateway JWT", ratio: true, rpsRatio: rps, p99Ratio: p99}
	}
	list := func(rps, cpu float64) row {
		return row{workload: "tools/list JSON", config: "gateway opaque", ratio: true, rpsRatio: rps, cpuDelta: cpu, cpuDeltaOK: true}
	}
	tests := []struct {
		name     string
		r        row
		openLoop bool
		met      bool
	}{
		{"call at par", call(0.97, 1.1), false, true},
		{"call slower", call(0.90, 1.1), false, false},
		{"call p99 high", call(1.0, 1.3), false, false},
		{"call open loop judged by p99 alone", call(0.5, 1.1), true, true},
		{"list fast enough", list(0.85, 50), false, true},
		{"list too slow", list(0.34, 50), false, false},
		{"list CPU too high", list(0.9, 400), false, false},
		{"list open loop judged by CPU alone", list(0.1, 40), true, true},
	}
	for _, tt := range tests {
		g := goals([]row{tt.r}, tt.openLoop)
		if len(g) != 1 || g[0].met != tt.met {
			t.Errorf("%s: goals %+v, want one with met=%v", tt.name, g, tt.met)
		}
	}
	plainRow := row{workload: "tools/call", config: "plain"}
	backendRow := row{workload: "tools/call", config: "backend", ratio: true, rpsRatio: 0.1}
	if g := goals([]row{plainRow, backendRow}, false); len(g) != 0 {
		t.Errorf("goals for the plain proxy or the backend: %+v", g)
	}
}
