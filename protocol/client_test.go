package protocol

import (
	"bytes"
	"testing"
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
