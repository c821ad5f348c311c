package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/redistest"
)

// BenchmarkPublishToChannel measures channel publications through Redis: concurrent
// PublishToChannel calls (16 per core, like API handlers) on one node, received by
// another node subscribed to the channel. One op is one PUBLISH round trip; the
// timer stops when the subscriber has received every publication.
func BenchmarkPublishToChannel(b *testing.B) {
	redis := redistest.Start(b)
	publisher, atPublisher := newNode(b, Config{RedisURL: redis.URL()})
	publisher.Start(atPublisher.hub, atPublisher)
	subscriber, atSubscriber := newNode(b, Config{RedisURL: redis.URL()})
	subscriber.Start(atSubscriber.hub, atSubscriber)
	atSubscriber.subscribe("bench")
	waitFor(b, 2*time.Second, "the subscriber to subscribe", func() bool {
		return subscriber.Counters().ChannelSubscriptions == 1
	})
	payload := []byte(`{"type":"publication","channel":"bench","data":{"price":101.25,"volume":3000}}`)
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if nodes, err := publisher.PublishToChannel(context.Background(), "bench", payload); err != nil || nodes != 1 {
				b.Errorf("PublishToChannel: %d, %v", nodes, err)
				return
			}
		}
	})
	waitFor(b, 10*time.Second, "every publication to arrive", func() bool {
		return atSubscriber.receivedCount() == b.N
	})
}
