package protocol

import (
	"encoding/json"
	"strconv"
)

// Error codes the server sends in {"type":"error","code":...,"message":...}. The
// connection stays open after every one of them.
const (
	// ErrorInvalidJSON: the text is not valid JSON.
	ErrorInvalidJSON = "invalid_json"
	// ErrorNotObject: valid JSON, but not an object.
	ErrorNotObject = "not_an_object"
	// ErrorMissingType: the object has no "type".
	ErrorMissingType = "missing_type"
	// ErrorInvalidFormat: "type" is not a string.
	ErrorInvalidFormat = "invalid_type"
	// ErrorUnknownType: "type" names no message of the protocol.
	ErrorUnknownType = "unknown_type"
	// ErrorBinaryFrame: a binary frame arrived; the protocol is JSON text only.
	ErrorBinaryFrame = "binary_not_supported"
	// ErrorRateLimited: the connection sent over its rate limit; the message was
	// dropped.
	ErrorRateLimited = "rate_limited"
	// ErrorInvalidChannel: a channel operation's "channel" is not a string, or not
	// a valid channel name (the codes of refused channel operations are listed in
	// package channels; this one is also the decoder's).
	ErrorInvalidChannel = "invalid_channel"
	// ErrorInvalidField: a channel operation's "id" is neither a string nor a
	// number, or its "token" is not a string.
	ErrorInvalidField = "invalid_field"
	// ErrorPermissionDenied: the connection may not do what it asked (a channel
	// operation, or the client broadcast under authentication).
	ErrorPermissionDenied = "permission_denied"
	// ErrorTooManyRequests: the connection has as many channel requests waiting
	// behind a backend check (a subscribe or publish check in flight) as it may;
	// this one was dropped.
	ErrorTooManyRequests = "too_many_requests"
)

// Error is one error answer: a code from the list above (or, for a refused channel
// operation, from package channels) and a human-readable message, with the channel
// and the request's id when the refused message was a channel operation. It
// implements error, and is comparable.
type Error struct {
	Code    string
	Message string
	// Channel, when not empty, is sent as "channel": the channel the refused
	// operation named.
	Channel string
	// ID, when not empty, is the raw JSON of the refused request's "id" (a string
	// or a number), sent back as "id".
	ID string
}

// The errors whose message never varies.
var (
	// ErrBinaryFrame answers a binary frame.
	ErrBinaryFrame = Error{Code: ErrorBinaryFrame, Message: "binary frames are not supported; send JSON text frames"}
	// ErrRateLimited answers a message dropped by the rate limit.
	ErrRateLimited = Error{Code: ErrorRateLimited, Message: "over the message rate limit; message dropped"}
)

// UnknownType returns the error for a message whose "type" is messageType, which
// names no message of the protocol.
func UnknownType(messageType string) Error {
	return Error{Code: ErrorUnknownType, Message: "unknown message type " + strconv.Quote(messageType)}
}

// Error returns "code: message".
func (e Error) Error() string { return e.Code + ": " + e.Message }

// Frame encodes {"type":"error","code":...,"message":...} as a text frame, followed
// by "channel" and "id" when they are set.
func (e Error) Frame() []byte {
	var id json.RawMessage
	if e.ID != "" {
		id = json.RawMessage(e.ID)
	}
	payload, _ := json.Marshal(struct {
		Type    string          `json:"type"`
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Channel string          `json:"channel,omitempty"`
		ID      json.RawMessage `json:"id,omitempty"`
	}{TypeError, e.Code, e.Message, e.Channel, id})
	return TextFrame(payload)
}
