package session

import (
	"sync"
	"sync/atomic"
)

// multicastChunk is how many sessions one worker of SendToSessions takes at a time:
// about what one shard holds at 15,000 connections and 64 shards, so the hand-overs
// to the flush workers are as coarse as Broadcast's.
const multicastChunk = 256

// multicastBatches holds one worker's dirty sessions per flush worker (indexed like
// Hub.flushers) between hand-overs.
type multicastBatches struct {
	dirty [][]*Session
}

// multicastPool recycles the batches, so a fan-out allocates O(1) after warm-up.
var multicastPool = sync.Pool{New: func() any { return new(multicastBatches) }}

// SendToSessions queues frame (see protocol.TextFrame) to every session of sessions that is
// still open, except exclude (nil for none), and returns how many it was queued for:
// the fan-out of a channel publication, sessions being the snapshot of the channel's
// subscribers. As in Broadcast, the frame is encoded once by the caller and shared by
// every queue (and compressed at most once, for the sessions that negotiated it); the list is taken in chunks by up to GOMAXPROCS goroutines (the caller
// is one; a list of one chunk is done by the caller alone); the sessions whose queue
// became non-empty are handed to their flush workers once per chunk and worker, not
// one by one; a session whose pending bytes would pass Config.MaxPendingBytes is
// closed as a slow consumer (4001); and the sent counters count the frames. A session
// listed twice is sent the frame twice. sessions is only read, and not kept after
// the call, so the caller may reuse a pooled slice. Safe for concurrent use.
func (h *Hub) SendToSessions(frame []byte, sessions []*Session, exclude *Session) int {
	frames := h.newFanoutFrames(frame)
	var next, delivered, deflated atomic.Int64
	work := func() {
		batches := multicastPool.Get().(*multicastBatches)
		if len(batches.dirty) != len(h.flushers) {
			batches.dirty = make([][]*Session, len(h.flushers))
		}
		count, compressedCount := int64(0), int64(0)
		// hint is the position in h.flushers of the last session's flusher: the
		// search for the next one starts there.
		hint := 0
		for {
			start := int(next.Add(multicastChunk)) - multicastChunk
			if start >= len(sessions) {
				break
			}
			part := sessions[start:min(start+multicastChunk, len(sessions))]
			for position, s := range part {
				if position%touchAhead == 0 {
					touch(part[position:min(position+touchAhead, len(part))])
				}
				if s == exclude {
					continue
				}
				chosen, compressed, inLog := frames.frameFor(s)
				queued, schedule, overflow := s.enqueue(chosen, false, true, inLog)
				if queued && compressed {
					compressedCount++
				} else if queued {
					count++
				}
				if schedule == scheduledFanout {
					if position := h.flusherPosition(s.shard.flusher, hint); position >= 0 {
						hint = position
						batches.dirty[position] = append(batches.dirty[position], s)
					} else {
						s.shard.flusher.addFanout(s)
					}
				}
				if overflow {
					s.Close(ReasonSlowConsumer)
				}
			}
			for position, dirty := range batches.dirty {
				h.flushers[position].addFanout(dirty...)
				clear(dirty)
				batches.dirty[position] = dirty[:0]
			}
		}
		delivered.Add(count)
		deflated.Add(compressedCount)
		multicastPool.Put(batches)
	}

	runInParallel((len(sessions)+multicastChunk-1)/multicastChunk, work)

	frames.countSent(h, delivered.Load(), deflated.Load())
	return int(delivered.Load() + deflated.Load())
}

// flusherPosition returns the position of target in h.flushers, looking at hint
// first, or -1 when target is not one of them (the session belongs to another hub).
// The flushers are few (GOMAXPROCS by default), so a scan costs less than a map
// lookup.
func (h *Hub) flusherPosition(target *flusher, hint int) int {
	if h.flushers[hint] == target {
		return hint
	}
	for position, candidate := range h.flushers {
		if candidate == target {
			return position
		}
	}
	return -1
}
