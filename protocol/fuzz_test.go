package protocol

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"unicode/utf8"
)

// decoderErrorCodes are the codes docs/protocol.md lists for a text message the
// decoder refuses: the table of "Server to client" and invalid_channel of the
// channel table. Written out here rather than taken from the constants, so a new
// code the decoder starts to send fails until the documentation lists it.
var decoderErrorCodes = []string{
	"invalid_json", "not_an_object", "missing_type", "invalid_type", "unknown_type", "invalid_field", "invalid_channel",
}

// FuzzDecode feeds Decode arbitrary text (seeds in testdata/fuzz/FuzzDecode: every
// client message type, the channel operations, and each refusal of the tests) and
// checks what the protocol promises of any input:
//   - Decode never panics, and either accepts the text or refuses it with a
//     documented code, whose answer frame is one JSON object carrying that code, the
//     message, and the refused request's channel and id when it has them;
//   - what it accepts is a client type, with Content and Data valid JSON copied out
//     of the input, and an id that is a JSON string or number;
//   - encoding what was decoded gives bytes that decode to the same message: the
//     server's own frames for the echo (ContentFrame) and the publication
//     (PublicationPayload), and a client's canonical encoding of every field;
//   - valid UTF-8 in gives valid UTF-8 in every frame built from it (browsers fail a
//     connection on a text frame that is not).
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		input := bytes.Clone(data)
		message, refusal, ok := Decode(data)
		if !bytes.Equal(data, input) {
			t.Fatalf("Decode modified its input")
		}
		if !ok {
			checkRefusal(t, data, refusal)
			return
		}
		if refusal != (Error{}) {
			t.Fatalf("Decode(%q) accepted it with a refusal %+v", data, refusal)
		}
		checkAccepted(t, data, message)
		checkReencoding(t, data, message)
	})
}

// checkRefusal checks a refusal's code and its answer frame.
func checkRefusal(t *testing.T, data []byte, refusal Error) {
	t.Helper()
	if !slices.Contains(decoderErrorCodes, refusal.Code) || refusal.Message == "" {
		t.Fatalf("Decode(%q) refused it with code %q (message %q), not a documented code", data, refusal.Code, refusal.Message)
	}
	if json.Valid(data) && refusal.Code == ErrorInvalidJSON {
		t.Fatalf("Decode(%q): valid JSON refused as invalid_json", data)
	}
	payload := FramePayload(refusal.Frame())
	var answer struct {
		Type, Code, Message, Channel string
		ID                           json.RawMessage
	}
	if err := json.Unmarshal(payload, &answer); err != nil {
		t.Fatalf("Decode(%q): the error frame %q is not JSON: %v", data, payload, err)
	}
	if answer.Type != TypeError || answer.Code != refusal.Code || answer.Channel != refusal.Channel || string(answer.ID) != refusal.ID {
		t.Fatalf("Decode(%q): the error frame %s does not carry %+v", data, payload, refusal)
	}
	if utf8.Valid(data) && !utf8.Valid(payload) {
		t.Fatalf("Decode(%q): the error frame %q is not valid UTF-8", data, payload)
	}
}

// checkAccepted checks the fields of an accepted message.
func checkAccepted(t *testing.T, data []byte, message Message) {
	t.Helper()
	if !isClientType(message.Type) {
		t.Fatalf("Decode(%q) accepted type %q", data, message.Type)
	}
	if !json.Valid(message.Content) || (message.Data != nil && !json.Valid(message.Data)) {
		t.Fatalf("Decode(%q): content %q or data %q is not JSON", data, message.Content, message.Data)
	}
	if isChannelType(message.Type) {
		if message.Data == nil {
			t.Fatalf("Decode(%q): a channel operation without data", data)
		}
		if message.ID != nil {
			decoder := json.NewDecoder(bytes.NewReader(message.ID))
			decoder.UseNumber() // 1e999 is a valid JSON number, beyond float64
			var id any
			if err := decoder.Decode(&id); err != nil {
				t.Fatalf("Decode(%q): id %q is not JSON", data, message.ID)
			}
			switch id.(type) {
			case string, json.Number:
			default:
				t.Fatalf("Decode(%q): id %s is neither a string nor a number", data, message.ID)
			}
		}
	} else if message.Channel != "" || message.Token != "" || message.ID != nil || message.Data != nil {
		t.Fatalf("Decode(%q): a %s carries channel fields %+v", data, message.Type, message)
	}
	for _, raw := range [][]byte{message.Content, message.Data, message.ID} {
		if len(raw) > 0 && len(data) > 0 && &raw[0] == &data[0] {
			t.Fatalf("Decode(%q): a field shares the input's memory", data)
		}
	}
}

// checkReencoding encodes the message again, as the server and a client would, and
// decodes the result.
func checkReencoding(t *testing.T, data []byte, message Message) {
	t.Helper()
	validText := utf8.Valid(data)
	switch message.Type {
	case TypeMessage, TypeBroadcast:
		payload := FramePayload(ContentFrame(message.Type, message.Content))
		again, refusal, ok := Decode(payload)
		if !ok || again.Type != message.Type || !bytes.Equal(again.Content, message.Content) {
			t.Fatalf("Decode(%q): its echo %q decodes to %+v, %v", data, payload, again, refusal)
		}
		if validText && !utf8.Valid(payload) {
			t.Fatalf("Decode(%q): its echo %q is not valid UTF-8", data, payload)
		}
	case TypePublish:
		payload := PublicationPayload(message.Channel, message.Data)
		var publication struct {
			Type, Channel string
			Data          json.RawMessage
		}
		if err := json.Unmarshal(payload, &publication); err != nil || publication.Type != TypePublication ||
			!bytes.Equal(publication.Data, message.Data) || (validText && publication.Channel != message.Channel) {
			t.Fatalf("Decode(%q): its publication %q reads as %+v, %v", data, payload, publication, err)
		}
		if validText && !utf8.Valid(payload) {
			t.Fatalf("Decode(%q): its publication %q is not valid UTF-8", data, payload)
		}
	}
	if !validText {
		// The engine passes on only valid UTF-8, and encoding/json replaces invalid
		// UTF-8 in strings by U+FFFD, so a client could not send such a message again.
		return
	}
	canonical := encodeClientMessage(t, message)
	again, refusal, ok := Decode(canonical)
	if !ok {
		t.Fatalf("Decode(%q) = %+v, but its encoding %q is refused: %v", data, message, canonical, refusal)
	}
	if !sameMessage(again, message) {
		t.Fatalf("Decode(%q) = %+v, but its encoding %q decodes to %+v", data, message, canonical, again)
	}
}

// encodeClientMessage is a client's encoding of message: each field it has, raw
// fields compacted, without encoding/json's escaping of '<', '>' and '&' (so raw
// fields compare byte for byte after compaction).
func encodeClientMessage(t *testing.T, message Message) []byte {
	t.Helper()
	fields := map[string]any{"type": message.Type}
	if string(message.Content) != "null" {
		fields["content"] = message.Content
	}
	if isChannelType(message.Type) {
		if message.Channel != "" {
			fields["channel"] = message.Channel
		}
		if message.Token != "" {
			fields["token"] = message.Token
		}
		if message.ID != nil {
			fields["id"] = message.ID
		}
		if string(message.Data) != "null" {
			fields["data"] = message.Data
		}
	}
	var encoded bytes.Buffer
	encoder := json.NewEncoder(&encoded)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(fields); err != nil {
		t.Fatalf("encoding %+v: %v", message, err)
	}
	return encoded.Bytes()
}

// sameMessage compares two messages, their raw JSON fields by value (the encoding
// compacts them).
func sameMessage(a, b Message) bool {
	return a.Type == b.Type && a.Channel == b.Channel && a.Token == b.Token &&
		sameJSON(a.Content, b.Content) && sameJSON(a.Data, b.Data) && sameJSON(a.ID, b.ID)
}

// sameJSON reports whether a and b are the same JSON text up to insignificant
// whitespace; both nil counts as the same.
func sameJSON(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var compactA, compactB bytes.Buffer
	return json.Compact(&compactA, a) == nil && json.Compact(&compactB, b) == nil && bytes.Equal(compactA.Bytes(), compactB.Bytes())
}
