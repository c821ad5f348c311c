package dashboard

import (
	"time"

	"github.com/wsgate/wsgate/session"
)

// Latencies records the timings the hub measures, fan-out (a broadcast queued to
// every connection) and heartbeat round trip (a ping to the next frame of its
// connection), in histograms the dashboard reads once a second for that second's
// p50 and p99, and passes every timing on to the next observer (the /metrics
// histograms). Set it as the hub's session.Config.Observer and as Config.Latencies.
// Safe for concurrent use; an observation costs the next observer's cost plus a
// bit scan and an atomic add.
type Latencies struct {
	next      session.Observer
	fanout    histogram
	roundTrip histogram
}

// NewLatencies returns Latencies that pass every timing on to next; nil next passes
// them on to nobody.
func NewLatencies(next session.Observer) *Latencies {
	if next == nil {
		next = nobody{}
	}
	return &Latencies{next: next}
}

// BroadcastDone implements session.Observer.
func (l *Latencies) BroadcastDone(targets int, duration time.Duration) {
	l.fanout.observe(duration)
	l.next.BroadcastDone(targets, duration)
}

// PingAnswered implements session.Observer.
func (l *Latencies) PingAnswered(roundTrip time.Duration) {
	l.roundTrip.observe(roundTrip)
	l.next.PingAnswered(roundTrip)
}

// nobody is the next observer of Latencies made without one.
type nobody struct{}

func (nobody) BroadcastDone(int, time.Duration) {}
func (nobody) PingAnswered(time.Duration)       {}
