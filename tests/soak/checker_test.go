package soak

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestCheckFindsEveryDisagreement: the arrival check reports an allowed
// request that never arrived or arrived twice, a refused one that arrived,
// and an arrival nobody sent; it does not judge requests whose answer was
// already wrong.
func TestCheckFindsEveryDisagreement(t *testing.T) {
	tags := map[string]expect{"a1": mustArrive, "a2": mustArrive, "d1": mustNotArrive, "d2": mustNotArrive, "u1": unknown}
	tests := []struct {
		name     string
		arrivals map[string]int
		want     verdict
	}{
		{"all as answered", map[string]int{"a1": 1, "a2": 1}, verdict{}},
		{"unjudged may arrive", map[string]int{"a1": 1, "a2": 1, "u1": 1}, verdict{}},
		{"dropped", map[string]int{"a1": 1}, verdict{missing: []string{"a2"}}},
		{"duplicated", map[string]int{"a1": 1, "a2": 2}, verdict{duplicated: []string{"a2"}}},
		{"refused but arrived", map[string]int{"a1": 1, "a2": 1, "d2": 1}, verdict{forbidden: []string{"d2"}}},
		{"never sent", map[string]int{"a1": 1, "a2": 1, "x": 1}, verdict{stray: []string{"x"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := check(tags, tc.arrivals)
			if v.mustArrive != 2 || v.mustNotArrive != 2 || v.unknown != 1 {
				t.Errorf("counted %d/%d/%d, want 2/2/1", v.mustArrive, v.mustNotArrive, v.unknown)
			}
			if !slices.Equal(v.missing, tc.want.missing) || !slices.Equal(v.duplicated, tc.want.duplicated) ||
				!slices.Equal(v.forbidden, tc.want.forbidden) || !slices.Equal(v.stray, tc.want.stray) {
				t.Errorf("verdict %s, want %s", v, tc.want)
			}
			if v.ok() != tc.want.ok() {
				t.Errorf("ok() = %v, want %v", v.ok(), tc.want.ok())
			}
		})
	}
}

// TestJudgeGrowth: the growth judgement fits a line through the samples
// after the warm-up. A steady leak well below one reading's noise is found;
// a flat series, a warm-up climb and a single high reading are not taken
// for growth.
func TestJudgeGrowth(t *testing.T) {
	const d = 10 * time.Minute
	const mebi = 1 << 20
	series := func(f func(at time.Duration) float64) []sample {
		rng := rand.New(rand.NewPCG(1, 2))
		var out []sample
		for at := 4 * time.Second; at <= d; at += 4 * time.Second {
			noise := (rng.Float64() - 0.5) * 8 * mebi // ±4 MiB per reading
			out = append(out, sample{at: at, rss: int64(100<<20 + f(at) + noise)})
		}
		return out
	}
	rss := func(s sample) float64 { return float64(s.rss) }
	tests := []struct {
		name string
		f    func(at time.Duration) float64
		want bool
	}{
		{"flat", func(time.Duration) float64 { return 0 }, false},
		{"climbs during the warm-up only", func(at time.Duration) float64 {
			return min(at.Minutes(), 3) * 20 * mebi
		}, false},
		{"one high reading", func(at time.Duration) float64 {
			if at == 8*time.Minute {
				return 60 * mebi
			}
			return 0
		}, false},
		{"leaks 4 MiB/min", func(at time.Duration) float64 { return at.Minutes() * 4 * mebi }, true},
		{"leaks 1 MiB/min, below the slope limit", func(at time.Duration) float64 { return at.Minutes() * mebi }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := judge(series(tc.f), d, rss)
			if got := (limit{rssSlopeLimit, rssGrowthLimit}).exceeded(tr); got != tc.want {
				t.Errorf("growth %+.1f MiB (t=%.1f, %d samples): judged growing %v, want %v", tr.growth/(1<<20), tr.t, tr.n, got, tc.want)
			}
		})
	}
}

// TestTagsOf: the backend finds the tag in each kind of tagged request.
func TestTagsOf(t *testing.T) {
	tests := []struct {
		body, method string
		tags         []string
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_note","arguments":{"tag":"c1-2"}}}`, "tools/call", []string{"c1-2"}},
		{`{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["demo://public/c3-4"]}}}`, "subscriptions/listen", []string{"c3-4"}},
		{`{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"secret://c5-6"}}`, "resources/subscribe", []string{"c5-6"}},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, "tools/list", nil},
	}
	for _, tc := range tests {
		m, tags := tagsOf([]byte(tc.body))
		if m != tc.method || !slices.Equal(tags, tc.tags) {
			t.Errorf("tagsOf(%s) = %q %q, want %q %q", tc.body, m, tags, tc.method, tc.tags)
		}
	}
}
