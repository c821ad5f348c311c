package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/engine"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/session"
)

// stalledDialer dials with a 4 KiB receive buffer, so a client that stops reading
// backs up into the server quickly instead of into megabytes of kernel buffers.
var stalledDialer = websocket.Dialer{
	NetDialContext: (&net.Dialer{Control: func(_, _ string, raw syscall.RawConn) error {
		var setError error
		err := raw.Control(func(descriptor uintptr) {
			setError = syscall.SetsockoptInt(int(descriptor), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return setError
	}}).DialContext,
	HandshakeTimeout: 10 * time.Second,
}

// TestSlowConsumersAreClosedAndOthersGetEverything: 1,000 clients stop reading while
// broadcasts continue for several seconds. The stalled clients are closed as slow
// consumers, the server's heap stays within stalled x 4 x MaxPendingBytes plus a
// fixed allowance (buffer doubling and uncollected garbage), and healthy clients
// receive every broadcast, in order.
func TestSlowConsumersAreClosedAndOthersGetEverything(t *testing.T) {
	const (
		stalledCount    = 1000
		healthyCount    = 20
		broadcasts      = 300
		maxPendingBytes = 64 << 10
		// healthyWindow is how many broadcasts a healthy client may be behind the
		// sender: a third of what MaxPendingBytes holds (about 100 of them).
		healthyWindow = 30
		// The bound: each stalled connection may hold MaxPendingBytes in the
		// transport, in buffers whose capacity grows by doubling (up to twice the
		// data); the sampled heap also holds garbage not yet collected, up to as
		// much again at GOGC=100; plus 48 MiB for everything else in the test
		// process (the 1,020 client connections' own buffers among it).
		heapAllowance = stalledCount*4*maxPendingBytes + 48<<20
	)
	n := startNode(t, gateway.Config{
		// The sender's 300 broadcasts at about 100 a second would sit at the default
		// inbound limit; the test is about fan-out, so it has none.
		Session: session.Config{MaxPendingBytes: maxPendingBytes, MaxMessagesPerSecond: session.Unlimited},
		// Without a bound the kernel parks up to 4 MiB per stalled socket first.
		Engine: engine.Config{SocketSendBuffer: 16 << 10},
	})

	stalled := make([]*websocket.Conn, stalledCount)
	var group sync.WaitGroup
	for index := range stalled {
		group.Go(func() {
			conn, response, err := stalledDialer.Dial(n.wsURL(nil), nil)
			if err != nil {
				t.Errorf("dial: %v", err)
				return
			}
			_ = response.Body.Close()
			stalled[index] = conn
		})
	}
	group.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Cleanup(func() {
		for _, conn := range stalled {
			_ = conn.Close()
		}
	})
	received := make([][]int, healthyCount)
	// progress counts each healthy client's messages, for the sender's pacing.
	progress := make([]atomic.Int64, healthyCount)
	healthy := make([]*websocket.Conn, healthyCount)
	for index := range healthy {
		healthy[index] = n.dial("")
	}
	sender := n.dial("")
	waitFor(t, 10*time.Second, "all connected", func() bool {
		return n.Hub.ConnectionCount() == stalledCount+healthyCount+1
	})
	for index, conn := range healthy {
		group.Go(func() {
			for len(received[index]) < broadcasts {
				_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
				_, data, err := conn.ReadMessage()
				if err != nil {
					t.Errorf("healthy client %d: %v after %d messages", index, err, len(received[index]))
					return
				}
				var decoded struct {
					Content struct{ Sequence int } `json:"content"`
				}
				if err := json.Unmarshal(data, &decoded); err != nil {
					t.Errorf("healthy client %d: %v", index, err)
					return
				}
				received[index] = append(received[index], decoded.Content.Sequence)
				progress[index].Add(1)
			}
		})
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peakHeap atomic.Uint64
	ctx, stopSampling := context.WithCancel(context.Background())
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var stats runtime.MemStats
		for ctx.Err() == nil {
			runtime.ReadMemStats(&stats)
			if stats.HeapAlloc > peakHeap.Load() {
				peakHeap.Store(stats.HeapAlloc)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	padding := make([]byte, 600)
	for index := range padding {
		padding[index] = 'x'
	}
	for sequence := range broadcasts {
		// A healthy client is one that keeps up: on a loaded machine its reading
		// goroutine can stall for a second, as long as MaxPendingBytes takes to
		// fill, and it would be closed as slow too. The stream waits for them.
		waitFor(t, 30*time.Second, "the healthy clients to keep up", func() bool {
			for index := range progress {
				if progress[index].Load() < int64(sequence-healthyWindow) {
					return false
				}
			}
			return true
		})
		message := fmt.Sprintf(`{"type":"broadcast","content":{"sequence":%d,"padding":"%s"}}`, sequence, padding)
		if err := sender.WriteMessage(websocket.TextMessage, []byte(message)); err != nil {
			t.Fatalf("broadcast %d: %v", sequence, err)
		}
		time.Sleep(10 * time.Millisecond) // a steady stream for about three seconds
	}
	group.Wait()
	stopSampling()
	<-sampled

	for index, sequences := range received {
		for position, sequence := range sequences {
			if sequence != position {
				t.Fatalf("healthy client %d: message %d has sequence %d: lost or out of order", index, position, sequence)
			}
		}
	}
	waitFor(t, 10*time.Second, "stalled clients closed", func() bool {
		return n.Hub.Counters().Disconnects[session.ReasonSlowConsumer] == stalledCount
	})
	if n.Hub.ConnectionCount() != healthyCount+1 {
		t.Fatalf("%d connections left, want the %d healthy ones", n.Hub.ConnectionCount(), healthyCount+1)
	}
	growth := int64(peakHeap.Load()) - int64(before.HeapAlloc)
	t.Logf("heap before %d MiB, peak growth %d MiB, bound %d MiB", before.HeapAlloc>>20, growth>>20, heapAllowance>>20)
	if growth > heapAllowance {
		t.Fatalf("heap grew by %d bytes, over the bound of %d", growth, heapAllowance)
	}
}

func TestRateLimitDropsThenClosesFlooders(t *testing.T) {
	n := startNode(t, gateway.Config{Session: session.Config{MaxMessagesPerSecond: 5, MessageBurst: 3}})
	conn := n.dial("")
	for index := range 5 {
		send(t, conn, map[string]any{"type": "message", "content": index})
	}
	echoes, limited := 0, 0
	for range 5 {
		reply := readMessage(t, conn, readTimeout)
		switch {
		case reply["type"] == "message":
			echoes++
		case reply["type"] == "error" && reply["code"] == protocol.ErrorRateLimited:
			limited++
		default:
			t.Fatalf("unexpected reply %v", reply)
		}
	}
	if echoes != 3 || limited != 2 {
		t.Fatalf("%d echoes and %d rate_limited errors, want 3 and 2 (burst 3)", echoes, limited)
	}

	flooder := n.dial("")
	go func() {
		for range 100 {
			if flooder.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)) != nil {
				return
			}
		}
	}()
	if code, text := readClose(t, flooder, readTimeout); code != 4002 || text != "rate limited" {
		t.Fatalf("flooder closed with %d %q, want 4002 \"rate limited\"", code, text)
	}
	if counters := n.Hub.Counters(); counters.Disconnects[session.ReasonRateLimited] != 1 || counters.MessagesDropped < 5 {
		t.Fatalf("counters %+v", counters)
	}
}

// TestOrderAcrossSources interleaves a client's own echo replies with another
// client's broadcasts: each source's messages arrive in the order they were sent.
func TestOrderAcrossSources(t *testing.T) {
	n := startNode(t, gateway.Config{})
	receiver, broadcaster := n.dial(""), n.dial("")
	waitFor(t, readTimeout, "two connections", func() bool { return n.Hub.ConnectionCount() == 2 })
	const count = 200
	go func() {
		for index := range count {
			_ = broadcaster.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"broadcast","content":%d}`, index))
		}
	}()
	for index := range count {
		send(t, receiver, map[string]any{"type": "message", "content": index})
	}
	nextEcho, nextBroadcast := 0, 0
	for nextEcho < count || nextBroadcast < count {
		reply := readMessage(t, receiver, readTimeout)
		value := int(reply["content"].(float64))
		switch reply["type"] {
		case "message":
			if value != nextEcho {
				t.Fatalf("echo %d arrived when %d was next", value, nextEcho)
			}
			nextEcho++
		case "broadcast":
			if value != nextBroadcast {
				t.Fatalf("broadcast %d arrived when %d was next", value, nextBroadcast)
			}
			nextBroadcast++
		}
	}
}
