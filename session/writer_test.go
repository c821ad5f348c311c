package session

import (
	"bytes"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/protocol"
)

// slowConn is a testsupport.Conn whose writes take a while, so that a fan-out round
// keeps its flusher busy long enough for the pacing to be seen without timing
// assertions: after a round of one 100 ms write, the next fan-out round may not
// start for another 300 ms.
type slowConn struct {
	testsupport.Conn
	delay time.Duration
}

func (c *slowConn) Write(frame []byte) (int, error) {
	time.Sleep(c.delay)
	return c.Conn.Write(frame)
}

// pacedHub returns a hub with one flusher and one open session on a slowConn, and
// that conn; the first broadcast has been written.
func pacedHub(t *testing.T, config Config) (*Hub, *Session, *slowConn, []byte) {
	t.Helper()
	config.FlushWorkers = 1
	hub := newTestHub(t, config)
	conn := &slowConn{delay: 100 * time.Millisecond}
	s := mustOpen(t, hub, conn, "")
	first := protocol.TextFrame([]byte("first"))
	if hub.Broadcast(first) != 1 {
		t.Fatal("the first broadcast was not queued")
	}
	waitUntil(t, "the first broadcast's write", func() bool { return len(conn.Writes()) == 1 })
	return hub, s, conn, first
}

func TestFanoutsBackToBackShareAWrite(t *testing.T) {
	hub, _, conn, first := pacedHub(t, Config{MaxFanoutDelay: 10 * time.Second})
	second, third := protocol.TextFrame([]byte("second")), protocol.TextFrame([]byte("third"))
	hub.Broadcast(second)
	hub.Broadcast(third)
	waitUntil(t, "the paced write", func() bool { return len(conn.Writes()) == 2 })
	writes := conn.Writes()
	if !bytes.Equal(writes[0], first) || !bytes.Equal(writes[1], append(second, third...)) {
		t.Fatalf("writes %q, want %q then the next two broadcasts in one write", writes, first)
	}
}

func TestAFrameToOneConnectionTakesTheWaitingFanoutAlong(t *testing.T) {
	hub, s, conn, _ := pacedHub(t, Config{MaxFanoutDelay: 10 * time.Second})
	broadcast, reply := protocol.TextFrame([]byte("broadcast")), protocol.TextFrame([]byte("reply"))
	hub.Broadcast(broadcast)
	if !s.Send(reply) {
		t.Fatal("the reply was refused")
	}
	// The fan-out round is not due for seconds: only the reply's own flush writes
	// the broadcast now, in front of it.
	waitUntil(t, "the reply's write", func() bool { return len(conn.Writes()) == 2 })
	if written := conn.Writes()[1]; !bytes.Equal(written, append(broadcast, reply...)) {
		t.Fatalf("second write %q, want the waiting broadcast and then the reply", written)
	}
}

func TestFanoutPacingOffWritesEachFanoutByItself(t *testing.T) {
	hub, _, conn, _ := pacedHub(t, Config{MaxFanoutDelay: Off})
	second := protocol.TextFrame([]byte("second"))
	hub.Broadcast(second)
	waitUntil(t, "the second write", func() bool { return len(conn.Writes()) == 2 })
	if written := conn.Writes()[1]; !bytes.Equal(written, second) {
		t.Fatalf("second write %q, want the second broadcast alone", written)
	}
}
