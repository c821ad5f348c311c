package protocol

import (
	"encoding/json"
	"testing"

	"github.com/wsgate/wsgate/presence"
)

// TestDecodeReadsThePresenceQueries covers presence and presence_stats with and
// without their optional fields.
func TestDecodeReadsThePresenceQueries(t *testing.T) {
	for _, test := range []struct {
		text                     string
		messageType, channel, id string
		limit                    int
		cursor                   string
	}{
		{`{"type":"presence","channel":"room:1"}`, TypePresence, "room:1", "", 0, ""},
		{`{"type":"presence","channel":"c","limit":50,"cursor":"2s","id":"q"}`, TypePresence, "c", `"q"`, 50, "2s"},
		{`{"type":"presence","channel":"c","limit":5000}`, TypePresence, "c", "", presence.MaxPageSize, ""},
		{`{"type":"presence","channel":"c","limit":null,"cursor":null}`, TypePresence, "c", "", 0, ""},
		{`{"type":"presence_stats","channel":"c","id":4}`, TypePresenceStats, "c", "4", 0, ""},
		{`{"type":"presence_stats","channel":"c","limit":"ignored"}`, TypePresenceStats, "c", "", 0, ""},
	} {
		message, refusal, ok := Decode([]byte(test.text))
		if !ok {
			t.Errorf("Decode(%s) refused it: %v", test.text, refusal)
			continue
		}
		if message.Type != test.messageType || message.Channel != test.channel || string(message.ID) != test.id ||
			message.Limit != test.limit || message.Cursor != test.cursor {
			t.Errorf("Decode(%s) = %+v", test.text, message)
		}
	}
}

// TestDecodeRefusesMalformedPresenceQueries gives each malformed field its answer,
// echoing the channel and the id.
func TestDecodeRefusesMalformedPresenceQueries(t *testing.T) {
	for _, test := range []struct {
		text, answer string
	}{
		{`{"type":"presence","channel":"c","limit":0,"id":1}`, `{"type":"error","code":"invalid_field","message":"\"limit\" must be a whole number from 1","channel":"c","id":1}`},
		{`{"type":"presence","channel":"c","limit":-3}`, `{"type":"error","code":"invalid_field","message":"\"limit\" must be a whole number from 1","channel":"c"}`},
		{`{"type":"presence","channel":"c","limit":2.5}`, `{"type":"error","code":"invalid_field","message":"\"limit\" must be a whole number from 1","channel":"c"}`},
		{`{"type":"presence","channel":"c","limit":"10"}`, `{"type":"error","code":"invalid_field","message":"\"limit\" must be a whole number from 1","channel":"c"}`},
		{`{"type":"presence","channel":"c","cursor":7}`, `{"type":"error","code":"invalid_field","message":"\"cursor\" must be a string","channel":"c"}`},
		{`{"type":"presence_stats","channel":1}`, `{"type":"error","code":"invalid_channel","message":"\"channel\" must be a string"}`},
	} {
		checkRefusedWith(t, test.text, test.answer)
	}
}

func TestPresenceMessagesEncodeTheirFields(t *testing.T) {
	for _, test := range []struct {
		name, got, want string
	}{
		{"page", string(FramePayload(PresenceAnswer{Channel: "room:1", ID: json.RawMessage(`"q"`),
			Page: presence.Page{Users: map[string]int{"42": 2, "7": 1}, TotalUsers: 2, TotalConnections: 3, Cursor: "a1"}}.Frame())),
			`{"type":"presence","channel":"room:1","id":"q","users":{"42":2,"7":1},"total_users":2,"total_connections":3,"cursor":"a1"}`},
		{"empty page", string(FramePayload(PresenceAnswer{Channel: "c"}.Frame())),
			`{"type":"presence","channel":"c","users":{},"total_users":0,"total_connections":0,"cursor":""}`},
		{"stats", string(FramePayload(PresenceStatsAnswer{Channel: "c", ID: json.RawMessage(`3`), Users: 5, Connections: 8}.Frame())),
			`{"type":"presence_stats","channel":"c","id":3,"users":5,"connections":8}`},
		{"join", string(JoinLeavePayload(TypeJoin, "c", "42")), `{"type":"join","channel":"c","user":"42"}`},
		{"leave", string(JoinLeavePayload(TypeLeave, "a\"b", "é")), `{"type":"leave","channel":"a\"b","user":"é"}`},
		{"diff", string(PresenceDiffPayload("c", []string{"1", "2"}, nil)), `{"type":"presence_diff","channel":"c","joins":["1","2"],"leaves":[]}`},
		{"diff of counts", string(PresenceDiffCountsPayload("c\n", 900, 12)),
			`{"type":"presence_diff","channel":"c\n","join_count":900,"leave_count":12}`},
	} {
		if test.got != test.want {
			t.Errorf("%s encodes as\n%s\nwant\n%s", test.name, test.got, test.want)
		}
		if !json.Valid([]byte(test.got)) {
			t.Errorf("%s is not valid JSON: %s", test.name, test.got)
		}
	}
}
