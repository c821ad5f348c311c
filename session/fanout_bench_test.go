package session

import (
	"encoding/json"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/protocol"
)

const benchmarkConnections = 15000

func benchmarkHub(b *testing.B) (*Hub, []*Session, *atomic.Int64, *atomic.Int64) {
	// The pending bound is at its maximum (1 GiB): the connections never report
	// written bytes, so every frame stays counted as pending. Fan-outs are not
	// paced: each iteration waits for its writes, so pacing would add its wait to
	// the work measured.
	hub := newTestHub(b, Config{MaxPendingBytes: 1 << 30, MaxFanoutDelay: Off})
	// The connections discard what is written and count it: the benchmark measures
	// the hub's fan-out, not the kernel's loopback (the load generator in
	// benchmarks/ measures end to end over real sockets).
	traffic := &testsupport.Traffic{}
	sessions := make([]*Session, benchmarkConnections)
	for index := range sessions {
		sessions[index] = mustOpen(b, hub, &testsupport.Conn{Discard: true, Traffic: traffic}, "")
	}
	return hub, sessions, &traffic.Writes, &traffic.Bytes
}

var benchmarkContent = json.RawMessage(`{"text":"a hundred-byte broadcast for the fan-out benchmark, about the size of a chat line","n":1}`)

// BenchmarkBroadcast15000 is one 100-byte broadcast to 15,000 connections through
// the hub: encoded once, queued to every session, written by the flush workers. An
// iteration ends when every connection's frame was handed to its transport.
func BenchmarkBroadcast15000(b *testing.B) {
	hub, _, writes, _ := benchmarkHub(b)
	b.ReportAllocs()
	b.ResetTimer()
	cpuBefore := processCPU()
	for range b.N {
		before := writes.Load()
		hub.Broadcast(protocol.ContentFrame("broadcast", benchmarkContent))
		for writes.Load()-before < benchmarkConnections {
			// The flush workers are finishing; yield to them.
			waitForWorkers()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchmarkConnections, "ns/delivery")
	b.ReportMetric(float64(processCPU()-cpuBefore)/float64(b.N)/benchmarkConnections, "cpu-ns/delivery")
}

// BenchmarkBroadcast15000Seed is the baseline in the same run: the seed's design,
// which encodes the JSON message and its frame for every target and sends to one
// connection after the other.
func BenchmarkBroadcast15000Seed(b *testing.B) {
	_, sessions, _, _ := benchmarkHub(b)
	message := map[string]any{"type": "broadcast", "content": benchmarkContent}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, s := range sessions {
			payload, err := json.Marshal(message)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = s.conn.Write(protocol.TextFrame(payload))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchmarkConnections, "ns/delivery")
}

// BenchmarkBurstOfTenBroadcasts queues ten broadcasts back to back, as a busy
// sustained stream does: frames for one connection coalesce, so the transport sees
// far fewer writes than deliveries (reported as writes/delivery).
func BenchmarkBurstOfTenBroadcasts(b *testing.B) {
	hub, _, writes, bytes := benchmarkHub(b)
	frameSize := int64(len(protocol.ContentFrame("broadcast", benchmarkContent)))
	b.ReportAllocs()
	b.ResetTimer()
	startWrites := writes.Load()
	cpuBefore := processCPU()
	for range b.N {
		before := bytes.Load()
		for range 10 {
			hub.Broadcast(protocol.ContentFrame("broadcast", benchmarkContent))
		}
		for bytes.Load()-before < 10*benchmarkConnections*frameSize {
			waitForWorkers()
		}
	}
	deliveries := float64(b.N) * 10 * benchmarkConnections
	b.ReportMetric(float64(writes.Load()-startWrites)/deliveries, "writes/delivery")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(float64(processCPU()-cpuBefore)/deliveries, "cpu-ns/delivery")
}

// processCPU returns the process's user and system time so far. On a shared machine
// it is steadier than the wall time per delivery, which counts the time other
// processes had the core; run with -cpu 1 under taskset for one core's figure.
func processCPU() time.Duration {
	var usage syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &usage) != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// waitForWorkers lets the flush workers run while a benchmark waits for them.
func waitForWorkers() { runtime.Gosched() }
