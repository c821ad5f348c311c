package protocol

import (
	"encoding/json"
	"testing"
)

// TestDecodeReadsTheChannelOperations covers subscribe, unsubscribe and publish with
// and without their optional fields.
func TestDecodeReadsTheChannelOperations(t *testing.T) {
	for _, test := range []struct {
		text                            string
		messageType, channel, token, id string
		data                            string
	}{
		{`{"type":"subscribe","channel":"news"}`, TypeSubscribe, "news", "", "", "null"},
		{`{"type":"subscribe","channel":"chat:a/b#c","token":"t.k.n","id":"req-1"}`, TypeSubscribe, "chat:a/b#c", "t.k.n", `"req-1"`, "null"},
		{`{"type":"unsubscribe","channel":"é","id":7}`, TypeUnsubscribe, "é", "", "7", "null"},
		{`{"type":"publish","channel":"c","data":{"a": [1, 2]},"id":-1.5e3}`, TypePublish, "c", "", "-1.5e3", `{"a": [1, 2]}`},
		{`{"type":"publish","channel":"c"}`, TypePublish, "c", "", "", "null"},
		{`{"type":"subscribe"}`, TypeSubscribe, "", "", "", "null"},
		{`{"type":"subscribe","channel":null,"token":null}`, TypeSubscribe, "", "", "", "null"},
	} {
		message, refusal, ok := Decode([]byte(test.text))
		if !ok {
			t.Errorf("Decode(%s) refused it: %v", test.text, refusal)
			continue
		}
		if message.Type != test.messageType || message.Channel != test.channel || message.Token != test.token ||
			string(message.ID) != test.id || string(message.Data) != test.data {
			t.Errorf("Decode(%s) = %+v (id %s, data %s)", test.text, message, message.ID, message.Data)
		}
	}
}

// TestDecodeKeepsSeedMessagesWithChannelLikeFields: the seed's messages ignore
// fields they do not know, whatever their type, as before channels existed.
func TestDecodeKeepsSeedMessagesWithChannelLikeFields(t *testing.T) {
	for _, text := range []string{
		`{"type":"message","content":1,"channel":5,"id":{},"token":[],"data":true}`,
		`{"type":"broadcast","content":"x","channel":{"a":1}}`,
	} {
		message, refusal, ok := Decode([]byte(text))
		if !ok || message.Channel != "" || message.ID != nil {
			t.Errorf("Decode(%s) = %+v, %v, %v; want the seed message alone", text, message, refusal, ok)
		}
	}
}

// TestDecodeRefusesMalformedChannelOperations gives each malformed field its exact
// answer, echoing what can be echoed.
func TestDecodeRefusesMalformedChannelOperations(t *testing.T) {
	for _, test := range []struct {
		text, answer string
	}{
		{`{"type":"subscribe","channel":5,"id":"a"}`, `{"type":"error","code":"invalid_channel","message":"\"channel\" must be a string","id":"a"}`},
		{`{"type":"publish","channel":["x"]}`, `{"type":"error","code":"invalid_channel","message":"\"channel\" must be a string"}`},
		{`{"type":"unsubscribe","channel":"c","id":true}`, `{"type":"error","code":"invalid_field","message":"\"id\" must be a string or a number"}`},
		{`{"type":"subscribe","channel":"c","id":{"n":1}}`, `{"type":"error","code":"invalid_field","message":"\"id\" must be a string or a number"}`},
		{`{"type":"subscribe","channel":"c","token":1,"id":3}`, `{"type":"error","code":"invalid_field","message":"\"token\" must be a string","channel":"c","id":3}`},
	} {
		_, refusal, ok := Decode([]byte(test.text))
		if ok {
			t.Errorf("Decode(%s) accepted it", test.text)
			continue
		}
		if got := string(FramePayload(refusal.Frame())); got != test.answer {
			t.Errorf("Decode(%s) answers\n%s\nwant\n%s", test.text, got, test.answer)
		}
	}
}

func TestChannelAnswersEncodeTheirFields(t *testing.T) {
	for _, test := range []struct {
		answer ChannelAnswer
		want   string
	}{
		{ChannelAnswer{Type: TypeSubscribed, Channel: "news"}, `{"type":"subscribed","channel":"news"}`},
		{ChannelAnswer{Type: TypeSubscribed, Channel: "a\"b", ID: json.RawMessage(`"r1"`)}, `{"type":"subscribed","channel":"a\"b","id":"r1"}`},
		{ChannelAnswer{Type: TypeUnsubscribed, Channel: "c", ID: json.RawMessage(`12`)}, `{"type":"unsubscribed","channel":"c","id":12}`},
		{ChannelAnswer{Type: TypeUnsubscribed, Channel: "c", Reason: "plan expired"}, `{"type":"unsubscribed","channel":"c","reason":"plan expired"}`},
		{ChannelAnswer{Type: TypePublished, Channel: "c", ID: json.RawMessage(`1`)}, `{"type":"published","channel":"c","id":1}`},
	} {
		if got := string(FramePayload(test.answer.Frame())); got != test.want {
			t.Errorf("%+v encodes as\n%s\nwant\n%s", test.answer, got, test.want)
		}
	}
}

func TestChannelErrorsCarryTheChannelAndTheID(t *testing.T) {
	refusal := Error{Code: "not_subscribed", Message: "not subscribed to this channel", Channel: "chat:é", ID: `"x"`}
	want := `{"type":"error","code":"not_subscribed","message":"not subscribed to this channel","channel":"chat:é","id":"x"}`
	if got := string(FramePayload(refusal.Frame())); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestPublicationPayloadKeepsTheDataByteForByte: the data is not re-encoded, and
// the channel name is escaped as JSON.
func TestPublicationPayloadKeepsTheDataByteForByte(t *testing.T) {
	for _, test := range []struct {
		channel, data, want string
	}{
		{"news", `{"a": [1, 2]}`, `{"type":"publication","channel":"news","data":{"a": [1, 2]}}`},
		{`q"\`, `"\u00e9"`, `{"type":"publication","channel":"q\"\\","data":"\u00e9"}`},
		{"chat:é", `null`, `{"type":"publication","channel":"chat:é","data":null}`},
	} {
		payload := PublicationPayload(test.channel, []byte(test.data))
		if string(payload) != test.want {
			t.Errorf("PublicationPayload(%q, %s) = %s, want %s", test.channel, test.data, payload, test.want)
		}
		if !json.Valid(payload) || cap(payload) != len(payload) {
			t.Errorf("PublicationPayload(%q): valid %v, capacity %d for %d bytes", test.channel, json.Valid(payload), cap(payload), len(payload))
		}
	}
}
