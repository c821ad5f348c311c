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
	// TypeSubscribe ({"type":"subscribe","channel":C}, optionally "token" and
	// "id") subscribes the connection to channel C; with "recover":true,
	// "offset":N and "epoch":E it asks for the publications of a history channel
	// after position (N, E).
	TypeSubscribe = "subscribe"
	// TypeUnsubscribe ({"type":"unsubscribe","channel":C}, optionally "id") ends
	// the connection's subscription to C.
	TypeUnsubscribe = "unsubscribe"
	// TypePublish ({"type":"publish","channel":C,"data":X}, optionally "id")
	// publishes X to C's subscribers.
	TypePublish = "publish"
	// TypeSubscribed (server to client) confirms a subscription; see
	// ChannelAnswer.
	TypeSubscribed = "subscribed"
	// TypeUnsubscribed (server to client) confirms an unsubscribe, or says that the
	// server or the backend removed a subscription (with a "reason").
	TypeUnsubscribed = "unsubscribed"
	// TypePublished (server to client) acknowledges a client's publish that carried
	// an "id"; a publish without one is not acknowledged.
	TypePublished = "published"
	// TypePublication (server to client) carries data published to a channel the
	// connection is subscribed to; see PublicationPayload.
	TypePublication = "publication"
	// TypeRPC ({"type":"rpc","id":I,"method":M,"data":X}) asks the backend to run
	// method M with X; the answer, TypeRPCResult or TypeRPCError, carries id I.
	TypeRPC = "rpc"
	// TypeRPCResult (server to client) carries the backend's result of an rpc; see
	// RPCResult.
	TypeRPCResult = "rpc_result"
	// TypeRPCError (server to client) says why an rpc failed; see RPCError.
	TypeRPCError = "rpc_error"
	// TypePresence ({"type":"presence","channel":C}, optionally "limit", "cursor"
	// and "id") asks for a page of the presence of C, a channel the connection is
	// subscribed to; the answer has the same type (PresenceAnswer).
	TypePresence = "presence"
	// TypePresenceStats ({"type":"presence_stats","channel":C}, optionally "id")
	// asks for the counts of C's presence; the answer has the same type
	// (PresenceStatsAnswer).
	TypePresenceStats = "presence_stats"
	// TypeJoin and TypeLeave (server to client) say that a user's first
	// connection subscribed to a channel, or its last one left (JoinLeavePayload).
	TypeJoin  = "join"
	TypeLeave = "leave"
	// TypePresenceDiff (server to client) carries a channel's joins and leaves of
	// one period while they are coalesced (PresenceDiffPayload).
	TypePresenceDiff = "presence_diff"
)

// The exact texts of the heartbeat messages. They are most of the traffic of an
// idle gateway, so a receiver compares with them before it runs a JSON decoder.
const (
	PingText = `{"type":"ping"}`
	PongText = `{"type":"pong"}`
)

// isChannelType reports whether messageType names a channel operation, which has a
// "channel" and may have an "id".
func isChannelType(messageType string) bool {
	switch messageType {
	case TypeSubscribe, TypeUnsubscribe, TypePublish, TypePresence, TypePresenceStats:
		return true
	}
	return false
}

// isClientType reports whether a client may send messageType.
func isClientType(messageType string) bool {
	switch messageType {
	case TypeMessage, TypeBroadcast, TypePing, TypePong, TypeHello, TypeSubscribe, TypeUnsubscribe, TypePublish, TypeRPC,
		TypePresence, TypePresenceStats:
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
	// Channel is the "channel" of a subscribe, unsubscribe or publish; "" when the
	// message has none (the receiver refuses an empty name). Decode refuses a
	// channel operation whose "channel" is not a string.
	Channel string
	// Token is the "token" of a subscribe (a subscription token), "" without one.
	Token string
	// ID is the raw JSON of the "id" of a subscribe, unsubscribe, publish or rpc (a
	// string or a number, as the client wrote it), echoed in the answer; nil
	// without one (an rpc always has one).
	ID json.RawMessage
	// Data is the raw JSON of a publish's or an rpc's "data", byte for byte as the
	// client sent it; the text null when the message has none.
	Data json.RawMessage
	// Method is the "method" of an rpc, never empty.
	Method string
	// Recover is a subscribe's "recover": true asks for the publications missed
	// since Offset and Epoch (the position of the last publication the client
	// received). Decode refuses a "recover" that is not a boolean, an "offset"
	// that is not a whole number from 0 to 2^64-1, an "epoch" that is not a string.
	Recover bool
	Offset  uint64
	Epoch   string
	// Limit is a presence query's "limit", 0 without one (the default page);
	// Decode refuses one that is not a whole number from 1 and cuts one above
	// presence.MaxPageSize to it. Cursor is its "cursor", "" for the first page.
	Limit  int
	Cursor string
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
			return Message{}, Error{Code: ErrorInvalidJSON, Message: "message is not valid JSON"}, false
		}
		return Message{}, Error{Code: ErrorNotObject, Message: "message must be a JSON object"}, false
	}
	var inbound struct {
		Type    *string         `json:"type"`
		Content json.RawMessage `json:"content"`
		// The channel fields are decoded raw, so that a seed message carrying a field
		// of one of these names, of any type, is accepted as before.
		Channel json.RawMessage `json:"channel"`
		Token   json.RawMessage `json:"token"`
		ID      json.RawMessage `json:"id"`
		Data    json.RawMessage `json:"data"`
		Method  json.RawMessage `json:"method"`
		Recover json.RawMessage `json:"recover"`
		Offset  json.RawMessage `json:"offset"`
		Epoch   json.RawMessage `json:"epoch"`
		Limit   json.RawMessage `json:"limit"`
		Cursor  json.RawMessage `json:"cursor"`
	}
	if err := json.Unmarshal(data, &inbound); err != nil {
		if _, isTypeError := err.(*json.UnmarshalTypeError); isTypeError {
			return Message{}, Error{Code: ErrorInvalidFormat, Message: `"type" must be a string`}, false
		}
		return Message{}, Error{Code: ErrorInvalidJSON, Message: "message is not valid JSON: " + err.Error()}, false
	}
	if inbound.Type == nil {
		return Message{}, Error{Code: ErrorMissingType, Message: `message has no "type"`}, false
	}
	if !isClientType(*inbound.Type) {
		return Message{}, UnknownType(*inbound.Type), false
	}
	message = Message{Type: *inbound.Type, Content: inbound.Content}
	if message.Content == nil {
		message.Content = nullContent
	}
	if message.Type == TypeRPC {
		return decodeRPCFields(message, inbound.ID, inbound.Method, inbound.Data)
	}
	if !isChannelType(message.Type) {
		return message, Error{}, true
	}
	message, refusal, ok = decodeChannelFields(message, inbound.Channel, inbound.Token, inbound.ID, inbound.Data)
	if ok && message.Type == TypeSubscribe {
		return decodeRecovery(message, inbound.Recover, inbound.Offset, inbound.Epoch)
	}
	if ok && message.Type == TypePresence {
		return decodePresenceFields(message, inbound.Limit, inbound.Cursor)
	}
	return message, refusal, ok
}

// decodeRecovery fills a subscribe's "recover", "offset" and "epoch" from their
// raw JSON (each optional); a refusal echoes the channel and the id.
func decodeRecovery(message Message, recover, offset, epoch json.RawMessage) (Message, Error, bool) {
	invalid := func(text string) (Message, Error, bool) {
		return Message{}, Error{Code: ErrorInvalidField, Message: text, Channel: message.Channel, ID: string(message.ID)}, false
	}
	if recover != nil && string(recover) != "null" && json.Unmarshal(recover, &message.Recover) != nil {
		return invalid(`"recover" must be true or false`)
	}
	if offset != nil && string(offset) != "null" && json.Unmarshal(offset, &message.Offset) != nil {
		return invalid(`"offset" must be a whole number from 0 to 18446744073709551615`)
	}
	if !decodeOptionalString(epoch, &message.Epoch) {
		return invalid(`"epoch" must be a string`)
	}
	return message, Error{}, true
}

// decodeRPCFields fills the fields of an rpc from their raw JSON: "id" a string or
// a number, "method" a non-empty string, both required; "data" any value (null
// when absent). A refusal echoes the id when it is valid.
func decodeRPCFields(message Message, id, method, data json.RawMessage) (Message, Error, bool) {
	if id == nil || string(id) == "null" || !isValidID(id) {
		return Message{}, Error{Code: ErrorInvalidField, Message: `an rpc needs an "id", a string or a number`}, false
	}
	message.ID = id
	if !decodeOptionalString(method, &message.Method) || message.Method == "" {
		return Message{}, Error{Code: ErrorInvalidField, Message: `an rpc needs a "method", a non-empty string`, ID: string(id)}, false
	}
	message.Data = data
	if message.Data == nil {
		message.Data = nullContent
	}
	return message, Error{}, true
}

// decodeChannelFields fills the fields of a channel operation from their raw JSON:
// "channel" and "token" must be strings (or absent), "id" a string or a number (or
// absent). A refusal echoes the id when it is valid, and the channel when it is a
// string.
func decodeChannelFields(message Message, channel, token, id, data json.RawMessage) (Message, Error, bool) {
	if id != nil && !isValidID(id) {
		return Message{}, Error{Code: ErrorInvalidField, Message: `"id" must be a string or a number`}, false
	}
	message.ID = id
	if !decodeOptionalString(channel, &message.Channel) {
		return Message{}, Error{Code: ErrorInvalidChannel, Message: `"channel" must be a string`, ID: string(id)}, false
	}
	if !decodeOptionalString(token, &message.Token) {
		return Message{}, Error{Code: ErrorInvalidField, Message: `"token" must be a string`, Channel: message.Channel,
			ID: string(id)}, false
	}
	message.Data = data
	if message.Data == nil {
		message.Data = nullContent
	}
	return message, Error{}, true
}

// decodeOptionalString decodes raw, a JSON string or null (or nothing), into
// target; it reports false for any other JSON value.
func decodeOptionalString(raw json.RawMessage, target *string) bool {
	if raw == nil || string(raw) == "null" {
		return true
	}
	return raw[0] == '"' && json.Unmarshal(raw, target) == nil
}

// isValidID reports whether raw (valid JSON) is a string or a number.
func isValidID(raw json.RawMessage) bool {
	return raw[0] == '"' || raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')
}
