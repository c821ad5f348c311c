package protocol

import (
	"encoding/json"
	"time"
)

// ContentFrame encodes {"type":messageType,"content":content} as a text frame, with
// content copied raw, so a client's content reaches other clients byte for byte.
func ContentFrame(messageType string, content []byte) []byte {
	payloadLength := len(`{"type":"","content":}`) + len(messageType) + len(content)
	frame := make([]byte, 0, frameHeaderSize(payloadLength)+payloadLength)
	frame = appendFrameHeader(frame, opcodeText, payloadLength)
	frame = append(frame, `{"type":"`...)
	frame = append(frame, messageType...)
	frame = append(frame, `","content":`...)
	frame = append(frame, content...)
	return append(frame, '}')
}

// Welcome is what the server tells a client that said hello.
type Welcome struct {
	// ConnectionID is the connection's id (a UUID), the one the publish API takes.
	ConnectionID string
	// UserID is the connection's user, "" for an anonymous connection (sent as null).
	UserID string
	// PingInterval and PingTimeout are the heartbeat's settings, zero when the
	// heartbeat is off; they are sent in whole milliseconds.
	PingInterval, PingTimeout time.Duration
	// Data is the JSON the connect callback's backend gave for this client, sent
	// raw as "data"; nil: the field is left out.
	Data json.RawMessage
}

// Frame encodes {"type":"welcome","connection_id":...,"user_id":...,
// "ping_interval_ms":...,"ping_timeout_ms":...,"data":...} as a text frame ("data"
// only when there is some).
func (w Welcome) Frame() []byte {
	var userID any
	if w.UserID != "" {
		userID = w.UserID
	}
	payload, _ := json.Marshal(struct {
		Type           string          `json:"type"`
		ConnectionID   string          `json:"connection_id"`
		UserID         any             `json:"user_id"`
		PingIntervalMS int64           `json:"ping_interval_ms"`
		PingTimeoutMS  int64           `json:"ping_timeout_ms"`
		Data           json.RawMessage `json:"data,omitempty"`
	}{TypeWelcome, w.ConnectionID, userID, w.PingInterval.Milliseconds(), w.PingTimeout.Milliseconds(), w.Data})
	return TextFrame(payload)
}

// Heartbeat frames, encoded once and shared by every connection.
var (
	pingFrame = TextFrame([]byte(PingText))
	pongFrame = TextFrame([]byte(PongText))
)

// PingFrame returns the text frame of {"type":"ping"}, the server's heartbeat. The
// frame is shared: callers must not modify it.
func PingFrame() []byte { return pingFrame }

// PongFrame returns the text frame of {"type":"pong"}, the answer to a ping. The
// frame is shared: callers must not modify it.
func PongFrame() []byte { return pongFrame }
