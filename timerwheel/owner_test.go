package timerwheel

import (
	"runtime"
	"testing"
	"time"
)

// waitForGoroutines polls until at most want goroutines run or the deadline
// passes, and returns the last count; exiting goroutines take a moment to
// disappear from runtime.NumGoroutine.
func waitForGoroutines(want int, deadline time.Duration) int {
	expiry := time.Now().Add(deadline)
	for {
		count := runtime.NumGoroutine()
		if count <= want || time.Now().After(expiry) {
			return count
		}
		time.Sleep(time.Millisecond)
	}
}

func TestStartFiresWithRealClockAndStopLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	wheel, err := New(Config{Tick: 5 * time.Millisecond, Slots: 64})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	fired := make(chan time.Time, 1)
	var timer Timer
	timer.Init(handlerFunc(func(now time.Time) { fired <- now }))
	wheel.Start()
	wheel.Start()
	scheduledAt := time.Now()
	wheel.Schedule(&timer, 20*time.Millisecond)
	select {
	case now := <-fired:
		if elapsed := now.Sub(scheduledAt); elapsed < 20*time.Millisecond {
			t.Errorf("20ms timer fired after %v", elapsed)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("20ms timer did not fire within 5s")
	}
	wheel.Stop()
	wheel.Stop()
	if after := waitForGoroutines(before, 5*time.Second); after > before {
		t.Fatalf("%d goroutines after Stop, %d before Start", after, before)
	}
}

func TestStopBeforeStartPreventsStart(t *testing.T) {
	before := runtime.NumGoroutine()
	wheel, err := New(Config{Tick: time.Millisecond})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	wheel.Stop()
	wheel.Start()
	if count := runtime.NumGoroutine(); count > before {
		t.Fatalf("Start after Stop started a goroutine: %d goroutines, %d before", count, before)
	}
	wheel.Stop()
}
