package timerwheel

import (
	"runtime"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/testsupport"
)

func TestStartFiresWithRealClockAndStopLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	wheel, err := New(Config{Tick: 5 * time.Millisecond, Slots: 64})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	fired := make(chan time.Time, 1)
	var timer Timer
	initFunc(&timer, func(now time.Time) { fired <- now })
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
	// An exiting goroutine takes a moment to disappear from runtime.NumGoroutine.
	testsupport.WaitFor(t, 5*time.Second, "the owner goroutine to exit after Stop", func() bool {
		return runtime.NumGoroutine() <= before
	})
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
