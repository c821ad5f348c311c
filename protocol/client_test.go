package protocol

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/wsgate/wsgate/presence"
)

// TestDecodeAcceptsEveryClientMessageType covers each message a client may send, in
// its usual and in other spellings.
func TestDecodeAcceptsEveryClientMessageType(t *testing.T) {
	for _, test := range []struct {
		text, messageType, content string
	}{
		{`{"type":"message","content":{"a":[1, 2]}}`, TypeMessage, `{"a":[1, 2]}`},
		{`{"type":"message"}`, TypeMessage, `null`},
		{`{"type":"message","content":null}`, TypeMessage, `null`},
		{` {"content":"é\u00e9","type":"broadcast"}`, TypeBroadcast, `"é\u00e9"`},
		{`{"type":"broadcast","content":7}`, TypeBroadcast, `7`},
		{PingText, TypePing, `null`},
		{"\n{ \"type\" : \"ping\" }", TypePing, `null`},
		{PongText, TypePong, `null`},
		{`{"type":"hello","extra":true}`, TypeHello, `null`},
	} {
		data := []byte(test.text)
		message, refusal, ok := Decode(data)
		if !ok || message.Type != test.messageType || string(message.Content) != test.content {
			t.Errorf("Decode(%s) = %q %s, %v; want %q %s", test.text, message.Type, message.Content, refusal,
				test.messageType, test.content)
			continue
		}
		copy(data, bytes.Repeat([]byte{'#'}, len(data)))
		if string(message.Content) != test.content {
			t.Errorf("Decode(%s): the content changed with the input; it must be a copy", test.text)
		}
	}
}

// TestDecodeRefusesBadInputWithItsErrorCode covers every error code a text message
// can get, with the exact answer frame.
func TestDecodeRefusesBadInputWithItsErrorCode(t *testing.T) {
	for _, test := range []struct {
		text, answer string
	}{
		{``, `{"type":"error","code":"invalid_json","message":"message is not valid JSON"}`},
		{`not json`, `{"type":"error","code":"invalid_json","message":"message is not valid JSON"}`},
		{`{"type":`, `{"type":"error","code":"invalid_json","message":"message is not valid JSON: unexpected end of JSON input"}`},
		{`{"type":"message","content":}`, `{"type":"error","code":"invalid_json","message":"message is not valid JSON: invalid character '}' looking for beginning of value"}`},
		{`[1,2]`, `{"type":"error","code":"not_an_object","message":"message must be a JSON object"}`},
		{`"message"`, `{"type":"error","code":"not_an_object","message":"message must be a JSON object"}`},
		{`{"content":"x"}`, `{"type":"error","code":"missing_type","message":"message has no \"type\""}`},
		{`{"type":null}`, `{"type":"error","code":"missing_type","message":"message has no \"type\""}`},
		{`{"type":7}`, `{"type":"error","code":"invalid_type","message":"\"type\" must be a string"}`},
		{`{"type":"teleport"}`, `{"type":"error","code":"unknown_type","message":"unknown message type \"teleport\""}`},
		{`{"type":"welcome"}`, `{"type":"error","code":"unknown_type","message":"unknown message type \"welcome\""}`},
		{`{"type":"<b>"}`, `{"type":"error","code":"unknown_type","message":"unknown message type \"\u003cb\u003e\""}`},
	} {
		checkRefusedWith(t, test.text, test.answer)
	}
}

// checkRefusedWith fails t unless Decode refuses text with the error frame answer.
func checkRefusedWith(t *testing.T, text, answer string) {
	t.Helper()
	_, refusal, ok := Decode([]byte(text))
	if ok {
		t.Errorf("Decode(%s) accepted it", text)
		return
	}
	if got := string(FramePayload(refusal.Frame())); got != answer {
		t.Errorf("Decode(%s) answers\n%s\nwant\n%s", text, got, answer)
	}
}

// TestFixedErrorsAnswerWithTheirDocumentedText covers the errors that do not come
// from decoding.
func TestFixedErrorsAnswerWithTheirDocumentedText(t *testing.T) {
	for refusal, answer := range map[Error]string{
		ErrBinaryFrame: `{"type":"error","code":"binary_not_supported","message":"binary frames are not supported; send JSON text frames"}`,
		ErrRateLimited: `{"type":"error","code":"rate_limited","message":"over the message rate limit; message dropped"}`,
	} {
		if got := string(FramePayload(refusal.Frame())); got != answer {
			t.Errorf("%s answers %s, want %s", refusal.Code, got, answer)
		}
		if refusal.Error() != refusal.Code+": "+refusal.Message {
			t.Errorf("Error() = %q", refusal.Error())
		}
	}
}

// TestEveryMessageTypeDecodesOrEncodes holds one row per message type of the
// protocol (every Type constant, checked against the source): what a client sends
// is decoded with its type, a type only the server sends is refused from a client
// with unknown_type, and what the server sends encodes exactly as documented.
func TestEveryMessageTypeDecodesOrEncodes(t *testing.T) {
	for _, test := range messageTypeRows {
		if test.client != "" {
			message, refusal, ok := Decode([]byte(test.client))
			if !ok || message.Type != test.messageType {
				t.Errorf("%s: Decode(%s) = %q, %v, %v", test.messageType, test.client, message.Type, refusal, ok)
			}
		} else {
			text := `{"type":"` + test.messageType + `"}`
			if _, refusal, ok := Decode([]byte(text)); ok || refusal.Code != ErrorUnknownType {
				t.Errorf("%s: a client sending %s got %v, %v; want unknown_type (only the server sends it)",
					test.messageType, text, refusal, ok)
			}
		}
		if test.server == nil {
			continue
		}
		payload := test.server()
		if string(payload) != test.want {
			t.Errorf("%s encodes as\n%s\nwant\n%s", test.messageType, payload, test.want)
		}
		var decoded struct{ Type string }
		if err := json.Unmarshal(payload, &decoded); err != nil || decoded.Type != test.messageType {
			t.Errorf("%s: %s has type %q (%v)", test.messageType, payload, decoded.Type, err)
		}
	}
	covered := map[string]bool{}
	for _, test := range messageTypeRows {
		if test.client == "" && test.server == nil {
			t.Errorf("%s: the row tests nothing", test.messageType)
		}
		covered[test.messageType] = true
	}
	checkCovered(t, "message type", stringConstants(t, ".", "Type"), covered)
}

// messageTypeRows: client is a message a client may send of the type ("" when only
// the server sends it); server returns the payload the server sends of it (nil when
// only clients send it), want its exact text.
var messageTypeRows = []struct {
	messageType string
	client      string
	server      func() []byte
	want        string
}{
	{TypeMessage, `{"type":"message","content":{"a":1}}`,
		func() []byte { return FramePayload(ContentFrame(TypeMessage, []byte(`{"a":1}`))) }, `{"type":"message","content":{"a":1}}`},
	{TypeBroadcast, `{"type":"broadcast","content":"hi"}`,
		func() []byte { return FramePayload(ContentFrame(TypeBroadcast, []byte(`"hi"`))) }, `{"type":"broadcast","content":"hi"}`},
	{TypePing, PingText, func() []byte { return FramePayload(PingFrame()) }, `{"type":"ping"}`},
	{TypePong, PongText, func() []byte { return FramePayload(PongFrame()) }, `{"type":"pong"}`},
	{TypeHello, `{"type":"hello"}`, nil, ""},
	{TypeWelcome, "", func() []byte { return FramePayload(Welcome{ConnectionID: "c1", UserID: "42"}.Frame()) },
		`{"type":"welcome","connection_id":"c1","user_id":"42","ping_interval_ms":0,"ping_timeout_ms":0}`},
	{TypeError, "", func() []byte { return FramePayload(UnknownType("x").Frame()) },
		`{"type":"error","code":"unknown_type","message":"unknown message type \"x\""}`},
	{TypeSubscribe, `{"type":"subscribe","channel":"news","id":1}`, nil, ""},
	{TypeUnsubscribe, `{"type":"unsubscribe","channel":"news"}`, nil, ""},
	{TypePublish, `{"type":"publish","channel":"news","data":{"a":1}}`, nil, ""},
	{TypeSubscribed, "", func() []byte { return FramePayload(ChannelAnswer{Type: TypeSubscribed, Channel: "news"}.Frame()) },
		`{"type":"subscribed","channel":"news"}`},
	{TypeUnsubscribed, "", func() []byte {
		return FramePayload(ChannelAnswer{Type: TypeUnsubscribed, Channel: "news", Reason: "bye"}.Frame())
	}, `{"type":"unsubscribed","channel":"news","reason":"bye"}`},
	{TypePublished, "", func() []byte {
		return FramePayload(ChannelAnswer{Type: TypePublished, Channel: "news", ID: json.RawMessage(`1`)}.Frame())
	}, `{"type":"published","channel":"news","id":1}`},
	{TypePublication, "", func() []byte { return PublicationPayloadAt("news", []byte(`{"a":1}`), 3) },
		`{"type":"publication","channel":"news","data":{"a":1},"offset":3}`},
	{TypeRPC, `{"type":"rpc","id":1,"method":"sum","data":[1,2]}`, nil, ""},
	{TypeRPCResult, "", func() []byte {
		return FramePayload(RPCResult{ID: json.RawMessage(`1`), Data: json.RawMessage(`3`)}.Frame())
	}, `{"type":"rpc_result","id":1,"data":3}`},
	{TypeRPCError, "", func() []byte {
		return FramePayload(RPCError{ID: json.RawMessage(`1`), Code: ErrorRPCNotConfigured, Message: "no"}.Frame())
	}, `{"type":"rpc_error","id":1,"code":"rpc_not_configured","message":"no"}`},
	{TypePresence, `{"type":"presence","channel":"room","limit":10}`, func() []byte {
		return FramePayload(PresenceAnswer{Channel: "room", Page: presence.Page{Users: map[string]int{"7": 1}, TotalUsers: 1,
			TotalConnections: 1}}.Frame())
	}, `{"type":"presence","channel":"room","users":{"7":1},"total_users":1,"total_connections":1,"cursor":""}`},
	{TypePresenceStats, `{"type":"presence_stats","channel":"room"}`, func() []byte {
		return FramePayload(PresenceStatsAnswer{Channel: "room", Users: 1, Connections: 2}.Frame())
	}, `{"type":"presence_stats","channel":"room","users":1,"connections":2}`},
	{TypeJoin, "", func() []byte { return JoinLeavePayload(TypeJoin, "room", "7") }, `{"type":"join","channel":"room","user":"7"}`},
	{TypeLeave, "", func() []byte { return JoinLeavePayload(TypeLeave, "room", "7") }, `{"type":"leave","channel":"room","user":"7"}`},
	{TypePresenceDiff, "", func() []byte { return PresenceDiffPayload("room", []string{"7"}, []string{"8"}) },
		`{"type":"presence_diff","channel":"room","joins":["7"],"leaves":["8"]}`},
}
