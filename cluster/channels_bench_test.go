package cluster

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/internal/redistest"
)

// BenchmarkPublishToChannel measures channel publications through Redis: concurrent
// PublishToChannel calls (16 per core, like API handlers) on one node, received by
// another node subscribed to the channel. One op is one PUBLISH round trip; the
// timer stops when the subscriber has received every publication.
func BenchmarkPublishToChannel(b *testing.B) {
	redisURL, publisher, atSubscriber := startBenchNodes(b)
	payload := []byte(`{"type":"publication","channel":"bench","data":{"price":101.25,"volume":3000}}`)
	runPublications(b, redisURL, func() error {
		nodes, err := publisher.PublishToChannel(context.Background(), "bench", payload)
		if err == nil && nodes != 1 {
			err = fmt.Errorf("reached %d nodes, want 1", nodes)
		}
		return err
	}, atSubscriber.receivedCount, "spublish")
}

// BenchmarkHistoryAppend is BenchmarkPublishToChannel for a history channel: one op
// is one historyAppendScript round trip (offset, stream append, trim, TTL and the
// PUBLISH), with the same data, so the two benchmarks of one run give the cost of
// history in Redis as a ratio.
func BenchmarkHistoryAppend(b *testing.B) {
	redisURL, publisher, atSubscriber := startBenchNodes(b)
	data := []byte(`{"price":101.25,"volume":3000}`)
	options := history.Options{Size: 1000, TTL: time.Minute}
	runPublications(b, redisURL, func() error {
		_, err := publisher.History().Append(context.Background(), "bench", data, options)
		return err
	}, func() int { return len(atSubscriber.positionedOf("bench")) }, "evalsha", "eval")
}

// startBenchNodes starts a Redis and two nodes on it, the second subscribed to
// "bench", and returns Redis's URL, the first node and the second's recorder.
func startBenchNodes(b *testing.B) (redisURL string, publisher *Node, atSubscriber *recorder) {
	redis := redistest.Start(b)
	publisher, atPublisher := newNode(b, Config{RedisURL: redis.URL()})
	publisher.Start(atPublisher.hub, atPublisher)
	subscriber, atSubscriber := newNode(b, Config{RedisURL: redis.URL()})
	subscriber.Start(atSubscriber.hub, atSubscriber)
	atSubscriber.subscribe("bench")
	waitFor(b, 2*time.Second, "the subscriber to subscribe", func() bool {
		return subscriber.Counters().ChannelSubscriptions == 1
	})
	return redis.URL(), publisher, atSubscriber
}

// runPublications times b.N calls of publish, 16 goroutines per core (like API
// handlers), until received counts b.N arrivals, and reports the time Redis spent in
// commands per op.
func runPublications(b *testing.B, redisURL string, publish func() error, received func() int, commands ...string) {
	b.SetParallelism(16)
	b.ReportAllocs()
	resetRedisStats(b, redisURL)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := publish(); err != nil {
				b.Errorf("publish: %v", err)
				return
			}
		}
	})
	waitFor(b, 10*time.Second, "every publication to arrive", func() bool { return received() == b.N })
	reportRedisTime(b, redisURL, commands...)
}

// resetRedisStats zeroes Redis's command statistics (CONFIG RESETSTAT).
func resetRedisStats(b *testing.B, url string) {
	client := inspector(b, url)
	if err := client.Do(context.Background(), client.B().ConfigResetstat().Build()).Error(); err != nil {
		b.Fatalf("CONFIG RESETSTAT: %v", err)
	}
}

// reportRedisTime reports the microseconds Redis spent per op executing commands,
// the benchmark's top-level commands given by name (a script's time includes the
// commands it calls, which INFO commandstats counts again under their own names),
// so that the cost on Redis's single thread is seen apart from round trips.
func reportRedisTime(b *testing.B, url string, commands ...string) {
	total := commandStat(b, url, "usec", func(command string) bool { return slices.Contains(commands, command) })
	b.ReportMetric(total/float64(b.N), "redis-µs/op")
}

// commandStat sums field ("usec", "calls", ...) of INFO commandstats over the
// commands (names without "cmdstat_") that keep accepts, since the last
// resetRedisStats.
func commandStat(b *testing.B, url, field string, keep func(command string) bool) float64 {
	client := inspector(b, url)
	text, err := client.Do(context.Background(), client.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		b.Fatalf("INFO commandstats: %v", err)
	}
	total := 0.0
	for line := range strings.Lines(text) {
		name, fields, found := strings.Cut(strings.TrimSpace(line), ":")
		command, isCommand := strings.CutPrefix(name, "cmdstat_")
		if !found || !isCommand || !keep(command) {
			continue
		}
		for entry := range strings.SplitSeq(fields, ",") {
			if value, ok := strings.CutPrefix(entry, field+"="); ok {
				number, _ := strconv.ParseFloat(value, 64)
				total += number
			}
		}
	}
	return total
}
