package session

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/protocol"
)

// BenchmarkFanOut15000 compares, over the same 15,000 sessions of one hub in one
// run, ways to queue one 100-byte frame to all of them, each iteration ending when
// every frame was handed to its transport (as BenchmarkBroadcast15000):
//
//   - broadcast: Hub.Broadcast, the baseline;
//   - send-to-sessions: Hub.SendToSessions of a list of the 15,000 in the order
//     Broadcast walks them (the hub's shards), so the two touch memory in the same
//     order and the ratio is that of the methods;
//   - channel-publish: a publication to a channel the 15,000 subscribed to in random
//     order, as the delivery layer will do it: the channel index's snapshot into a
//     pooled buffer, then SendToSessions. In a fresh hub, a shard's members lie in
//     memory in the order they connected, which favours Broadcast; in a hub that has
//     run for a while, both orders are random.
//
// Besides wall time per iteration it reports the process's CPU time per iteration
// (cpu-ns/op: the caller and the flush workers), steadier on a shared machine.
// Compare the sub-benchmarks as ratios to broadcast; run with -count to interleave
// them.
func BenchmarkFanOut15000(b *testing.B) {
	hub, sessions, writes, _ := benchmarkHub(b)
	var inShardOrder []*Session
	for _, sh := range hub.shards {
		inShardOrder = append(inShardOrder, sh.members...)
	}
	index, err := channels.NewIndex[*Session](channels.Config{})
	if err != nil {
		b.Fatal(err)
	}
	shuffled := slices.Clone(sessions)
	random := rand.New(rand.NewPCG(1, 2))
	random.Shuffle(len(shuffled), func(left, right int) { shuffled[left], shuffled[right] = shuffled[right], shuffled[left] })
	for _, s := range shuffled {
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
		{"send-to-sessions", func(frame []byte) int { return hub.SendToSessions(frame, inShardOrder, nil) }},
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
			cpuBefore := testsupport.ProcessCPUTime(b)
			for b.Loop() {
				before := writes.Load()
				if queued := fanOut.queue(protocol.ContentFrame("broadcast", benchmarkContent)); queued != benchmarkConnections {
					b.Fatalf("queued %d, want %d", queued, benchmarkConnections)
				}
				for writes.Load()-before < benchmarkConnections {
					waitForWorkers()
				}
			}
			b.ReportMetric(float64(testsupport.ProcessCPUTime(b)-cpuBefore)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchmarkConnections, "ns/delivery")
		})
	}
}
