// Package workerprotocol is the load generator's worker protocol: a parent writes
// one JSON Command per line to a `loadgen -worker` process's standard input and reads
// one JSON Answer per line from its output. benchmarks/loadgen is both sides;
// benchmarks/scale drives loadgen workers with it. The types are plain data, safe to
// copy; none is shared between goroutines by the protocol.
package workerprotocol

import (
	"slices"
	"strconv"
	"time"

	"github.com/wsgate/wsgate/benchmarks/internal/stats"
)

// GrowReport is the outcome of loadgen's Fleet.Grow.
type GrowReport struct {
	Connected  int     `json:"connected"`
	Failed     int     `json:"failed"`
	Seconds    float64 `json:"seconds"`
	FirstError string  `json:"first_error,omitempty"`
}

// Merge combines the reports of fleets that grew at the same time.
func (g GrowReport) Merge(other GrowReport) GrowReport {
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

// Merge combines the snapshots of two fleets of the same phase.
func (s Snapshot) Merge(other Snapshot) Snapshot {
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

// Delivered returns the deliveries of the current phase.
func (s Snapshot) Delivered() int64 {
	total := int64(0)
	for _, count := range s.Received {
		total += count
	}
	return total
}

// subscriptionPlan is a deterministic assignment of channels to connections:
// connection number i (counted across every process of the fleet from First)
// subscribes to channels (i + k*Channels/PerConnection) mod Channels for k below
// PerConnection, named Prefix followed by the number. When the connection count is
// a multiple of Channels every channel gets the same number of subscribers (15,000
// connections in 10 of 1,000 channels: 150 each), and a connection's channels are
// Channels/PerConnection apart, so a batch of that many consecutive channels
// publishes exactly once to every connection, as one broadcast does.
type Plan struct {
	Prefix        string `json:"prefix"`
	Channels      int    `json:"channels"`
	PerConnection int    `json:"per_connection"`
	First         int    `json:"first"`
}

// Channel returns the name of the k-th channel of connection number connection.
func (p Plan) Channel(connection, k int) string {
	return p.Name((connection + k*(p.Channels/p.PerConnection)) % p.Channels)
}

// Name returns the name of channel number number.
func (p Plan) Name(number int) string {
	return p.Prefix + strconv.Itoa(number)
}

// SubscribeReport is the outcome of loadgen's Fleet.Subscribe: subscribes sent, confirmed by
// {"type":"subscribed"} and refused by {"type":"error"}.
type SubscribeReport struct {
	Requested int64   `json:"requested"`
	Confirmed int64   `json:"confirmed"`
	Refused   int64   `json:"refused"`
	Seconds   float64 `json:"seconds"`
}

// Merge combines the reports of fleets that subscribed at the same time.
func (s SubscribeReport) Merge(other SubscribeReport) SubscribeReport {
	return SubscribeReport{
		Requested: s.Requested + other.Requested,
		Confirmed: s.Confirmed + other.Confirmed,
		Refused:   s.Refused + other.Refused,
		Seconds:   max(s.Seconds, other.Seconds),
	}
}

// Command is one request from the parent to a worker, one JSON object per line on
// the worker's standard input.
type Command struct {
	Operation   string        `json:"op"`
	Target      int           `json:"target,omitempty"`
	Phase       int           `json:"phase,omitempty"`
	Sequences   int           `json:"sequences,omitempty"`
	Sequence    int           `json:"sequence,omitempty"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	Connections int           `json:"connections,omitempty"`
	Duration    time.Duration `json:"duration,omitempty"`
	Copies      int           `json:"copies,omitempty"`
	Plan        *Plan         `json:"plan,omitempty"`
}

// Answer is a worker's reply to a command, one JSON object per line on its standard
// output.
type Answer struct {
	Grow      GrowReport      `json:"grow"`
	Subscribe SubscribeReport `json:"subscribe"`
	Count     int64           `json:"count"`
	Snapshot  Snapshot        `json:"snapshot"`
	CPU       float64         `json:"cpu_s"`
}
