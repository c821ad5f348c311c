package engine

import (
	"sync"
	"time"
	"unsafe"

	"github.com/lesismal/nbio"
	"github.com/wsgate/wsgate/timerwheel"
)

// handshakeTracker closes sockets that do not complete an HTTP request (usually the
// WebSocket upgrade) within the handshake timeout: connections that never send a
// request, or send half of one (slowloris).
//
// nbhttp arms a runtime timer (its KeepaliveTime read deadline, about 185 bytes) on
// every accepted socket. Tens of thousands of idle sockets would each hold one, so the
// tracker clears that deadline one wheel tick after accept and keeps the socket's
// deadline on the shared timer wheel instead: a pending handshake then costs one
// pendingHandshake (about 100 bytes with its map entry) and no runtime timer.
type handshakeTracker struct {
	mutex   sync.Mutex
	pending map[*nbio.Conn]*pendingHandshake
	wheel   *timerwheel.Wheel
	// now is the wheel's clock: time.Now, like the hub's wheel (a test that drives a
	// wheel of its own sets both), so the time since accept is measured on the
	// clock that fires the timers.
	now     func() time.Time
	timeout time.Duration
	// onTimeout is called, outside the mutex, for every socket cut by the timeout.
	onTimeout func()
}

type pendingHandshake struct {
	timer   timerwheel.Timer
	conn    *nbio.Conn
	tracker *handshakeTracker
	// acceptedAt and runtimeDeadlineCleared are only used on the wheel goroutine.
	acceptedAt             time.Time
	runtimeDeadlineCleared bool
}

func newHandshakeTracker(wheel *timerwheel.Wheel, timeout time.Duration, onTimeout func()) *handshakeTracker {
	return &handshakeTracker{
		pending:   make(map[*nbio.Conn]*pendingHandshake),
		wheel:     wheel,
		now:       time.Now,
		timeout:   timeout,
		onTimeout: onTimeout,
	}
}

// opened starts the clock for a newly accepted socket.
func (t *handshakeTracker) opened(conn *nbio.Conn) {
	entry := &pendingHandshake{conn: conn, tracker: t, acceptedAt: t.now()}
	entry.timer.Init(handshakeTimerKind)
	t.mutex.Lock()
	t.pending[conn] = entry
	t.mutex.Unlock()
	// The first firing only clears nbhttp's runtime timer. It must come after nbhttp
	// armed it, which happens right after the open callback: one full tick later is
	// always after, since the wheel never fires early.
	t.wheel.Schedule(&entry.timer, min(t.wheel.Tick(), t.timeout))
}

// completed stops the clock: the socket sent a whole request in time.
func (t *handshakeTracker) completed(conn *nbio.Conn) {
	t.forget(conn)
}

// forget drops the socket's entry, if any; called on request and on close.
func (t *handshakeTracker) forget(conn *nbio.Conn) {
	t.mutex.Lock()
	entry := t.pending[conn]
	delete(t.pending, conn)
	t.mutex.Unlock()
	if entry != nil {
		t.wheel.Cancel(&entry.timer)
	}
}

// pendingCount returns the number of sockets waiting for their first request.
func (t *handshakeTracker) pendingCount() int {
	t.mutex.Lock()
	defer t.mutex.Unlock()
	return len(t.pending)
}

// handshakeTimerKind is the Kind of the handshake timers; it runs on the wheel
// goroutine. The entry lies its timer field's offset before the timer.
var handshakeTimerKind = timerwheel.NewOwnerKind(unsafe.Offsetof(pendingHandshake{}.timer), (*pendingHandshake).expire)

// expire cuts the socket if its handshake timeout has passed; the first call only
// clears nbhttp's runtime deadline and re-arms the timer for the rest of the timeout.
func (entry *pendingHandshake) expire(now time.Time) {
	t := entry.tracker
	t.mutex.Lock()
	if t.pending[entry.conn] != entry {
		t.mutex.Unlock()
		return
	}
	remaining := t.timeout - now.Sub(entry.acceptedAt)
	if !entry.runtimeDeadlineCleared && remaining > 0 {
		// Under the mutex, so a request that completes concurrently cannot have its
		// keep-alive deadline (armed by nbhttp after the response) cleared here.
		_ = entry.conn.SetReadDeadline(time.Time{})
		entry.runtimeDeadlineCleared = true
		t.mutex.Unlock()
		t.wheel.Schedule(&entry.timer, remaining)
		return
	}
	delete(t.pending, entry.conn)
	t.mutex.Unlock()
	t.onTimeout()
	_ = entry.conn.Close()
}
