package engine

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"unsafe"
)

// TestConnectionFitsItsSizeClass: an open connection costs the engine one wsConn,
// which must stay within the allocator's 48-byte size class (the next is 64: 16 MB
// more at 1M connections). What only an opening connection needs sits behind one
// pointer, the server is reached from the callbacks rather than kept, and the
// compression flag sits in padding.
func TestConnectionFitsItsSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(wsConn{}); size > 48 {
		t.Fatalf("wsConn is %d bytes, more than the 48 of its size class", size)
	}
}

// FuzzWebSocketConnection sends arbitrary bytes over a real socket to a real server,
// then ends its side of the TCP connection. Whatever the bytes, the server must
// answer only well-formed frames (final, unmasked, no reserved bits: readFrame checks
// them), send at most one close frame and nothing after it, never send 1005, 1006 or
// 1015, and then end the connection: a well-formed close, or a healthy connection
// that ends when its client does. The server runs on for every input, so one
// input's damage would show in the next.
func FuzzWebSocketConnection(f *testing.F) {
	addr := startConformanceServer(f)
	request, _ := echo("fuzz")
	for _, seed := range [][]byte{
		maskedFrame(fin|opText, request),
		maskedFrame(fin|opText, nil),
		append(maskedFrame(opText, request[:4]), maskedFrame(fin|opContinuation, request[4:])...),
		maskedFrame(fin|opPing, []byte("ping")),
		maskedFrame(fin|opClose, closeBody(1000, "bye")),
		maskedFrame(fin|opClose, closeBody(1015, "")),
		maskedFrame(fin|rsv1|opText, request),
		unmaskedFrame(fin|opText, request),
		maskedFrame(fin|opText, []byte("\xff")),
		append(frameHeader(fin|opText, conformanceLimit+1, true), 1, 2, 3, 4),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		client := dialRaw(t, addr)
		if _, err := client.conn.Write(data); err != nil {
			// The server may fail the connection before all of data is written.
			if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
				t.Fatalf("write: %v", err)
			}
		}
		_ = client.conn.(*net.TCPConn).CloseWrite()
		closed := false
		for {
			frame, err := client.readFrame()
			if err != nil {
				var timeout net.Error
				if errors.As(err, &timeout) && timeout.Timeout() {
					t.Fatalf("the server did not end the connection within %v after the client did", answerTimeout)
				}
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("reading the server's frames: %v", err)
				}
				return
			}
			if closed {
				t.Fatalf("opcode %d after the close frame", frame.opcode())
			}
			if frame.opcode() != opClose {
				continue
			}
			closed = true
			if len(frame.payload) == 1 {
				t.Fatalf("close frame with a 1-byte body")
			}
			if len(frame.payload) >= 2 {
				if code := binary.BigEndian.Uint16(frame.payload); !validCloseCode(code) {
					t.Fatalf("the server sent close code %d", code)
				}
			}
		}
	})
}
