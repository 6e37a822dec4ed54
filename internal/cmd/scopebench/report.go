package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the table.
type row struct {
	workload, config string
	rps, lo, hi      float64 // good responses per second: all rounds, slowest and fastest round
	p50, p99         time.Duration
	cpu              float64 // Caddy's CPU µs per request; <0: no Caddy
	errors           uint64
	rssMiB           float64
	// Against the plain proxy on the same workload; ok false for the
	// plain proxy itself.
	ratio              bool
	rpsRatio, p99Ratio float64
	cpuDelta           float64 // µs; NaN-free: only when both have a Caddy
	cpuDeltaOK         bool
}

func (b *bench) rows() []row {
	plain := slices.IndexFunc(b.configs, func(c config) bool { return c.name == "plain" })
	var rows []row
	for w, wl := range b.workloads {
		for c, cfg := range b.configs {
			cl := b.cells[cellKey{w, c}]
			cl.latency.Close()
			r := row{workload: wl.name, config: cfg.name, cpu: -1, errors: cl.bad,
				p50: cl.latency.Latencies.P50, p99: cl.latency.Latencies.P99,
				lo: slices.Min(cl.perRound), hi: slices.Max(cl.perRound)}
			if cl.elapsed > 0 {
				r.rps = float64(cl.good) / cl.elapsed.Seconds()
			}
			if cfg.proc != nil && cl.good+cl.bad > 0 {
				r.cpu = float64(cl.cpu.Microseconds()) / float64(cl.good+cl.bad)
				r.rssMiB = float64(cl.rssMax) / (1 << 20)
			}
			rows = append(rows, r)
		}
	}
	if plain < 0 {
		return rows
	}
	n := len(b.configs)
	for i := range rows {
		p := rows[i/n*n+plain]
		if i%n == plain || p.rps == 0 || p.p99 == 0 {
			continue
		}
		rows[i].ratio = true
		rows[i].rpsRatio = rows[i].rps / p.rps
		rows[i].p99Ratio = float64(rows[i].p99) / float64(p.p99)
		if rows[i].cpu >= 0 && p.cpu >= 0 {
			rows[i].cpuDelta, rows[i].cpuDeltaOK = rows[i].cpu-p.cpu, true
		}
	}
	return rows
}

// goal is one of issue 11's targets, read off the table.
type goal struct {
	text string
	met  bool
}

// goals reads the targets off the rows. With a fixed -rate (openLoop) the
// throughput is the rate, not a result: only latency and CPU are judged.
func goals(rows []row, openLoop bool) []goal {
	var out []goal
	for _, r := range rows {
		if !r.ratio || !strings.HasPrefix(r.config, "gateway") {
			continue
		}
		cpuOK := r.cpuDeltaOK && r.cpuDelta <= 60
		switch {
		case r.workload == "tools/call" && openLoop:
			out = append(out, goal{fmt.Sprintf("%s, %s: p99 %.2f× the plain proxy at the same rate (goal ≤ 1.2×)",
				r.workload, r.config, r.p99Ratio), r.p99Ratio <= 1.2})
		case r.workload == "tools/call":
			out = append(out, goal{fmt.Sprintf("%s, %s: throughput %.2f× the plain proxy (goal ≥ 0.95×), p99 %.2f× (goal ≤ 1.2×)",
				r.workload, r.config, r.rpsRatio, r.p99Ratio), r.rpsRatio >= 0.95 && r.p99Ratio <= 1.2})
		case strings.HasPrefix(r.workload, "tools/list") && openLoop:
			out = append(out, goal{fmt.Sprintf("%s, %s: CPU %+.0f µs per list (goal ≤ +60 µs)",
				r.workload, r.config, r.cpuDelta), cpuOK})
		case strings.HasPrefix(r.workload, "tools/list"):
			out = append(out, goal{fmt.Sprintf("%s, %s: throughput %.2f× the plain proxy (goal ≥ 0.80×), CPU %+.0f µs per list (goal ≤ +60 µs)",
				r.workload, r.config, r.rpsRatio, r.cpuDelta), r.rpsRatio >= 0.80 && cpuOK})
		}
	}
	return out
}

func (b *bench) machine() string {
	model := "unknown CPU"
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(info)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%d CPUs (nproc), %s, Linux %s, %s", runtime.NumCPU(), model, strings.TrimSpace(string(kernel)), runtime.Version())
}

func (b *bench) preamble() string {
	mode := fmt.Sprintf("%d concurrent requests as fast as they are answered", b.o.conns)
	if b.o.rate > 0 {
		mode = fmt.Sprintf("%d requests/s per cell from up to %d workers", b.o.rate, b.o.conns)
	}
	return fmt.Sprintf("Measured %s on %s; load average %s at the start.\n"+
		"vegeta, %s, %d round(s) × %s per cell, configurations alternating; "+
		"CPU is the Caddy process's user+system time per request (/proc, 10 ms ticks).",
		b.started.Format("2006-01-02 15:04 MST"), b.machine(), b.loadavg, mode, b.o.rounds, b.o.duration)
}

func fmtRate(f float64) string {
	s := fmt.Sprintf("%.0f", f)
	if len(s) <= 3 {
		return s
	}
	var out []byte
	for i, ch := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, ch)
	}
	return string(out)
}

func fmtLatency(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func (r row) cells() []string {
	cpu, rss := "–", "–"
	if r.cpu >= 0 {
		cpu, rss = fmt.Sprintf("%.0f", r.cpu), fmt.Sprintf("%.0f", r.rssMiB)
	}
	rpsRatio, p99Ratio, cpuDelta := "", "", ""
	if r.ratio {
		rpsRatio, p99Ratio = fmt.Sprintf("%.2f×", r.rpsRatio), fmt.Sprintf("%.2f×", r.p99Ratio)
		if r.cpuDeltaOK {
			cpuDelta = fmt.Sprintf("%+.0f", r.cpuDelta)
		}
	}
	return []string{r.workload, r.config, fmtRate(r.rps), fmtRate(r.lo) + "–" + fmtRate(r.hi),
		fmtLatency(r.p50), fmtLatency(r.p99), cpu, fmt.Sprint(r.errors), rss, rpsRatio, p99Ratio, cpuDelta}
}

var columns = []string{"workload", "config", "req/s", "per round", "p50", "p99", "CPU µs/req", "errors", "RSS MiB", "req/s ÷ plain", "p99 ÷ plain", "CPU − plain µs"}

// markdown is the table with its preamble and the goals, for README.md.
func (b *bench) markdown() string {
	rows := b.rows()
	var s strings.Builder
	s.WriteString(b.preamble() + "\n\n")
	s.WriteString("| " + strings.Join(columns, " | ") + " |\n")
	s.WriteString("|" + strings.Repeat("---|", len(columns)) + "\n")
	prev := ""
	for _, r := range rows {
		c := r.cells()
		if c[0] == prev {
			c[0] = ""
		} else {
			prev = c[0]
		}
		s.WriteString("| " + strings.Join(c, " | ") + " |\n")
	}
	s.WriteString("\n")
	for _, g := range goals(rows, b.o.rate > 0) {
		s.WriteString("- " + mark(g.met) + " " + g.text + "\n")
	}
	return s.String()
}

func mark(met bool) string {
	if met {
		return "met:"
	}
	return "NOT met:"
}

// text is the table aligned for a terminal.
func (b *bench) text() string {
	rows := b.rows()
	var buf bytes.Buffer
	buf.WriteString(b.preamble() + "\n\n")
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(columns, "\t")+"\t")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r.cells(), "\t")+"\t")
	}
	tw.Flush()
	buf.WriteString("\n")
	for _, g := range goals(rows, b.o.rate > 0) {
		buf.WriteString(mark(g.met) + " " + g.text + "\n")
	}
	return buf.String()
}

// failures lists the unexpected answers, if any.
func (b *bench) failures() string {
	var s strings.Builder
	for w, wl := range b.workloads {
		for c, cfg := range b.configs {
			if cl := b.cells[cellKey{w, c}]; cl != nil && cl.bad > 0 {
				fmt.Fprintf(&s, "%s via %s: %d unexpected answers, e.g. %s\n", wl.name, cfg.name, cl.bad, strings.Join(cl.errs, "; "))
			}
		}
	}
	return s.String()
}

// The markers around the generated part of README.md's Performance
// section.
const (
	beginMarker = "<!-- scopebench:begin -->"
	endMarker   = "<!-- scopebench:end -->"
)

// report prints the table; with -readme it also rewrites the file, unless
// some answer was not the one expected: a table with failures is printed
// and the run fails.
func (b *bench) report(out io.Writer) error {
	failures := b.failures()
	switch {
	case b.o.readme != "" || b.o.markdown:
		fmt.Fprint(out, b.markdown())
	default:
		fmt.Fprint(out, b.text())
	}
	if failures != "" {
		return fmt.Errorf("unexpected answers:\n%s", failures)
	}
	if b.o.readme != "" {
		return replaceBetweenMarkers(b.o.readme, b.markdown())
	}
	return nil
}

// replaceBetweenMarkers puts text between the markers of the file.
func replaceBetweenMarkers(path, text string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %s … %s section to rewrite", path, beginMarker, endMarker)
	}
	s = s[:i+len(beginMarker)] + "\n" + text + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
