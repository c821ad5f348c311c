package timerwheel

import (
	"sync/atomic"
	"time"
)

// Handler is implemented by the owner of a Timer, for example a session.
//
// OnTimer runs on the goroutine that calls Wheel.Advance (the wheel's owner
// goroutine after Wheel.Start), without any wheel lock held, and receives the
// instant passed to Advance. It must not block, because every other timer due
// in the same Advance waits behind it: hand slow work to another goroutine. It
// may call Schedule, ScheduleAt and Cancel on any timer, including its own
// (that is how periodic timers are built), but it must not call Advance or
// Stop, and it must not panic: a panic propagates out of Advance, and the
// timers collected by that Advance call but not yet run stay pending without
// firing until they are scheduled again or cancelled.
type Handler interface {
	OnTimer(now time.Time)
}

// timerState is the lifecycle of a Timer. It is stored atomically because
// Timer.Pending and the firing loop in Advance read it without the wheel lock.
type timerState = int32

const (
	// stateIdle: not linked anywhere; the handler will not run.
	stateIdle timerState = iota
	// statePending: linked into the bucket of its deadline tick.
	statePending
	// stateFiring: collected into Advance's firing list, handler not claimed
	// yet. Cancel and Schedule can still take it back.
	stateFiring
)

// Timer is one schedulable timer. It is embedded by value in the caller's
// struct, so a pending timer costs no allocation: its 64 B (one cache line on
// amd64, the whole per-timer cost, 64 MB for 1,000,000 pending timers) hold the
// bucket links, the firing-list link, the absolute deadline tick, the owning
// wheel, the state and the handler.
//
// The zero value is unusable until Init. A Timer must not be copied after
// first use (go vet reports copies because of its atomic fields), and it is
// bound to the first Wheel that schedules it.
type Timer struct {
	// previous and next link the Timer into its bucket; guarded by the wheel
	// lock.
	previous, next *Timer
	// nextFiring links the Timer into Advance's firing list. It is separate
	// from next so that a Schedule from a handler can move a collected timer
	// into a bucket while Advance is still walking the firing list.
	nextFiring *Timer
	// deadline is the absolute tick (since the wheel's origin) at which the
	// timer fires; guarded by the wheel lock.
	deadline int64
	// wheel is the Wheel the Timer is bound to, nil until the first Schedule.
	wheel atomic.Pointer[Wheel]
	// handler is set once by Init, before the first Schedule.
	handler Handler
	// state is a timerState.
	state atomic.Int32
}

// Init sets the handler that the Timer calls when it fires. Call it once,
// before the first Schedule; it is not safe to call concurrently with any
// other use of the same Timer, and calling it while the Timer is pending
// races with the firing of that Timer.
func (t *Timer) Init(handler Handler) {
	t.handler = handler
}

// Pending reports whether the Timer is armed: scheduled and neither fired nor
// cancelled. It is safe for concurrent use. A timer that Advance has collected
// but whose handler has not started yet still counts as pending, because
// Cancel can still stop it; a timer whose handler is running does not.
func (t *Timer) Pending() bool {
	return t.state.Load() != stateIdle
}
