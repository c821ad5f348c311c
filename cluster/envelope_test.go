package cluster

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/wsgate/wsgate/session"
)

func TestEnvelopesSurviveEncodingByteForByte(t *testing.T) {
	origin := session.NodeTag{1, 2, 3, 4, 5, 6}
	excluded := []session.ConnectionID{session.NewConnectionID(), session.NewConnectionID()}
	target := session.NewTaggedConnectionID(origin)
	cases := []envelope{
		{kind: kindBroadcast, origin: origin, exclude: excluded, body: []byte(`{"type":"x", "a":[1, 2]}`)},
		{kind: kindBroadcast, origin: origin, exclude: []session.ConnectionID{}, body: []byte(`{}`)},
		{kind: kindUser, origin: origin, userID: "alice é", body: []byte(`{"hi":true}`)},
		{kind: kindUser, origin: origin, userID: "", body: []byte(`{}`)},
		{kind: kindConnection, origin: origin, connection: target, body: []byte(`{"n":1}`)},
		{kind: kindKickConnection, origin: origin, connection: target, body: []byte("logged out")},
		{kind: kindKickUser, origin: origin, userID: "bob", body: []byte{}},
		{kind: kindChannel, origin: origin, channel: "chat:room/1#é%", body: []byte(`{"type":"publication"}`)},
		{kind: kindUserSubscription, origin: origin, userID: "alice", channel: "news", subscribe: true, body: []byte{}},
		{kind: kindUserSubscription, origin: origin, userID: "", channel: "", subscribe: false, body: []byte("banned")},
		{kind: kindConnectionSubscription, origin: origin, connection: target, channel: "news", subscribe: true, body: []byte{}},
		{kind: kindConnectionSubscription, origin: origin, connection: target, channel: "x", body: []byte("moderated")},
		{kind: kindChannelQuery, origin: origin, query: 1<<40 + 7, channel: "chat:room/1#é%", body: []byte{}},
		{kind: kindChannelQuery, origin: origin, query: 2, limit: 10000, channel: "", body: []byte{}},
		{kind: kindQueryReply, origin: origin, query: 1<<63 + 1, body: []byte(`{"channels":[]}`)},
		{kind: kindHistoryPublication, origin: origin, channel: "chat:é", offset: 1<<64 - 1,
			epoch: "0123456789abcdef", body: []byte(`{"a":1}`)},
		{kind: kindHistoryPublication, origin: origin, channel: "", offset: 1, epoch: "", body: []byte{}},
	}
	for _, original := range cases {
		decoded, err := decodeEnvelope(original.encode(nil))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", original, err)
		}
		if !reflect.DeepEqual(decoded, original) {
			t.Fatalf("round trip changed the envelope:\n got %+v\nwant %+v", decoded, original)
		}
	}
}

func TestDecodingRefusesWhatNoNodeWrote(t *testing.T) {
	valid := (&envelope{kind: kindUser, userID: "alice", body: []byte(`{}`)}).encode(nil)
	broadcast := (&envelope{kind: kindBroadcast, exclude: []session.ConnectionID{{}}, body: []byte(`{}`)}).encode(nil)
	publication := (&envelope{kind: kindChannel, channel: "news", body: []byte(`{}`)}).encode(nil)
	userChange := (&envelope{kind: kindUserSubscription, userID: "alice", channel: "news", subscribe: true}).encode(nil)
	connectionChange := (&envelope{kind: kindConnectionSubscription, channel: "news"}).encode(nil)
	query := (&envelope{kind: kindChannelQuery, query: 1, limit: 5, channel: "news"}).encode(nil)
	positioned := (&envelope{kind: kindHistoryPublication, channel: "news", offset: 12, epoch: "e"}).encode(nil)
	positionStart := envelopeHeaderSize + lengthSize + len("news")
	zeroOffset := append(slices.Clone(positioned[:positionStart]), 1, '0')
	zeroOffset = append(zeroOffset, positioned[positionStart+3:]...)
	badDirection := slices.Clone(userChange)
	badDirection[len(badDirection)-1] = 2
	cases := map[string][]byte{
		"empty":                  nil,
		"cut history position":   positioned[:positionStart+2],
		"history offset zero":    zeroOffset,
		"history epoch past end": positioned[:len(positioned)-1],
		"short header":           valid[:envelopeHeaderSize-1],
		"wrong version":          append([]byte{9}, valid[1:]...),
		"unknown kind":           append([]byte{envelopeVersion, 99}, valid[2:]...),
		"cut user length":        valid[:envelopeHeaderSize+2],
		"user id past end":       valid[:envelopeHeaderSize+lengthSize+3],
		"cut exclude list":       broadcast[:envelopeHeaderSize+lengthSize+5],
		"cut connection id":      (&envelope{kind: kindConnection}).encode(nil)[:envelopeHeaderSize+10],
		"huge exclude count":     append(append([]byte{envelopeVersion, byte(kindBroadcast)}, make([]byte, 6)...), 0xff, 0xff, 0xff, 0xff),
		"huge user id length":    append(append([]byte{envelopeVersion, byte(kindUser)}, make([]byte, 6)...), 0x7f, 0xff, 0xff, 0xff),
		"channel past end":       publication[:envelopeHeaderSize+lengthSize+2],
		"cut channel length":     userChange[:envelopeHeaderSize+lengthSize+len("alice")+2],
		"no direction":           userChange[:len(userChange)-1],
		"direction 2":            badDirection,
		"cut connection change":  connectionChange[:envelopeHeaderSize+connectionIDSize+lengthSize+2],
		"cut query limit":        query[:envelopeHeaderSize+queryIDSize+2],
		"query prefix past end":  query[:len(query)-1],
		"cut reply id":           (&envelope{kind: kindQueryReply, query: 1}).encode(nil)[:envelopeHeaderSize+queryIDSize-1],
	}
	for name, data := range cases {
		if _, err := decodeEnvelope(data); !errors.Is(err, errMalformed) {
			t.Errorf("%s: err = %v, want errMalformed", name, err)
		}
	}
	if decoded, err := decodeEnvelope(valid); err != nil || decoded.userID != "alice" || !bytes.Equal(decoded.body, []byte(`{}`)) {
		t.Fatalf("the valid envelope decoded to %+v, %v", decoded, err)
	}
}

func TestRelayQueueIsBoundedInBytes(t *testing.T) {
	var queue relayQueue
	queue.init(100)
	if !queue.push("a", make([]byte, 59)) || !queue.push("bc", make([]byte, 38)) {
		t.Fatal("envelopes within the bound were refused")
	}
	if queue.push("", make([]byte, 1)) {
		t.Fatal("an envelope over the bound was queued")
	}
	if taken := queue.take(); len(taken) != 2 || taken[0].redisChannel != "a" || len(taken[0].encoded) != 59 {
		t.Fatalf("take returned %d envelopes, want the 2 queued in order", len(taken))
	}
	if !queue.push("", make([]byte, 100)) {
		t.Fatal("the queue did not free its bytes on take")
	}
	if queue.push("x", make([]byte, 0)) {
		t.Fatal("a channel name over the bound was queued: names count against it")
	}
}
