package protocol

import (
	"bytes"
	"encoding/json"
)

// Message types. Every message is a JSON object whose "type" is one of these.
const (
	// TypeMessage ({"type":"message","content":X}) comes back to its sender.
	TypeMessage = "message"
	// TypeBroadcast ({"type":"broadcast","content":X}) goes to every other connection.
	TypeBroadcast = "broadcast"
	// TypePing is answered with a pong; the server sends it as its heartbeat.
	TypePing = "ping"
	// TypePong answers a ping; the server sends nothing back.
	TypePong = "pong"
	// TypeHello asks for a welcome.
	TypeHello = "hello"
	// TypeWelcome (server to client) carries the connection id, the user id and
	// the heartbeat settings.
	TypeWelcome = "welcome"
	// TypeError (server to client) reports bad input; see Error.
	TypeError = "error"
)

// The exact texts of the heartbeat messages. They are most of the traffic of an
// idle gateway, so a receiver compares with them before it runs a JSON decoder.
const (
	PingText = `{"type":"ping"}`
	PongText = `{"type":"pong"}`
)

// isClientType reports whether a client may send messageType.
func isClientType(messageType string) bool {
	switch messageType {
	case TypeMessage, TypeBroadcast, TypePing, TypePong, TypeHello:
		return true
	}
	return false
}

// Message is a decoded client message.
type Message struct {
	// Type is one of the client message types above.
	Type string
	// Content is the raw JSON of "content", byte for byte as the client sent it, so
	// it reaches other clients unchanged; the text null when the message has none.
	Content json.RawMessage
}

// nullContent is Message.Content of a message without "content"; shared, never
// modified.
var nullContent = json.RawMessage("null")

// Decode parses one client text message. ok is false when data is not a JSON object
// with a "type" the protocol knows, and refusal is then the error to answer with;
// the checks and their messages are those of docs/protocol.md. Message.Content is a
// copy: data may be reused after Decode returns. Results are returned by value, so a
// refusal costs no allocation beyond its message text.
func Decode(data []byte) (message Message, refusal Error, ok bool) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if !json.Valid(data) {
			return Message{}, Error{ErrorInvalidJSON, "message is not valid JSON"}, false
		}
		return Message{}, Error{ErrorNotObject, "message must be a JSON object"}, false
	}
	var inbound struct {
		Type    *string         `json:"type"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(data, &inbound); err != nil {
		if _, isTypeError := err.(*json.UnmarshalTypeError); isTypeError {
			return Message{}, Error{ErrorInvalidFormat, `"type" must be a string`}, false
		}
		return Message{}, Error{ErrorInvalidJSON, "message is not valid JSON: " + err.Error()}, false
	}
	if inbound.Type == nil {
		return Message{}, Error{ErrorMissingType, `message has no "type"`}, false
	}
	if !isClientType(*inbound.Type) {
		return Message{}, UnknownType(*inbound.Type), false
	}
	message = Message{Type: *inbound.Type, Content: inbound.Content}
	if message.Content == nil {
		message.Content = nullContent
	}
	return message, Error{}, true
}
