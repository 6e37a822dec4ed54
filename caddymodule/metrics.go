package caddymodule

import (
	"errors"
	"strings"
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
	decisions   *prometheus.CounterVec
	deciding    *prometheus.HistogramVec
	slowBodies  *prometheus.CounterVec
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
			decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: "caddy",
				Subsystem: "mcp_gateway",
				Name:      "decisions_total",
				Help:      "Scope decisions on MCP messages, by method and decision.",
			}, []string{"method", "decision"}),
			deciding: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Namespace: "caddy",
				Subsystem: "mcp_gateway",
				Name:      "decision_seconds",
				Help:      "Time to read, classify and decide one MCP message, by method.",
				Buckets:   []float64{.00001, .00005, .0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5},
			}, []string{"method"}),
			slowBodies: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: "caddy",
				Subsystem: "mcp_gateway",
				Name:      "slow_bodies_total",
				Help:      "POST bodies cut off with 408 for arriving too slowly, by reason (min_rate or timeout).",
			}, []string{"reason"}),
		}
	})
	if reg != nil {
		for _, c := range []prometheus.Collector{metricsVal.validations, metricsVal.latency, metricsVal.decisions, metricsVal.deciding, metricsVal.slowBodies} {
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

// methodLabels are the method label values; anything else is "other", so
// a client cannot grow the label set.
var methodLabels = map[string]bool{
	"initialize": true, "server/discover": true, "ping": true,
	"tools/list": true, "tools/call": true,
	"resources/list": true, "resources/templates/list": true, "resources/read": true,
	"prompts/list": true, "prompts/get": true,
	"completion/complete": true, "logging/setLevel": true, "subscriptions/listen": true,
	"resources/subscribe": true, "resources/unsubscribe": true,
}

// decided records one decision.
func (m *gatewayMetrics) decided(method, verdict string, d time.Duration) {
	if m == nil {
		return
	}
	switch {
	case methodLabels[method]:
	case method == "":
		method = "response"
	case strings.HasPrefix(method, "notifications/"):
		method = "notification"
	case strings.HasPrefix(method, "tasks/"):
		method = "tasks"
	default:
		method = "other"
	}
	m.decisions.WithLabelValues(method, verdict).Inc()
	m.deciding.WithLabelValues(method).Observe(d.Seconds())
}

// slowBody records one body cut off for its pace.
func (m *gatewayMetrics) slowBody(reason string) {
	if m == nil {
		return
	}
	m.slowBodies.WithLabelValues(reason).Inc()
}
