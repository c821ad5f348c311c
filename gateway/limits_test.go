package gateway_test

import (
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/session"
)

func TestPerUserLimitClosesTheExtraConnectionOnly(t *testing.T) {
	n := startNode(t, gateway.Config{InsecureUserID: true, Session: session.Config{MaxConnectionsPerUser: 5}})
	var kept []*websocket.Conn
	for range 5 {
		kept = append(kept, n.dial("alice"))
	}
	other := n.dial("bob")
	waitFor(t, readTimeout, "six connections", func() bool { return n.Hub.ConnectionCount() == 6 })

	extra := n.dial("alice")
	code, text := readClose(t, extra, readTimeout)
	if code != websocket.ClosePolicyViolation || text != "Connection limit reached" {
		t.Fatalf("close = %d %q, want 1008 \"Connection limit reached\"", code, text)
	}
	for index, conn := range append(kept, other) {
		send(t, conn, map[string]any{"type": "message", "content": index})
		if reply := readMessage(t, conn, readTimeout); reply["content"] != float64(index) {
			t.Fatalf("connection %d disturbed by the refusal: %v", index, reply)
		}
	}
	if document := n.stats(""); document.ConnectionsByUser["alice"] != 5 || document.TotalConnections != 6 {
		t.Fatalf("stats %+v, want alice=5 of 6", document)
	}
	if refused := n.Hub.Counters().Refused[session.ReasonLimit]; refused != 1 {
		t.Fatalf("limit refusals = %d, want 1", refused)
	}

	_ = kept[0].WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	waitFor(t, readTimeout, "alice down to 4", func() bool { return len(n.Hub.UserSessions("alice")) == 4 })
	again := n.dial("alice")
	send(t, again, map[string]any{"type": "message", "content": "back"})
	if reply := readMessage(t, again, readTimeout); reply["content"] != "back" {
		t.Fatalf("new connection after a close was not accepted: %v", reply)
	}
}

func TestFiftyConcurrentConnectsOfOneUserGiveExactlyTheLimit(t *testing.T) {
	n := startNode(t, gateway.Config{InsecureUserID: true, Session: session.Config{MaxConnectionsPerUser: 5}})
	const attempts = 50
	codes := make([]int, attempts)
	conns := make([]*websocket.Conn, attempts)
	var group sync.WaitGroup
	address := n.wsURL(url.Values{"user_id": {"carol"}})
	for index := range attempts {
		group.Go(func() {
			conn, response, err := websocket.DefaultDialer.Dial(address, nil)
			if err != nil {
				t.Errorf("dial %d: %v", index, err)
				return
			}
			_ = response.Body.Close()
			conns[index] = conn
		})
	}
	group.Wait()
	t.Cleanup(func() {
		for _, conn := range conns {
			if conn != nil {
				_ = conn.Close()
			}
		}
	})
	waitFor(t, readTimeout, "50 answered", func() bool {
		return n.Hub.Counters().Accepted+n.Hub.Counters().Refused[session.ReasonLimit] == attempts
	})
	refused := 0
	for index, conn := range conns {
		if conn == nil {
			continue
		}
		send(t, conn, map[string]any{"type": "ping"})
		_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
		_, data, err := conn.ReadMessage()
		if closeError, ok := err.(*websocket.CloseError); ok {
			codes[index] = closeError.Code
			refused++
			continue
		}
		if err != nil || string(data) != `{"type":"pong"}` {
			t.Fatalf("connection %d: %q %v", index, data, err)
		}
	}
	if accepted := len(n.Hub.UserSessions("carol")); accepted != 5 || refused != attempts-5 {
		t.Fatalf("accepted %d and refused %d, want 5 and %d", accepted, refused, attempts-5)
	}
	for _, code := range codes {
		if code != 0 && code != websocket.ClosePolicyViolation {
			t.Fatalf("refusal code %d, want 1008", code)
		}
	}
}

func TestNodeCapClosesWith1013(t *testing.T) {
	n := startNode(t, gateway.Config{Session: session.Config{MaxConnections: 2}})
	n.dial("")
	n.dial("")
	waitFor(t, readTimeout, "two connections", func() bool { return n.Hub.ConnectionCount() == 2 })
	code, text := readClose(t, n.dial(""), readTimeout)
	if code != websocket.CloseTryAgainLater || text != "try again later" {
		t.Fatalf("close = %d %q, want 1013 \"try again later\"", code, text)
	}
}

// TestVanishedClientsAreCleanedUp drops TCP connections without a close frame: the
// registry and the stats must return to zero.
func TestVanishedClientsAreCleanedUp(t *testing.T) {
	n := startNode(t, gateway.Config{InsecureUserID: true})
	var conns []*websocket.Conn
	for _, user := range []string{"dave", "dave", "erin", ""} {
		conns = append(conns, n.dial(user))
	}
	waitFor(t, readTimeout, "four connections", func() bool { return n.Hub.ConnectionCount() == 4 })
	for _, conn := range conns {
		raw := conn.NetConn().(*net.TCPConn)
		_ = raw.SetLinger(0) // RST, not even a FIN handshake
		_ = raw.Close()
	}
	waitFor(t, readTimeout, "registry empty", func() bool {
		document := n.stats("")
		return document.TotalConnections == 0 && document.TotalUsers == 0 && len(document.ConnectionsByUser) == 0
	})
	if got := n.Hub.Counters().Disconnects[session.ReasonError]; got != 4 {
		t.Fatalf("error disconnects = %d, want 4", got)
	}
}

func TestThousandConnectionsAllReceiveABroadcast(t *testing.T) {
	n := startNode(t, gateway.Config{})
	const count = 1000
	conns := make([]*websocket.Conn, count)
	var group sync.WaitGroup
	for index := range conns {
		group.Go(func() {
			conn, response, err := websocket.DefaultDialer.Dial(n.wsURL(nil), nil)
			if err != nil {
				t.Errorf("dial: %v", err)
				return
			}
			_ = response.Body.Close()
			conns[index] = conn
		})
	}
	group.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Cleanup(func() {
		for _, conn := range conns {
			_ = conn.Close()
		}
	})
	waitFor(t, readTimeout, "1000 connections", func() bool { return n.Hub.ConnectionCount() == count })
	sendText(t, conns[0], `{"type":"broadcast","content":"to all"}`)
	problems := make([]string, count)
	for index := 1; index < count; index++ {
		group.Go(func() {
			_ = conns[index].SetReadDeadline(time.Now().Add(readTimeout))
			_, data, err := conns[index].ReadMessage()
			if err != nil || string(data) != `{"type":"broadcast","content":"to all"}` {
				problems[index] = fmt.Sprintf("read %q, error %v", data, err)
			}
		})
	}
	group.Wait()
	for index := 1; index < count; index++ {
		if problems[index] != "" {
			t.Fatalf("connection %d did not receive the broadcast: %s", index, problems[index])
		}
	}
}
