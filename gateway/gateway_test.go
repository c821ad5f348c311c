package gateway_test

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/gateway"
)

func TestShutdownClosesEveryConnectionWith1001(t *testing.T) {
	n := startNode(t, gateway.Config{})
	conns := []*websocket.Conn{n.dial(""), n.dial(""), n.dial("")}
	waitFor(t, readTimeout, "three connections", func() bool { return n.Hub.ConnectionCount() == 3 })
	results := make(chan string, len(conns))
	for _, conn := range conns {
		go func() {
			_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
			_, _, err := conn.ReadMessage()
			if closeError, ok := err.(*websocket.CloseError); ok && closeError.Code == websocket.CloseGoingAway &&
				closeError.Text == "server shutting down" {
				results <- ""
				return
			}
			results <- err.Error()
		}()
	}
	started := time.Now()
	if cut := n.Shutdown(5 * time.Second); cut != 0 {
		t.Fatalf("%d connections cut without a close handshake", cut)
	}
	if took := time.Since(started); took > 4*time.Second {
		t.Fatalf("shutdown took %v", took)
	}
	for range conns {
		if problem := <-results; problem != "" {
			t.Fatalf("client saw %s, want close 1001 \"server shutting down\"", problem)
		}
	}
}

// TestShutdownCutsClientsThatNeverAnswer: a client that does not answer the close
// frame is cut after the close grace, so shutdown is bounded.
func TestShutdownCutsClientsThatNeverAnswer(t *testing.T) {
	n := startNode(t, gateway.Config{})
	n.dial("") // never read: gorilla answers a close frame only while reading
	waitFor(t, readTimeout, "one connection", func() bool { return n.Hub.ConnectionCount() == 1 })
	started := time.Now()
	n.Shutdown(10 * time.Second)
	if took := time.Since(started); took > 5*time.Second {
		t.Fatalf("shutdown took %v with an unresponsive client; the close grace is 2s", took)
	}
}
