package cluster

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/wsgate/wsgate/internal/redistest"
)

// BenchmarkAcquire measures connects decided by Redis: concurrent Acquire calls (64
// per core, like handler goroutines during a reconnect storm) of distinct users,
// each released again. One op is one acquireScript round trip.
func BenchmarkAcquire(b *testing.B) {
	redis := redistest.Start(b)
	node := startNode(b, redis.URL())
	var nextUser atomic.Int64
	b.SetParallelism(64)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		userID := "user" + strconv.FormatInt(nextUser.Add(1), 10)
		for pb.Next() {
			if allowed, err := node.Acquire(userID, 0); err != nil || !allowed {
				b.Errorf("Acquire: %v, %v", allowed, err)
				return
			}
			node.Release(userID)
		}
	})
}
