package protocol

import (
	"encoding/json"
	"testing"

	"github.com/wsgate/wsgate/presence"
)

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
