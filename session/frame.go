package session

import "encoding/binary"

// WebSocket opcodes used by the server (RFC 6455 section 5.2).
const (
	opcodeText  = 0x1
	opcodeClose = 0x8
	opcodePong  = 0xA
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

// framePayload returns the payload of a frame built by appendFrameHeader: what
// follows its 2, 4 or 10 byte header.
func framePayload(frame []byte) []byte {
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

// closeFrame encodes a close frame with code and text; code 0 sends an empty body
// (the answer to a client close that carried no status).
func closeFrame(code uint16, text string) []byte {
	if code == 0 {
		return appendFrameHeader(nil, opcodeClose, 0)
	}
	if len(text) > 123 {
		text = text[:123]
	}
	frame := make([]byte, 0, 2+2+len(text))
	frame = appendFrameHeader(frame, opcodeClose, 2+len(text))
	frame = binary.BigEndian.AppendUint16(frame, code)
	return append(frame, text...)
}

// pongControlFrame encodes a protocol-level pong carrying payload (at most 125 bytes, as
// RFC 6455 allows for control frames; longer payloads are cut).
func pongControlFrame(payload []byte) []byte {
	payload = payload[:min(len(payload), 125)]
	frame := make([]byte, 0, 2+len(payload))
	frame = appendFrameHeader(frame, opcodePong, len(payload))
	return append(frame, payload...)
}
