package engine

import (
	"encoding/binary"
	"math/bits"

	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/session"
)

// The frame layer of RFC 6455 as wsgate reads it from clients. nbio's own
// websocket parser buffered whole frames against a per-connection byte budget (so
// several messages within the size limit, sent back to back, broke it), accepted
// unmasked frames, closed on protocol errors without a close frame and dropped empty
// messages; wsgate reads frames itself, behind nbio's poller and HTTP parser. With
// permessage-deflate negotiated (deflateoffer.go), RSV1 on a message's first frame
// marks it compressed: the reader assembles it as it came and inflates it whole
// (inflate.go) before checking its UTF-8 and handing it on.

// Frame opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// maxControlPayload is the largest payload of a control frame (§5.5).
const maxControlPayload = 125

// The close codes the frame layer itself sends when it fails a connection (§7.4.1).
const (
	closeProtocolError = 1002
	closeInvalidData   = 1007
)

// frameError is why the frame layer failed a connection: the close code and text it
// sends the client. It is an error, so that nbio reports it to the close callback.
type frameError struct {
	code uint16
	text string
}

func (e *frameError) Error() string { return "websocket: " + e.text }

// The ways a client can break the frame layer; shared values, so failing a
// connection allocates nothing. Texts stay well under the 123 bytes of a close frame.
var (
	errReservedBits      = &frameError{closeProtocolError, "protocol error: reserved bits set"}
	errCompressedControl = &frameError{closeProtocolError, "protocol error: RSV1 on a control frame"}
	errCompressedMiddle  = &frameError{closeProtocolError, "protocol error: RSV1 on a continuation frame"}
	errReservedOpcode    = &frameError{closeProtocolError, "protocol error: reserved opcode"}
	errUnmasked          = &frameError{closeProtocolError, "protocol error: client frame not masked"}
	errFragmentedControl = &frameError{closeProtocolError, "protocol error: fragmented control frame"}
	errControlTooLong    = &frameError{closeProtocolError, "protocol error: control frame over 125 bytes"}
	errNegativeLength    = &frameError{closeProtocolError, "protocol error: frame length with the top bit set"}
	errNonMinimalLength  = &frameError{closeProtocolError, "protocol error: frame length not minimally encoded"}
	errNoMessageToExtend = &frameError{closeProtocolError, "protocol error: continuation frame without a message"}
	errMessageUnfinished = &frameError{closeProtocolError, "protocol error: new message before the last one ended"}
	errCloseBodyTooShort = &frameError{closeProtocolError, "protocol error: close frame with a 1-byte body"}
	errInvalidCloseCode  = &frameError{closeProtocolError, "protocol error: invalid close code"}
	errInvalidText       = &frameError{closeInvalidData, "invalid UTF-8 in a text message"}
	errInvalidCloseText  = &frameError{closeInvalidData, "invalid UTF-8 in a close reason"}
	errMessageTooBig     = &frameError{protocol.CloseTooBig, session.ReasonTooBig.Text()}
)

// frameHandler receives what a frameReader reads, in order. Every payload is the
// handler's to keep: the reader never touches it again.
type frameHandler interface {
	// message is a complete text or binary message (opText or opBinary); an empty
	// message has an empty, non-nil payload.
	message(opcode byte, payload []byte)
	ping(payload []byte)
	pong(payload []byte)
	// closed is the client's close frame: code 0 when it carried no status. The
	// reader reads nothing after it.
	closed(code uint16, reason []byte)
}

// frameReader reads the frames of one client connection from the bytes its socket
// delivers, in pieces of any size, without buffering more than the message being
// assembled: a frame's payload is unmasked, checked and appended as it arrives, so
// only the header (at most 14 bytes) waits for more input. What it holds is bounded
// by the message size limit plus one control frame. It is used by one goroutine at a
// time (the connection's poller). At a frame boundary (atBoundary) it holds nothing
// worth keeping: a connection then keeps no reader at all (wsConn.reader).
type frameReader struct {
	// message is the data message being assembled (nil between messages).
	message []byte
	// control is the payload of the control frame being read (nil otherwise).
	control []byte
	// remaining is the number of payload bytes of the current frame still to come.
	remaining uint64
	header    [14]byte
	// headerSize is how many bytes of the current frame's header have arrived;
	// inPayload is set once the header is complete.
	headerSize uint8
	inPayload  bool
	// opcode and final describe the current frame; mask and maskOffset unmask it.
	opcode     byte
	final      bool
	maskOffset uint8
	mask       [4]byte
	// messageOpcode is opText or opBinary while a fragmented message is open, 0
	// otherwise.
	messageOpcode byte
	text          utf8Validator
	// done is set after a close frame or a failure: nothing more is read.
	done bool
	// deflate is the connection's wsConn.deflate, copied in before each read;
	// compressed marks the message being assembled as compressed (RSV1 on its first
	// frame). They sit in the struct's padding: no extra bytes.
	deflate    bool
	compressed bool
}

// feed has r read data, calling handler for every complete message and control
// frame. limit is the largest message in bytes. It returns the error that fails the
// connection, after which the reader reads nothing more. It is generic rather than
// a method taking the interface so that the handler may be a value of two pointers
// (wsConn's connEvents: the connection and its server) that costs no allocation:
// boxed in an interface it would be one per read.
func feed[H frameHandler](r *frameReader, data []byte, limit int, handler H) *frameError {
	for len(data) > 0 && !r.done {
		if !r.inPayload {
			consumed, err := r.readHeader(data, limit)
			if err != nil {
				r.done = true
				return err
			}
			data = data[consumed:]
			if r.inPayload && r.remaining == 0 {
				if err := endFrame(r, handler, limit); err != nil {
					r.done = true
					return err
				}
			}
			continue
		}
		chunk := data[:min(uint64(len(data)), r.remaining)]
		data = data[len(chunk):]
		r.remaining -= uint64(len(chunk))
		if err := r.readPayload(chunk, limit); err != nil {
			r.done = true
			return err
		}
		if r.remaining == 0 {
			if err := endFrame(r, handler, limit); err != nil {
				r.done = true
				return err
			}
		}
	}
	return nil
}

// atBoundary reports whether the reader is between frames, outside any fragmented
// message and still reading: a zero reader would read on exactly as it does.
func (r *frameReader) atBoundary() bool {
	return !r.inPayload && r.headerSize == 0 && r.messageOpcode == 0 && !r.done
}

// headerLength returns the size of a header whose first two bytes are known.
func headerLength(second byte) int {
	size := 2 + 4 // every client frame is masked (checked on the second byte)
	switch second & 0x7F {
	case 126:
		size += 2
	case 127:
		size += 8
	}
	return size
}

// readHeader takes header bytes from data and reports how many it took. Each rule is
// checked as soon as the byte it concerns arrives, so a bad frame fails at once.
func (r *frameReader) readHeader(data []byte, limit int) (int, *frameError) {
	consumed := 0
	for !r.inPayload && consumed < len(data) {
		r.header[r.headerSize] = data[consumed]
		r.headerSize++
		consumed++
		switch {
		case r.headerSize == 1:
			if err := r.checkFirstByte(r.header[0]); err != nil {
				return consumed, err
			}
		case r.headerSize == 2:
			if err := r.checkSecondByte(r.header[1]); err != nil {
				return consumed, err
			}
		case int(r.headerSize) == headerLength(r.header[1]):
			if err := r.startPayload(limit); err != nil {
				return consumed, err
			}
		}
	}
	return consumed, nil
}

// checkFirstByte applies the rules of FIN, RSV1-3 and the opcode (§5.2, §5.4, §5.5):
// RSV2 and RSV3 must be 0, and RSV1 too unless permessage-deflate was negotiated,
// which allows it on the first frame of a data message only (RFC 7692 §6).
func (r *frameReader) checkFirstByte(first byte) *frameError {
	r.final = first&0x80 != 0
	r.opcode = first & 0x0F
	if first&0x30 != 0 || (first&0x40 != 0 && !r.deflate) {
		return errReservedBits
	}
	if first&0x40 != 0 {
		switch {
		case r.opcode >= opClose:
			return errCompressedControl
		case r.opcode == opContinuation:
			return errCompressedMiddle
		}
	}
	switch r.opcode {
	case opContinuation:
		if r.messageOpcode == 0 {
			return errNoMessageToExtend
		}
	case opText, opBinary:
		if r.messageOpcode != 0 {
			return errMessageUnfinished
		}
	case opClose, opPing, opPong:
		if !r.final {
			return errFragmentedControl
		}
	default:
		return errReservedOpcode
	}
	return nil
}

// checkSecondByte applies the rules of the mask bit (§5.1: a client masks every
// frame) and of a control frame's length (§5.5).
func (r *frameReader) checkSecondByte(second byte) *frameError {
	if second&0x80 == 0 {
		return errUnmasked
	}
	if r.opcode >= opClose && second&0x7F > maxControlPayload {
		return errControlTooLong
	}
	return nil
}

// startPayload decodes the complete header's length and mask and prepares for the
// payload.
func (r *frameReader) startPayload(limit int) *frameError {
	var length uint64
	maskAt := 2
	switch short := r.header[1] & 0x7F; short {
	case 126:
		length, maskAt = uint64(binary.BigEndian.Uint16(r.header[2:4])), 4
		if length < 126 {
			return errNonMinimalLength
		}
	case 127:
		length, maskAt = binary.BigEndian.Uint64(r.header[2:10]), 10
		if length>>63 != 0 {
			return errNegativeLength
		}
		if length <= 0xFFFF {
			return errNonMinimalLength
		}
	default:
		length = uint64(short)
	}
	copy(r.mask[:], r.header[maskAt:maskAt+4])
	r.maskOffset = 0
	r.remaining = length
	r.inPayload = true
	if r.opcode >= opClose {
		r.control = make([]byte, 0, length)
		return nil
	}
	if length > uint64(limit-len(r.message)) {
		return errMessageTooBig
	}
	if r.opcode != opContinuation {
		r.messageOpcode = r.opcode
		r.text = utf8Validator{}
		r.compressed = r.header[0]&0x40 != 0
	}
	return nil
}

// readPayload unmasks the next bytes of the current frame's payload and adds them to
// the control frame or the message; a text message's bytes are checked at once.
func (r *frameReader) readPayload(chunk []byte, limit int) *frameError {
	if r.opcode >= opClose {
		start := len(r.control)
		r.control = append(r.control, chunk...)
		r.maskOffset = unmask(r.control[start:], r.mask, r.maskOffset)
		return nil
	}
	start := len(r.message)
	r.message = appendBounded(r.message, chunk, limit)
	r.maskOffset = unmask(r.message[start:], r.mask, r.maskOffset)
	if r.messageOpcode == opText && !r.compressed && !r.text.write(r.message[start:]) {
		return errInvalidText
	}
	return nil
}

// appendBounded appends chunk to message, growing it by doubling but never past
// limit (the caller checked that message plus chunk fits): a message assembled from
// many pieces costs at most its size limit, not twice that.
func appendBounded(message, chunk []byte, limit int) []byte {
	need := len(message) + len(chunk)
	if need > cap(message) {
		grown := make([]byte, len(message), max(need, min(2*cap(message), limit)))
		copy(grown, message)
		message = grown
	}
	return append(message, chunk...)
}

// endFrame finishes r's frame whose payload is complete; limit is the largest
// message in bytes, which a compressed message must respect once inflated.
func endFrame[H frameHandler](r *frameReader, handler H, limit int) *frameError {
	r.inPayload = false
	r.headerSize = 0
	switch r.opcode {
	case opPing:
		payload := r.control
		r.control = nil
		handler.ping(payload)
	case opPong:
		payload := r.control
		r.control = nil
		handler.pong(payload)
	case opClose:
		return endClose(r, handler)
	default:
		if !r.final {
			return nil
		}
		payload := r.message
		if r.compressed {
			inflated, err := inflate(payload, limit)
			if err != nil {
				return err
			}
			if r.messageOpcode == opText && !validUTF8(inflated) {
				return errInvalidText
			}
			payload, r.compressed = inflated, false
		} else if r.messageOpcode == opText && !r.text.complete() {
			return errInvalidText
		}
		if payload == nil {
			payload = []byte{}
		}
		opcode := r.messageOpcode
		r.message, r.messageOpcode = nil, 0
		handler.message(opcode, payload)
	}
	return nil
}

// endClose checks the body of r's close frame (§5.5.1, §7.4) and hands it on; the
// reader reads nothing after it.
func endClose[H frameHandler](r *frameReader, handler H) *frameError {
	body := r.control
	r.control = nil
	r.done = true
	switch {
	case len(body) == 0:
		handler.closed(0, nil)
		return nil
	case len(body) == 1:
		return errCloseBodyTooShort
	}
	code := binary.BigEndian.Uint16(body)
	if !validCloseCode(code) {
		return errInvalidCloseCode
	}
	if !validUTF8(body[2:]) {
		return errInvalidCloseText
	}
	handler.closed(code, body[2:])
	return nil
}

// validCloseCode reports whether a client may send code in a close frame: the codes
// RFC 6455 and the IANA registry define for use in close frames (1000-1003,
// 1007-1014) and the ranges for libraries and applications (3000-4999). 1004 is
// reserved, and 1005, 1006 and 1015 must never appear on the wire.
func validCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// unmask XORs payload with the masking key, starting at key byte offset (0-3); it
// returns the offset for the payload's next byte. Eight bytes at a time.
func unmask(payload []byte, key [4]byte, offset uint8) uint8 {
	if len(payload) == 0 {
		return offset
	}
	key32 := bits.RotateLeft32(binary.LittleEndian.Uint32(key[:]), -8*int(offset))
	key64 := uint64(key32) | uint64(key32)<<32
	index := 0
	for ; index+8 <= len(payload); index += 8 {
		binary.LittleEndian.PutUint64(payload[index:], binary.LittleEndian.Uint64(payload[index:])^key64)
	}
	for ; index < len(payload); index++ {
		payload[index] ^= byte(key32 >> (8 * (index & 3)))
	}
	return uint8((int(offset) + len(payload)) & 3)
}
