package main

import (
	"errors"

	"github.com/wsgate/wsgate/benchmarks/internal/result"
)

// echo keeps one {"type":"message"} in flight on each of -echo-conns connections for
// -echo-duration and counts the round trips.
func (b *bench) echo() (*result.Echo, error) {
	open := b.ensureConnections()
	if open == 0 {
		return nil, errors.New("no open connection")
	}
	connections := min(b.options.echoConnections, int(open))
	start := b.mark()
	b.fleet.Echo(connections, b.options.echoDuration)
	snapshot := b.fleet.Snapshot()
	return &result.Echo{
		Connections: connections,
		Duration:    b.options.echoDuration.Seconds(),
		RoundTrips:  snapshot.RoundTrips,
		PerSecond:   float64(snapshot.RoundTrips) / b.options.echoDuration.Seconds(),
		Latency:     result.Summarize(snapshot.EchoLatency),
		CPU:         b.since(start),
	}, nil
}
