package gateway_test

import (
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/engine"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/tcpproxy"
	"github.com/wsgate/wsgate/session"
)

const (
	testInterval = 200 * time.Millisecond
	testTimeout  = 200 * time.Millisecond
	testTick     = 10 * time.Millisecond
	// detectionBound is interval + timeout + one tick, the bound, plus slack
	// for the race detector and a busy two-core machine.
	detectionBound = testInterval + testTimeout + testTick + 250*time.Millisecond
)

func heartbeatConfig() gateway.Config {
	return gateway.Config{Session: session.Config{PingInterval: testInterval, PingTimeout: testTimeout, TimerTick: testTick}}
}

// pingAnswerer reads a connection in the background and answers every JSON ping
// with a pong, until the connection fails or is closed.
type pingAnswerer struct {
	answered atomic.Int64
	done     chan struct{}
}

func answerPings(conn *websocket.Conn) *pingAnswerer {
	answerer := &pingAnswerer{done: make(chan struct{})}
	go func() {
		defer close(answerer.done)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if string(data) == `{"type":"ping"}` {
				if conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"pong"}`)) != nil {
					return
				}
				answerer.answered.Add(1)
			}
		}
	}()
	return answerer
}

// keepBusy calls write every quarter of the ping interval, and never answers a ping,
// until the node has sent four heartbeat pings: each must have been taken as
// answered by the frames write sent, or the connection (the node's only one) would
// have been closed before the next.
func keepBusy(t *testing.T, n *node, what string, write func() error) {
	t.Helper()
	waitFor(t, readTimeout, "the connection to be registered", func() bool { return n.Hub.ConnectionCount() == 1 })
	var lastWrite time.Time
	waitFor(t, readTimeout, what, func() bool {
		if n.Hub.ConnectionCount() != 1 {
			t.Fatalf("the connection was closed after %d pings although it kept sending", n.Hub.Counters().PingsSent)
		}
		if time.Since(lastWrite) >= testInterval/4 {
			if err := write(); err != nil {
				t.Fatalf("write: %v", err)
			}
			lastWrite = time.Now()
		}
		return n.Hub.Counters().PingsSent >= 4
	})
}

func TestClientThatAnswersPingsStaysConnected(t *testing.T) {
	n := startNode(t, heartbeatConfig())
	conn := n.dial("")
	answerer := answerPings(conn)
	waitFor(t, 20*testInterval, "five pings answered", func() bool { return answerer.answered.Load() >= 5 })
	if n.Hub.ConnectionCount() != 1 || n.Hub.Counters().Disconnects[session.ReasonHeartbeatTimeout] != 0 {
		t.Fatal("a client that answers pings was disconnected")
	}
	_ = conn.Close()
	<-answerer.done
}

func TestClientThatNeverAnswersIsClosedWithHeartbeatCode(t *testing.T) {
	n := startNode(t, heartbeatConfig())
	connected := time.Now()
	conn := n.dial("")
	code, text := readClose(t, conn, 5*time.Second)
	elapsed := time.Since(connected)
	if code != 4000 || text != "heartbeat timeout" {
		t.Fatalf("close %d %q, want 4000 \"heartbeat timeout\"", code, text)
	}
	if elapsed < testTimeout || elapsed > detectionBound {
		t.Fatalf("closed after %v, want between %v and %v", elapsed, testTimeout, detectionBound)
	}
	waitFor(t, readTimeout, "stats drop the connection", func() bool { return n.stats("").TotalConnections == 0 })
	if got := n.Hub.Counters().Disconnects[session.ReasonHeartbeatTimeout]; got != 1 {
		t.Fatalf("heartbeat_timeout disconnects = %d, want 1", got)
	}
}

// TestFrozenPeerIsDetected freezes a TCP proxy between client and server: no bytes
// move and no socket closes, as with a dead NAT entry. The server must notice.
func TestFrozenPeerIsDetected(t *testing.T) {
	n := startNode(t, heartbeatConfig())
	proxy, err := tcpproxy.Start(n.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	address := url.URL{Scheme: "ws", Host: proxy.Addr(), Path: "/api/v1/ws"}
	conn, response, err := websocket.DefaultDialer.Dial(address.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = response.Body.Close()
	t.Cleanup(func() { _ = conn.Close() })
	answerer := answerPings(conn)
	waitFor(t, 5*time.Second, "two pings answered through the proxy", func() bool {
		return answerer.answered.Load() >= 2
	})
	proxy.Freeze()
	frozen := time.Now()
	waitFor(t, 5*time.Second, "frozen peer removed", func() bool { return n.Hub.ConnectionCount() == 0 })
	if took := time.Since(frozen); took > detectionBound {
		t.Fatalf("frozen peer detected after %v, want within %v", took, detectionBound)
	}
	if got := n.Hub.Counters().Disconnects[session.ReasonHeartbeatTimeout]; got != 1 {
		t.Fatalf("heartbeat_timeout disconnects = %d, want 1", got)
	}
	_ = conn.Close()
	<-answerer.done
}

func TestMessagesCountAsLife(t *testing.T) {
	n := startNode(t, heartbeatConfig())
	conn := n.dial("")
	var group sync.WaitGroup
	group.Go(func() { // drain replies and pings, answer nothing
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	})
	keepBusy(t, n, "four pings answered by nothing but messages", func() error {
		return conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"message","content":"busy"}`))
	})
	_ = conn.Close()
	group.Wait()
}

func TestProtocolPingGetsProtocolPongAndCountsAsLife(t *testing.T) {
	n := startNode(t, heartbeatConfig())
	conn := n.dial("")
	var pongs atomic.Int64
	var pongData atomic.Value
	conn.SetPongHandler(func(data string) error {
		pongData.Store(data)
		pongs.Add(1)
		return nil
	})
	var group sync.WaitGroup
	group.Go(func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	})
	keepBusy(t, n, "four pings answered by nothing but protocol pings", func() error {
		return conn.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second))
	})
	waitFor(t, readTimeout, "a protocol pong", func() bool { return pongs.Load() > 0 })
	if pongData.Load() != "p" {
		t.Fatalf("pong carried %v, want the ping's data", pongData.Load())
	}
	_ = conn.Close()
	group.Wait()
}

func TestHandshakeTimeoutCutsIdleAndHalfRequests(t *testing.T) {
	const timeout = 300 * time.Millisecond
	n := startNode(t, gateway.Config{
		Engine:  engine.Config{HandshakeTimeout: timeout},
		Session: session.Config{TimerTick: testTick},
	})
	silent, err := net.Dial("tcp", n.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	half, err := net.Dial("tcp", n.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	if _, err := half.Write([]byte("GET /api/v1/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n")); err != nil {
		t.Fatal(err)
	}
	upgraded := n.dial("")
	started := time.Now()
	for _, conn := range []net.Conn{silent, half} {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("read = %v, want EOF from the server's close", err)
		}
	}
	if took := time.Since(started); took < timeout/2 || took > timeout+time.Second {
		t.Fatalf("cut after %v, want about %v", took, timeout)
	}
	if got := n.Hub.Counters().Refused[session.ReasonHandshakeTimeout]; got != 2 {
		t.Fatalf("handshake_timeout refusals = %d, want 2", got)
	}
	if n.Server.PendingHandshakes() != 0 {
		t.Fatalf("%d handshakes still tracked", n.Server.PendingHandshakes())
	}
	send(t, upgraded, map[string]any{"type": "message", "content": "upgraded sockets are not cut"})
	if reply := readMessage(t, upgraded, readTimeout); reply["type"] != "message" {
		t.Fatalf("upgraded connection: %v", reply)
	}
}

// TestPingsFollowTheIntervalWhenTheTimeoutIsLonger: with a timeout longer than the
// interval, a ping still goes out every interval.
func TestPingsFollowTheIntervalWhenTheTimeoutIsLonger(t *testing.T) {
	n := startNode(t, gateway.Config{Session: session.Config{PingInterval: 100 * time.Millisecond, PingTimeout: 2 * time.Second, TimerTick: testTick}})
	conn := n.dial("")
	answerer := answerPings(conn)
	started := time.Now()
	waitFor(t, 5*time.Second, "eight pings", func() bool { return answerer.answered.Load() >= 8 })
	if took := time.Since(started); took > 1500*time.Millisecond {
		t.Fatalf("eight pings took %v at a 100ms interval", took)
	}
	_ = conn.Close()
	<-answerer.done
}
