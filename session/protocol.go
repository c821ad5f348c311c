package session

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// The JSON protocol on /api/v1/ws, wire-compatible with the seed (docs/protocol.md).
// Every client message is a JSON object with a "type"; the answers below are encoded
// once into a frame, so a broadcast never re-encodes per target.

// inboundMessage is the part of a client message the server reads. Content stays raw
// so it reaches other clients byte for byte.
type inboundMessage struct {
	Type    *string         `json:"type"`
	Content json.RawMessage `json:"content"`
}

// Error codes sent in {"type":"error","code":...}.
const (
	ErrorInvalidJSON   = "invalid_json"
	ErrorNotObject     = "not_an_object"
	ErrorMissingType   = "missing_type"
	ErrorUnknownType   = "unknown_type"
	ErrorBinaryFrame   = "binary_not_supported"
	ErrorInvalidFormat = "invalid_type"
	ErrorRateLimited   = "rate_limited"
)

var nullContent = []byte("null")

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
	case `{"type":"pong"}`:
		return
	case `{"type":"ping"}`:
		h.reply(s, pongFrame)
		return
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if !json.Valid(data) {
			h.sendError(s, ErrorInvalidJSON, "message is not valid JSON")
			return
		}
		h.sendError(s, ErrorNotObject, "message must be a JSON object")
		return
	}
	var message inboundMessage
	if err := json.Unmarshal(data, &message); err != nil {
		if _, isTypeError := err.(*json.UnmarshalTypeError); isTypeError {
			h.sendError(s, ErrorInvalidFormat, `"type" must be a string`)
			return
		}
		h.sendError(s, ErrorInvalidJSON, "message is not valid JSON: "+err.Error())
		return
	}
	if message.Type == nil {
		h.sendError(s, ErrorMissingType, `message has no "type"`)
		return
	}
	content := []byte(message.Content)
	if content == nil {
		content = nullContent
	}
	switch *message.Type {
	case "message":
		h.reply(s, contentFrame("message", content))
	case "broadcast":
		frame := contentFrame("broadcast", content)
		h.Broadcast(frame, s.id)
		if h.config.Relay != nil {
			h.config.Relay.Broadcast(framePayload(frame))
		}
	case "ping":
		h.reply(s, pongFrame)
	case "pong":
		// Already counted as life by Touch above; nothing to answer.
	case "hello":
		h.reply(s, h.welcomeFrame(s))
	default:
		h.sendError(s, ErrorUnknownType, "unknown message type "+strconv.Quote(*message.Type))
	}
}

// HandleBinary answers a binary message: the protocol is JSON text only. The
// connection stays open.
func (h *Hub) HandleBinary(s *Session, data []byte) {
	if !h.receive(s, data) {
		return
	}
	h.sendError(s, ErrorBinaryFrame, "binary frames are not supported; send JSON text frames")
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
		h.sendError(s, ErrorRateLimited, "over the message rate limit; message dropped")
		return false
	case rateFlooding:
		h.counters.messagesDropped.Add(1)
		s.Close(ReasonRateLimited)
		return false
	}
	return true
}

var pongFrame = TextFrame([]byte(`{"type":"pong"}`))

func (h *Hub) reply(s *Session, frame []byte) {
	if s.Send(frame) {
		h.countSent(1, len(frame))
	}
}

// contentFrame encodes {"type":kind,"content":content} with content copied raw.
func contentFrame(kind string, content []byte) []byte {
	payloadLength := len(`{"type":"","content":}`) + len(kind) + len(content)
	frame := make([]byte, 0, frameHeaderSize(payloadLength)+payloadLength)
	frame = appendFrameHeader(frame, opcodeText, payloadLength)
	frame = append(frame, `{"type":"`...)
	frame = append(frame, kind...)
	frame = append(frame, `","content":`...)
	frame = append(frame, content...)
	return append(frame, '}')
}

func (h *Hub) sendError(s *Session, code, message string) {
	payload, _ := json.Marshal(struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}{"error", code, message})
	h.reply(s, TextFrame(payload))
}

func (h *Hub) welcomeFrame(s *Session) []byte {
	var userID any
	if s.userID != "" {
		userID = s.userID
	}
	interval, timeout := h.config.PingInterval, h.config.PingTimeout
	if interval < 0 {
		interval, timeout = 0, 0
	}
	payload, _ := json.Marshal(struct {
		Type           string `json:"type"`
		ConnectionID   string `json:"connection_id"`
		UserID         any    `json:"user_id"`
		PingIntervalMS int64  `json:"ping_interval_ms"`
		PingTimeoutMS  int64  `json:"ping_timeout_ms"`
	}{"welcome", s.id.String(), userID, interval.Milliseconds(), timeout.Milliseconds()})
	return TextFrame(payload)
}
