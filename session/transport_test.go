package session

import (
	"bytes"
	"slices"
	"testing"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/protocol"
)

// TestTransportAnswersTheHeartbeatAndHandsOnTheRest: the exact ping and pong never
// reach the MessageHandler, every other text does, binary frames and control pings
// are answered here, and only data answers count as messages sent.
func TestTransportAnswersTheHeartbeatAndHandsOnTheRest(t *testing.T) {
	hub := newTestHub(t, Config{})
	messages := &recordedMessages{}
	transport, err := NewTransport(hub, messages)
	if err != nil {
		t.Fatal(err)
	}
	conn := &testsupport.Conn{}
	s := transport.Open(conn, Identity{})
	transport.HandleText(s, []byte(protocol.PingText))
	transport.HandleText(s, []byte(protocol.PongText))
	transport.HandleText(s, []byte(`{ "type": "ping" }`))
	transport.HandleText(s, []byte(`{"type":"message"}`))
	transport.HandleBinary(s, []byte{1, 2})
	transport.HandlePing(s, []byte("are you there"))
	transport.HandlePong(s)
	want := [][]byte{protocol.PongFrame(), protocol.ErrBinaryFrame.Frame(), protocol.ControlPongFrame([]byte("are you there"))}
	waitUntil(t, "the answers", func() bool { return len(bytes.Join(conn.Writes(), nil)) >= len(bytes.Join(want, nil)) })
	if got := bytes.Join(conn.Writes(), nil); !bytes.Equal(got, bytes.Join(want, nil)) {
		t.Fatalf("written %q, want the pong, the binary error and the control pong %q", got, want)
	}
	messages.mutex.Lock()
	defer messages.mutex.Unlock()
	if !slices.Equal(messages.texts, []string{`{ "type": "ping" }`, `{"type":"message"}`}) {
		t.Fatalf("handed on %q, want the two messages that are not the exact heartbeat", messages.texts)
	}
	if counters := hub.Counters(); counters.MessagesReceived != 5 || counters.MessagesSent != 2 {
		t.Fatalf("received %d, sent %d; want 5 data messages in and 2 answers out (control frames do not count)",
			counters.MessagesReceived, counters.MessagesSent)
	}
	if _, err := NewTransport(hub, nil); err == nil {
		t.Fatal("NewTransport accepted a nil MessageHandler")
	}
}

// TestRateLimitedMessagesNeverReachTheHandler: over the rate the client gets
// rate_limited and the handler nothing.
func TestRateLimitedMessagesNeverReachTheHandler(t *testing.T) {
	hub := newTestHub(t, Config{MaxMessagesPerSecond: 1, MessageBurst: 1})
	messages := &recordedMessages{}
	transport := &Transport{hub: hub, messages: messages}
	conn := &testsupport.Conn{}
	s := transport.Open(conn, Identity{})
	transport.HandleText(s, []byte(`{"type":"message","content":1}`))
	transport.HandleText(s, []byte(`{"type":"message","content":2}`))
	waitUntil(t, "the rate_limited error", func() bool { return len(conn.Writes()) == 1 })
	if got, want := conn.Writes()[0], protocol.ErrRateLimited.Frame(); !bytes.Equal(got, want) {
		t.Fatalf("written %q, want %q", got, want)
	}
	messages.mutex.Lock()
	defer messages.mutex.Unlock()
	if len(messages.texts) != 1 || hub.Counters().MessagesDropped != 1 {
		t.Fatalf("handed on %q, %d dropped; want the first message only", messages.texts, hub.Counters().MessagesDropped)
	}
}

// TestTransportTellsTheHandlerOfOpenAndClose: an admitted session is announced with
// its channels and its grants are kept; a refused one is not announced; both are
// reported closed exactly once, after they left the open state.
func TestTransportTellsTheHandlerOfOpenAndClose(t *testing.T) {
	hub := newTestHub(t, Config{MaxConnectionsPerUser: 1})
	messages := &recordedMessages{}
	transport := &Transport{hub: hub, messages: messages}
	grants := &channels.Grants{Broadcast: true}
	admitted := transport.Open(&testsupport.Conn{}, Identity{UserID: "ada", Grants: grants, Channels: []string{"news"}})
	refused := transport.Open(&testsupport.Conn{}, Identity{UserID: "ada"})
	if !admitted.IsOpen() || refused.IsOpen() || admitted.Grants() != grants || refused.Grants() != nil {
		t.Fatalf("admitted open %v with grants %p, refused open %v; want the first open with its grants",
			admitted.IsOpen(), admitted.Grants(), refused.IsOpen())
	}
	messages.mutex.Lock()
	if len(messages.opened) != 1 || !slices.Equal(messages.opened[admitted], []string{"news"}) {
		t.Errorf("opened %v, want the admitted session with its channel", messages.opened)
	}
	messages.mutex.Unlock()
	transport.Closed(admitted, ReasonError)
	transport.Closed(admitted, ReasonError)
	transport.Closed(refused, ReasonError)
	if admitted.Refused() || !refused.Refused() || refused.Reason() != ReasonLimit || admitted.Reason() != ReasonError {
		t.Errorf("Refused: admitted %v, refused %v (reason %v, admitted's %v); want false, true, limit and error",
			admitted.Refused(), refused.Refused(), refused.Reason(), admitted.Reason())
	}
	other := transport.Refuse(&testsupport.Conn{}, ReasonUnauthorized)
	transport.Closed(other, ReasonError)
	if !other.Refused() || other.Reason() != ReasonUnauthorized {
		t.Errorf("a session refused by the transport: Refused %v, reason %v", other.Refused(), other.Reason())
	}
	messages.mutex.Lock()
	defer messages.mutex.Unlock()
	if !slices.Equal(messages.closed[:2], []*Session{admitted, refused}) || admitted.IsOpen() {
		t.Fatalf("closed %v, want each session once", messages.closed)
	}
}

// TestHeartbeatPongsAreNotRateLimited: the heartbeat's answer neither spends the
// rate limit nor allocates its state (an idle connection would pay 32 bytes for it),
// and a message after many pongs is still within the burst.
func TestHeartbeatPongsAreNotRateLimited(t *testing.T) {
	hub := newTestHub(t, Config{MaxMessagesPerSecond: 1, MessageBurst: 1})
	messages := &recordedMessages{}
	transport, err := NewTransport(hub, messages)
	if err != nil {
		t.Fatal(err)
	}
	s := transport.Open(&testsupport.Conn{}, Identity{})
	for range 10 {
		transport.HandleText(s, []byte(protocol.PongText))
	}
	if s.limiter != nil {
		t.Fatal("pongs allocated the rate limiter")
	}
	transport.HandleText(s, []byte(`{"type":"message"}`))
	messages.mutex.Lock()
	defer messages.mutex.Unlock()
	if len(messages.texts) != 1 {
		t.Fatalf("handed on %q after 10 pongs, want the message (burst 1)", messages.texts)
	}
	if counters := hub.Counters(); counters.MessagesReceived != 11 || counters.MessagesDropped != 0 {
		t.Fatalf("received %d, dropped %d; want 11 and 0", counters.MessagesReceived, counters.MessagesDropped)
	}
}
