package session

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/protocol"
)

// discardingDeflateConn is a discarding connection that negotiated compression.
type discardingDeflateConn struct{ testsupport.Conn }

func (*discardingDeflateConn) AcceptsDeflate() bool { return true }

// recordsJSON returns about size bytes of JSON records of random words and numbers,
// which compress about as well as real JSON does (to some 40%).
func recordsJSON(size int) []byte {
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"}
	random := rand.New(rand.NewPCG(uint64(size), 1))
	content := []byte(`{"type":"news","items":[`)
	for len(content) < size-80 {
		content = fmt.Appendf(content, `{"id":%d,"name":"%s %s","price":%s,"stock":%d},`, random.IntN(1_000_000),
			words[random.IntN(len(words))], words[random.IntN(len(words))],
			strconv.FormatFloat(float64(random.IntN(100_000))/100, 'f', 2, 64), random.IntN(500))
	}
	return append(content[:len(content)-1], "]}"...)
}

// BenchmarkBroadcast15000Compression is one broadcast of 1 KB or 10 KB of JSON to
// 15,000 connections that all negotiated compression ("deflate") or none did
// ("plain"), in the same run: the compressed one pays one compression per broadcast,
// however many connections, and queues smaller frames. An iteration ends when every
// connection's frame was handed to its transport; bytes/delivery is what the
// transports were handed.
func BenchmarkBroadcast15000Compression(b *testing.B) {
	for _, size := range []int{1 << 10, 10 << 10} {
		payload := recordsJSON(size)
		for _, mode := range []string{"plain", "deflate"} {
			b.Run(fmt.Sprintf("%dKB/%s", size>>10, mode), func(b *testing.B) {
				hub := newTestHub(b, Config{MaxPendingBytes: 1 << 30})
				traffic := &testsupport.Traffic{}
				for range benchmarkConnections {
					var conn Conn = &testsupport.Conn{Discard: true, Traffic: traffic}
					if mode == "deflate" {
						conn = &discardingDeflateConn{testsupport.Conn{Discard: true, Traffic: traffic}}
					}
					mustOpen(b, hub, conn, "")
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					before := traffic.Writes.Load()
					hub.Broadcast(protocol.TextFrame(payload))
					for traffic.Writes.Load()-before < benchmarkConnections {
						waitForWorkers()
					}
				}
				deliveries := float64(b.N) * benchmarkConnections
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries, "ns/delivery")
				b.ReportMetric(float64(traffic.Bytes.Load())/deliveries, "bytes/delivery")
			})
		}
	}
}
