package session

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// snapshotPool recycles the per-shard snapshot and dirty-session slices of a fan-out,
// so a broadcast to 1M connections allocates O(1) after warm-up instead of 16 MB of
// pointers.
var snapshotPool = sync.Pool{New: func() any { return new([]*Session) }}

// Broadcast queues frame (see protocol.TextFrame) to every open connection except those in
// exclude and returns how many it was queued for. The frame is encoded once by the
// caller and shared by every queue (connections that negotiated compression share
// its compressed form instead: compression.go). Shards are processed in parallel by up to
// GOMAXPROCS goroutines (the caller is one of them); each shard is copied under its
// read lock and queued to outside it, so no lock is held while queuing and connects
// are delayed by at most one slice copy. The flush workers write the queues. Safe for
// concurrent use.
func (h *Hub) Broadcast(frame []byte, exclude ...ConnectionID) int {
	started := time.Now()
	var excluded map[ConnectionID]struct{}
	if len(exclude) > 8 {
		excluded = make(map[ConnectionID]struct{}, len(exclude))
		for _, id := range exclude {
			excluded[id] = struct{}{}
		}
	}
	isExcluded := func(id ConnectionID) bool {
		if excluded != nil {
			_, found := excluded[id]
			return found
		}
		for _, candidate := range exclude {
			if candidate == id {
				return true
			}
		}
		return false
	}

	frames := h.newFanoutFrames(frame)
	var next, delivered, deflated atomic.Int64
	work := func() {
		snapshot := snapshotPool.Get().(*[]*Session)
		dirty := snapshotPool.Get().(*[]*Session)
		for {
			index := int(next.Add(1) - 1)
			if index >= len(h.shards) {
				break
			}
			sh := h.shards[index]
			sh.mutex.RLock()
			*snapshot = append((*snapshot)[:0], sh.members...)
			sh.mutex.RUnlock()
			count, compressedCount := int64(0), int64(0)
			*dirty = (*dirty)[:0]
			for position, s := range *snapshot {
				if position%touchAhead == 0 {
					touch((*snapshot)[position:min(position+touchAhead, len(*snapshot))])
				}
				if len(exclude) > 0 && isExcluded(s.id) {
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
					*dirty = append(*dirty, s)
				}
				if overflow {
					s.Close(ReasonSlowConsumer)
				}
			}
			// One hand-over per shard instead of one per connection.
			sh.flusher.addFanout(*dirty...)
			delivered.Add(count)
			deflated.Add(compressedCount)
		}
		clear(*snapshot)
		clear(*dirty)
		snapshotPool.Put(snapshot)
		snapshotPool.Put(dirty)
	}

	runInParallel(len(h.shards), work)

	total := delivered.Load() + deflated.Load()
	h.counters.broadcasts.Add(1)
	frames.countSent(h, delivered.Load(), deflated.Load())
	h.config.Observer.BroadcastDone(int(total), time.Since(started))
	return int(total)
}

// SendToUser queues frame to every open connection of userID and returns how many;
// like Broadcast, it compresses the frame at most once for all of them.
func (h *Hub) SendToUser(userID string, frame []byte) int {
	frames := h.newFanoutFrames(frame)
	plain, deflated := int64(0), int64(0)
	for _, s := range h.UserSessions(userID) {
		chosen, compressed, _ := frames.frameFor(s)
		switch {
		case !s.queue(chosen):
		case compressed:
			deflated++
		default:
			plain++
		}
	}
	frames.countSent(h, plain, deflated)
	return int(plain + deflated)
}

// SendToConnection queues frame to the connection with id; it reports false when
// there is no such open connection.
func (h *Hub) SendToConnection(id ConnectionID, frame []byte) bool {
	s := h.Lookup(id)
	return s != nil && s.Send(frame)
}

func (h *Hub) countSent(messages int64, frameSize int) {
	h.counters.messagesSent.Add(uint64(messages))
	h.counters.bytesSent.Add(uint64(messages) * uint64(frameSize))
}

// runInParallel runs work on the calling goroutine and on up to GOMAXPROCS-1 more,
// never more goroutines than parts (the units work takes one at a time), and
// returns when every call has returned. A fan-out uses every core for its copies
// and queueing and then hands the writes to the flush workers.
func runInParallel(parts int, work func()) {
	helpers := min(runtime.GOMAXPROCS(0), parts) - 1
	var group sync.WaitGroup
	for range helpers {
		group.Go(work)
	}
	work()
	group.Wait()
}
