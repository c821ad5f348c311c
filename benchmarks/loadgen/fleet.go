package main

import (
	"slices"
	"time"

	"github.com/wsgate/wsgate/benchmarks/internal/stats"
)

// Fleet is a set of client connections to one server that answer the heartbeat,
// count broadcasts and echo, whether they live in this process (localFleet) or are
// spread over worker processes (processFleet). Its methods are called from one
// goroutine, the scenario's.
type Fleet interface {
	// Grow dials until the fleet holds target open connections.
	Grow(target int) GrowReport
	// Begin starts a broadcast phase of sequences numbered broadcasts, each
	// delivered copies times to every connection (once for a broadcast, once per
	// subscribed channel for a round of publications): counts and latencies of the
	// previous phase are dropped.
	Begin(phase, sequences, copies int)
	// Await waits until every open connection has every copy of broadcast sequence of
	// the current phase, or timeout, and returns how many were received.
	Await(sequence int, timeout time.Duration) int64
	// AwaitAll waits until every open connection has every copy of every broadcast of
	// the current phase, or timeout, and returns how many deliveries were received.
	AwaitAll(timeout time.Duration) int64
	// Subscribe subscribes every open connection to its channels of plan and waits
	// up to timeout for the server's answers.
	Subscribe(plan subscriptionPlan, timeout time.Duration) SubscribeReport
	// Echo keeps one {"type":"message"} in flight on each of up to connections
	// connections for duration, then waits for the answers still in flight.
	Echo(connections int, duration time.Duration)
	// Snapshot returns the counters of the fleet and of the current phase.
	Snapshot() Snapshot
	// Close closes every connection and stops the fleet's processes or engine.
	Close()
}

// GrowReport is the outcome of Fleet.Grow.
type GrowReport struct {
	Connected  int     `json:"connected"`
	Failed     int     `json:"failed"`
	Seconds    float64 `json:"seconds"`
	FirstError string  `json:"first_error,omitempty"`
}

// merge combines the reports of fleets that grew at the same time.
func (g GrowReport) merge(other GrowReport) GrowReport {
	merged := GrowReport{
		Connected:  g.Connected + other.Connected,
		Failed:     g.Failed + other.Failed,
		Seconds:    max(g.Seconds, other.Seconds),
		FirstError: g.FirstError,
	}
	if merged.FirstError == "" {
		merged.FirstError = other.FirstError
	}
	return merged
}

// Snapshot is the state of a fleet. Received and Slowest are indexed by the
// sequence number of the current phase: deliveries, and the latency of the last one
// in nanoseconds.
type Snapshot struct {
	Open        int64              `json:"open"`
	Closed      int64              `json:"closed"`
	Pings       int64              `json:"pings"`
	Stale       int64              `json:"stale"`
	Subscribed  int64              `json:"subscribed"`
	Refused     int64              `json:"refused"`
	Received    []int64            `json:"received"`
	Slowest     []int64            `json:"slowest_ns"`
	LastReceipt int64              `json:"last_receipt_ns"`
	Latency     stats.Distribution `json:"latency"`
	RoundTrips  uint64             `json:"round_trips"`
	EchoLatency stats.Distribution `json:"echo_latency"`
	// WorkerCPU is the processor time of worker processes, in seconds; zero for a
	// fleet in this process, whose time is the process's own. ProcessCPU is that
	// time per worker, in worker order.
	WorkerCPU  float64   `json:"worker_cpu_s"`
	ProcessCPU []float64 `json:"process_cpu_s,omitempty"`
}

// merge combines the snapshots of two fleets of the same phase.
func (s Snapshot) merge(other Snapshot) Snapshot {
	merged := Snapshot{
		Open:        s.Open + other.Open,
		Closed:      s.Closed + other.Closed,
		Pings:       s.Pings + other.Pings,
		Stale:       s.Stale + other.Stale,
		Subscribed:  s.Subscribed + other.Subscribed,
		Refused:     s.Refused + other.Refused,
		Received:    make([]int64, max(len(s.Received), len(other.Received))),
		Slowest:     make([]int64, max(len(s.Slowest), len(other.Slowest))),
		LastReceipt: max(s.LastReceipt, other.LastReceipt),
		Latency:     s.Latency.Merge(other.Latency),
		RoundTrips:  s.RoundTrips + other.RoundTrips,
		EchoLatency: s.EchoLatency.Merge(other.EchoLatency),
		WorkerCPU:   s.WorkerCPU + other.WorkerCPU,
		ProcessCPU:  append(slices.Clip(s.ProcessCPU), other.ProcessCPU...),
	}
	for _, part := range []Snapshot{s, other} {
		for sequence, count := range part.Received {
			merged.Received[sequence] += count
		}
		for sequence, slowest := range part.Slowest {
			merged.Slowest[sequence] = max(merged.Slowest[sequence], slowest)
		}
	}
	return merged
}

// delivered returns the deliveries of the current phase.
func (s Snapshot) delivered() int64 {
	total := int64(0)
	for _, count := range s.Received {
		total += count
	}
	return total
}
