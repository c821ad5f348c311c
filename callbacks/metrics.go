package callbacks

import (
	"fmt"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// The kinds of failure counted in wsgate_callback_errors_total{error=...}.
const (
	// FailureTimeout: no complete answer within Config.Timeout.
	FailureTimeout = "timeout"
	// FailureTransport: the connection failed (refused, reset, closed early).
	FailureTransport = "transport"
	// FailureStatus: an HTTP status other than 2xx.
	FailureStatus = "status"
	// FailureMalformed: the answer is not one of the three shapes, or too long.
	FailureMalformed = "malformed"
	// FailureQueueFull: Go found the queue full; the call never ran.
	FailureQueueFull = "queue_full"
	// FailureCircuitOpen: the breaker failed the call fast; it never ran.
	FailureCircuitOpen = "circuit_open"
)

// failureKinds lists every failure kind, so each counter exists from the start.
var failureKinds = [...]string{FailureTimeout, FailureTransport, FailureStatus, FailureMalformed, FailureQueueFull,
	FailureCircuitOpen}

// latencyBuckets are the upper bounds, in seconds, of the call latency histogram:
// from 1 ms (a local backend) to 10 s (beyond any sensible Config.Timeout).
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// endpointMetrics are one Endpoint's metrics, pre-created in the Client's set with
// the label kind="<kind>": wsgate_callback_calls_total (calls that ran),
// wsgate_callback_errors_total{error=...} (failures by kind, including the calls
// that never ran), wsgate_callback_duration_seconds (latency of the calls that
// ran) and wsgate_callback_breaker_open (1 while the breaker is open or half-open).
type endpointMetrics struct {
	calls    *metrics.Counter
	errors   map[string]*metrics.Counter
	duration *metrics.PrometheusHistogram
	open     atomic.Bool
}

func newEndpointMetrics(set *metrics.Set, kind string) *endpointMetrics {
	m := &endpointMetrics{
		calls:    set.NewCounter(fmt.Sprintf(`wsgate_callback_calls_total{kind=%q}`, kind)),
		errors:   make(map[string]*metrics.Counter, len(failureKinds)),
		duration: set.NewPrometheusHistogramExt(fmt.Sprintf(`wsgate_callback_duration_seconds{kind=%q}`, kind), latencyBuckets),
	}
	for _, failure := range failureKinds {
		m.errors[failure] = set.NewCounter(fmt.Sprintf(`wsgate_callback_errors_total{kind=%q,error=%q}`, kind, failure))
	}
	set.NewGauge(fmt.Sprintf(`wsgate_callback_breaker_open{kind=%q}`, kind), func() float64 {
		if m.open.Load() {
			return 1
		}
		return 0
	})
	return m
}
