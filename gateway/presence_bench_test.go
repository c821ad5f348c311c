package gateway_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/internal/testsupport/testnode"
)

// stormUsers is how many users a storm of BenchmarkJoinStorm subscribes; the
// process holds both ends of each connection (two descriptors each).
const stormUsers = 2000

// BenchmarkJoinStorm measures a storm in one channel: stormUsers users, each a
// subscriber, subscribe at once and then unsubscribe at once, with join_leave on
// ("room", coalesced with the default settings) and, as the baseline in the same
// run, off ("plain": no presence). It reports the frames the node sent per storm
// (frames/op), the messages each subscriber received on average (msgs/user) and
// the process's CPU time per storm (cpu-ms/op, clients included: they run in this
// process). Run with -count=3 or more: the two cases alternate per count.
func BenchmarkJoinStorm(b *testing.B) {
	node := testnode.Start(b, gateway.Config{InsecureUserID: true, Namespaces: presenceNamespaces,
		Presence: gateway.PresenceConfig{DiffPeriod: 50 * time.Millisecond}})
	conns := make([]*websocket.Conn, stormUsers)
	var received atomic.Int64
	var readers sync.WaitGroup
	for index := range conns {
		conn, response, err := websocket.DefaultDialer.Dial(testsupport.WebSocketURL(node.Addr().String(),
			testsupport.UserQuery(fmt.Sprint("user", index))), nil)
		if err != nil {
			b.Fatalf("dial %d: %v", index, err)
		}
		_ = response.Body.Close()
		conns[index] = conn
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					return
				}
				received.Add(1)
			}
		}()
	}
	b.Cleanup(func() {
		for _, conn := range conns {
			_ = conn.Close()
		}
		readers.Wait()
	})
	for _, channel := range []string{"room:storm", "plain:storm"} {
		b.Run(channel, func(b *testing.B) {
			sentBefore, receivedBefore := node.Hub.Counters().MessagesSent, received.Load()
			cpuBefore := testsupport.ProcessCPUTime(b)
			for b.Loop() {
				storm(b, node, conns, channel, "subscribe", stormUsers)
				storm(b, node, conns, channel, "unsubscribe", 0)
				// Two periods: the last diff of the storm goes out.
				time.Sleep(100 * time.Millisecond)
			}
			cpu := testsupport.ProcessCPUTime(b) - cpuBefore
			b.ReportMetric(float64(node.Hub.Counters().MessagesSent-sentBefore)/float64(b.N), "frames/op")
			b.ReportMetric(float64(received.Load()-receivedBefore)/float64(b.N)/stormUsers, "msgs/user")
			b.ReportMetric(float64(cpu)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

// storm sends kind (subscribe or unsubscribe) of channel from every connection at
// once, and waits until channel has want subscribers.
func storm(b *testing.B, node *gateway.Gateway, conns []*websocket.Conn, channel, kind string, want int) {
	var group sync.WaitGroup
	for worker := range 16 {
		group.Add(1)
		go func() {
			defer group.Done()
			for index := worker; index < len(conns); index += 16 {
				if err := conns[index].WriteJSON(map[string]any{"type": kind, "channel": channel}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	group.Wait()
	waitFor(b, time.Minute, fmt.Sprintf("%d subscribers after the %s storm", want, kind), func() bool {
		counts, _ := node.Publisher.ChannelCounts(channel)
		return counts.Subscribers == want
	})
}
