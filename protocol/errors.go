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
)

// Error is one error answer: a code from the list above and a human-readable
// message. It implements error.
type Error struct {
	Code    string
	Message string
}

// The errors whose message never varies.
var (
	// ErrBinaryFrame answers a binary frame.
	ErrBinaryFrame = Error{ErrorBinaryFrame, "binary frames are not supported; send JSON text frames"}
	// ErrRateLimited answers a message dropped by the rate limit.
	ErrRateLimited = Error{ErrorRateLimited, "over the message rate limit; message dropped"}
)

// UnknownType returns the error for a message whose "type" is messageType, which
// names no message of the protocol.
func UnknownType(messageType string) Error {
	return Error{ErrorUnknownType, "unknown message type " + strconv.Quote(messageType)}
}

// Error returns "code: message".
func (e Error) Error() string { return e.Code + ": " + e.Message }

// Frame encodes {"type":"error","code":...,"message":...} as a text frame.
func (e Error) Frame() []byte {
	payload, _ := json.Marshal(struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}{TypeError, e.Code, e.Message})
	return TextFrame(payload)
}
