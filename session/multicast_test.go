package session

import (
	"bytes"
	"testing"

	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/protocol"
)

func TestSendToSessionsReachesTheListedOpenSessionsOnly(t *testing.T) {
	hub := newTestHub(t, Config{})
	// 1,000 listed sessions span four chunks, so several goroutines share the list.
	const listed = 1000
	conns := make([]*testsupport.Conn, listed+2)
	sessions := make([]*Session, len(conns))
	for position := range conns {
		conns[position] = &testsupport.Conn{}
		sessions[position] = mustOpen(t, hub, conns[position], "")
	}
	excluded, closed, unlisted := sessions[0], sessions[1], sessions[listed]
	testTransport(hub).Closed(closed, ReasonError)
	before := hub.Counters().MessagesSent
	frame := protocol.TextFrame([]byte(`{"type":"publication","channel":"news","data":1}`))
	if queued := hub.SendToSessions(frame, sessions[:listed], excluded); queued != listed-2 {
		t.Fatalf("SendToSessions queued %d, want %d (all listed but the excluded and the closed)", queued, listed-2)
	}
	for position, conn := range conns[2:listed] {
		waitUntil(t, "the frame", func() bool { return len(conn.Writes()) == 1 })
		if got := conn.Writes()[0]; !bytes.Equal(got, frame) {
			t.Fatalf("session %d received %q, want %q", position+2, got, frame)
		}
	}
	for _, s := range []*Session{excluded, closed, unlisted} {
		conn := conns[indexOf(sessions, s)]
		if writes := conn.Writes(); len(writes) != 0 {
			t.Fatalf("an excluded, closed or unlisted session received %q", writes)
		}
	}
	if sent := hub.Counters().MessagesSent - before; sent != listed-2 {
		t.Fatalf("MessagesSent grew by %d, want %d", sent, listed-2)
	}
}

func indexOf(sessions []*Session, target *Session) int {
	for position, s := range sessions {
		if s == target {
			return position
		}
	}
	return -1
}

func TestSendToSessionsClosesASlowConsumer(t *testing.T) {
	hub := newTestHub(t, Config{MaxPendingBytes: 1000})
	slowConn, fastConn := &testsupport.Conn{}, &testsupport.Conn{}
	slow := mustOpen(t, hub, slowConn, "")
	fast := mustOpen(t, hub, fastConn, "")
	slow.out.unsent.Store(990) // the transport holds 990 bytes the socket did not take
	frame := protocol.TextFrame(make([]byte, 50))
	if queued := hub.SendToSessions(frame, []*Session{slow, fast}, nil); queued != 1 {
		t.Fatalf("queued %d, want 1 (the slow consumer is over its bound)", queued)
	}
	if slow.Reason() != ReasonSlowConsumer || !fast.IsOpen() {
		t.Fatalf("slow session's reason %v, fast session open %v: want slow_consumer and open", slow.Reason(), fast.IsOpen())
	}
	waitUntil(t, "the close frame", func() bool { return len(slowConn.Writes()) == 1 })
	if got := slowConn.Writes()[0]; !bytes.Equal(got, protocol.CloseFrame(ReasonSlowConsumer.Code(), ReasonSlowConsumer.Text())) {
		t.Fatalf("the slow consumer received %q, want only its close frame", got)
	}
	waitUntil(t, "the frame", func() bool { return len(fastConn.Writes()) == 1 })
}

func TestSendToSessionsOfAnEmptyListDoesNothing(t *testing.T) {
	hub := newTestHub(t, Config{})
	if queued := hub.SendToSessions(protocol.TextFrame([]byte("x")), nil, nil); queued != 0 || hub.Counters().MessagesSent != 0 {
		t.Fatalf("an empty list queued %d and counted %d", queued, hub.Counters().MessagesSent)
	}
}

func TestSendToSessionsDeliversToSessionsOfAnotherHub(t *testing.T) {
	hub, other := newTestHub(t, Config{FlushWorkers: 1}), newTestHub(t, Config{FlushWorkers: 3})
	conn := &testsupport.Conn{}
	s := mustOpen(t, other, conn, "")
	if queued := hub.SendToSessions(protocol.TextFrame([]byte("x")), []*Session{s}, nil); queued != 1 {
		t.Fatalf("queued %d, want 1", queued)
	}
	waitUntil(t, "the frame", func() bool { return len(conn.Writes()) == 1 })
}
