package session

import (
	"sync"
	"testing"

	"github.com/wsgate/wsgate/channels"
)

// BenchmarkFanOut15000 compares, over the same 15,000 sessions of one hub in one
// run, three ways to queue one 100-byte frame to all of them, each iteration ending
// when every frame was handed to its transport (as BenchmarkBroadcast15000):
//
//   - broadcast: Hub.Broadcast, the baseline;
//   - send-to-sessions: Hub.SendToSessions of a prepared list of the 15,000;
//   - channel-publish: a publication to a channel the 15,000 subscribed to, as the
//     delivery layer will do it: the channel index's snapshot into a pooled buffer,
//     then SendToSessions.
//
// Compare the sub-benchmarks' ns/op and allocs/op as ratios to broadcast; run with
// -count to interleave them.
func BenchmarkFanOut15000(b *testing.B) {
	hub, sessions, writes, _ := benchmarkHub(b)
	index, err := channels.NewIndex[*Session](channels.Config{})
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range sessions {
		if err := index.Subscribe(s, "scores:final", 0); err != nil {
			b.Fatal(err)
		}
	}
	snapshots := sync.Pool{New: func() any { return new([]*Session) }}
	for _, fanOut := range []struct {
		name  string
		queue func(frame []byte) int
	}{
		{"broadcast", func(frame []byte) int { return hub.Broadcast(frame) }},
		{"send-to-sessions", func(frame []byte) int { return hub.SendToSessions(frame, sessions, nil) }},
		{"channel-publish", func(frame []byte) int {
			snapshot := snapshots.Get().(*[]*Session)
			*snapshot = index.Subscribers("scores:final", (*snapshot)[:0])
			queued := hub.SendToSessions(frame, *snapshot, nil)
			clear(*snapshot)
			snapshots.Put(snapshot)
			return queued
		}},
	} {
		b.Run(fanOut.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				before := writes.Load()
				if queued := fanOut.queue(contentFrame("broadcast", benchmarkContent)); queued != benchmarkConnections {
					b.Fatalf("queued %d, want %d", queued, benchmarkConnections)
				}
				for writes.Load()-before < benchmarkConnections {
					waitForWorkers()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchmarkConnections, "ns/delivery")
		})
	}
}
