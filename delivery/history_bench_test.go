package delivery_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/session"
)

// BenchmarkPublishHistory measures PublishToChannel of a 100-byte payload on a
// single node, history off ("plain:") and on ("feed:", the memory store keeping
// 1,000), to a channel with 0, 1 and 100 subscribers whose connections discard
// what they are written: the cost history adds to a publication is the
// difference between the pairs of one run. On a shared machine the wall time
// (ns/op) varies with the other processes; cpu-ns/op, the process's CPU time per
// publication (user and system, the flush workers included), much less.
func BenchmarkPublishHistory(b *testing.B) {
	namespaces, err := channels.NewNamespaces([]channels.NamespaceOptions{{Name: "feed", HistorySize: 1000}}, false)
	if err != nil {
		b.Fatal(err)
	}
	data := []byte(`{"text":"` + string(make([]byte, 0, 100)) + fmt.Sprintf("%090d", 0) + `"}`)
	for _, subscribers := range []int{0, 1, 100} {
		for _, namespace := range []string{"plain", "feed"} {
			b.Run(fmt.Sprintf("subscribers=%d/history=%v", subscribers, namespace == "feed"), func(b *testing.B) {
				hub, err := session.NewHub(session.Config{Logger: quiet, PingInterval: -1, MaxPendingBytes: 1 << 30})
				if err != nil {
					b.Fatal(err)
				}
				defer hub.Shutdown(0)
				publisher, err := delivery.NewPublisher(delivery.Config{Hub: hub, Logger: quiet, Namespaces: namespaces})
				if err != nil {
					b.Fatal(err)
				}
				channel := namespace + ":bench"
				transport, err := session.NewTransport(hub, publisher)
				if err != nil {
					b.Fatal(err)
				}
				for range subscribers {
					s := transport.Open(&testsupport.Conn{Discard: true}, session.Identity{})
					transport.HandleText(s, []byte(`{"type":"subscribe","channel":"`+channel+`"}`))
				}
				ctx := context.Background()
				b.ReportAllocs()
				started := testsupport.ProcessCPUTime(b)
				for b.Loop() {
					if result := publisher.PublishToChannel(ctx, channel, data); result.Local != subscribers {
						b.Fatalf("publication reached %d, want %d", result.Local, subscribers)
					}
				}
				// The flush workers' writes count too: the hub is shut down (and
				// its queues written) before the CPU time is read.
				hub.Shutdown(0)
				b.ReportMetric(float64(testsupport.ProcessCPUTime(b)-started)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
