package session

import (
	"errors"
	"time"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/protocol"
)

// MessageHandler decides what a client's text message does: decoding it and
// answering (package delivery implements the protocol's messages). Before
// HandleMessage runs, the transport has counted the message, applied the rate limit
// and answered the heartbeat's exact {"type":"ping"} and {"type":"pong"} itself, so
// new message types are added without touching this package. It also hears when a
// session opens and when it closes, so that what it keeps per connection (channel
// subscriptions) starts and ends with the connection.
//
// HandleMessage is called on the connection's own handler goroutine, one message
// after another in arrival order, for an open session. text is only valid during
// the call (the transport reuses it); whatever is kept must be copied. It must not
// block on the network: answers are queued with Session.Send.
type MessageHandler interface {
	HandleMessage(s *Session, text []byte)
	// SessionOpened is called by Transport.Open once s entered the registry, on the
	// goroutine that opened it, before any of its messages is handled, with the
	// channels its credentials subscribe it to as it connects (Identity.Channels;
	// nil for none). It is not called for a refused session.
	SessionOpened(s *Session, channels []string)
	// SessionClosed is called by Transport.Closed, exactly once for every session
	// of the transport (opened or refused), after s left the open state for good:
	// IsOpen is false by then, so whatever the handler releases here cannot be
	// added back by a racing HandleMessage that checks IsOpen after adding.
	SessionClosed(s *Session)
}

// Identity is who an upgraded connection is, as its transport established it (see
// Transport.Open).
type Identity struct {
	// UserID is the connection's user, "" for an anonymous connection.
	UserID string
	// ExpiresAt is when its credentials expire (the zero time: never); at that
	// instant, rounded up to the next timer tick, the session is closed with
	// ReasonTokenExpired, 4100 "token expired".
	ExpiresAt time.Time
	// Grants are the channel permissions of its token (see Session.Grants); nil
	// when it has none, as most connections, which then pay nothing for them.
	Grants *channels.Grants
	// Channels are the channels its token subscribes it to on connect, handed to
	// MessageHandler.SessionOpened and not kept.
	Channels []string
	// Data is the JSON the connect callback's backend gave for the client's welcome
	// (see Session.WelcomeData); nil for none, as most connections.
	Data []byte
}

// Transport is the hub's side that a transport (package engine) calls for the
// connections it serves: it opens and refuses sessions, hands them inbound frames and
// reports what the socket did. Applications use Hub and Session instead. Its methods
// are safe for concurrent use; for one session, the frame handlers are called from
// that connection's handler goroutine, one at a time.
type Transport struct {
	hub      *Hub
	messages MessageHandler
}

// NewTransport returns the transport side of hub, which hands client messages to
// messages.
func NewTransport(hub *Hub, messages MessageHandler) (*Transport, error) {
	if hub == nil || messages == nil {
		return nil, errors.New("session: NewTransport needs a hub and a MessageHandler")
	}
	return &Transport{hub: hub, messages: messages}, nil
}

// Hub returns the hub this transport serves.
func (t *Transport) Hub() *Hub { return t.hub }

// Open registers a new connection with identity (see Identity) and, once it is in
// the registry, tells the MessageHandler (SessionOpened). It always returns the
// session: attach it to the connection so that Closed is called for it. When a limit
// or the shutdown refuses the connection, the session comes back already closing,
// its close frame queued: IsOpen is false and Reason says why.
func (t *Transport) Open(conn Conn, identity Identity) *Session {
	s := t.hub.newSession(conn, identity.UserID)
	if identity.Grants != nil || identity.Data != nil || !identity.ExpiresAt.IsZero() {
		s.extras = &extras{grants: identity.Grants, welcomeData: identity.Data}
	}
	newExpiry(s, identity.ExpiresAt)
	if t.hub.admit(s, identity.ExpiresAt) {
		t.messages.SessionOpened(s, identity.Channels)
	}
	return s
}

// Admit decides, before the transport does any costly work for a new connection
// (the upgrade's token verification, the registry, the cluster's admission),
// whether the node takes it: ReasonShutdown while the hub drains or shuts down,
// ReasonConnectRate over Config.MaxConnectsPerSecond (a token of the node's bucket
// is taken otherwise), else ReasonNone. A refused connection is then completed and
// closed with Refuse, so that every client, browsers included, reads the close code
// and follows its reconnect policy. One atomic compare-and-swap; safe for
// concurrent use.
func (t *Transport) Admit() CloseReason {
	h := t.hub
	switch {
	case h.shuttingDown.Load() || h.draining.Load():
		return ReasonShutdown
	case !h.connects.take(h.clock()):
		return ReasonConnectRate
	}
	return ReasonNone
}

// Refuse closes an upgraded connection that must not be served (for example one
// without valid credentials) with reason's close code, counts it, and returns its
// session, which never enters the registry; attach it to the connection as with Open.
func (t *Transport) Refuse(conn Conn, reason CloseReason) *Session {
	s := t.hub.newSession(conn, "")
	t.hub.refuse(s, reason)
	return s
}

// RefuseWithCode closes an upgraded connection with a close code and text that are
// not the fixed table's (the connect callback's backend chose them: code in
// 4000-4999, text at most 123 bytes), counts it as ReasonBackendDisconnect and
// returns its session, which never enters the registry; attach it as with Open.
func (t *Transport) RefuseWithCode(conn Conn, code uint16, text string) *Session {
	s := t.hub.newSession(conn, "")
	t.hub.refuseWithCode(s, ReasonBackendDisconnect, code, text)
	return s
}

// CountRefused records a connection refused before it was upgraded (a bad origin, a
// handshake timeout), which therefore never had a session.
func (t *Transport) CountRefused(reason CloseReason) {
	t.hub.counters.refused[reason].Add(1)
}

// Frames whose bytes never vary, encoded once and shared by every connection.
var (
	binaryRefusedFrame = protocol.ErrBinaryFrame.Frame()
	rateLimitedFrame   = protocol.ErrRateLimited.Frame()
)

// HandleText processes one complete text message from s: counted, rate limited, the
// heartbeat's exact ping answered here (the most common message of an idle gateway
// skips the JSON decoder), anything else handed to the MessageHandler. data is only
// valid during the call. The heartbeat's exact pong is exempt from the rate limit,
// like a control pong: it costs one comparison, and the limiter it would otherwise
// allocate cost every idle connection 32 bytes.
func (t *Transport) HandleText(s *Session, data []byte) {
	if string(data) == protocol.PongText {
		t.hub.count(s, data)
		return
	}
	if !t.hub.receive(s, data) {
		return
	}
	switch string(data) {
	case protocol.PingText:
		s.Send(protocol.PongFrame())
		return
	}
	t.messages.HandleMessage(s, data)
}

// HandleBinary answers a binary message with an error: the protocol is JSON text
// only. The connection stays open.
func (t *Transport) HandleBinary(s *Session, data []byte) {
	if t.hub.receive(s, data) {
		s.Send(binaryRefusedFrame)
	}
}

// HandlePing answers a protocol-level (control) ping with a pong carrying payload, in
// order with the connection's other frames; like any frame it proves the peer alive.
func (t *Transport) HandlePing(s *Session, payload []byte) {
	s.touch()
	s.queue(protocol.ControlPongFrame(payload))
}

// HandlePong records a protocol-level (control) pong: proof that the peer is alive.
func (t *Transport) HandlePong(s *Session) { s.touch() }

// Written reports bytes the transport put on the socket for s, including bytes it
// had buffered earlier, so that s's pending bytes shrink. It may run under the
// transport's own connection lock: it is one atomic add.
func (t *Transport) Written(s *Session, bytes int) { s.out.unsent.Add(-int32(bytes)) }

// PeerClosed reports that the client sent a close frame with code (0 when the frame
// carried no status). If the server had not started a close itself, the session
// leaves the registry and the client's code is echoed, as RFC 6455 asks; the
// transport closes the socket afterwards.
func (t *Transport) PeerClosed(s *Session, code uint16) {
	if !s.beginClose(ReasonClientClose) {
		return
	}
	t.hub.unregister(s)
	t.hub.recordDisconnect(s, ReasonClientClose)
	// Written at once, not queued: the transport closes the socket as soon as this
	// returns, and the client is closing anyway, so queued data no longer matters.
	s.write(protocol.CloseFrame(code, ""))
}

// Closed reports, exactly once per session, that its socket closed. reason says what
// the transport saw (ReasonError for a vanished peer, ReasonTooBig,
// ReasonSlowConsumer); it is ignored if the session was already closing.
func (t *Transport) Closed(s *Session, reason CloseReason) {
	h := t.hub
	for {
		state := s.state.Load()
		if state&0xff == stateClosed {
			return
		}
		if state&0xff == stateOpen {
			if !s.state.CompareAndSwap(state, stateClosed|uint32(reason)<<8) {
				continue
			}
			h.unregister(s)
			h.recordDisconnect(s, reason)
			break
		}
		if s.state.CompareAndSwap(state, stateClosed|state&^0xff) {
			break
		}
	}
	h.wheel.Cancel(&s.timer)
	h.cancelExpiry(s)
	t.messages.SessionClosed(s)
	h.liveSessions.Add(-1)
}

// count accounts for one inbound message: proof of life and the counters.
func (h *Hub) count(s *Session, data []byte) {
	s.touch()
	h.counters.messagesReceived.Add(1)
	h.counters.bytesReceived.Add(uint64(len(data)))
}

// receive accounts for one inbound message and applies the rate limit; it reports
// whether the message should be processed. Over the rate the client gets a
// rate_limited error and the message is dropped; a flooding client is closed (4002).
func (h *Hub) receive(s *Session, data []byte) bool {
	h.count(s, data)
	if !s.IsOpen() {
		return false
	}
	if h.config.MaxMessagesPerSecond <= 0 {
		return true
	}
	if s.limiter == nil {
		s.limiter = new(rateLimiter)
	}
	switch s.limiter.admit(h.clock(), h.config.MaxMessagesPerSecond, h.config.MessageBurst) {
	case rateDropped:
		h.counters.messagesDropped.Add(1)
		s.Send(rateLimitedFrame)
		return false
	case rateFlooding:
		h.counters.messagesDropped.Add(1)
		s.Close(ReasonRateLimited)
		return false
	}
	return true
}
