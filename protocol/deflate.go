package protocol

import (
	"bytes"
	"compress/flate"
	"sync"
)

// Compressed frames for connections that negotiated permessage-deflate (RFC 7692)
// without context takeover: each message is compressed on its own, so one compressed
// frame can be written unchanged to every such connection, like a plain one.

// DeflateLevel is the compression level of DeflatedFrame: Go's fastest, which
// compresses JSON to about a third at a few microseconds per kilobyte. A message
// fanned out is compressed once, so the level hardly matters there; a single send is
// compressed per message, where speed does.
const DeflateLevel = flate.BestSpeed

// deflateRSV1 is the RSV1 bit of a frame's first byte: "this message is compressed".
const deflateRSV1 = 0x40

// deflater is a pooled compressor with its output buffer. A flate.Writer at
// BestSpeed holds about 1 MB less than one at the default level, and none is kept
// per connection.
type deflater struct {
	output bytes.Buffer
	writer *flate.Writer
}

var deflaters = sync.Pool{New: func() any {
	state := new(deflater)
	// The level is a valid constant, so NewWriter cannot fail.
	state.writer, _ = flate.NewWriter(&state.output, DeflateLevel)
	return state
}}

// DeflatedFrame returns frame (a final, unmasked frame built by this package, such
// as TextFrame's) with its payload compressed and RSV1 set, or nil when compression
// would not make the frame smaller (the plain frame is then the better choice for
// every connection). The result is a new slice, which may be written to any number
// of connections that negotiated permessage-deflate; frame is only read. Safe for
// concurrent use; the compressor comes from a pool shared by every caller.
func DeflatedFrame(frame []byte) []byte {
	payload := FramePayload(frame)
	state := deflaters.Get().(*deflater)
	defer deflaters.Put(state)
	state.output.Reset()
	state.writer.Reset(&state.output)
	// Writes to a bytes.Buffer do not fail, so neither do these.
	_, _ = state.writer.Write(payload)
	_ = state.writer.Flush()
	// Flush ends with an empty stored block, 00 00 ff ff, which the sender removes
	// (§7.2.1) and the receiver adds back.
	compressed := bytes.TrimSuffix(state.output.Bytes(), []byte{0x00, 0x00, 0xff, 0xff})
	size := frameHeaderSize(len(compressed)) + len(compressed)
	if size >= len(frame) {
		return nil
	}
	deflated := make([]byte, 0, size)
	deflated = appendFrameHeader(deflated, frame[0]&0x0F, len(compressed))
	deflated[0] |= deflateRSV1
	return append(deflated, compressed...)
}

// IsDeflated reports whether frame, a frame built by this package, carries a
// compressed message (RSV1 set).
func IsDeflated(frame []byte) bool { return len(frame) > 0 && frame[0]&deflateRSV1 != 0 }
