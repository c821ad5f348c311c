package session

import (
	"sync"
	"time"
)

// A drain empties a node gradually before it goes away, so that its clients move
// to other nodes in a stream instead of a storm: new connections are refused with
// ReasonShutdown (1001, which clients follow by reconnecting after a random short
// delay, through the load balancer to another node), and the open ones are closed
// with ReasonShutdown in batches, one every drainTick, sized so that the last
// batch falls at the end of the drain's duration. Batches are closed by the drain's
// own goroutine through Session.Close, which only queues the close frame for the
// flush workers: neither the event loop nor the timer wheel does the drain's work.

// drainTick is the time between two batches of a drain: 10 batches a second, so a
// drain of 30 s over 30,000 connections closes 100 at a time.
const drainTick = 100 * time.Millisecond

// DrainStatus is what a drain has done so far; the zero value means the hub is not
// draining.
type DrainStatus struct {
	// Draining is true from Drain on, also once every connection is closed.
	Draining bool
	// StartedAt is when the drain started.
	StartedAt time.Time
	// Duration is the time over which the drain spreads its batches.
	Duration time.Duration
	// Connections is the number of connections open when the drain started.
	Connections int
	// Closed counts the connections the drain's batches closed (clients that left
	// by themselves meanwhile are not counted).
	Closed int
	// Done is true once the last batch ran or no connection was left.
	Done bool
}

// drain is the state of the hub's drain; mutex guards status and stop, never held
// while sessions are closed.
type drain struct {
	mutex  sync.Mutex
	status DrainStatus
	// stop ends the drain's goroutine early (Shutdown); done is closed when it ended.
	stop chan struct{}
	done chan struct{}
}

// Drain starts draining the hub over duration (0: Config.DrainDuration; negative:
// every connection at once, in a single batch): from now on new connections are
// refused with ReasonShutdown, and the open ones are closed with ReasonShutdown in
// batches every 100 ms, the last one at the end of duration, each batch the
// connections still open divided by the batches left (rounded down). It returns false, doing
// nothing, when the hub already drains or shuts down. Safe for concurrent use.
func (h *Hub) Drain(duration time.Duration) bool {
	if duration == 0 {
		duration = h.config.DrainDuration
	}
	duration = max(duration, 0)
	d := &h.drain
	d.mutex.Lock()
	if h.shuttingDown.Load() || !h.draining.CompareAndSwap(false, true) {
		d.mutex.Unlock()
		return false
	}
	started := time.Now()
	d.status = DrainStatus{Draining: true, StartedAt: started, Duration: duration, Connections: h.ConnectionCount()}
	d.stop, d.done = make(chan struct{}), make(chan struct{})
	go h.drainLoop(started, duration, d.stop, d.done)
	connections := d.status.Connections
	d.mutex.Unlock()
	h.logger.Info("draining", "connections", connections, "duration", duration.String())
	return true
}

// Draining reports whether the hub refuses new connections because Drain was
// called or Shutdown began: what readiness checks ask. Safe for concurrent use.
func (h *Hub) Draining() bool { return h.draining.Load() || h.shuttingDown.Load() }

// DrainStatus returns a snapshot of the drain's progress; the zero DrainStatus when
// the hub is not draining. Safe for concurrent use.
func (h *Hub) DrainStatus() DrainStatus {
	h.drain.mutex.Lock()
	defer h.drain.mutex.Unlock()
	return h.drain.status
}

// WaitDrained waits until the drain's last batch ran (or no connection was left),
// at most timeout, and reports whether it did; false at once when the hub is not
// draining. Connections closed by the last batch may still be finishing their
// close handshake (Shutdown waits for those).
func (h *Hub) WaitDrained(timeout time.Duration) bool {
	h.drain.mutex.Lock()
	done := h.drain.done
	h.drain.mutex.Unlock()
	if done == nil {
		return false
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

// stopDrain ends a running drain's goroutine and waits for it; Shutdown calls it,
// then closes what is left at once.
func (h *Hub) stopDrain() {
	d := &h.drain
	d.mutex.Lock()
	stop, done := d.stop, d.done
	d.stop = nil
	d.mutex.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-done
}

// drainLoop closes the hub's connections in batches: batch number k (1 to ticks) at
// started + k x duration/ticks, on absolute deadlines so that slow batches do not
// push the end of the drain back. It ends after the last batch, when no connection
// is left, or when stop is closed.
func (h *Hub) drainLoop(started time.Time, duration time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ticks := max(int((duration+drainTick-1)/drainTick), 1)
	period := duration / time.Duration(ticks)
	timer := time.NewTimer(period)
	defer timer.Stop()
	var batch []*Session
	for tick := 1; tick <= ticks; tick++ {
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		open := h.ConnectionCount()
		// Rounded down, so that with fewer connections than batches the closes
		// still reach the end of the duration; the last batch takes the rest.
		if count := open / (ticks - tick + 1); count > 0 {
			batch = h.closeSome(count, batch[:0])
			h.drain.mutex.Lock()
			h.drain.status.Closed += len(batch)
			h.drain.mutex.Unlock()
			clear(batch)
		}
		if open == 0 || tick == ticks {
			break
		}
		timer.Reset(time.Until(started.Add(time.Duration(tick+1) * period)))
	}
	h.drain.mutex.Lock()
	h.drain.status.Done = true
	h.drain.mutex.Unlock()
	h.logger.Info("drained", "took", time.Since(started).Round(time.Millisecond).String())
}

// closeSome closes up to count open sessions with ReasonShutdown, taking them shard
// after shard, and returns them appended to batch. Each shard's members are copied
// under its read lock and closed outside it.
func (h *Hub) closeSome(count int, batch []*Session) []*Session {
	for _, sh := range h.shards {
		if len(batch) >= count {
			break
		}
		sh.mutex.RLock()
		taken := min(count-len(batch), len(sh.members))
		batch = append(batch, sh.members[:taken]...)
		sh.mutex.RUnlock()
	}
	for _, s := range batch {
		s.Close(ReasonShutdown)
	}
	return batch
}
