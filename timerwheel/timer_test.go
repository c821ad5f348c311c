package timerwheel

import (
	"testing"
	"time"
	"unsafe"
)

// TestTimerIsOneCacheLine guards the 64 B per pending timer that the package
// documentation and the capacity planning for 1,000,000 connections rely on.
func TestTimerIsOneCacheLine(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("size is documented for 64-bit platforms")
	}
	if size := unsafe.Sizeof(Timer{}); size != 64 {
		t.Fatalf("Timer is %d B, want 64", size)
	}
}

func TestTimerPendingFollowsItsLifecycle(t *testing.T) {
	wheel, clock := newTestWheel(t, 10*time.Millisecond, 8)
	var first, second Timer
	var firstInOwnCallback, secondSeenFromFirst bool
	first.Init(handlerFunc(func(time.Time) {
		firstInOwnCallback = first.Pending()
		secondSeenFromFirst = second.Pending()
	}))
	second.Init(handlerFunc(func(time.Time) {}))
	if first.Pending() {
		t.Fatal("initialised timer reports pending")
	}
	wheel.Schedule(&first, 10*time.Millisecond)
	wheel.Schedule(&second, 10*time.Millisecond)
	if !first.Pending() {
		t.Fatal("scheduled timer does not report pending")
	}
	advanceToTick(wheel, clock, 1)
	if firstInOwnCallback {
		t.Error("timer reports pending inside its own callback")
	}
	if !secondSeenFromFirst {
		t.Error("collected timer whose handler has not run does not report pending")
	}
	if first.Pending() || second.Pending() {
		t.Error("fired timers report pending")
	}
}
