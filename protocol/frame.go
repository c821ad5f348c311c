package protocol

import "encoding/binary"

// WebSocket opcodes the server writes (RFC 6455 section 5.2).
const (
	opcodeText  = 0x1
	opcodeClose = 0x8
	opcodePong  = 0xA
)

// Size limits of control frames (RFC 6455 section 5.5).
const (
	// MaxControlPayloadSize is the largest payload of a control frame, in bytes.
	MaxControlPayloadSize = 125
	// MaxCloseTextSize is the largest reason text of a close frame, in bytes: the
	// control payload less the 2-byte close code.
	MaxCloseTextSize = MaxControlPayloadSize - 2
)

// frameHeaderSize returns the size of an unmasked server frame header for a
// payload of payloadLength bytes.
func frameHeaderSize(payloadLength int) int {
	switch {
	case payloadLength < 126:
		return 2
	case payloadLength <= 0xffff:
		return 4
	default:
		return 10
	}
}

// appendFrameHeader appends a final, unmasked frame header. Server frames are never
// masked, so one encoded frame can be written unchanged to every connection: this is
// what makes a broadcast cost one encoding instead of one per target.
func appendFrameHeader(buffer []byte, opcode byte, payloadLength int) []byte {
	buffer = append(buffer, 0x80|opcode)
	switch {
	case payloadLength < 126:
		buffer = append(buffer, byte(payloadLength))
	case payloadLength <= 0xffff:
		buffer = append(buffer, 126)
		buffer = binary.BigEndian.AppendUint16(buffer, uint16(payloadLength))
	default:
		buffer = append(buffer, 127)
		buffer = binary.BigEndian.AppendUint64(buffer, uint64(payloadLength))
	}
	return buffer
}

// FramePayload returns the payload of a frame built by this package: what follows
// its 2, 4 or 10 byte header. It shares frame's memory.
func FramePayload(frame []byte) []byte {
	switch frame[1] & 0x7f {
	case 126:
		return frame[4:]
	case 127:
		return frame[10:]
	}
	return frame[2:]
}

// TextFrame encodes payload as one final, unmasked text frame. The result may be
// written to any number of connections; callers must not modify it afterwards.
func TextFrame(payload []byte) []byte {
	frame := make([]byte, 0, frameHeaderSize(len(payload))+len(payload))
	frame = appendFrameHeader(frame, opcodeText, len(payload))
	return append(frame, payload...)
}

// CloseFrame encodes a close frame with code and text; text longer than
// MaxCloseTextSize is cut to that many bytes, so callers pass valid UTF-8 of at
// most that size. Code 0 sends an empty body (the answer to a client close that
// carried no status).
func CloseFrame(code uint16, text string) []byte {
	if code == 0 {
		return appendFrameHeader(nil, opcodeClose, 0)
	}
	if len(text) > MaxCloseTextSize {
		text = text[:MaxCloseTextSize]
	}
	frame := make([]byte, 0, 2+2+len(text))
	frame = appendFrameHeader(frame, opcodeClose, 2+len(text))
	frame = binary.BigEndian.AppendUint16(frame, code)
	return append(frame, text...)
}

// ControlPongFrame encodes a protocol-level (control) pong carrying payload, the
// answer to a control ping; a payload longer than MaxControlPayloadSize is cut.
func ControlPongFrame(payload []byte) []byte {
	payload = payload[:min(len(payload), MaxControlPayloadSize)]
	frame := make([]byte, 0, 2+len(payload))
	frame = appendFrameHeader(frame, opcodePong, len(payload))
	return append(frame, payload...)
}
