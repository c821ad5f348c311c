package protocol

import (
	"strings"
	"testing"
	"time"
)

func TestContentFrameKeepsTheContentByteForByte(t *testing.T) {
	for _, test := range []struct {
		messageType, content, want string
	}{
		{TypeMessage, `{"a": [1, 2]}`, `{"type":"message","content":{"a": [1, 2]}}`},
		{TypeBroadcast, `"\u00e9<"`, `{"type":"broadcast","content":"\u00e9<"}`},
		{TypeMessage, `null`, `{"type":"message","content":null}`},
		{TypeBroadcast, strings.Repeat("1", 70000), `{"type":"broadcast","content":` + strings.Repeat("1", 70000) + `}`},
	} {
		frame := ContentFrame(test.messageType, []byte(test.content))
		if got := string(FramePayload(frame)); got != test.want {
			t.Errorf("ContentFrame(%s, %.20s) = %.60s, want %.60s", test.messageType, test.content, got, test.want)
		}
		if string(TextFrame([]byte(test.want))) != string(frame) {
			t.Errorf("ContentFrame(%s, %.20s) has another header than TextFrame of the same payload", test.messageType, test.content)
		}
	}
}

func TestWelcomeCarriesTheConnectionAndTheHeartbeat(t *testing.T) {
	for _, test := range []struct {
		welcome Welcome
		want    string
	}{
		{Welcome{"3f2b1c4e-8d7a-4b6c-9e1f-0a2b3c4d5e6f", "ada", 30 * time.Second, 10 * time.Second, nil},
			`{"type":"welcome","connection_id":"3f2b1c4e-8d7a-4b6c-9e1f-0a2b3c4d5e6f","user_id":"ada","ping_interval_ms":30000,"ping_timeout_ms":10000}`},
		{Welcome{ConnectionID: "3f2b1c4e-8d7a-4b6c-9e1f-0a2b3c4d5e6f"},
			`{"type":"welcome","connection_id":"3f2b1c4e-8d7a-4b6c-9e1f-0a2b3c4d5e6f","user_id":null,"ping_interval_ms":0,"ping_timeout_ms":0}`},
		{Welcome{"id", `a"b`, 1500 * time.Microsecond, time.Millisecond, nil},
			`{"type":"welcome","connection_id":"id","user_id":"a\"b","ping_interval_ms":1,"ping_timeout_ms":1}`},
		{Welcome{ConnectionID: "id", UserID: "42", Data: []byte(`{"plan": "pro"}`)},
			`{"type":"welcome","connection_id":"id","user_id":"42","ping_interval_ms":0,"ping_timeout_ms":0,"data":{"plan":"pro"}}`},
	} {
		if got := string(FramePayload(test.welcome.Frame())); got != test.want {
			t.Errorf("%+v encodes as\n%s\nwant\n%s", test.welcome, got, test.want)
		}
	}
}
