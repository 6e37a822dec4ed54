package caddymodule

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of a token validation, a bounded label set.
const (
	resultValid       = "valid"
	resultInvalid     = "invalid"
	resultUnavailable = "unavailable"
	resultMissing     = "missing"
)

// gatewayMetrics are the gateway's Prometheus collectors. They are created
// once per process and registered into each config's registry, so counters
// survive reloads and several handler instances share them. Labels are
// bounded: never a subject, client or token.
type gatewayMetrics struct {
	validations *prometheus.CounterVec
	latency     *prometheus.HistogramVec
}

var (
	metricsOnce sync.Once
	metricsVal  *gatewayMetrics
)

func registerMetrics(reg *prometheus.Registry) *gatewayMetrics {
	metricsOnce.Do(func() {
		metricsVal = &gatewayMetrics{
			validations: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: "caddy",
				Subsystem: "mcp_gateway",
				Name:      "token_validations_total",
				Help:      "Bearer token validations by token kind, result and source (cache or provider).",
			}, []string{"kind", "result", "source"}),
			latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Namespace: "caddy",
				Subsystem: "mcp_gateway",
				Name:      "token_validation_seconds",
				Help:      "Time to validate a bearer token, by token kind and source.",
				Buckets:   []float64{.00001, .00005, .0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5},
			}, []string{"kind", "source"}),
		}
	})
	if reg != nil {
		for _, c := range []prometheus.Collector{metricsVal.validations, metricsVal.latency} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					// Registration fails only for a programming error
					// (conflicting descriptors); counting still works.
					continue
				}
			}
		}
	}
	return metricsVal
}

// observe records one validation. src is "" when nothing was validated
// (no token at all).
func (m *gatewayMetrics) observe(kind, result, src string, d time.Duration) {
	if m == nil {
		return
	}
	if src == "" {
		src = "none"
	}
	m.validations.WithLabelValues(kind, result, src).Inc()
	if result != resultMissing {
		m.latency.WithLabelValues(kind, src).Observe(d.Seconds())
	}
}
