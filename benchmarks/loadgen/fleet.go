package main

import (
	"time"
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
