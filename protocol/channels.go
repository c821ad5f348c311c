package protocol

import "encoding/json"

// ChannelAnswer is the server's answer to a channel operation, or its notice that
// the server changed a subscription: {"type":Type,"channel":...} with "id" when the
// request carried one and "reason" when the server or the backend removed the
// subscription.
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
}

// Frame encodes the answer as a text frame, e.g.
// {"type":"subscribed","channel":"news","id":7}.
func (a ChannelAnswer) Frame() []byte {
	payload, _ := json.Marshal(struct {
		Type    string          `json:"type"`
		Channel string          `json:"channel"`
		ID      json.RawMessage `json:"id,omitempty"`
		Reason  string          `json:"reason,omitempty"`
	}{a.Type, a.Channel, a.ID, a.Reason})
	return TextFrame(payload)
}

// PublicationPayload encodes {"type":"publication","channel":channel,"data":data},
// with data copied raw, so a publication reaches every subscriber byte for byte as
// published. data must be valid JSON (the callers have decoded it). It is built once
// per publication: TextFrame of the result is the frame every subscriber on this
// node receives, and the result itself is what travels to the other nodes.
func PublicationPayload(channel string, data []byte) []byte {
	name, _ := json.Marshal(channel)
	payload := make([]byte, 0, len(`{"type":"publication","channel":,"data":}`)+len(name)+len(data))
	payload = append(payload, `{"type":"publication","channel":`...)
	payload = append(payload, name...)
	payload = append(payload, `,"data":`...)
	payload = append(payload, data...)
	return append(payload, '}')
}
