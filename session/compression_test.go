package session

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/protocol"
)

// deflatingConn is a connection that negotiated permessage-deflate. Besides the
// copies testsupport.Conn keeps, it records where the bytes of each write lived, so
// a test can tell that connections were written the very same compressed frame.
type deflatingConn struct {
	testsupport.Conn
	mutex   sync.Mutex
	sources []*byte
}

func (c *deflatingConn) AcceptsDeflate() bool { return true }

func (c *deflatingConn) Write(frame []byte) (int, error) {
	c.mutex.Lock()
	c.sources = append(c.sources, unsafe.SliceData(frame))
	c.mutex.Unlock()
	return c.Conn.Write(frame)
}

func (c *deflatingConn) source(index int) *byte {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	return c.sources[index]
}

// isDeflated reports whether frame carries a compressed message (its RSV1 bit).
func isDeflated(frame []byte) bool { return len(frame) > 0 && frame[0]&0x40 != 0 }

// compressibleFrame is a text frame of size bytes of JSON that compresses well.
func compressibleFrame(size int) []byte {
	return protocol.TextFrame([]byte(`{"type":"broadcast","content":"` + strings.Repeat("abc ", (size-32)/4) + `"}`))
}

// fanout is one way to send a frame to several sessions.
type fanout func(hub *Hub, frame []byte, sessions []*Session) int

var fanouts = map[string]fanout{
	"Broadcast":      func(hub *Hub, frame []byte, _ []*Session) int { return hub.Broadcast(frame) },
	"SendToSessions": func(hub *Hub, frame []byte, sessions []*Session) int { return hub.SendToSessions(frame, sessions, nil) },
	"SendToUser":     func(hub *Hub, frame []byte, _ []*Session) int { return hub.SendToUser("someone", frame) },
}

func TestFanoutCompressesOnceForTheConnectionsThatNegotiatedIt(t *testing.T) {
	for name, send := range fanouts {
		t.Run(name, func(t *testing.T) {
			hub := newTestHub(t, Config{MaxConnectionsPerUser: Unlimited})
			deflating := []*deflatingConn{{}, {}, {}}
			plain := []*testsupport.Conn{{}, {}}
			var sessions []*Session
			for _, conn := range deflating {
				sessions = append(sessions, mustOpen(t, hub, conn, "someone"))
			}
			for _, conn := range plain {
				sessions = append(sessions, mustOpen(t, hub, conn, "someone"))
			}
			frame := compressibleFrame(1000)
			before := hub.Counters()
			if queued := send(hub, frame, sessions); queued != len(sessions) {
				t.Fatalf("queued %d, want %d", queued, len(sessions))
			}
			for _, conn := range plain {
				waitUntil(t, "the plain frame", func() bool { return len(conn.Writes()) == 1 })
				if got := conn.Writes()[0]; !bytes.Equal(got, frame) {
					t.Fatalf("a connection without compression received %d bytes, want the %d-byte plain frame", len(got), len(frame))
				}
			}
			for _, conn := range deflating {
				waitUntil(t, "the compressed frame", func() bool { return len(conn.Writes()) == 1 })
			}
			compressed := deflating[0].Writes()[0]
			if !isDeflated(compressed) || len(compressed) >= len(frame)/4 {
				t.Fatalf("a connection with compression received %d bytes (RSV1 %v) for a %d-byte frame", len(compressed), isDeflated(compressed), len(frame))
			}
			for _, conn := range deflating[1:] {
				if conn.source(0) != deflating[0].source(0) {
					t.Fatalf("the connections with compression were written different compressed frames: it was compressed more than once")
				}
			}
			after := hub.Counters()
			if sent, bytesSent := after.MessagesSent-before.MessagesSent, after.BytesSent-before.BytesSent; sent != 5 || bytesSent != uint64(2*len(frame)+3*len(compressed)) {
				t.Fatalf("counted %d messages of %d bytes, want 5 of %d", sent, bytesSent, 2*len(frame)+3*len(compressed))
			}
		})
	}
}

func TestSmallFramesGoUncompressed(t *testing.T) {
	hub := newTestHub(t, Config{CompressionMinSize: 600})
	conn := &deflatingConn{}
	s := mustOpen(t, hub, conn, "")
	small, large := compressibleFrame(500), compressibleFrame(700)
	// One at a time: frames queued together go out in one write.
	s.Send(small)
	waitUntil(t, "the small frame", func() bool { return len(conn.Writes()) == 1 })
	s.Send(large)
	waitUntil(t, "the large frame", func() bool { return len(conn.Writes()) == 2 })
	if got := conn.Writes()[0]; !bytes.Equal(got, small) {
		t.Fatalf("a frame under CompressionMinSize went out as %d bytes, want the %d-byte plain frame", len(got), len(small))
	}
	if got := conn.Writes()[1]; !isDeflated(got) {
		t.Fatalf("a frame over CompressionMinSize went out uncompressed (%d bytes)", len(got))
	}
}
