package soak

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// summary is the table a run prints: requests by kind and status with
// latencies, the arrival check, and Caddy's memory and goroutines.
func summary(l *ledger, v verdict, untagged map[string]int, elapsed time.Duration, clients int,
	baseline, end sample, peak int, rss, heap, gor trend, rssLimit, gorLimit limit) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(&b, "soak summary: %d clients, %s\n", clients, elapsed.Round(time.Second))
	fmt.Fprintln(tw, "kind\trequests\tby status\tp50\tp99\t")
	total := 0
	var all []time.Duration
	for _, k := range l.kinds() {
		n := 0
		var st []string
		statuses := make([]int, 0, len(l.counts[k]))
		for s := range l.counts[k] {
			statuses = append(statuses, s)
		}
		slices.Sort(statuses)
		for _, s := range statuses {
			n += l.counts[k][s]
			st = append(st, fmt.Sprintf("%d×%d", l.counts[k][s], s))
		}
		lat := slices.Clone(l.latency[k])
		slices.Sort(lat)
		all = append(all, lat...)
		total += n
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t\n", k, n, strings.Join(st, " "), ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)))
	}
	slices.Sort(all)
	fmt.Fprintf(tw, "all\t%d\t%.0f/s\t%s\t%s\t\n", total, float64(total)/elapsed.Seconds(), ms(percentile(all, 0.5)), ms(percentile(all, 0.99)))
	tw.Flush()

	fmt.Fprintf(&b, "\narrivals at the backend: %d tagged requests had to arrive once, %d never (%d unjudged after an unexpected answer)\n",
		v.mustArrive, v.mustNotArrive, v.unknown)
	fmt.Fprintf(&b, "  missing %d, duplicated %d, forbidden arrived %d, stray %d; unexpected answers %d\n",
		len(v.missing), len(v.duplicated), len(v.forbidden), len(v.stray), l.nUnexp)
	var un []string
	for m, n := range untagged {
		un = append(un, fmt.Sprintf("%s %d", m, n))
	}
	slices.Sort(un)
	fmt.Fprintf(&b, "  untagged backend requests: %s\n", strings.Join(un, ", "))

	fmt.Fprintf(&b, "\ncaddy (judged after %.0f%% warm-up, %d samples over %s):\n", warmupFraction*100, rss.n, rss.window.Round(time.Second))
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tbefore\twindow start\twindow end\tpeak\tafter\tslope/min\tgrowth\tlimits\tt\t")
	fmt.Fprintf(tw, "RSS MiB\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%+.2f\t%+.1f\t%s\t%.1f\t\n",
		mib(baseline.rss), rss.start/(1<<20), rss.end/(1<<20), rss.maxV/(1<<20), mib(end.rss), rss.slope*60/(1<<20), rss.growth/(1<<20), fmt.Sprintf("%.0f/min %.0f", rssLimit.slopePerMin/(1<<20), rssLimit.growth/(1<<20)), rss.t)
	fmt.Fprintf(tw, "heap in use MiB\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%+.2f\t%+.1f\t-\t%.1f\t\n",
		mib(baseline.heap), heap.start/(1<<20), heap.end/(1<<20), heap.maxV/(1<<20), mib(end.heap), heap.slope*60/(1<<20), heap.growth/(1<<20), heap.t)
	fmt.Fprintf(tw, "goroutines\t%d\t%.0f\t%.0f\t%d\t%d\t%+.1f\t%+.0f\t%s\t%.1f\t\n",
		baseline.goroutines, gor.start, gor.end, peak, end.goroutines, gor.slope*60, gor.growth, fmt.Sprintf("%.0f/min %.0f", gorLimit.slopePerMin, gorLimit.growth), gor.t)
	tw.Flush()
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
