package history_test

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/internal/testsupport"
)

// BenchmarkMemoryPerPublication fills a store with 100 channels of 1,000
// publications of a 100-byte payload each and reports the heap they take: per
// publication in all (B/publication) and beyond the payload
// (overhead-B/publication), beside what the budget accounts (EntryOverhead).
// One op is one whole fill.
func BenchmarkMemoryPerPublication(b *testing.B) {
	const channels, perChannel, payloadSize = 100, 1000, 100
	payload := make([]byte, payloadSize)
	options := history.Options{Size: perChannel, TTL: time.Hour}
	names := make([]string, channels)
	for index := range names {
		names[index] = "feed:" + strconv.Itoa(index)
	}
	var perPublication float64
	for b.Loop() {
		before := testsupport.LiveHeap()
		store, err := history.NewMemory(history.MemoryConfig{MaxBytes: 1 << 40})
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range names {
			for range perChannel {
				if _, err := store.Append(ctx, name, payload, options); err != nil {
					b.Fatal(err)
				}
			}
		}
		perPublication = float64(testsupport.LiveHeap()-before) / (channels * perChannel)
		runtime.KeepAlive(store)
	}
	b.ReportMetric(perPublication, "B/publication")
	b.ReportMetric(perPublication-payloadSize, "overhead-B/publication")
	b.ReportMetric(history.EntryOverhead, "accounted-overhead-B")
}

// BenchmarkMemoryAppend measures one Append of a 100-byte payload to a full stream
// of 1,000 (the steady state: each append pushes the oldest out), from as many
// goroutines as cores, over 100 channels.
func BenchmarkMemoryAppend(b *testing.B) {
	store, err := history.NewMemory(history.MemoryConfig{})
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 100)
	options := history.Options{Size: 1000, TTL: time.Hour}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		channel := 0
		for pb.Next() {
			channel = (channel + 1) % 100
			if _, err := store.Append(ctx, "feed:"+strconv.Itoa(channel), payload, options); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
