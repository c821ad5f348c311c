package protocol

import (
	"encoding/json"
	"testing"

	"github.com/wsgate/wsgate/history"
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
		checkRefusedWith(t, test.text, test.answer)
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

// TestDecodeReadsARecoveringSubscribe: "recover", "offset" and "epoch" of a
// subscribe, each optional; malformed ones are refused with the channel and id.
func TestDecodeReadsARecoveringSubscribe(t *testing.T) {
	message, refusal, ok := Decode([]byte(`{"type":"subscribe","channel":"c","recover":true,"offset":18446744073709551615,"epoch":"e1"}`))
	if !ok || !message.Recover || message.Offset != 1<<64-1 || message.Epoch != "e1" {
		t.Fatalf("Decode = %+v, %v, %v", message, refusal, ok)
	}
	message, _, ok = Decode([]byte(`{"type":"subscribe","channel":"c","recover":null,"offset":null,"epoch":null}`))
	if !ok || message.Recover || message.Offset != 0 || message.Epoch != "" {
		t.Fatalf("nulls: %+v, %v", message, ok)
	}
	for _, test := range []struct{ text, answer string }{
		{`{"type":"subscribe","channel":"c","recover":"yes","id":1}`, `{"type":"error","code":"invalid_field","message":"\"recover\" must be true or false","channel":"c","id":1}`},
		{`{"type":"subscribe","channel":"c","recover":true,"offset":-1}`, `{"type":"error","code":"invalid_field","message":"\"offset\" must be a whole number from 0 to 18446744073709551615","channel":"c"}`},
		{`{"type":"subscribe","channel":"c","recover":true,"offset":1.5}`, `{"type":"error","code":"invalid_field","message":"\"offset\" must be a whole number from 0 to 18446744073709551615","channel":"c"}`},
		{`{"type":"subscribe","channel":"c","recover":true,"offset":18446744073709551616}`, `{"type":"error","code":"invalid_field","message":"\"offset\" must be a whole number from 0 to 18446744073709551615","channel":"c"}`},
		{`{"type":"subscribe","channel":"c","recover":true,"offset":1,"epoch":7}`, `{"type":"error","code":"invalid_field","message":"\"epoch\" must be a string","channel":"c"}`},
	} {
		checkRefusedWith(t, test.text, test.answer)
	}
	// Other messages ignore the fields, as they ignore unknown ones.
	if message, _, ok := Decode([]byte(`{"type":"publish","channel":"c","data":1,"recover":"x","offset":"y"}`)); !ok || message.Recover {
		t.Fatalf("a publish with recovery-like fields: %+v, %v", message, ok)
	}
}

// TestHistoryAnswersAndPublicationsCarryTheirPosition: the wire format of a
// history channel's subscribed, published and publication.
func TestHistoryAnswersAndPublicationsCarryTheirPosition(t *testing.T) {
	recovered := true
	for _, test := range []struct {
		answer ChannelAnswer
		want   string
	}{
		{ChannelAnswer{Type: TypeSubscribed, Channel: "c", ID: json.RawMessage("3"), Recovered: &recovered,
			Position: &history.Position{Offset: 7, Epoch: "e"}},
			`{"type":"subscribed","channel":"c","id":3,"recovered":true,"offset":7,"epoch":"e"}`},
		{ChannelAnswer{Type: TypeSubscribed, Channel: "c", Position: &history.Position{Epoch: "e"}},
			`{"type":"subscribed","channel":"c","offset":0,"epoch":"e"}`},
		{ChannelAnswer{Type: TypeSubscribed, Channel: "c", Recovered: new(bool)},
			`{"type":"subscribed","channel":"c","recovered":false}`},
		{ChannelAnswer{Type: TypePublished, Channel: "c", ID: json.RawMessage(`"p"`), Position: &history.Position{Offset: 1, Epoch: "e"}},
			`{"type":"published","channel":"c","id":"p","offset":1,"epoch":"e"}`},
	} {
		if got := string(FramePayload(test.answer.Frame())); got != test.want {
			t.Errorf("frame %s, want %s", got, test.want)
		}
	}
	if got := string(PublicationPayloadAt("c", []byte(`{"a":1}`), 42)); got != `{"type":"publication","channel":"c","data":{"a":1},"offset":42}` {
		t.Errorf("publication %s", got)
	}
	if got := string(PublicationPayloadAt("c", []byte(`1`), 0)); got != `{"type":"publication","channel":"c","data":1}` {
		t.Errorf("publication without offset %s", got)
	}
}
