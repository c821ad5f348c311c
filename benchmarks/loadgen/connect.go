package main

import "github.com/wsgate/wsgate/benchmarks/internal/result"

// connect measures how fast the fleet grows from what it holds to -n connections.
func (b *bench) connect() *result.Connect {
	start := b.mark()
	report := b.fleet.Grow(b.options.connections)
	connect := &result.Connect{
		Target:    b.options.connections,
		Connected: report.Connected,
		Failed:    report.Failed,
		Seconds:   report.Seconds,
		CPU:       b.since(start),
	}
	if report.Seconds > 0 {
		connect.PerSecond = float64(report.Connected) / report.Seconds
	}
	return connect
}

// ensureConnections grows the fleet to -n connections if a scenario needs them and
// the connect scenario did not run first.
func (b *bench) ensureConnections() int64 {
	if open := b.fleet.Snapshot().Open; open < int64(b.options.connections) {
		b.fleet.Grow(b.options.connections)
	}
	return b.fleet.Snapshot().Open
}
