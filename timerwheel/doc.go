// Package timerwheel is a hashed timing wheel (Varghese & Lauck, "Hashed and
// Hierarchical Timing Wheels", 1987; Netty's HashedWheelTimer is the classic
// implementation) for the per-connection timers of a gateway that holds up to
// 1,000,000 connections per node: ping interval, pong timeout, close grace and
// handshake timeout.
//
// Why not time.AfterFunc: every runtime timer is a separate heap object (one
// 112 B allocation per time.AfterFunc; with its slot in the per-P timer heap
// and the 8 B *time.Timer handle, about 120 B per pending timer in this
// package's benchmarks with 1,000,000 pending), and every start and stop is an
// O(log n) heap operation. A Timer here is embedded by value in the owner's
// struct: 40 B per pending timer, no allocation, no extra object for the
// garbage collector, so 4,000,000 timers (four per connection) cost 160 MB
// instead of about 480 MB. The Timer keeps no pointer to its owner: each owner
// type registers one Kind, a byte in the Timer: NewOwnerKind with the Timer's
// field offset, whose handler receives the owner found at that offset (or
// NewKind, whose Handler receives the *Timer). Schedule of an idle timer is
// several times cheaper
// than time.AfterFunc; Cancel and reschedule cost about the same as
// (*time.Timer).Stop and Reset (tens of nanoseconds, most of a Schedule being
// the monotonic clock read).
//
// Design:
//   - Time is divided into ticks of Config.Tick since the instant the Wheel was
//     created. A timer's deadline is stored as an absolute tick number,
//     ceil((now+delay)/Tick), so it never fires early and no rounding error
//     accumulates per rotation; a periodic timer re-armed with
//     ScheduleAt(previous deadline + period) never drifts.
//   - Timers hash into Config.Slots buckets (a power of two, so the slot is
//     deadline&mask) that are intrusive doubly linked lists: the links live in
//     the Timer, so linking and unlinking allocate nothing.
//   - Deadlines further away than one rotation (Tick*Slots) simply stay in their
//     bucket until the absolute tick is reached; each pass over the bucket skips
//     them.
//   - Advance collects due timers under the lock into an intrusive singly linked
//     firing list, releases the lock and then calls the handlers, so a handler
//     can Schedule or Cancel any timer, including its own.
//
// Cost per tick: one lock, one bucket scan. With 1,000,000 timers spread over
// one rotation of the default 4096 slots that is about 244 timers per bucket,
// each of which fires; timers whose deadline lies rotations ahead are scanned
// once per rotation without firing.
//
// Ordering: within one Advance call timers fire in non-decreasing order of
// their deadline tick, and timers with the same deadline tick fire in the order
// they were last scheduled. When Advance falls more than one rotation behind (the
// process was stopped, or the owner goroutine starved), it visits every bucket
// once and sorts the collected timers by deadline tick (a merge sort over the
// firing list, under the lock, allocation-free) before firing them.
//
// Race between Cancel and firing: Cancel returns true, and the handler will not
// run, as long as the handler has not been claimed for execution, even if
// Advance has already collected the timer into its firing list. Once Advance
// has claimed the timer (an atomic state change made just before calling its
// Handler), Cancel returns false and the handler runs or is running. A handler
// must therefore check its owner's own state (for example "is the session
// already closed?") rather than assume that a Cancel issued by another
// goroutine always wins. Likewise a Schedule that loses the race arms the
// timer again: the claimed handler runs, and the timer fires once more at its
// new deadline.
package timerwheel
