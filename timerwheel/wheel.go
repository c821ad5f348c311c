package timerwheel

import (
	"fmt"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// defaultTick is the resolution when Config.Tick is zero. 100ms is far
	// below any ping, pong or close timeout a gateway uses, and keeps the owner
	// goroutine at 10 wake-ups per second.
	defaultTick = 100 * time.Millisecond
	// defaultSlots is the bucket count when Config.Slots is zero: one rotation
	// is 409.6s at the default tick, longer than the usual connection timers,
	// so most buckets hold only timers that are due when visited. It costs
	// 64 KiB of buckets.
	defaultSlots = 4096
	// maxSlots bounds Config.Slots so that a typo cannot allocate gigabytes:
	// 1<<20 buckets are 16 MiB, more than any sensible wheel needs.
	maxSlots = 1 << 20
)

// wheelsCreated numbers the wheels of the process, so that a Timer records the
// wheel it is bound to in two bytes (Timer.wheel) instead of a pointer.
var wheelsCreated atomic.Uint32

// Config configures a Wheel. Zero values mean the documented defaults.
type Config struct {
	// Tick is the resolution of the wheel: a deadline is rounded up to a tick
	// boundary and the owner goroutine advances once per Tick, so a timer
	// fires never early and less than two Ticks (plus the owner goroutine's
	// scheduling latency) late. Zero means 100ms; negative is an error.
	Tick time.Duration
	// Slots is the number of buckets, rounded up to a power of two so that
	// the bucket of a tick is a mask instead of a division. Zero means 4096;
	// negative or more than 1<<20 is an error. Each slot costs 16 B; with
	// 1,000,000 timers and 4096 slots a bucket holds about 244 timers.
	Slots int
	// Now is the clock. Nil means time.Now, whose monotonic reading makes the
	// wheel immune to wall-clock steps. Tests inject a fake clock and call
	// Advance themselves instead of Start.
	Now func() time.Time
}

// Wheel is a hashed timing wheel. Schedule, ScheduleAt, Cancel, Pending and
// Tick are safe for concurrent use from any goroutine; Advance must be called
// by one goroutine at a time (the owner goroutine after Start, or a test). The
// Wheel must not be copied.
type Wheel struct {
	// id is what a Timer bound to the wheel records: never 0, and unique among
	// the last 65,535 wheels created, so a Timer scheduled on a second wheel is
	// refused unless 65,535 wheels were created in between.
	id   uint16
	tick time.Duration
	// mask is Slots-1; the bucket of deadline tick d is d&mask.
	mask int64
	now  func() time.Time
	// defaultClock is set when Config.Now is nil, so that Schedule can read
	// only the monotonic clock (time.Since: about 26 ns against 48 ns for
	// time.Now on the benchmark host, most of the cost of a Schedule).
	defaultClock bool
	// origin is the instant of tick 0; deadlines are ticks since origin.
	origin time.Time
	// pendingCount counts timers in statePending or stateFiring, so that
	// Pending is one atomic load for metrics.
	pendingCount atomic.Int64
	// advancing detects concurrent or reentrant Advance calls, which would
	// corrupt the firing list, and orders successive Advance calls made from
	// different goroutines.
	advancing atomic.Bool

	// mu guards everything below and the bucket links and deadlines of every
	// Timer bound to this Wheel. One mutex per wheel: Schedule and Cancel
	// hold it for a few list operations, Advance for one bucket scan per tick.
	mu      sync.Mutex
	buckets []bucket
	// cursor is the last tick Advance has processed; every pending timer has
	// a deadline after it.
	cursor int64
	// started, stopped, stopSignal and ownerDone are the lifecycle of the
	// owner goroutine, see Start and Stop.
	started    bool
	stopped    bool
	stopSignal chan struct{}
	ownerDone  chan struct{}
}

// New returns a Wheel whose tick 0 is the instant New reads from cfg.Now. It
// returns an error if cfg.Tick or cfg.Slots is negative or cfg.Slots exceeds
// 1<<20. The wheel does not advance until Start is called or the caller calls
// Advance.
func New(cfg Config) (*Wheel, error) {
	if cfg.Tick < 0 {
		return nil, fmt.Errorf("timerwheel: negative Tick %v", cfg.Tick)
	}
	if cfg.Slots < 0 || cfg.Slots > maxSlots {
		return nil, fmt.Errorf("timerwheel: Slots %d outside [0, %d]", cfg.Slots, maxSlots)
	}
	tick := cfg.Tick
	if tick == 0 {
		tick = defaultTick
	}
	slots := cfg.Slots
	if slots == 0 {
		slots = defaultSlots
	}
	slots = 1 << bits.Len(uint(slots-1))
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	id := uint16(wheelsCreated.Add(1))
	for id == 0 {
		id = uint16(wheelsCreated.Add(1))
	}
	return &Wheel{
		id:           id,
		tick:         tick,
		mask:         int64(slots - 1),
		now:          now,
		defaultClock: cfg.Now == nil,
		origin:       now(),
		buckets:      make([]bucket, slots),
	}, nil
}

// Tick returns the wheel's resolution (Config.Tick, 100ms by default). It is
// safe for concurrent use.
func (w *Wheel) Tick() time.Duration {
	return w.tick
}

// Pending returns how many timers are pending now, including timers collected
// by a running Advance whose handlers have not started. It is one atomic load,
// safe for concurrent use and meant for metrics; the value can be stale by the
// time the caller reads it.
func (w *Wheel) Pending() int {
	return int(w.pendingCount.Load())
}

// Schedule arms t to fire after delay, measured from the wheel's clock now;
// if t is already pending it is moved, in O(1), and fires only at the new
// deadline. The deadline is the absolute tick ceil((now+delay)/Tick) since the
// wheel's origin, so the timer never fires early, and the rounding happens
// once, not per rotation. A delay <= 0 fires on the next tick Advance
// processes. A periodic timer re-armed with Schedule(period) from its callback
// is measured from the clock at callback time and so accumulates the
// callback's lateness (under one Tick per period when the owner keeps up); for
// a period that never drifts, re-arm with ScheduleAt(previous deadline +
// period). Schedule is safe for concurrent use, including from handlers. It
// panics if t was not initialised with Init or is bound to another Wheel.
func (w *Wheel) Schedule(t *Timer, delay time.Duration) {
	w.arm(t, addSaturating(w.sinceOrigin(), delay))
}

// sinceOrigin reads the clock as a duration since the wheel's origin.
func (w *Wheel) sinceOrigin() time.Duration {
	if w.defaultClock {
		return time.Since(w.origin)
	}
	return w.now().Sub(w.origin)
}

// ScheduleAt is Schedule with an absolute deadline: t fires on the first tick
// at or after deadline, or on the next tick Advance processes if deadline has
// passed. It does not read the clock. It is safe for concurrent use and
// panics like Schedule.
func (w *Wheel) ScheduleAt(t *Timer, deadline time.Time) {
	w.arm(t, deadline.Sub(w.origin))
}

// arm links t into the bucket of the first tick at or after elapsed (time
// since the wheel's origin), but never into a tick Advance has processed.
func (w *Wheel) arm(t *Timer, elapsed time.Duration) {
	if t.kind == 0 {
		panic("timerwheel: Schedule of a Timer without Init")
	}
	deadline := ceilTicks(elapsed, w.tick)
	w.mu.Lock()
	if t.wheel != w.id {
		if t.wheel != 0 {
			w.mu.Unlock()
			panic("timerwheel: Timer is bound to another Wheel")
		}
		t.wheel = w.id
	}
	deadline = max(deadline, w.cursor+1)
	switch {
	case t.state.CompareAndSwap(stateFiring, statePending):
		// Collected but not claimed: Advance skips it because of the state
		// change, so it only has to be linked into its new bucket.
	case t.state.Load() == statePending:
		w.buckets[t.deadline&w.mask].remove(t)
	default:
		t.state.Store(statePending)
		w.pendingCount.Add(1)
	}
	t.deadline = deadline
	w.buckets[deadline&w.mask].append(t)
	w.mu.Unlock()
}

// Cancel disarms t and reports whether it was pending and now will not fire.
// A timer that Advance has collected but whose handler has not been claimed
// yet can still be cancelled (true). Cancel returns false if t is not pending,
// was never scheduled on this Wheel, or its handler has been claimed: a Cancel
// racing with the firing may lose, and the handler then runs, so handlers must
// check their owner's state. It is safe for concurrent use, including from
// handlers, and O(1).
func (w *Wheel) Cancel(t *Timer) bool {
	w.mu.Lock()
	if t.wheel != w.id {
		w.mu.Unlock()
		return false
	}
	cancelled := true
	switch {
	case t.state.CompareAndSwap(stateFiring, stateIdle):
		// Advance skips it when it reaches it in the firing list.
	case t.state.Load() == statePending:
		w.buckets[t.deadline&w.mask].remove(t)
		t.state.Store(stateIdle)
	default:
		cancelled = false
	}
	if cancelled {
		w.pendingCount.Add(-1)
	}
	w.mu.Unlock()
	return cancelled
}

// Advance processes every tick from the last processed one up to the tick
// containing now, fires all timers due by then and returns how many handlers
// it ran. Handlers receive now and run on the calling goroutine after the lock
// is released, in non-decreasing order of deadline tick (ties in scheduling
// order). A now at or before the last processed tick does nothing.
//
// If Advance has fallen more than one rotation (Tick*Slots) behind, it still
// visits every bucket only once and sorts what it collected by deadline tick,
// so the catch-up costs one rotation of scans plus O(k log k) for k due
// timers, not one scan per missed tick.
//
// Advance must not be called concurrently with itself or from a handler; it
// panics if it is. Start runs it every Tick on the owner goroutine; tests call
// it directly with a fake clock.
func (w *Wheel) Advance(now time.Time) int {
	if !w.advancing.CompareAndSwap(false, true) {
		panic("timerwheel: concurrent or reentrant Advance")
	}
	defer w.advancing.Store(false)
	due := w.collect(int64(now.Sub(w.origin) / w.tick))
	fired := 0
	for timer := due; timer != nil; {
		next := timer.nextFiring
		timer.nextFiring = nil
		// Losing this race to Cancel or Schedule, which take the timer back
		// from the firing list by its state alone, means skipping it.
		if timer.state.CompareAndSwap(stateFiring, stateIdle) {
			w.pendingCount.Add(-1)
			fired++
			kinds.handlers[timer.kind](timer, now)
		}
		timer = next
	}
	return fired
}

// collect unlinks every timer due at or before target into a firing list
// sorted by deadline tick, marks the ticks up to target processed and returns
// the head of the list.
func (w *Wheel) collect(target int64) *Timer {
	w.mu.Lock()
	defer w.mu.Unlock()
	missed := target - w.cursor
	if missed <= 0 {
		return nil
	}
	slots := w.mask + 1
	var due firingList
	// Visiting the ticks in order yields deadline order for free when at
	// most one rotation was missed: every pending deadline is after cursor,
	// so a bucket's due timers then all have exactly the visited tick.
	for tick := w.cursor + 1; tick <= w.cursor+min(missed, slots); tick++ {
		w.buckets[tick&w.mask].collectDue(target, &due)
	}
	w.cursor = target
	if missed > slots {
		return sortByDeadline(due.head, due.length)
	}
	return due.head
}

// ceilTicks converts a duration since the origin into the first tick at or
// after it without overflowing near math.MaxInt64.
func ceilTicks(elapsed, tick time.Duration) int64 {
	if elapsed <= 0 {
		// Integer division truncates towards zero, which is the ceiling for
		// negative values.
		return int64(elapsed / tick)
	}
	return int64((elapsed-1)/tick) + 1
}

// addSaturating returns a+b clamped to the range of time.Duration, so that a
// huge delay means "never" instead of wrapping into the past.
func addSaturating(a, b time.Duration) time.Duration {
	switch {
	case b > 0 && a > math.MaxInt64-b:
		return math.MaxInt64
	case b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}
