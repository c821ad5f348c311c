package session

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// The write path. Every frame for a connection, whatever its source (broadcast, API
// send, reply, heartbeat ping, close), is appended to that session's queue, so
// per-connection order holds across sources. A fixed set of flush workers (GOMAXPROCS
// by default; shards are divided among them) writes each dirty session's queue with
// one write(2): when the server falls behind, frames pile up per connection and go out
// together, so a burst of broadcasts costs one system call per connection instead of
// one per message. Each message stays its own WebSocket frame. Nothing here blocks on
// a client: the transport never blocks, and a client that does not read is closed as
// a slow consumer once its pending bytes pass the bound.
//
// Fan-outs (Broadcast, SendToSessions) are paced: a flusher writes them in fan-out
// rounds, and after a round that kept it busy for a time d, the next fan-out round
// starts no sooner than fanoutShare times d after this one started (at most
// Config.MaxFanoutDelay). Fan-outs that arrive back to back therefore share writes:
// at 20 broadcasts per second to 15,000 connections a write carries two to four
// frames instead of one, and the write(2) calls, which are most of the cost of a
// delivery, fall in proportion. A fan-out after a quiet spell is written at once, a
// small round (a few connections) waits only a few times its own microseconds, and
// frames sent to one connection (replies, pings, closes) are never paced: they take
// whatever fan-out frames wait in the same queue along, in order.

// maxBatchBytes bounds one coalesced write; a larger backlog goes out in several
// writes. 64 KiB is what one loopback or LAN send comfortably takes.
const maxBatchBytes = 64 << 10

// fanoutShare bounds the share of a flusher's time that back-to-back fan-out rounds
// take: after a round that took d, the next starts fanoutShare x d after this one
// started, so fan-out writing keeps a flusher busy at most a quarter of the time and
// the rest of the time lets frames accumulate. 4 gives three frames or so per write
// at 20 broadcasts per second to 15,000 connections on one core, and waits less than
// the gap between two one-at-a-time broadcasts awaited by their receivers.
const fanoutShare = 4

// The outbound queue's scheduling state: not in a flusher list, in its fan-out list
// only (the next fan-out round writes it), or in its immediate list.
const (
	scheduledNone uint8 = iota
	scheduledFanout
	scheduledNow
)

// framesPool recycles the overflow slices of queues holding more than one frame.
var framesPool = sync.Pool{New: func() any { return new([][]byte) }}

// outbound is a session's queue; guarded by the session's queueMutex. The first
// queued frame is kept inline, so the common case of one frame per flush (a broadcast
// reaching an idle connection) allocates nothing per connection; more frames go to a
// pooled slice. An idle session holds 40 bytes of queue and no allocation: the first
// frame is kept as its start and length (a frame's capacity is never used), 8 bytes
// less than a slice header.
type outbound struct {
	// queuedBytes is the size of frames; unsent counts bytes handed to the transport
	// but not yet on the socket (atomic: the transport's written-bytes callback
	// lowers it without the queue mutex). Both stay under MaxPendingBytes (below
	// 1 GiB) plus one coalesced write and a close frame. unsent comes first, beside
	// the mutex, so that loading it atomically brings the mutex's cache line in
	// (touch.go).
	unsent      atomic.Int32
	queuedBytes int32
	queueMutex  sync.Mutex
	firstData   *byte
	rest        *[][]byte
	firstLength int32
	// scheduled is scheduledNone, scheduledFanout or scheduledNow: which of its
	// flusher's lists the session sits in.
	scheduled uint8
	// firstInLog is set when the first frame lies in a fan-out log chunk
	// (fanoutlog.go), so that an adjoining fan-out frame extends it.
	firstInLog bool
}

// takeFirst returns the first queued frame, or nil, and empties its place; the
// caller holds queueMutex.
func (out *outbound) takeFirst() []byte {
	if out.firstData == nil {
		return nil
	}
	first := unsafe.Slice(out.firstData, out.firstLength)
	out.firstData, out.firstLength, out.firstInLog = nil, 0, false
	return first
}

// enqueue appends frame to s's queue, as part of a fan-out when fanout is set. With
// force (close frames) the session's state and the pending bound are not checked.
// inLog says that frame lies in a fan-out log chunk: when the queue is one run of
// log bytes that frame adjoins, the run is extended over it, the same bytes in the
// same order without another entry (fanoutlog.go). It
// reports whether the frame was queued and to which of its flusher's lists s must be
// handed (scheduledNone: it is in the right one already); over the bound it reports
// overflow instead, and the caller closes s as a slow consumer. A frame sent to s
// alone moves a session that waits for a fan-out round to the immediate list (it may
// then sit in both: the second flush finds the queue empty).
func (s *Session) enqueue(frame []byte, force, fanout, inLog bool) (queued bool, schedule uint8, overflow bool) {
	s.out.queueMutex.Lock()
	defer s.out.queueMutex.Unlock()
	if !force {
		if !s.IsOpen() {
			return false, scheduledNone, false
		}
		if pending := int(s.out.queuedBytes) + int(s.out.unsent.Load()) + len(frame); pending > s.shard.hub.config.MaxPendingBytes {
			return false, scheduledNone, true
		}
	}
	switch {
	case s.out.firstData == nil:
		s.out.firstData, s.out.firstLength, s.out.firstInLog = unsafe.SliceData(frame), int32(len(frame)), inLog
	case inLog && s.out.firstInLog && s.out.rest == nil && adjoins(s.out.firstData, s.out.firstLength, frame):
		s.out.firstLength += int32(len(frame))
	case s.out.rest == nil:
		s.out.rest = framesPool.Get().(*[][]byte)
		fallthrough
	default:
		*s.out.rest = append(*s.out.rest, frame)
	}
	s.out.queuedBytes += int32(len(frame))
	switch {
	case s.out.scheduled == scheduledNow || (fanout && s.out.scheduled == scheduledFanout):
		return true, scheduledNone, false
	case fanout:
		s.out.scheduled = scheduledFanout
	default:
		s.out.scheduled = scheduledNow
	}
	return true, s.out.scheduled, false
}

// PendingBytes returns the bytes queued for this connection that the socket has not
// taken yet: the session's queue plus what the transport buffered.
func (s *Session) PendingBytes() int {
	s.out.queueMutex.Lock()
	defer s.out.queueMutex.Unlock()
	return int(s.out.queuedBytes) + int(max(s.out.unsent.Load(), 0))
}

// flusher writes the queues of the sessions of its shards.
type flusher struct {
	hub   *Hub
	mutex sync.Mutex
	// dirty are the sessions to write at once, fanouts those that wait for the next
	// fan-out round; guarded by mutex.
	dirty   []*Session
	fanouts []*Session
	wake    chan struct{}
	// fanoutTimer wakes the flusher when a waiting fan-out round is due; nextFanout
	// is when that is. Both are used by the flusher's goroutine only.
	fanoutTimer *time.Timer
	nextFanout  time.Time
	stop        chan struct{}
	done        chan struct{}
	scratch     []byte
}

func newFlusher(hub *Hub) *flusher {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	return &flusher{hub: hub, wake: make(chan struct{}, 1), fanoutTimer: timer, stop: make(chan struct{}), done: make(chan struct{})}
}

// add hands sessions whose queues became non-empty to the flusher, to be written at
// once.
func (f *flusher) add(sessions ...*Session) { f.hand(&f.dirty, sessions) }

// addFanout hands sessions whose queues became non-empty by a fan-out to the
// flusher, to be written in its next fan-out round.
func (f *flusher) addFanout(sessions ...*Session) { f.hand(&f.fanouts, sessions) }

// schedule hands s to the list of its flusher that enqueue named.
func (s *Session) schedule(list uint8) {
	switch list {
	case scheduledNow:
		s.shard.flusher.add(s)
	case scheduledFanout:
		s.shard.flusher.addFanout(s)
	}
}

// hand appends sessions to list and wakes the flusher when list was empty (when it
// was not, the flusher has been woken for it already, or has its timer set).
func (f *flusher) hand(list *[]*Session, sessions []*Session) {
	if len(sessions) == 0 {
		return
	}
	f.mutex.Lock()
	wasEmpty := len(*list) == 0
	*list = append(*list, sessions...)
	f.mutex.Unlock()
	if wasEmpty {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

// run is the flusher's goroutine: it waits for dirty sessions or a due fan-out
// round, optionally lingers for the write delay so that more frames join the same
// write, and flushes them.
func (f *flusher) run() {
	defer close(f.done)
	var batch, fanouts []*Session
	for {
		select {
		case <-f.stop:
			f.fanoutTimer.Stop()
			return
		case <-f.wake:
		case <-f.fanoutTimer.C:
		}
		if delay := f.hub.config.WriteDelay; delay > 0 {
			time.Sleep(delay)
		}
		now := time.Now()
		f.mutex.Lock()
		batch, f.dirty = f.dirty, batch[:0]
		fanoutDue := len(f.fanouts) > 0 && !now.Before(f.nextFanout)
		if fanoutDue {
			fanouts, f.fanouts = f.fanouts, fanouts[:0]
		}
		fanoutWaits := len(f.fanouts) > 0
		f.mutex.Unlock()
		if fanoutWaits {
			f.fanoutTimer.Reset(f.nextFanout.Sub(now))
		}
		f.flushAll(batch)
		if fanoutDue {
			started := time.Now()
			f.flushAll(fanouts)
			if maxDelay := f.hub.config.MaxFanoutDelay; maxDelay > 0 {
				f.nextFanout = started.Add(min(fanoutShare*time.Since(started), maxDelay))
			}
		}
	}
}

// flushAll flushes every session of batch and clears it.
func (f *flusher) flushAll(batch []*Session) {
	for index, s := range batch {
		if index%touchAhead == 0 {
			touch(batch[index:min(index+touchAhead, len(batch))])
		}
		f.flush(s)
		batch[index] = nil
	}
}

// flush writes everything queued for s, coalesced into writes of up to maxBatchBytes.
func (f *flusher) flush(s *Session) {
	s.out.queueMutex.Lock()
	first, rest := s.out.takeFirst(), s.out.rest
	s.out.rest = nil
	s.out.queuedBytes = 0
	s.out.scheduled = scheduledNone
	s.out.queueMutex.Unlock()
	if first == nil {
		return
	}
	closed := s.state.Load()&0xff == stateClosed
	if rest == nil {
		if !closed {
			s.write(first)
		}
		return
	}
	if !closed {
		f.scratch = append(f.scratch[:0], first...)
		for _, frame := range *rest {
			if len(f.scratch)+len(frame) > maxBatchBytes {
				s.write(f.scratch)
				f.scratch = f.scratch[:0]
			}
			f.scratch = append(f.scratch, frame...)
		}
		s.write(f.scratch)
	}
	clear(*rest)
	*rest = (*rest)[:0]
	framesPool.Put(rest)
}

// write hands bytes to the transport, which copies what the socket does not take, so
// the flusher may reuse its buffer at once.
func (s *Session) write(bytes []byte) {
	s.out.unsent.Add(int32(len(bytes)))
	if written, err := s.conn.Write(bytes); err != nil {
		// The transport closed the socket; Transport.Closed follows. Nothing it kept is unsent.
		s.out.unsent.Add(-int32(len(bytes) - max(written, 0)))
	}
}

// startFlushers starts one flusher per worker and assigns shards round-robin.
func (h *Hub) startFlushers() {
	h.flushers = make([]*flusher, h.config.FlushWorkers)
	for index := range h.flushers {
		h.flushers[index] = newFlusher(h)
		go h.flushers[index].run()
	}
	for index, sh := range h.shards {
		sh.flusher = h.flushers[index%len(h.flushers)]
	}
}

// stopFlushers stops the flush workers and waits for them.
func (h *Hub) stopFlushers() {
	for _, f := range h.flushers {
		close(f.stop)
		<-f.done
	}
}
