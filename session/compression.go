package session

import (
	"sync"

	"github.com/wsgate/wsgate/protocol"
)

// Compression (permessage-deflate) on the write path. A connection that negotiated it
// says so through DeflateConn; the hub keeps no compression state per connection. A
// fan-out (Broadcast, SendToSessions, SendToUser) compresses its frame at most once,
// the first time it meets such a connection, and queues that same compressed frame
// to every connection that negotiated compression and the plain frame to the others:
// at most two encodings per message, whatever the number of connections. A single
// Send compresses its frame for the one connection. Frames whose payload is under
// Config.CompressionMinSize are never compressed, nor are frames that compression
// would not make smaller.

// DeflateConn is implemented by a Conn whose client negotiated permessage-deflate
// without context takeover: AcceptsDeflate reports it, and must not change once the
// connection is opened (Transport.Open). Such a Conn is written compressed frames
// (see protocol.DeflatedFrame) of messages at least Config.CompressionMinSize long;
// a Conn that does not implement it, or answers false, only plain ones. It must be
// safe for concurrent use and cheap: a fan-out asks once per connection.
type DeflateConn interface {
	Conn
	AcceptsDeflate() bool
}

// acceptsDeflate reports whether conn negotiated permessage-deflate.
func acceptsDeflate(conn Conn) bool {
	deflating, ok := conn.(DeflateConn)
	return ok && deflating.AcceptsDeflate()
}

// compressible reports whether frame's payload is long enough to be compressed.
func (h *Hub) compressible(frame []byte) bool {
	return len(protocol.FramePayload(frame)) >= h.config.CompressionMinSize
}

// frameFor returns what a single send queues to s: frame, or its compressed form when
// s negotiated compression and compressing pays.
func (h *Hub) frameFor(s *Session, frame []byte) []byte {
	if !h.compressible(frame) || !acceptsDeflate(s.conn) {
		return frame
	}
	if deflated := protocol.DeflatedFrame(frame); deflated != nil {
		return deflated
	}
	return frame
}

// fanoutFrames is one fan-out's frame and its compressed form, made at most once, by
// the first worker that needs it (the others wait for it). Safe for concurrent use.
type fanoutFrames struct {
	// plain is the frame, copied into the hub's fan-out log unless it is too large
	// for it; inLog says which.
	plain []byte
	inLog bool
	// eligible is set when plain is long enough to be compressed.
	eligible bool
	once     sync.Once
	// deflated is plain compressed, or nil when compression does not make it smaller;
	// written once under once.
	deflated []byte
}

func (h *Hub) newFanoutFrames(frame []byte) *fanoutFrames {
	plain, inLog := h.fanoutLog.place(frame)
	return &fanoutFrames{plain: plain, inLog: inLog, eligible: h.compressible(frame)}
}

// frameFor returns the frame to queue to s, whether it is the compressed one, and
// whether it lies in the fan-out log (the plain frame may; the compressed one never
// does).
func (f *fanoutFrames) frameFor(s *Session) (frame []byte, compressed, inLog bool) {
	if !f.eligible || !acceptsDeflate(s.conn) {
		return f.plain, false, f.inLog
	}
	f.once.Do(func() { f.deflated = protocol.DeflatedFrame(f.plain) })
	if f.deflated == nil {
		return f.plain, false, f.inLog
	}
	return f.deflated, true, false
}

// countSent counts a fan-out's deliveries: plain ones at the plain frame's size,
// compressed ones at the compressed frame's.
func (f *fanoutFrames) countSent(h *Hub, plain, compressed int64) {
	h.countSent(plain, len(f.plain))
	if compressed > 0 {
		h.countSent(compressed, len(f.deflated))
	}
}
