package protocol

import (
	"encoding/json"
	"strconv"

	"github.com/wsgate/wsgate/history"
)

// ChannelAnswer is the server's answer to a channel operation, or its notice that
// the server changed a subscription: {"type":Type,"channel":...} with "id" when the
// request carried one, "recovered" when a subscribe asked to recover, "offset" and
// "epoch" for a history channel, and "reason" when the server or the backend
// removed the subscription.
type ChannelAnswer struct {
	// Type is TypeSubscribed, TypeUnsubscribed or TypePublished.
	Type    string
	Channel string
	// ID is the raw JSON of the request's "id" (a string or a number), nil for
	// none: a notice of the server's own doing has none.
	ID json.RawMessage
	// Reason says why the server or the backend removed a subscription
	// (TypeUnsubscribed only); "" when the client asked for it.
	Reason string
	// Recovered, when not nil, answers a subscribe that asked to recover: true when
	// every missed publication follows, false when the client must reload its
	// state (TypeSubscribed only).
	Recovered *bool
	// Position, when not nil, is a history channel's position: its top in
	// "subscribed" (the last publication before the live ones that follow), the
	// publication's own in "published".
	Position *history.Position
}

// Frame encodes the answer as a text frame, e.g.
// {"type":"subscribed","channel":"news","id":7}.
func (a ChannelAnswer) Frame() []byte {
	answer := struct {
		Type      string          `json:"type"`
		Channel   string          `json:"channel"`
		ID        json.RawMessage `json:"id,omitempty"`
		Recovered *bool           `json:"recovered,omitempty"`
		Offset    *uint64         `json:"offset,omitempty"`
		Epoch     *string         `json:"epoch,omitempty"`
		Reason    string          `json:"reason,omitempty"`
	}{Type: a.Type, Channel: a.Channel, ID: a.ID, Recovered: a.Recovered, Reason: a.Reason}
	if a.Position != nil {
		answer.Offset, answer.Epoch = &a.Position.Offset, &a.Position.Epoch
	}
	payload, _ := json.Marshal(answer)
	return TextFrame(payload)
}

// PublicationPayload encodes {"type":"publication","channel":channel,"data":data},
// with data copied raw, so a publication reaches every subscriber byte for byte as
// published. data must be valid JSON (the callers have decoded it). It is built once
// per publication: TextFrame of the result is the frame every subscriber on this
// node receives, and the result itself is what travels to the other nodes.
func PublicationPayload(channel string, data []byte) []byte {
	return publicationPayload(channel, data, 0)
}

// PublicationPayloadAt is PublicationPayload for a history channel's publication
// at offset: {"type":"publication","channel":channel,"data":data,"offset":offset},
// the offset after the data so that the encoding stays one pass of appends.
func PublicationPayloadAt(channel string, data []byte, offset uint64) []byte {
	return publicationPayload(channel, data, offset)
}

// publicationPayload encodes a publication, with "offset" unless offset is 0.
func publicationPayload(channel string, data []byte, offset uint64) []byte {
	name, _ := json.Marshal(channel)
	size := len(`{"type":"publication","channel":,"data":}`) + len(name) + len(data)
	if offset > 0 {
		size += len(`,"offset":`) + 20
	}
	payload := make([]byte, 0, size)
	payload = append(payload, `{"type":"publication","channel":`...)
	payload = append(payload, name...)
	payload = append(payload, `,"data":`...)
	payload = append(payload, data...)
	if offset > 0 {
		payload = append(payload, `,"offset":`...)
		payload = strconv.AppendUint(payload, offset, 10)
	}
	return append(payload, '}')
}
