package session

import (
	"sync"
	"time"
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

// maxBatchBytes bounds one coalesced write; a larger backlog goes out in several
// writes. 64 KiB is what one loopback or LAN send comfortably takes.
const maxBatchBytes = 64 << 10

// framesPool recycles the overflow slices of queues holding more than one frame.
var framesPool = sync.Pool{New: func() any { return new([][]byte) }}

// outbound is a session's queue; guarded by the session's queueMutex. The first
// queued frame is kept inline, so the common case of one frame per flush (a broadcast
// reaching an idle connection) allocates nothing per connection; more frames go to a
// pooled slice. An idle session holds 48 bytes of queue and no allocation.
type outbound struct {
	queueMutex sync.Mutex
	first      []byte
	rest       *[][]byte
	// queuedBytes is the size of frames; unsent (in Session) counts bytes handed to the
	// transport but not yet on the socket.
	queuedBytes int32 // at most MaxPendingBytes (below 1 GiB) plus one close frame
	// scheduled is true while the session sits in its flusher's dirty list.
	scheduled bool
}

// enqueue appends frame to s's queue. With force (close frames) the session's state
// and the pending bound are not checked. It reports whether the frame was queued and
// whether s must be handed to its flusher (it was not scheduled yet); over the bound
// it reports overflow instead, and the caller closes s as a slow consumer.
func (s *Session) enqueue(frame []byte, force bool) (queued, schedule, overflow bool) {
	s.out.queueMutex.Lock()
	defer s.out.queueMutex.Unlock()
	if !force {
		if !s.IsOpen() {
			return false, false, false
		}
		if pending := int(s.out.queuedBytes) + int(s.unsent.Load()) + len(frame); pending > s.hub.config.MaxPendingBytes {
			return false, false, true
		}
	}
	switch {
	case s.out.first == nil:
		s.out.first = frame
	case s.out.rest == nil:
		s.out.rest = framesPool.Get().(*[][]byte)
		fallthrough
	default:
		*s.out.rest = append(*s.out.rest, frame)
	}
	s.out.queuedBytes += int32(len(frame))
	if s.out.scheduled {
		return true, false, false
	}
	s.out.scheduled = true
	return true, true, false
}

// PendingBytes returns the bytes queued for this connection that the socket has not
// taken yet: the session's queue plus what the transport buffered.
func (s *Session) PendingBytes() int {
	s.out.queueMutex.Lock()
	defer s.out.queueMutex.Unlock()
	return int(s.out.queuedBytes) + int(max(s.unsent.Load(), 0))
}

// flusher writes the queues of the sessions of its shards.
type flusher struct {
	hub     *Hub
	mutex   sync.Mutex
	dirty   []*Session
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	scratch []byte
}

func newFlusher(hub *Hub) *flusher {
	return &flusher{hub: hub, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// add hands sessions whose queues became non-empty to the flusher.
func (f *flusher) add(sessions ...*Session) {
	if len(sessions) == 0 {
		return
	}
	f.mutex.Lock()
	wasIdle := len(f.dirty) == 0
	f.dirty = append(f.dirty, sessions...)
	f.mutex.Unlock()
	if wasIdle {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

// run is the flusher's goroutine: it waits for dirty sessions, optionally lingers for
// the write delay so that more frames join the same write, and flushes them.
func (f *flusher) run() {
	defer close(f.done)
	var batch []*Session
	for {
		select {
		case <-f.stop:
			return
		case <-f.wake:
		}
		if delay := f.hub.config.WriteDelay; delay > 0 {
			time.Sleep(delay)
		}
		f.mutex.Lock()
		batch, f.dirty = f.dirty, batch[:0]
		f.mutex.Unlock()
		for index, s := range batch {
			f.flush(s)
			batch[index] = nil
		}
	}
}

// flush writes everything queued for s, coalesced into writes of up to maxBatchBytes.
func (f *flusher) flush(s *Session) {
	s.out.queueMutex.Lock()
	first, rest := s.out.first, s.out.rest
	s.out.first, s.out.rest = nil, nil
	s.out.queuedBytes = 0
	s.out.scheduled = false
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
	s.unsent.Add(int64(len(bytes)))
	if written, err := s.conn.Write(bytes); err != nil {
		// The transport closed the socket; Transport.Closed follows. Nothing it kept is unsent.
		s.unsent.Add(-int64(len(bytes) - max(written, 0)))
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
