package main

import (
	"time"

	"github.com/wsgate/wsgate/benchmarks/internal/result"
	"github.com/wsgate/wsgate/benchmarks/internal/stats"
)

// idle grows the fleet step by step, lets the server settle at each step and reads
// its memory; the per-connection figures are the slopes between the last two steps,
// so the process's fixed cost cancels out.
func (b *bench) idle() *result.Idle {
	start := b.mark()
	idle := &result.Idle{}
	for _, step := range b.options.steps {
		b.fleet.Grow(step)
		idle.Samples = append(idle.Samples, b.sample())
	}
	snapshot := b.fleet.Snapshot()
	idle.PingsAnswered = snapshot.Pings
	idle.Closed = snapshot.Closed
	idle.CPU = b.since(start)
	if len(idle.Samples) < 2 {
		return idle
	}
	from, to := idle.Samples[len(idle.Samples)-2], idle.Samples[len(idle.Samples)-1]
	slope := func(a, b int64) float64 {
		value, _ := stats.Slope(stats.Point{X: float64(from.Connections), Y: float64(a)}, stats.Point{X: float64(to.Connections), Y: float64(b)})
		return value
	}
	idle.RSSPerConnection = slope(from.RSS, to.RSS)
	idle.KernelBuffersPerConn = slope(from.KernelTCPBuffers, to.KernelTCPBuffers)
	if from.Heap != nil && to.Heap != nil {
		value := slope(*from.Heap, *to.Heap)
		idle.HeapPerConnection = &value
	}
	if from.KernelTCPSockets != nil && to.KernelTCPSockets != nil {
		value := slope(*from.KernelTCPSockets, *to.KernelTCPSockets)
		idle.KernelSocketsPerConn = &value
	}
	return idle
}

// sample settles the server and returns its reading with the fleet's size.
func (b *bench) sample() result.Sample {
	settled, elapsed, stable := b.settle()
	return result.Sample{
		Connections:       int(b.fleet.Snapshot().Open),
		ServerConnections: settled.serverConnections,
		RSS:               settled.rss,
		Heap:              settled.heap,
		Goroutines:        settled.goroutines,
		Threads:           settled.threads,
		KernelTCPBuffers:  settled.tcpBuffers,
		KernelTCPSockets:  settled.tcpSlab,
		Settle:            elapsed.Seconds(),
		Stable:            stable,
	}
}

// settle reads the server once a second until it is steady (after at least
// -settle-min) or -settle-max has passed, and returns the last reading with the
// lowest Go heap seen meanwhile. Without a forced GC the heap is a sawtooth between
// collections; its low point is the closest reading to the live heap, and only RSS
// is required to be steady.
func (b *bench) settle() (reading, time.Duration, bool) {
	started := time.Now()
	var history []reading
	for {
		time.Sleep(time.Second)
		history = append(history, b.probe.read())
		elapsed := time.Since(started)
		isSteady := steady(history, b.probe.gcEndpoint)
		if (elapsed >= b.options.settleMin && isSteady) || elapsed >= b.options.settleMax {
			last := history[len(history)-1]
			for _, r := range history {
				if r.heap != nil && (last.heap == nil || *r.heap < *last.heap) {
					last.heap = r.heap
				}
			}
			return last, elapsed, isSteady
		}
	}
}

// steady reports whether the last three readings agree: RSS within 0.5% (or 256 KiB)
// and, when withHeap, the Go heap within 1% (or 256 KiB).
func steady(history []reading, withHeap bool) bool {
	const window, floor = 3, 256 << 10
	if len(history) < window {
		return false
	}
	last := history[len(history)-window:]
	rssLow, rssHigh := last[0].rss, last[0].rss
	for _, r := range last {
		rssLow, rssHigh = min(rssLow, r.rss), max(rssHigh, r.rss)
	}
	if rssHigh-rssLow > max(rssHigh/200, floor) {
		return false
	}
	if !withHeap || last[0].heap == nil {
		return true
	}
	heapLow, heapHigh := *last[0].heap, *last[0].heap
	for _, r := range last {
		if r.heap == nil {
			return false
		}
		heapLow, heapHigh = min(heapLow, *r.heap), max(heapHigh, *r.heap)
	}
	return heapHigh-heapLow <= max(heapHigh/100, floor)
}
