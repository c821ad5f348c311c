package session

import (
	"sync"
	"unsafe"
)

// The fan-out log: every fan-out frame (a broadcast's, a channel publication's) is
// copied once into the hub's current log chunk, right after the previous fan-out's
// frame, and sessions queue that copy. A session that receives fan-out after fan-out
// with nothing in between therefore queues frames that lie back to back in one chunk,
// and its queue extends its last run of bytes instead of adding an entry (writer.go):
// at 20 broadcasts per second to 15,000 connections a queue stays one slice of the
// chunk between two flushes, where it was a pooled slice of frames, so queueing a
// frame touches only the session's first cache line, and the flush writes the run as
// it lies without copying it into a batch. Chunks are never written behind a frame
// once placed and are freed by the garbage collector when no queue refers to them
// any more (queues are emptied at every flush, within Config.MaxFanoutDelay).

// fanoutChunkSize is the bytes of frames one log chunk holds (a 64 KiB allocation
// with its spare byte). Frames larger than a quarter of it
// are not copied (they are queued as they are, as before the log): copying them buys
// nothing, since their write costs more than their queueing.
const fanoutChunkSize = 64<<10 - 1

// fanoutLog is the hub's current log chunk. Safe for concurrent use.
type fanoutLog struct {
	mutex sync.Mutex
	// chunk's length is the end of the last frame placed; its capacity is one byte
	// more than fanoutChunkSize, a byte never used, so that no frame ends where
	// another allocation starts (see adjoins).
	chunk []byte
}

// place copies frame into the current chunk (a new one when it is full) and returns
// the copy, and true; a frame too large for the log is returned as it is, with false.
func (log *fanoutLog) place(frame []byte) ([]byte, bool) {
	if len(frame) == 0 || len(frame) > fanoutChunkSize/4 {
		return frame, false
	}
	log.mutex.Lock()
	defer log.mutex.Unlock()
	// A new chunk when there is none yet or the frame does not fit: append then never
	// moves a chunk, so every frame of a chunk stays in the one allocation.
	if log.chunk == nil || len(log.chunk)+len(frame) > fanoutChunkSize {
		log.chunk = make([]byte, 0, fanoutChunkSize+1)
	}
	start := len(log.chunk)
	log.chunk = append(log.chunk, frame...)
	return log.chunk[start:len(log.chunk):len(log.chunk)], true
}

// adjoins reports whether next starts where the run of length bytes at data ends.
// Both must lie in log chunks: then the spare byte at the end of every chunk
// guarantees that the two are in the same chunk, so that the run extended over next
// stays inside one allocation.
func adjoins(data *byte, length int32, next []byte) bool {
	return unsafe.Add(unsafe.Pointer(data), length) == unsafe.Pointer(unsafe.SliceData(next))
}
