package protocol

import (
	"testing"

	"github.com/wsgate/wsgate/channels"
)

// TestEveryErrorCodeAnswersWithItsFrame holds one row per error code a client can
// receive in {"type":"error"} or {"type":"rpc_error"}: the gateway's own (every
// Error constant of this package) and those of refused channel operations (every
// Code constant of package channels), both checked against the source. Each row
// is the refusal as the server builds it, from the decoder where the decoder
// refuses with it, and its exact frame.
func TestEveryErrorCodeAnswersWithItsFrame(t *testing.T) {
	covered := map[string]bool{}
	for _, test := range []struct {
		code    string
		refusal func() []byte
		want    string
	}{
		{ErrorInvalidJSON, decodeRefusal(`{"type":`),
			`{"type":"error","code":"invalid_json","message":"message is not valid JSON: unexpected end of JSON input"}`},
		{ErrorNotObject, decodeRefusal(`[1]`), `{"type":"error","code":"not_an_object","message":"message must be a JSON object"}`},
		{ErrorMissingType, decodeRefusal(`{}`), `{"type":"error","code":"missing_type","message":"message has no \"type\""}`},
		{ErrorInvalidFormat, decodeRefusal(`{"type":1}`), `{"type":"error","code":"invalid_type","message":"\"type\" must be a string"}`},
		{ErrorUnknownType, decodeRefusal(`{"type":"x"}`), `{"type":"error","code":"unknown_type","message":"unknown message type \"x\""}`},
		{ErrorBinaryFrame, ErrBinaryFrame.Frame,
			`{"type":"error","code":"binary_not_supported","message":"binary frames are not supported; send JSON text frames"}`},
		{ErrorRateLimited, ErrRateLimited.Frame, `{"type":"error","code":"rate_limited","message":"over the message rate limit; message dropped"}`},
		{ErrorInvalidChannel, decodeRefusal(`{"type":"subscribe","channel":1,"id":2}`),
			`{"type":"error","code":"invalid_channel","message":"\"channel\" must be a string","id":2}`},
		{ErrorInvalidField, decodeRefusal(`{"type":"subscribe","channel":"c","token":1}`),
			`{"type":"error","code":"invalid_field","message":"\"token\" must be a string","channel":"c"}`},
		{ErrorPermissionDenied, Error{Code: ErrorPermissionDenied, Message: "no", Channel: "c", ID: `"r"`}.Frame,
			`{"type":"error","code":"permission_denied","message":"no","channel":"c","id":"r"}`},
		{ErrorTooManyRequests, Error{Code: ErrorTooManyRequests, Message: "wait", Channel: "c"}.Frame,
			`{"type":"error","code":"too_many_requests","message":"wait","channel":"c"}`},
		{ErrorBackendUnavailable, RPCError{ID: []byte(`1`), Code: ErrorBackendUnavailable, Message: "down"}.Frame,
			`{"type":"rpc_error","id":1,"code":"backend_unavailable","message":"down"}`},
		{ErrorBackendError, Error{Code: ErrorBackendError, Message: "bad answer", Channel: "c", ID: `2`}.Frame,
			`{"type":"error","code":"backend_error","message":"bad answer","channel":"c","id":2}`},
		{ErrorRPCNotConfigured, RPCError{ID: []byte(`"a"`), Code: ErrorRPCNotConfigured, Message: "no rpc"}.Frame,
			`{"type":"rpc_error","id":"a","code":"rpc_not_configured","message":"no rpc"}`},
		{ErrorTooManyRPCs, RPCError{ID: []byte(`3`), Code: ErrorTooManyRPCs, Message: "later"}.Frame,
			`{"type":"rpc_error","id":3,"code":"too_many_rpcs","message":"later"}`},
		{channels.CodeAlreadySubscribed, channelRefusal(channels.ErrAlreadySubscribed),
			`{"type":"error","code":"already_subscribed","message":"already subscribed to this channel","channel":"c","id":1}`},
		{channels.CodeNotSubscribed, channelRefusal(channels.ErrNotSubscribed),
			`{"type":"error","code":"not_subscribed","message":"not subscribed to this channel","channel":"c","id":1}`},
		{channels.CodeTooManySubscriptions, channelRefusal(channels.ErrTooManySubscriptions),
			`{"type":"error","code":"too_many_subscriptions","message":"this connection holds its maximum number of subscriptions","channel":"c","id":1}`},
		{channels.CodeTooManySubscribers, channelRefusal(channels.ErrTooManySubscribers),
			`{"type":"error","code":"too_many_subscribers","message":"this channel holds its maximum number of subscribers","channel":"c","id":1}`},
		{channels.CodePublishNotAllowed, channelRefusal(channels.ErrPublishNotAllowed),
			`{"type":"error","code":"publish_not_allowed","message":"this channel does not accept publications from clients","channel":"c","id":1}`},
		{channels.CodePresenceNotEnabled, channelRefusal(&channels.Error{Code: channels.CodePresenceNotEnabled, Message: "off"}),
			`{"type":"error","code":"presence_not_enabled","message":"off","channel":"c","id":1}`},
		{channels.CodeInvalidCursor, channelRefusal(&channels.Error{Code: channels.CodeInvalidCursor, Message: "stale"}),
			`{"type":"error","code":"invalid_cursor","message":"stale","channel":"c","id":1}`},
		{channels.CodePresenceUnavailable, channelRefusal(&channels.Error{Code: channels.CodePresenceUnavailable, Message: "redis"}),
			`{"type":"error","code":"presence_unavailable","message":"redis","channel":"c","id":1}`},
	} {
		covered[test.code] = true
		if got := string(FramePayload(test.refusal())); got != test.want {
			t.Errorf("%s answers\n%s\nwant\n%s", test.code, got, test.want)
		}
	}
	codes := stringConstants(t, ".", "Error")
	for name, code := range stringConstants(t, "../channels", "Code") {
		codes["channels."+name] = code
	}
	checkCovered(t, "error code", codes, covered)
}

// decodeRefusal returns the frame Decode answers text with.
func decodeRefusal(text string) func() []byte {
	return func() []byte {
		_, refusal, ok := Decode([]byte(text))
		if ok {
			return []byte("accepted")
		}
		return refusal.Frame()
	}
}

// channelRefusal returns the frame of a refused operation on channel "c" with id 1,
// as the publisher sends it for err.
func channelRefusal(err *channels.Error) func() []byte {
	return Error{Code: err.Code, Message: err.Message, Channel: "c", ID: "1"}.Frame
}
