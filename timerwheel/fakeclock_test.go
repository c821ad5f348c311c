package timerwheel

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a manually driven clock for Config.Now, safe for concurrent
// use so that the concurrency test can move it while other goroutines
// Schedule.
type fakeClock struct {
	origin  time.Time
	elapsed atomic.Int64
}

func newFakeClock() *fakeClock {
	return &fakeClock{origin: time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)}
}

// Now returns origin plus the elapsed time set so far.
func (clock *fakeClock) Now() time.Time {
	return clock.origin.Add(time.Duration(clock.elapsed.Load()))
}

// Set moves the clock to origin+elapsed and returns the new instant.
func (clock *fakeClock) Set(elapsed time.Duration) time.Time {
	clock.elapsed.Store(int64(elapsed))
	return clock.Now()
}

// Since returns how far instant is from the clock's origin.
func (clock *fakeClock) Since(instant time.Time) time.Duration {
	return instant.Sub(clock.origin)
}

// handlerFuncs holds the function of each timer initialised by initFunc.
var handlerFuncs sync.Map

// funcKind runs the function initFunc gave the timer that fired: tests give each
// timer a closure of its own, which owners in production, who find themselves
// from the Timer, do not need.
var funcKind = NewKind(func(timer *Timer, now time.Time) {
	handler, _ := handlerFuncs.Load(timer)
	handler.(func(time.Time))(now)
})

// initFunc initialises timer to run handler when it fires.
func initFunc(timer *Timer, handler func(now time.Time)) {
	handlerFuncs.Store(timer, handler)
	timer.Init(funcKind)
}

// newTestWheel returns a wheel on a fake clock whose origin is the wheel's
// tick 0.
func newTestWheel(t testing.TB, tick time.Duration, slots int) (*Wheel, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	wheel, err := New(Config{Tick: tick, Slots: slots, Now: clock.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return wheel, clock
}

// advanceToTick moves the clock to the start of tick and advances the wheel
// to it, returning how many timers fired.
func advanceToTick(wheel *Wheel, clock *fakeClock, tick int64) int {
	return wheel.Advance(clock.Set(time.Duration(tick) * wheel.Tick()))
}

// tickOf returns the tick containing instant.
func tickOf(wheel *Wheel, clock *fakeClock, instant time.Time) int64 {
	return int64(clock.Since(instant) / wheel.Tick())
}
