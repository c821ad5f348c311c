package session

import (
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/timerwheel"
)

// Session states, kept in the low byte of Session.state; the close reason sits in
// the next byte so that one compare-and-swap decides both who closes and why.
const (
	stateOpen    uint32 = 0
	stateClosing uint32 = 1
	stateClosed  uint32 = 2
	// refusedFlag, above the reason's byte, marks a session that never entered the
	// registry (Refused); it is set with the close reason and never cleared.
	refusedFlag uint32 = 1 << 16
)

// Session is one accepted WebSocket connection in the registry. Its methods are
// safe for concurrent use. A Session is 192 bytes (the 192-byte size class, full;
// TestSessionFitsItsSizeClass guards it) on top of the transport: at 1M connections
// that is 192 MB, so fields are kept few and small, and rarely used state (expiry,
// rate limiter, grants) is allocated only when used. The 192 bytes: the queue 40,
// state and member index 8, shard 8, transport 16, id 16, user id 16, connect time
// 8, heartbeat 24 (next ping, oldest unanswered ping, round trip), timer 40 (it
// holds no pointer to the session nor to its wheel: sessionTimerKind finds the
// session), rate limiter 8 and extras 8.
//
// The fields a delivery touches come first and together (the queue, the state, the
// shard and the transport: 72 bytes, two cache lines wherever the 32-byte aligned
// object starts): a fan-out to 15,000 sessions finds none of them in the cache, and
// with those fields spread over the whole object queueing and writing a frame cost
// four to five cache misses per session instead of two.
type Session struct {
	// out is the outbound queue (writer.go), with the bytes handed to the transport
	// that the socket has not taken yet.
	out outbound
	// state holds stateOpen/Closing/Closed in the low byte, the CloseReason in
	// the second byte and refusedFlag above.
	state atomic.Uint32
	// memberIndex is the position in shard.members; guarded by shard.mutex. Kept
	// beside state so the two 4-byte fields share one word.
	memberIndex int32
	// shard is the registry shard the session belongs to; its hub is the session's.
	shard *shard
	conn  Conn

	id          ConnectionID
	userID      string
	connectedAt int64 // Unix nanoseconds
	// nextPingAt is the hub clock (nanoseconds since the hub started) of the next
	// heartbeat ping; unansweredSince is that of the oldest ping no inbound frame has
	// followed yet, 0 when there is none. Only the timer wheel's goroutine touches
	// them.
	nextPingAt      int64
	unansweredSince int64
	// roundTripFrom is the hub clock of the latest ping while no inbound frame has
	// followed it, else 0: the first inbound frame after a ping takes it (one atomic
	// load per frame, cheaper than touching a timer) and reports the round trip, and
	// its being taken tells the heartbeat that the peer answered (heartbeat.go), so
	// no time of the last inbound frame is kept.
	roundTripFrom atomic.Int64
	// timer is the heartbeat and then the close grace (sessionTimerKind).
	timer timerwheel.Timer
	// limiter is the inbound rate limit state, allocated on the first message when a
	// limit is set (idle connections pay a pointer), used only by the connection's
	// own handler goroutine.
	limiter *rateLimiter
	// extras are what few connections carry (channel grants, welcome data, an
	// expiry); nil for most, which pay a pointer for them. Set before the session is
	// registered, never changed.
	extras *extras
}

// extras is the rarely present part of a session's identity.
type extras struct {
	// grants are the channel permissions of the connection's token (Identity.Grants).
	grants *channels.Grants
	// welcomeData is Identity.Data.
	welcomeData []byte
	// expiry closes the session when its credentials expire; nil when they do not
	// (see Transport.Open).
	expiry *expiry
}

// ID returns the connection id.
func (s *Session) ID() ConnectionID { return s.id }

// UserID returns the user id, or "" for an anonymous connection.
func (s *Session) UserID() string { return s.userID }

// Grants returns the channel permissions of the connection's token (see
// Identity.Grants), nil when it has none. They are immutable.
func (s *Session) Grants() *channels.Grants {
	if s.extras == nil {
		return nil
	}
	return s.extras.grants
}

// WelcomeData returns the JSON the connect callback's backend gave for the
// client's welcome (Identity.Data), nil when it gave none. Immutable; safe for
// concurrent use.
func (s *Session) WelcomeData() []byte {
	if s.extras == nil {
		return nil
	}
	return s.extras.welcomeData
}

// RemoteAddr returns the peer's address.
func (s *Session) RemoteAddr() string { return addressText(s.conn) }

// ConnectedAt returns when the connection was accepted.
func (s *Session) ConnectedAt() time.Time { return time.Unix(0, s.connectedAt) }

// IsOpen reports whether the session is still open (not closing or closed).
func (s *Session) IsOpen() bool { return s.state.Load()&0xff == stateOpen }

// Reason returns why the session closed, or ReasonNone while it is open.
func (s *Session) Reason() CloseReason { return CloseReason(s.state.Load() >> 8 & 0xff) }

// Refused reports whether the session was refused (a limit, the shutdown, its
// credentials) and so never entered the registry: MessageHandler.SessionClosed is
// called for it, SessionOpened never was.
func (s *Session) Refused() bool { return s.state.Load()&refusedFlag != 0 }

// touch records that a frame arrived: any inbound frame proves the peer alive. The
// first frame after a heartbeat ping takes the ping's round trip, which answers the
// ping, and reports it.
func (s *Session) touch() {
	if s.roundTripFrom.Load() != 0 {
		if sent := s.roundTripFrom.Swap(0); sent != 0 {
			s.shard.hub.config.Observer.PingAnswered(time.Duration(s.shard.hub.clock() - sent))
		}
	}
}

// Send queues an encoded frame (see protocol.TextFrame) for this connection, counts
// it as sent (Counters.MessagesSent) and wakes its flush worker; it never blocks on
// the client. frame may be shared with other connections and must not change
// afterwards. When the connection negotiated compression and the payload is at
// least Config.CompressionMinSize, the frame is compressed for it (a pooled
// compressor, a few microseconds per kilobyte). It returns false when the session is no longer open, or when the frame
// would take the connection's pending bytes over Config.MaxPendingBytes: the session
// is then closed as a slow consumer (4001).
func (s *Session) Send(frame []byte) bool {
	frame = s.shard.hub.frameFor(s, frame)
	if !s.queue(frame) {
		return false
	}
	s.shard.hub.countSent(1, len(frame))
	return true
}

// queue is Send without counting, for control frames.
func (s *Session) queue(frame []byte) bool {
	queued, schedule, overflow := s.enqueue(frame, false, false, false)
	s.schedule(schedule)
	if overflow {
		s.Close(ReasonSlowConsumer)
	}
	return queued
}

// Close starts a server-side close with reason: the session leaves the registry at
// once (so limits and stats see it gone), the close frame is written, and the socket
// is closed when the client answers or after the hub's close grace, whichever comes
// first. Only the first close of a session has an effect.
func (s *Session) Close(reason CloseReason) { s.CloseWithText(reason, reason.Text()) }

// CloseWithText is Close with text as the close frame's reason text instead of
// reason.Text(), for example why the backend kicked a client. RFC 6455 allows at
// most 123 bytes of UTF-8; longer text is cut to 123 bytes, so callers pass valid
// text of that size.
func (s *Session) CloseWithText(reason CloseReason, text string) {
	s.CloseWithCode(reason, reason.Code(), text)
}

// CloseWithCode is Close with a close code and text that are not reason's: the
// backend's own {"disconnect":{"code":4xxx,"reason":"..."}} answer to a callback
// (code in 4000-4999, text of at most 123 bytes of valid UTF-8), counted under
// reason (ReasonBackendDisconnect).
func (s *Session) CloseWithCode(reason CloseReason, code uint16, text string) {
	if !s.beginClose(reason) {
		return
	}
	s.shard.hub.unregister(s)
	s.shard.hub.recordDisconnect(s, reason)
	s.writeCloseAndArmGrace(code, text)
}

// beginClose moves the session from open to closing with reason; it reports whether
// this call won the transition.
func (s *Session) beginClose(reason CloseReason) bool {
	return s.state.CompareAndSwap(stateOpen, stateClosing|uint32(reason)<<8)
}

func (s *Session) writeCloseAndArmGrace(code uint16, text string) {
	s.sendClose(code, text)
	s.shard.hub.wheel.Schedule(&s.timer, s.shard.hub.closeGrace)
}

// sendClose queues a close frame behind everything already queued, whatever the
// session's state and pending bytes.
func (s *Session) sendClose(code uint16, text string) {
	_, schedule, _ := s.enqueue(protocol.CloseFrame(code, text), true, false, false)
	s.schedule(schedule)
}

// sessionTimerKind is the Kind of every session's timer: while the session is open
// it runs the heartbeat, while it is closing it ends the close grace by closing the
// socket.
var sessionTimerKind = timerwheel.NewOwnerKind(unsafe.Offsetof(Session{}.timer), func(s *Session, _ time.Time) {
	switch s.state.Load() & 0xff {
	case stateOpen:
		s.shard.hub.heartbeat(s)
	case stateClosing:
		_ = s.conn.Close()
	}
})
