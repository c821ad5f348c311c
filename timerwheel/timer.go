package timerwheel

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Handler is what a Kind of timer runs when one of its timers fires. It
// receives the Timer, from which the owner finds the struct that embeds it (by
// the Timer's field offset: a Timer holds no pointer to its owner, which would
// cost 16 B per timer as an interface), and the instant passed to Advance.
//
// A Handler runs on the goroutine that calls Wheel.Advance (the wheel's owner
// goroutine after Wheel.Start), without any wheel lock held. It must not
// block, because every other timer due in the same Advance waits behind it:
// hand slow work to another goroutine. It may call Schedule, ScheduleAt and
// Cancel on any timer, including its own (that is how periodic timers are
// built), but it must not call Advance or Stop, and it must not panic: a panic
// propagates out of Advance, and the timers collected by that Advance call but
// not yet run stay pending without firing until they are scheduled again or
// cancelled.
type Handler func(timer *Timer, now time.Time)

// Kind names a Handler registered with NewKind; Timer.Init gives a Timer its
// Kind. The zero Kind is no handler (a Timer that was never initialised).
type Kind uint8

// maxKinds is how many Kinds a process can register: a Kind is one byte of
// the Timer, where the Timer's alignment left a spare one.
const maxKinds = 255

// kinds is the process's table of handlers, indexed by Kind. NewKind writes an
// entry under mutex before it returns the Kind; Advance reads entries without
// the mutex, which is safe because a Timer carries a Kind only after NewKind
// returned it, and reaches Advance only through Schedule and the wheel lock.
var kinds struct {
	mutex    sync.Mutex
	count    int
	handlers [maxKinds + 1]Handler
}

// NewKind registers handler and returns the Kind that names it. Each owner
// type registers one Kind for all its timers, usually in a package-level
// variable; at most 255 Kinds per process, and NewKind panics beyond that or
// when handler is nil. It is safe for concurrent use.
func NewKind(handler Handler) Kind {
	if handler == nil {
		panic("timerwheel: NewKind of a nil Handler")
	}
	kinds.mutex.Lock()
	defer kinds.mutex.Unlock()
	if kinds.count == maxKinds {
		panic("timerwheel: more than 255 Kinds")
	}
	kinds.count++
	kinds.handlers[kinds.count] = handler
	return Kind(kinds.count)
}

// NewOwnerKind registers handler for timers embedded in structs of type T at
// offset (unsafe.Offsetof(T{}.timer)) and returns their Kind: the handler receives
// the owner, found at that offset before the Timer in the same allocation, which is
// what lets a Timer keep no pointer to its owner. Every Timer of the Kind must be
// that field of a T. Same limits and safety as NewKind.
func NewOwnerKind[T any](offset uintptr, handler func(owner *T, now time.Time)) Kind {
	if handler == nil {
		panic("timerwheel: NewOwnerKind of a nil handler")
	}
	return NewKind(func(timer *Timer, now time.Time) {
		handler((*T)(unsafe.Add(unsafe.Pointer(timer), -int(offset))), now)
	})
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
// struct, so a pending timer costs no allocation: its 40 B (the whole
// per-timer cost, 40 MB for 1,000,000 pending timers) hold the bucket links,
// the firing-list link, the absolute deadline tick, the state, the id of the
// wheel it is bound to and its Kind. The owner is not stored: the Kind's
// Handler finds it from the Timer's address.
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
	// state is a timerState.
	state atomic.Int32
	// wheel is the id of the Wheel the Timer is bound to (Wheel.id), 0 until
	// the first Schedule; guarded by that wheel's lock. Two bytes instead of
	// a pointer: it only serves to refuse a second wheel.
	wheel uint16
	// kind is set once by Init, before the first Schedule.
	kind Kind
}

// Init sets the Kind whose Handler the Timer calls when it fires. Call it
// once, before the first Schedule; it is not safe to call concurrently with
// any other use of the same Timer, and calling it while the Timer is pending
// races with the firing of that Timer.
func (t *Timer) Init(kind Kind) {
	t.kind = kind
}

// Pending reports whether the Timer is armed: scheduled and neither fired nor
// cancelled. It is safe for concurrent use. A timer that Advance has collected
// but whose handler has not started yet still counts as pending, because
// Cancel can still stop it; a timer whose handler is running does not.
func (t *Timer) Pending() bool {
	return t.state.Load() != stateIdle
}
