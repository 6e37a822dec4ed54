package soak

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// expect is what a tagged request must do at the backend.
type expect int

const (
	// mustArrive: the gateway answered 200 with the request's own result,
	// so the backend must have seen it exactly once.
	mustArrive expect = iota
	// mustNotArrive: the gateway refused it (401, 403); the backend must
	// never have seen it.
	mustNotArrive
	// unknown: the answer was not the expected one (already a failure);
	// its arrival is not judged.
	unknown
)

// ledger is the driver's side of the record: every tagged request it sent
// and what its answer obliges the backend to have seen. It also keeps
// counts and latencies by kind and status, and the first few unexpected
// answers.
type ledger struct {
	mu         sync.Mutex
	tags       map[string]expect
	counts     map[string]map[int]int // kind → status → count (0: transport error)
	latency    map[string][]time.Duration
	unexpected []string
	nUnexp     int
}

func newLedger() *ledger {
	return &ledger{tags: map[string]expect{}, counts: map[string]map[int]int{}, latency: map[string][]time.Duration{}}
}

// answer records one request of kind answered with status after took.
func (l *ledger) answer(kind string, status int, took time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts[kind] == nil {
		l.counts[kind] = map[int]int{}
	}
	l.counts[kind][status]++
	l.latency[kind] = append(l.latency[kind], took)
}

// send registers tag before its request goes out (so an arrival of a
// request whose answer was lost is not taken for a stray).
func (l *ledger) send(tag string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, dup := l.tags[tag]; dup {
		panic("soak: tag used twice: " + tag)
	}
	l.tags[tag] = unknown
}

// settle records what the answer obliges the backend to have seen of tag.
func (l *ledger) settle(tag string, e expect) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tags[tag] = e
}

// fail records an unexpected answer; the first 20 are kept verbatim.
func (l *ledger) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nUnexp++
	if len(l.unexpected) < 20 {
		l.unexpected = append(l.unexpected, fmt.Sprintf(format, args...))
	}
}

// verdict compares the ledger with the backend's record.
type verdict struct {
	mustArrive, mustNotArrive, unknown int
	missing, duplicated, forbidden     []string // tags
	stray                              []string // arrived, never sent (or sent untracked)
}

func (v verdict) ok() bool {
	return len(v.missing) == 0 && len(v.duplicated) == 0 && len(v.forbidden) == 0 && len(v.stray) == 0
}

func (v verdict) String() string {
	return fmt.Sprintf("missing %d %s, duplicated %d %s, forbidden %d %s, stray %d %s",
		len(v.missing), first(v.missing), len(v.duplicated), first(v.duplicated),
		len(v.forbidden), first(v.forbidden), len(v.stray), first(v.stray))
}

func first(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	sort.Strings(tags)
	return fmt.Sprintf("%q", tags[:min(5, len(tags))])
}

// check judges arrivals (tag → times the backend saw it) against tags.
func check(tags map[string]expect, arrivals map[string]int) verdict {
	var v verdict
	for tag, e := range tags {
		n := arrivals[tag]
		switch e {
		case mustArrive:
			v.mustArrive++
			if n == 0 {
				v.missing = append(v.missing, tag)
			} else if n > 1 {
				v.duplicated = append(v.duplicated, tag)
			}
		case mustNotArrive:
			v.mustNotArrive++
			if n > 0 {
				v.forbidden = append(v.forbidden, tag)
			}
		default:
			v.unknown++
		}
	}
	for tag := range arrivals {
		if _, ok := tags[tag]; !ok {
			v.stray = append(v.stray, tag)
		}
	}
	return v
}

// kinds lists the recorded kinds, sorted.
func (l *ledger) kinds() []string {
	var out []string
	for k := range l.counts {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// percentile of sorted durations (p in [0,1]).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}
