package protocol

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func TestTextFrameHeadersFollowThePayloadLength(t *testing.T) {
	for _, test := range []struct {
		length int
		header []byte
	}{
		{0, []byte{0x81, 0}},
		{125, []byte{0x81, 125}},
		{126, []byte{0x81, 126, 0, 126}},
		{0xffff, []byte{0x81, 126, 0xff, 0xff}},
		{0x10000, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		payload := bytes.Repeat([]byte{'x'}, test.length)
		frame := TextFrame(payload)
		if !bytes.Equal(frame[:len(test.header)], test.header) || len(frame) != len(test.header)+test.length {
			t.Errorf("payload of %d bytes: header % x, length %d; want header % x", test.length,
				frame[:min(len(frame), 10)], len(frame), test.header)
		}
		if !bytes.Equal(FramePayload(frame), payload) {
			t.Errorf("payload of %d bytes: FramePayload does not return it", test.length)
		}
		if cap(frame) != len(frame) {
			t.Errorf("payload of %d bytes: capacity %d for %d bytes (one exact allocation expected)", test.length, cap(frame), len(frame))
		}
	}
}

func TestCloseFrameCarriesTheCodeAndCutsTheText(t *testing.T) {
	if got := CloseFrame(4403, "kicked"); !bytes.Equal(got, append([]byte{0x88, 8, 0x11, 0x33}, "kicked"...)) {
		t.Errorf("CloseFrame(4403, kicked) = % x", got)
	}
	if got := CloseFrame(0, "ignored"); !bytes.Equal(got, []byte{0x88, 0}) {
		t.Errorf("CloseFrame(0) = % x, want an empty close frame", got)
	}
	long := CloseFrame(1000, strings.Repeat("a", 200))
	if int(long[1]) != MaxControlPayloadSize || len(long) != 2+MaxControlPayloadSize ||
		binary.BigEndian.Uint16(long[2:]) != 1000 {
		t.Errorf("a 200-byte text gave a %d-byte payload, want %d", long[1], MaxControlPayloadSize)
	}
}

func TestControlPongFrameEchoesAtMostTheControlLimit(t *testing.T) {
	if got := ControlPongFrame([]byte("hi")); !bytes.Equal(got, []byte{0x8a, 2, 'h', 'i'}) {
		t.Errorf("ControlPongFrame(hi) = % x", got)
	}
	if got := ControlPongFrame(bytes.Repeat([]byte{'p'}, 300)); len(got) != 2+MaxControlPayloadSize || got[1] != MaxControlPayloadSize {
		t.Errorf("a 300-byte ping payload gave a %d-byte pong", len(got))
	}
}
