package session

import (
	"github.com/wsgate/wsgate/protocol"
)

// The JSON protocol on /api/v1/ws, wire-compatible with the seed (docs/protocol.md);
// package protocol decodes and encodes its messages. Answers are encoded once into a
// frame, so a broadcast never re-encodes per target.

// HandleText processes one complete text message from s. data is only valid during
// the call (the transport reuses it); everything kept is copied into a new frame.
// Called on the connection's own handler goroutine, in arrival order.
func (h *Hub) HandleText(s *Session, data []byte) {
	if !h.receive(s, data) {
		return
	}
	// Heartbeat answers and pings are most of the traffic of an idle gateway: their
	// exact usual form skips the JSON decoder, which would allocate for each.
	switch string(data) {
	case protocol.PongText:
		return
	case protocol.PingText:
		h.reply(s, pongFrame)
		return
	}
	message, refusal := protocol.Decode(data)
	if refusal != nil {
		h.reply(s, refusal.Frame())
		return
	}
	switch message.Type {
	case protocol.TypeMessage:
		h.reply(s, protocol.ContentFrame(protocol.TypeMessage, message.Content))
	case protocol.TypeBroadcast:
		frame := protocol.ContentFrame(protocol.TypeBroadcast, message.Content)
		h.Broadcast(frame, s.id)
		if h.config.Relay != nil {
			h.config.Relay.RelayBroadcast(protocol.FramePayload(frame))
		}
	case protocol.TypePing:
		h.reply(s, pongFrame)
	case protocol.TypePong:
		// Already counted as life by Touch above; nothing to answer.
	case protocol.TypeHello:
		h.reply(s, h.welcomeFrame(s))
	default:
		h.reply(s, protocol.UnknownType(message.Type).Frame())
	}
}

// HandleBinary answers a binary message: the protocol is JSON text only. The
// connection stays open.
func (h *Hub) HandleBinary(s *Session, data []byte) {
	if !h.receive(s, data) {
		return
	}
	h.reply(s, binaryRefusedFrame)
}

// receive accounts for one inbound message and applies the rate limit; it reports
// whether the message should be processed. Over the rate the client gets a
// rate_limited error and the message is dropped; a flooding client is closed (4002).
func (h *Hub) receive(s *Session, data []byte) bool {
	s.Touch()
	h.counters.messagesReceived.Add(1)
	h.counters.bytesReceived.Add(uint64(len(data)))
	if !s.Open() {
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
		h.reply(s, rateLimitedFrame)
		return false
	case rateFlooding:
		h.counters.messagesDropped.Add(1)
		s.Close(ReasonRateLimited)
		return false
	}
	return true
}

// Frames whose bytes never vary, encoded once and shared by every connection.
var (
	pongFrame          = protocol.TextFrame([]byte(protocol.PongText))
	binaryRefusedFrame = protocol.ErrBinaryFrame.Frame()
	rateLimitedFrame   = protocol.ErrRateLimited.Frame()
)

func (h *Hub) reply(s *Session, frame []byte) {
	if s.Send(frame) {
		h.countSent(1, len(frame))
	}
}

func (h *Hub) welcomeFrame(s *Session) []byte {
	interval, timeout := h.config.PingInterval, h.config.PingTimeout
	if interval < 0 {
		interval, timeout = 0, 0
	}
	return protocol.Welcome{ConnectionID: s.id.String(), UserID: s.userID,
		PingInterval: interval, PingTimeout: timeout}.Frame()
}
