package session

import "time"

// Observer receives the timings the hub measures, for metrics. Its methods are
// called from many goroutines at once (fan-out callers, connection handlers) and must
// be cheap and non-blocking: a histogram update, not I/O.
type Observer interface {
	// BroadcastDone reports one fan-out to every connection: how many connections it
	// was queued for and how long queuing took.
	BroadcastDone(targets int, duration time.Duration)
	// PingAnswered reports a heartbeat round trip: from the ping's write to the next
	// inbound frame of that connection.
	PingAnswered(roundTrip time.Duration)
}

// noObserver is the Observer used when Config.Observer is nil.
type noObserver struct{}

func (noObserver) BroadcastDone(int, time.Duration) {}
func (noObserver) PingAnswered(time.Duration)       {}
