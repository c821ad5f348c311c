package cluster

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/redistest"
	"github.com/wsgate/wsgate/presence"
)

// benchPresenceUsers is the size of the channel the query benchmarks read: the
// issue's 15,000 subscribers, one connection each.
const benchPresenceUsers = 15_000

// BenchmarkPresenceChange measures presence changes written to Redis: b.N
// ReportPresence calls, each a different user joining one channel (so none
// coalesces), from one goroutine, until the node has written them all.
// Besides time it reports Redis's time in the scripts and the commands Redis ran
// per change (a pipelined batch of scripts counts each script).
func BenchmarkPresenceChange(b *testing.B) {
	redis := redistest.Start(b)
	node, receiver := newNode(b, Config{RedisURL: redis.URL(), Timeout: 5 * time.Second})
	node.Start(receiver.hub, receiver)
	resetRedisStats(b, redis.URL())
	before := node.Counters().PresenceApplied
	cpuBefore := redisCPU(b, redis.URL())
	b.ReportAllocs()
	b.ResetTimer()
	for index := range b.N {
		report(node, "bench", "user-"+strconv.Itoa(index), 1)
	}
	waitFor(b, time.Minute, "every change to reach Redis", func() bool {
		return node.Counters().PresenceApplied-before >= uint64(b.N)
	})
	b.StopTimer()
	reportRedisCPU(b, redis.URL(), cpuBefore)
	reportRedisTime(b, redis.URL(), "evalsha", "eval")
	reportRedisCommands(b, redis.URL())
	batches := node.Counters().PresenceBatches
	b.ReportMetric(float64(b.N)/float64(max(batches, 1)), "changes/batch")
}

// BenchmarkPresenceStats measures PresenceStats on a channel of 15,000 users:
// one HMGET round trip per op. It also reports the Redis memory of the channel's
// presence per user.
func BenchmarkPresenceStats(b *testing.B) {
	redisURL, node := startPresenceBench(b)
	runPresenceQueries(b, redisURL, func() error {
		users, _, err := node.PresenceStats(context.Background(), "bench")
		if err == nil && users != benchPresenceUsers {
			b.Errorf("stats: %d users, want %d", users, benchPresenceUsers)
		}
		return err
	}, "hmget")
	reportRedisMemory(b, redisURL)
}

// BenchmarkPresencePage measures the first page of 100 users, and of 1000, of a
// channel of 15,000: one presencePageScript round trip per op.
func BenchmarkPresencePage(b *testing.B) {
	for _, limit := range []int{presence.DefaultPageSize, presence.MaxPageSize} {
		b.Run("limit="+strconv.Itoa(limit), func(b *testing.B) {
			redisURL, node := startPresenceBench(b)
			runPresenceQueries(b, redisURL, func() error {
				page, err := node.Presence(context.Background(), "bench", limit, "")
				if err == nil && len(page.Users) != limit {
					b.Errorf("page: %d users, want %d", len(page.Users), limit)
				}
				return err
			}, "evalsha_ro", "eval_ro")
		})
	}
}

// BenchmarkPresencePing is the baseline of the query benchmarks: one PING round
// trip per op on the node's connection.
func BenchmarkPresencePing(b *testing.B) {
	redisURL, node := startPresenceBench(b)
	runPresenceQueries(b, redisURL, func() error {
		return node.client.Do(context.Background(), node.client.B().Ping().Build()).Error()
	}, "ping")
}

// startPresenceBench starts Redis and a node whose channel "bench" holds
// benchPresenceUsers users.
func startPresenceBench(b *testing.B) (string, *Node) {
	redis := redistest.Start(b)
	// A long timeout: the machine may be loaded, and one timed-out call would
	// mark Redis unreachable and fail the rest.
	node, receiver := newNode(b, Config{RedisURL: redis.URL(), Timeout: 5 * time.Second})
	node.Start(receiver.hub, receiver)
	for index := range benchPresenceUsers {
		report(node, "bench", "user-"+strconv.Itoa(index), 1)
	}
	waitFor(b, time.Minute, "the channel's presence to reach Redis", func() bool {
		users, _, err := node.PresenceStats(context.Background(), "bench")
		return err == nil && users == benchPresenceUsers
	})
	return redis.URL(), node
}

// runPresenceQueries times b.N calls of query, 16 goroutines per core (like API
// handlers), and reports Redis's CPU time and its time in commands per op.
func runPresenceQueries(b *testing.B, redisURL string, query func() error, commands ...string) {
	b.SetParallelism(16)
	b.ReportAllocs()
	resetRedisStats(b, redisURL)
	cpuBefore := redisCPU(b, redisURL)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := query(); err != nil {
				b.Errorf("query: %v", err)
				return
			}
		}
	})
	b.StopTimer()
	reportRedisCPU(b, redisURL, cpuBefore)
	reportRedisTime(b, redisURL, commands...)
}

// reportRedisCommands reports the commands Redis ran per op (INFO commandstats,
// the top-level commands only: a script counts once, not its inner calls), since
// the last resetRedisStats.
func reportRedisCommands(b *testing.B, url string) {
	b.ReportMetric(commandStat(b, url, "calls", isTopLevel)/float64(b.N), "redis-cmds/op")
}

// isTopLevel reports whether a commandstats entry is a command the node sends
// itself rather than one its scripts call (which commandstats counts again):
// the scripts and the channel-set updates of the presence goroutine.
func isTopLevel(command string) bool {
	switch command {
	case "evalsha", "eval", "evalsha_ro", "eval_ro", "sadd", "srem", "ping", "hmget":
		return true
	}
	return false
}

// reportRedisMemory reports the presence keys' memory per user of the channel
// (MEMORY USAGE of the node's contribution, the totals, the order and the stats).
func reportRedisMemory(b *testing.B, url string) {
	client := inspector(b, url)
	total := int64(0)
	keys, err := client.Do(context.Background(), client.B().Keys().Pattern("*presence:{bench}*").Build()).AsStrSlice()
	if err != nil || len(keys) != 4 {
		b.Fatalf("presence keys of the channel: %v, %v; want 4", keys, err)
	}
	for _, key := range keys {
		bytes, err := client.Do(context.Background(), client.B().MemoryUsage().Key(key).Samples(0).Build()).AsInt64()
		if err != nil {
			b.Fatalf("MEMORY USAGE %s: %v", key, err)
		}
		total += bytes
	}
	b.ReportMetric(float64(total)/benchPresenceUsers, "redis-bytes/user")
}

// redisCPU returns the CPU time redis-server used so far (user and system), in
// seconds, from INFO cpu.
func redisCPU(b *testing.B, url string) float64 {
	client := inspector(b, url)
	text, err := client.Do(context.Background(), client.B().Info().Section("cpu").Build()).ToString()
	if err != nil {
		b.Fatalf("INFO cpu: %v", err)
	}
	total := 0.0
	for line := range strings.Lines(text) {
		name, value, found := strings.Cut(strings.TrimSpace(line), ":")
		if found && (name == "used_cpu_user" || name == "used_cpu_sys") {
			seconds, _ := strconv.ParseFloat(value, 64)
			total += seconds
		}
	}
	return total
}

// reportRedisCPU reports redis-server's CPU time per op since before: unlike the
// command times of reportRedisTime (wall time inside Redis, which a loaded machine
// stretches whenever Redis is descheduled mid-command), it counts only what Redis
// ran, including parsing and replies.
func reportRedisCPU(b *testing.B, url string, before float64) {
	b.ReportMetric((redisCPU(b, url)-before)*1e6/float64(b.N), "redis-cpu-µs/op")
}
