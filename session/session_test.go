package session

import (
	"bytes"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/protocol"
)

// The registry unit tests run on testsupport.Conn; end-to-end behaviour over real
// sockets is tested in the gateway package.
var _ Conn = (*testsupport.Conn)(nil)

// newTestHub returns a hub for config, with the heartbeat off unless config sets
// it, shut down when the test ends.
func newTestHub(t testing.TB, config Config) *Hub {
	t.Helper()
	if config.PingInterval == 0 {
		config.PingInterval = Off
	}
	hub, err := NewHub(config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Shutdown(0) })
	return hub
}

// recordedMessages is the unit tests' MessageHandler: it records every message the
// transport hands over, and the sessions it was told of.
type recordedMessages struct {
	mutex  sync.Mutex
	texts  []string
	opened map[*Session][]string
	closed []*Session
}

func (m *recordedMessages) HandleMessage(_ *Session, text []byte) {
	m.mutex.Lock()
	defer m.mutex.Unlock()
	m.texts = append(m.texts, string(text))
}

func (m *recordedMessages) SessionOpened(s *Session, channels []string) {
	m.mutex.Lock()
	defer m.mutex.Unlock()
	if m.opened == nil {
		m.opened = make(map[*Session][]string)
	}
	m.opened[s] = channels
}

func (m *recordedMessages) SessionClosed(s *Session) {
	m.mutex.Lock()
	defer m.mutex.Unlock()
	m.closed = append(m.closed, s)
}

// testTransport returns the transport side of hub, as the engine holds it, with a
// handler that records messages.
func testTransport(hub *Hub) *Transport { return &Transport{hub: hub, messages: &recordedMessages{}} }

// mustOpen opens a session as the engine does and fails the test if it is refused.
func mustOpen(t testing.TB, hub *Hub, conn Conn, userID string) *Session {
	t.Helper()
	s := testTransport(hub).Open(conn, Identity{UserID: userID})
	if !s.IsOpen() {
		t.Fatalf("connection of %q refused: %s", userID, s.Reason())
	}
	return s
}

// waitUntil polls condition for up to 5 s (see testsupport.WaitFor).
func waitUntil(t *testing.T, what string, condition func() bool) {
	t.Helper()
	testsupport.WaitFor(t, 5*time.Second, what, condition)
}

func TestQueuedFramesAreCoalescedIntoOneWrite(t *testing.T) {
	hub := newTestHub(t, Config{WriteDelay: 50 * time.Millisecond, FlushWorkers: 1})
	conn := &testsupport.Conn{}
	s := mustOpen(t, hub, conn, "")
	var want []byte
	for index := range 5 {
		frame := protocol.TextFrame([]byte{'0' + byte(index)})
		want = append(want, frame...)
		if !s.Send(frame) {
			t.Fatalf("send %d refused", index)
		}
	}
	waitUntil(t, "a write", func() bool { return len(conn.Writes()) > 0 })
	writes := conn.Writes()
	if len(writes) != 1 || !bytes.Equal(writes[0], want) {
		t.Fatalf("%d writes %q, want one write of the five frames in order %q", len(writes), writes, want)
	}
}

func TestPendingBytesOverTheBoundCloseASlowConsumer(t *testing.T) {
	hub := newTestHub(t, Config{MaxPendingBytes: 1000})
	conn := &testsupport.Conn{}
	s := mustOpen(t, hub, conn, "")
	s.out.unsent.Store(900) // the transport holds 900 bytes the socket did not take
	if !s.Send(protocol.TextFrame(make([]byte, 50))) {
		t.Fatal("a send within the bound was refused")
	}
	waitUntil(t, "the flush", func() bool { return len(conn.Writes()) == 1 })
	if pending := s.PendingBytes(); pending != 900+52 {
		t.Fatalf("pending %d, want 952", pending)
	}
	if s.Send(protocol.TextFrame(make([]byte, 100))) {
		t.Fatal("a send over the bound was accepted")
	}
	if s.Reason() != ReasonSlowConsumer || hub.ConnectionCount() != 0 {
		t.Fatalf("reason %v, %d connections: want slow_consumer and none", s.Reason(), hub.ConnectionCount())
	}
	waitUntil(t, "the close frame", func() bool { return len(conn.Writes()) == 2 })
	testTransport(hub).Written(s, 952+len(conn.Writes()[1]))
	if s.PendingBytes() != 0 {
		t.Fatalf("pending %d after everything was written", s.PendingBytes())
	}
}

func TestRateLimiterRefillsAndDetectsFlooding(t *testing.T) {
	var limiter rateLimiter
	second := int64(time.Second)
	start := int64(1)
	for index := range 4 {
		if verdict := limiter.admit(start, 2, 4); verdict != rateAllowed {
			t.Fatalf("message %d within the burst: %v", index, verdict)
		}
	}
	if verdict := limiter.admit(start, 2, 4); verdict != rateDropped {
		t.Fatalf("over the burst: %v, want dropped", verdict)
	}
	if verdict := limiter.admit(start+second/2, 2, 4); verdict != rateAllowed {
		t.Fatalf("after half a second at 2/s one token is back: %v", verdict)
	}
	verdicts := []rateVerdict{}
	for range 3 {
		verdicts = append(verdicts, limiter.admit(start+second/2, 2, 4))
	}
	if verdicts[0] != rateDropped || verdicts[2] != rateFlooding {
		t.Fatalf("verdicts %v: more drops than the rate within a second must be flooding", verdicts)
	}
}

func TestTopUsersFollowsConnectsAndDisconnects(t *testing.T) {
	hub := newTestHub(t, Config{Shards: 4})
	sessions := map[string][]*Session{}
	for user, count := range map[string]int{"a": 3, "b": 1, "c": 2, "d": 5} {
		for range count {
			s := mustOpen(t, hub, &testsupport.Conn{}, user)
			sessions[user] = append(sessions[user], s)
		}
	}
	top, truncated := hub.TopUsers(2)
	if !truncated || len(top) != 2 || top[0] != (UserConnections{"d", 5}) || top[1] != (UserConnections{"a", 3}) {
		t.Fatalf("top 2 = %v truncated %v", top, truncated)
	}
	for _, s := range sessions["d"][:4] {
		testTransport(hub).Closed(s, ReasonError)
	}
	top, truncated = hub.TopUsers(10)
	want := []UserConnections{{"a", 3}, {"c", 2}, {"b", 1}, {"d", 1}}
	if truncated || len(top) != len(want) {
		t.Fatalf("top = %v truncated %v, want %v", top, truncated, want)
	}
	for index := range want {
		if top[index] != want[index] {
			t.Fatalf("top = %v, want %v", top, want)
		}
	}
	if hub.ConnectionCount() != 7 || hub.UserCount() != 4 {
		t.Fatalf("%d connections %d users, want 7 and 4", hub.ConnectionCount(), hub.UserCount())
	}
}

func TestConnectionIDRoundTripsAsUUID(t *testing.T) {
	seen := map[ConnectionID]bool{}
	for range 1000 {
		id := NewConnectionID()
		if seen[id] {
			t.Fatal("duplicate connection id")
		}
		seen[id] = true
		parsed, err := ParseConnectionID(id.String())
		if err != nil || parsed != id {
			t.Fatalf("parse(%s) = %v, %v", id, parsed, err)
		}
	}
	for _, bad := range []string{"", "not-a-uuid", "3f2b1c4e-8d7a-4b6c-9e1f-0a2b3c4d5e6", "3f2b1c4e+8d7a-4b6c-9e1f-0a2b3c4d5e6f", "zf2b1c4e-8d7a-4b6c-9e1f-0a2b3c4d5e6f"} {
		if _, err := ParseConnectionID(bad); err == nil {
			t.Fatalf("ParseConnectionID(%q) accepted", bad)
		}
	}
}

func TestCloseReasonsHaveDistinctNamesAndDocumentedCodes(t *testing.T) {
	byName := map[string]CloseReason{}
	for reason := ReasonNone; reason < reasonCount; reason++ {
		if _, taken := byName[reason.String()]; taken {
			t.Fatalf("duplicate name %s", reason)
		}
		byName[reason.String()] = reason
	}
	for _, entry := range protocol.CloseCodes() {
		if reason, found := byName[entry.Name]; !found || reason.Code() != entry.Code || reason.Text() != entry.Text {
			t.Errorf("close code %d (%s) of protocol's table is sent by no reason of that name, code and text", entry.Code, entry.Name)
		}
	}
	checks := map[CloseReason]struct {
		code   uint16
		policy protocol.ReconnectPolicy
	}{
		ReasonLimit:            {1008, protocol.PolicyBackoff},
		ReasonOverload:         {1013, protocol.PolicyBackoff},
		ReasonConnectRate:      {1013, protocol.PolicyBackoff},
		ReasonShutdown:         {1001, protocol.PolicyJitter},
		ReasonHeartbeatTimeout: {4000, protocol.PolicyBackoff},
		ReasonSlowConsumer:     {4001, protocol.PolicyBackoff},
		ReasonTokenExpired:     {4100, protocol.PolicyRefreshToken},
		ReasonUnauthorized:     {4401, protocol.PolicyTerminal},
		ReasonKicked:           {4403, protocol.PolicyTerminal},
	}
	for reason, want := range checks {
		if policy := protocol.PolicyOf(int(reason.Code())); reason.Code() != want.code || policy != want.policy {
			t.Fatalf("%s: code %d policy %s, want %d %s", reason, reason.Code(), policy, want.code, want.policy)
		}
	}
	if unknown := CloseReason(200); unknown.String() != "reason(200)" || unknown.Code() != 1011 {
		t.Fatal("unknown reason has no fallback name or code")
	}
}

// TestFirstPingsAreSpreadOverTheInterval opens 1,000 sessions at once: their first
// pings are scheduled at random phases across the interval, not in one burst.
func TestFirstPingsAreSpreadOverTheInterval(t *testing.T) {
	const sessions, interval = 1000, time.Hour // long: no ping fires while the test reads the phases
	hub := newTestHub(t, Config{PingInterval: interval, PingTimeout: interval})
	var quarters [4]int
	for range sessions {
		opened := hub.clock()
		s := mustOpen(t, hub, &testsupport.Conn{}, "")
		phase := time.Duration(s.nextPingAt - opened)
		if phase <= 0 || phase > interval+time.Second {
			t.Fatalf("first ping %v after connect, want within (0, %v]", phase, interval)
		}
		quarters[min(int(phase*4/interval), 3)]++
	}
	for quarter, count := range quarters {
		if count < sessions/8 { // uniform: 250 expected per quarter, standard deviation about 14
			t.Fatalf("first pings per quarter of the interval %v: quarter %d has only %d", quarters, quarter, count)
		}
	}
}

// TestLateHeartbeatArmingKeepsTheCloseGrace: a close that lands between registration
// and the heartbeat's first arming (both use the session's one timer) must still end
// with the socket closed after the grace, not at the first ping an hour later.
func TestLateHeartbeatArmingKeepsTheCloseGrace(t *testing.T) {
	hub := newTestHub(t, Config{PingInterval: time.Hour, CloseGrace: 50 * time.Millisecond, TimerTick: 10 * time.Millisecond})
	conn := &testsupport.Conn{}
	s := mustOpen(t, hub, conn, "")
	s.Close(ReasonShutdown)
	hub.armHeartbeat(s) // what Open's arming does when it runs after the close
	waitUntil(t, "the socket closed by the grace", conn.Closed)
}

// TestSessionFitsItsSizeClass guards the per-connection cost: one more field would
// move every session to the 208-byte class, 16 MB more at 1M connections, and the
// delivery fields must stay in the first 72 bytes (two cache lines).
func TestSessionFitsItsSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(Session{}); size > 192 {
		t.Fatalf("Session is %d bytes, over 192", size)
	}
	if end := unsafe.Offsetof(Session{}.conn) + unsafe.Sizeof(Session{}.conn); end > 72 {
		t.Fatalf("the delivery fields end at byte %d, after 72", end)
	}
}
