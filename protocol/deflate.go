package protocol

import (
	"bytes"
	"compress/flate"
	"runtime"
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

// deflater is a compressor with its output buffer. A flate.Writer is about 1 MB
// whatever its level (its hash tables are arrays), so compressors are kept in a
// small free list rather than a sync.Pool, which every garbage collection empties:
// at most one per processor stays allocated, about 1 MB each per process (never
// per connection), and a busy server does not allocate a new one per message after
// each collection.
type deflater struct {
	output bytes.Buffer
	writer *flate.Writer
}

// deflaters holds the idle compressors; more than its capacity in use at once are
// made and then dropped.
var deflaters = make(chan *deflater, runtime.GOMAXPROCS(0))

// getDeflater returns an idle compressor, or a new one.
func getDeflater() *deflater {
	select {
	case state := <-deflaters:
		return state
	default:
	}
	state := new(deflater)
	// The level is a valid constant, so NewWriter cannot fail.
	state.writer, _ = flate.NewWriter(&state.output, DeflateLevel)
	return state
}

// putDeflater keeps state for reuse, unless enough are kept already.
func putDeflater(state *deflater) {
	select {
	case deflaters <- state:
	default:
	}
}

// DeflatedFrame returns frame (a final, unmasked frame built by this package, such
// as TextFrame's) with its payload compressed and RSV1 set, or nil when compression
// would not make the frame smaller (the plain frame is then the better choice for
// every connection). The result is a new slice, which may be written to any number
// of connections that negotiated permessage-deflate; frame is only read. Safe for
// concurrent use; the compressor comes from a free list shared by every caller.
func DeflatedFrame(frame []byte) []byte {
	payload := FramePayload(frame)
	state := getDeflater()
	defer putDeflater(state)
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
