package timerwheel

import (
	"testing"
	"time"
	"unsafe"
)

// TestTimerIsFortyBytes guards the 40 B per pending timer that the package
// documentation and the capacity planning for 1,000,000 connections rely on
// (the session's 192-byte size class counts on it).
func TestTimerIsFortyBytes(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("size is documented for 64-bit platforms")
	}
	if size := unsafe.Sizeof(Timer{}); size != 40 {
		t.Fatalf("Timer is %d B, want 40", size)
	}
}

func TestTimerPendingFollowsItsLifecycle(t *testing.T) {
	wheel, clock := newTestWheel(t, 10*time.Millisecond, 8)
	var first, second Timer
	var firstInOwnCallback, secondSeenFromFirst bool
	initFunc(&first, func(time.Time) {
		firstInOwnCallback = first.Pending()
		secondSeenFromFirst = second.Pending()
	})
	initFunc(&second, func(time.Time) {})
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

// kindOwner is a struct with its Timer away from the start, as a session has it, so
// that finding the owner from the Timer has an offset to undo.
type kindOwner struct {
	name  string
	timer Timer
	fired []string
}

// firstKind finds its owner itself, secondKind through NewOwnerKind. Kinds are a
// process-wide table of 255, so tests register theirs once, not per run.
var (
	firstKind = NewKind(func(timer *Timer, _ time.Time) {
		owner := (*kindOwner)(unsafe.Add(unsafe.Pointer(timer), -int(unsafe.Offsetof(kindOwner{}.timer))))
		owner.fired = append(owner.fired, "first:"+owner.name)
	})
	secondKind = NewOwnerKind(unsafe.Offsetof(kindOwner{}.timer), func(owner *kindOwner, _ time.Time) {
		owner.fired = append(owner.fired, "second:"+owner.name)
	})
)

// TestKindsRunTheirOwnHandlers schedules timers of two Kinds and checks that each
// fires its own Kind's Handler, which finds its owner from the Timer.
func TestKindsRunTheirOwnHandlers(t *testing.T) {
	first, second := firstKind, secondKind
	if first == 0 || second == 0 || first == second {
		t.Fatalf("NewKind returned %d and %d, want two distinct non-zero Kinds", first, second)
	}
	wheel, clock := newTestWheel(t, 10*time.Millisecond, 8)
	a, b := &kindOwner{name: "a"}, &kindOwner{name: "b"}
	a.timer.Init(first)
	b.timer.Init(second)
	wheel.Schedule(&a.timer, 10*time.Millisecond)
	wheel.Schedule(&b.timer, 10*time.Millisecond)
	advanceToTick(wheel, clock, 1)
	if len(a.fired) != 1 || a.fired[0] != "first:a" || len(b.fired) != 1 || b.fired[0] != "second:b" {
		t.Fatalf("fired %v and %v, want [first:a] and [second:b]", a.fired, b.fired)
	}
}

func TestNewKindOfNilPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("NewKind(nil) did not panic")
		}
	}()
	NewKind(nil)
}

func TestNewOwnerKindOfNilPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("NewOwnerKind of a nil handler did not panic")
		}
	}()
	NewOwnerKind[kindOwner](0, nil)
}
