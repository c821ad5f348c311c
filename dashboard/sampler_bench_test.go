package dashboard

import (
	"fmt"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/testsupport"
)

// BenchmarkSample measures one second's work of the sampler goroutine on a node with
// 10,000 connections of 2,500 users: reading the counters and histograms and
// putting the second into the history (no viewer), and that plus encoding the update
// every viewer shares (top users, channels, this node). Besides wall time it reports
// the process's CPU time per second sampled (cpu-ns/op), steadier on a shared
// machine.
func BenchmarkSample(b *testing.B) {
	transport, d := newNode(b)
	for index := range 10000 {
		open(b, transport, fmt.Sprintf("user-%d", index%2500))
	}
	now := time.Unix(1_800_000_000, 0)
	for _, viewers := range []int32{0, 1} {
		b.Run(map[int32]string{0: "no-viewer", 1: "viewers"}[viewers], func(b *testing.B) {
			d.viewing.Store(viewers)
			defer d.viewing.Store(0)
			b.ReportAllocs()
			cpuBefore := testsupport.ProcessCPUTime(b)
			for b.Loop() {
				now = now.Add(time.Second)
				d.sample(now)
			}
			b.ReportMetric(float64(testsupport.ProcessCPUTime(b)-cpuBefore)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkHistory measures encoding a full hour of history, once per second at
// most whatever the number of pages opening (encodeHistory keeps it), and reports
// its size.
func BenchmarkHistory(b *testing.B) {
	_, d := newNode(b)
	values := make([]uint32, seriesCount)
	for second := range int64(HistorySeconds) {
		for series := range values {
			values[series] = uint32(second * int64(series+1))
		}
		d.history.put(1_800_000_000+second, values)
	}
	var size int
	b.ReportAllocs()
	cpuBefore := testsupport.ProcessCPUTime(b)
	for b.Loop() {
		encoded, _ := d.history.appendJSON(nil, appendValue)
		size = len(encoded)
	}
	b.ReportMetric(float64(testsupport.ProcessCPUTime(b)-cpuBefore)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(size), "bytes/history")
}
