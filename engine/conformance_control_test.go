package engine

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// Conformance cases of control frames (§5.5), close codes (§7.4) and the reserved
// bits and opcodes (§5.2); see conformance_test.go.

func TestConformancePings(t *testing.T) {
	addr := startConformanceServer(t)
	for _, size := range []int{0, 1, 125} {
		t.Run(fmt.Sprintf("%d-byte payload echoed", size), func(t *testing.T) {
			client := dialRaw(t, addr)
			payload := bytes.Repeat([]byte{0xFE}, size)
			client.send(maskedFrame(fin|opPing, payload))
			if frame := client.expectFrame(opPong, nil); !bytes.Equal(frame.payload, payload) {
				t.Fatalf("pong carries %q, want the ping's %q", clip(frame.payload), clip(payload))
			}
		})
	}
	t.Run("126-byte payload", func(t *testing.T) {
		client := dialRaw(t, addr)
		client.send(maskedFrame(fin|opPing, bytes.Repeat([]byte("p"), 126)))
		client.expectClose(closeProtocolError)
	})
	t.Run("unsolicited pong ignored", func(t *testing.T) {
		client := dialRaw(t, addr)
		request, answer := echo("after pong")
		client.send(maskedFrame(fin|opPong, []byte("unasked")), maskedFrame(fin|opText, request))
		client.expectText(answer)
	})
	t.Run("pings answered in order with messages", func(t *testing.T) {
		client := dialRaw(t, addr)
		first, firstAnswer := echo("first")
		second, secondAnswer := echo("second")
		client.send(maskedFrame(fin|opText, first), maskedFrame(fin|opPing, []byte("between")), maskedFrame(fin|opText, second))
		client.expectText(firstAnswer)
		client.expectFrame(opPong, []byte("between"))
		client.expectText(secondAnswer)
	})
}

func TestConformanceReservedBits(t *testing.T) {
	addr := startConformanceServer(t)
	request, _ := echo("rsv")
	for name, bits := range map[string]byte{"RSV1": rsv1, "RSV2": rsv2, "RSV3": rsv3, "all": rsv1 | rsv2 | rsv3} {
		t.Run(name+" on text", func(t *testing.T) {
			client := dialRaw(t, addr)
			client.send(maskedFrame(fin|bits|opText, request))
			client.expectClose(closeProtocolError)
		})
		t.Run(name+" on ping", func(t *testing.T) {
			client := dialRaw(t, addr)
			client.send(maskedFrame(fin|bits|opPing, []byte("rsv")))
			client.expectClose(closeProtocolError)
		})
	}
}

func TestConformanceReservedOpcodes(t *testing.T) {
	addr := startConformanceServer(t)
	for _, opcode := range []byte{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF} {
		t.Run(fmt.Sprintf("opcode %d", opcode), func(t *testing.T) {
			client := dialRaw(t, addr)
			client.send(maskedFrame(fin|opcode, []byte("reserved")))
			client.expectClose(closeProtocolError)
		})
	}
}

// TestConformanceCloseCodes: a valid code is echoed and the TCP connection ends; an
// invalid one, including 1005, 1006 and 1015 that must never be sent, is a
// protocol error (§7.4.1, §7.4.2, IANA's registry for 1012-1014).
func TestConformanceCloseCodes(t *testing.T) {
	addr := startConformanceServer(t)
	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		t.Run(fmt.Sprintf("valid %d", code), func(t *testing.T) {
			client := dialRaw(t, addr)
			client.send(maskedFrame(fin|opClose, closeBody(code, "bye")))
			client.expectClose(code)
		})
	}
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		t.Run(fmt.Sprintf("invalid %d", code), func(t *testing.T) {
			client := dialRaw(t, addr)
			client.send(maskedFrame(fin|opClose, closeBody(code, "")))
			client.expectClose(closeProtocolError)
		})
	}
}

func TestConformanceCloseBodies(t *testing.T) {
	addr := startConformanceServer(t)
	t.Run("empty body echoed empty", func(t *testing.T) {
		client := dialRaw(t, addr)
		client.send(maskedFrame(fin|opClose, nil))
		client.expectClose(0)
	})
	t.Run("1-byte body", func(t *testing.T) {
		client := dialRaw(t, addr)
		client.send(maskedFrame(fin|opClose, []byte{0x03}))
		client.expectClose(closeProtocolError)
	})
	t.Run("UTF-8 reason", func(t *testing.T) {
		client := dialRaw(t, addr)
		client.send(maskedFrame(fin|opClose, closeBody(1000, "au revoir, 世界")))
		client.expectClose(1000)
	})
	t.Run("123-byte reason", func(t *testing.T) {
		client := dialRaw(t, addr)
		client.send(maskedFrame(fin|opClose, closeBody(1000, strings.Repeat("r", 123))))
		client.expectClose(1000)
	})
	t.Run("invalid UTF-8 reason", func(t *testing.T) {
		client := dialRaw(t, addr)
		client.send(maskedFrame(fin|opClose, closeBody(1000, "bad \xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80")))
		client.expectClose(closeInvalidData)
	})
	t.Run("nothing is read after a close", func(t *testing.T) {
		client := dialRaw(t, addr)
		request, _ := echo("too late")
		client.send(maskedFrame(fin|opClose, closeBody(1000, "")), maskedFrame(fin|opText, request))
		client.expectClose(1000)
	})
}

// TestConformanceFragmentedControlFrames: control frames must not be fragmented
// (§5.5).
func TestConformanceFragmentedControlFrames(t *testing.T) {
	addr := startConformanceServer(t)
	for name, opcode := range map[string]byte{"ping": opPing, "pong": opPong, "close": opClose} {
		t.Run(name, func(t *testing.T) {
			client := dialRaw(t, addr)
			client.send(maskedFrame(opcode, []byte{0x03, 0xE8}), maskedFrame(fin|opContinuation, []byte("x")))
			client.expectClose(closeProtocolError)
		})
	}
}

// TestConformanceFailsWithoutWaiting: a bad header byte fails the connection as
// soon as it arrives: the rest of the frame never comes, so a server that waited for
// it would never close.
func TestConformanceFailsWithoutWaiting(t *testing.T) {
	client := dialRaw(t, startConformanceServer(t))
	client.send([]byte{fin | rsv2 | opText})
	client.expectClose(closeProtocolError)
}
