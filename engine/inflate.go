package engine

import (
	"compress/flate"
	"errors"
	"io"
	"sync"
)

// Inflating client messages compressed with permessage-deflate (RFC 7692 §7.2.2).
// The client compresses without context takeover (the server's answer asks for it),
// so every message inflates on its own: the decompressor (about 40 KB) comes from a
// pool shared by every connection for the length of one message, never kept per
// connection.

// deflateTail ends every compressed message: the empty stored block the sender
// removed (§7.2.1), then a final empty stored block, so the decompressor reports
// io.EOF at the message's end instead of waiting for more.
const deflateTail = "\x00\x00\xff\xff\x01\x00\x00\xff\xff"

// errBadCompression fails a connection whose compressed message does not inflate.
var errBadCompression = &frameError{closeInvalidData, "invalid compressed data"}

// compressedSource feeds a message and then deflateTail to the decompressor. It is an
// io.ByteReader, so flate reads it directly instead of through a bufio.Reader of its
// own.
type compressedSource struct {
	message []byte
	tail    string
}

func (s *compressedSource) Read(buffer []byte) (int, error) {
	if len(s.message) > 0 {
		count := copy(buffer, s.message)
		s.message = s.message[count:]
		return count, nil
	}
	if len(s.tail) == 0 {
		return 0, io.EOF
	}
	count := copy(buffer, s.tail)
	s.tail = s.tail[count:]
	return count, nil
}

func (s *compressedSource) ReadByte() (byte, error) {
	if len(s.message) > 0 {
		next := s.message[0]
		s.message = s.message[1:]
		return next, nil
	}
	if len(s.tail) == 0 {
		return 0, io.EOF
	}
	next := s.tail[0]
	s.tail = s.tail[1:]
	return next, nil
}

// inflater is a pooled decompressor with its source.
type inflater struct {
	source       compressedSource
	decompressor io.ReadCloser
}

var inflaters = sync.Pool{New: func() any {
	state := new(inflater)
	state.decompressor = flate.NewReader(&state.source)
	return state
}}

// inflate returns the message compressed in compressed, or errMessageTooBig as soon
// as it would exceed limit bytes (a small message that inflates to gigabytes costs at
// most limit bytes of memory), or errBadCompression. The result is a new slice;
// compressed is only read.
func inflate(compressed []byte, limit int) ([]byte, *frameError) {
	state := inflaters.Get().(*inflater)
	defer inflaters.Put(state)
	state.source = compressedSource{message: compressed, tail: deflateTail}
	if err := state.decompressor.(flate.Resetter).Reset(&state.source, nil); err != nil {
		return nil, errBadCompression
	}
	// JSON usually inflates to 3-10 times its compressed size.
	message := make([]byte, 0, min(limit, max(512, 4*len(compressed))))
	for {
		if len(message) == cap(message) {
			if cap(message) >= limit {
				return message, endOfLimit(state.decompressor)
			}
			// Doubling, but straight to the limit once the next doubling would pass
			// half of it: every buffer outgrown adds up to at most the limit.
			size := 2 * cap(message)
			if 2*size > limit {
				size = limit
			}
			grown := make([]byte, len(message), size)
			copy(grown, message)
			message = grown
		}
		count, err := state.decompressor.Read(message[len(message):cap(message)])
		message = message[:len(message)+count]
		switch {
		case errors.Is(err, io.EOF):
			return message, nil
		case err != nil:
			return nil, errBadCompression
		}
	}
}

// endOfLimit checks, once an inflated message has reached the size limit, that
// nothing follows: one more byte means the message is too big.
func endOfLimit(decompressor io.Reader) *frameError {
	var probe [1]byte
	for {
		count, err := decompressor.Read(probe[:])
		switch {
		case count > 0:
			return errMessageTooBig
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return errBadCompression
		}
	}
}
