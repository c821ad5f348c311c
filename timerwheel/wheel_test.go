package timerwheel

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestNewAppliesDefaults(t *testing.T) {
	wheel, err := New(Config{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if wheel.Tick() != 100*time.Millisecond {
		t.Errorf("Tick() = %v, want 100ms", wheel.Tick())
	}
	if len(wheel.buckets) != 4096 {
		t.Errorf("slots = %d, want 4096", len(wheel.buckets))
	}
	if wheel.Pending() != 0 {
		t.Errorf("Pending() = %d, want 0", wheel.Pending())
	}
}

func TestNewRoundsSlotsUpToPowerOfTwo(t *testing.T) {
	for slots, want := range map[int]int{1: 1, 2: 2, 3: 4, 5: 8, 4096: 4096, 4097: 8192, 1 << 20: 1 << 20} {
		wheel, err := New(Config{Slots: slots})
		if err != nil {
			t.Fatalf("New(Slots: %d): %v", slots, err)
		}
		if len(wheel.buckets) != want {
			t.Errorf("Slots %d rounded to %d, want %d", slots, len(wheel.buckets), want)
		}
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"negative tick":  {Tick: -time.Millisecond},
		"negative slots": {Slots: -1},
		"too many slots": {Slots: 1<<20 + 1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New returned no error", name)
		}
	}
}

func TestScheduleExactMultipleOfWheelPeriodFiresOnThatTick(t *testing.T) {
	const slots = 8
	for _, startTick := range []int64{0, 3} {
		for _, rotations := range []int64{1, 2} {
			wheel, clock := newTestWheel(t, 10*time.Millisecond, slots)
			advanceToTick(wheel, clock, startTick)
			var firedAt []int64
			var timer Timer
			initFunc(&timer, func(now time.Time) {
				firedAt = append(firedAt, tickOf(wheel, clock, now))
			})
			wheel.Schedule(&timer, time.Duration(rotations*slots)*wheel.Tick())
			want := startTick + rotations*slots
			for tick := startTick + 1; tick <= want+2*slots; tick++ {
				advanceToTick(wheel, clock, tick)
			}
			if !slices.Equal(firedAt, []int64{want}) {
				t.Errorf("start %d, %d rotations: fired at ticks %v, want [%d]", startTick, rotations, firedAt, want)
			}
		}
	}
}

func TestScheduleExactWheelPeriodInOneJump(t *testing.T) {
	const slots = 8
	wheel, clock := newTestWheel(t, 10*time.Millisecond, slots)
	fired := 0
	var timer Timer
	initFunc(&timer, func(time.Time) { fired++ })
	wheel.Schedule(&timer, slots*wheel.Tick())
	if got := advanceToTick(wheel, clock, slots-1); got != 0 || fired != 0 {
		t.Fatalf("fired %d (handler %d) one tick before the period, want 0", got, fired)
	}
	if got := advanceToTick(wheel, clock, slots); got != 1 || fired != 1 {
		t.Fatalf("fired %d (handler %d) at the period, want 1", got, fired)
	}
}

func TestScheduleRoundsUpToTheNextTick(t *testing.T) {
	for _, test := range []struct {
		scheduledAt, delay time.Duration
		wantTick           int64
	}{
		{0, 15 * time.Millisecond, 2},
		{0, 10 * time.Millisecond, 1},
		{0, time.Nanosecond, 1},
		{3 * time.Millisecond, 7 * time.Millisecond, 1},
		{3 * time.Millisecond, 8 * time.Millisecond, 2},
	} {
		wheel, clock := newTestWheel(t, 10*time.Millisecond, 8)
		clock.Set(test.scheduledAt)
		firedAt := int64(-1)
		var timer Timer
		initFunc(&timer, func(now time.Time) { firedAt = tickOf(wheel, clock, now) })
		wheel.Schedule(&timer, test.delay)
		for tick := int64(1); tick <= 4 && firedAt < 0; tick++ {
			advanceToTick(wheel, clock, tick)
		}
		if firedAt != test.wantTick {
			t.Errorf("scheduled at %v with delay %v: fired at tick %d, want %d", test.scheduledAt, test.delay, firedAt, test.wantTick)
		}
	}
}

func TestScheduleNonPositiveDelayFiresOnNextTick(t *testing.T) {
	wheel, clock := newTestWheel(t, 10*time.Millisecond, 8)
	advanceToTick(wheel, clock, 5)
	var firedAt []int64
	timers := make([]Timer, 3)
	for i := range timers {
		initFunc(&timers[i], func(now time.Time) { firedAt = append(firedAt, tickOf(wheel, clock, now)) })
	}
	wheel.Schedule(&timers[0], 0)
	wheel.Schedule(&timers[1], -time.Hour)
	wheel.ScheduleAt(&timers[2], clock.origin)
	if got := wheel.Advance(clock.Set(55 * time.Millisecond)); got != 0 {
		t.Fatalf("fired %d within the processed tick, want 0", got)
	}
	advanceToTick(wheel, clock, 6)
	if !slices.Equal(firedAt, []int64{6, 6, 6}) {
		t.Fatalf("fired at ticks %v, want [6 6 6]", firedAt)
	}
}

func TestScheduleAtFiresOnFirstTickAtOrAfterDeadline(t *testing.T) {
	wheel, clock := newTestWheel(t, 10*time.Millisecond, 8)
	firedAt := int64(-1)
	var timer Timer
	initFunc(&timer, func(now time.Time) { firedAt = tickOf(wheel, clock, now) })
	wheel.ScheduleAt(&timer, clock.origin.Add(125*time.Millisecond))
	for tick := int64(1); tick <= 20; tick++ {
		advanceToTick(wheel, clock, tick)
	}
	if firedAt != 13 {
		t.Fatalf("fired at tick %d, want 13", firedAt)
	}
}

func TestScheduleBehindProcessedTickIsClampedToNextTick(t *testing.T) {
	wheel, clock := newTestWheel(t, 10*time.Millisecond, 8)
	advanceToTick(wheel, clock, 5)
	clock.Set(30 * time.Millisecond)
	if got := wheel.Advance(clock.Now()); got != 0 {
		t.Fatalf("Advance into the past fired %d", got)
	}
	fired := 0
	var timer Timer
	initFunc(&timer, func(time.Time) { fired++ })
	wheel.Schedule(&timer, 0)
	if advanceToTick(wheel, clock, 5); fired != 0 {
		t.Fatal("timer fired on an already processed tick")
	}
	if advanceToTick(wheel, clock, 6); fired != 1 {
		t.Fatalf("fired %d times at the next tick, want 1", fired)
	}
}

func TestScheduleMovesPendingTimer(t *testing.T) {
	wheel, clock := newTestWheel(t, 10*time.Millisecond, 8)
	var firedAt []int64
	var timer Timer
	initFunc(&timer, func(now time.Time) { firedAt = append(firedAt, tickOf(wheel, clock, now)) })
	wheel.Schedule(&timer, 50*time.Millisecond)
	wheel.Schedule(&timer, 20*time.Millisecond)
	if wheel.Pending() != 1 {
		t.Fatalf("Pending() = %d after moving, want 1", wheel.Pending())
	}
	for tick := int64(1); tick <= 3; tick++ {
		advanceToTick(wheel, clock, tick)
	}
	wheel.Schedule(&timer, 40*time.Millisecond)
	wheel.Schedule(&timer, 110*time.Millisecond)
	for tick := int64(4); tick <= 30; tick++ {
		advanceToTick(wheel, clock, tick)
	}
	if !slices.Equal(firedAt, []int64{2, 14}) {
		t.Fatalf("fired at ticks %v, want [2 14]", firedAt)
	}
	if wheel.Pending() != 0 {
		t.Fatalf("Pending() = %d after firing, want 0", wheel.Pending())
	}
}

func TestNeverFiresEarly(t *testing.T) {
	const (
		tick   = 10 * time.Millisecond
		slots  = 64
		timers = 20_000
	)
	wheel, clock := newTestWheel(t, tick, slots)
	random := rand.New(rand.NewPCG(1, 2))
	dueAt := make([]time.Duration, timers)
	fired := make([]int, timers)
	owners := make([]Timer, timers)
	var elapsed time.Duration
	early, late := 0, 0
	for i := range owners {
		initFunc(&owners[i], func(now time.Time) {
			fired[i]++
			switch lateness := clock.Since(now) - dueAt[i]; {
			case lateness < 0:
				early++
			case lateness >= 4*tick:
				late++
			}
		})
	}
	scheduled := 0
	for scheduled < timers || wheel.Pending() > 0 {
		for range random.IntN(200) {
			if scheduled == timers {
				break
			}
			delay := time.Duration(random.Int64N(int64(5 * slots * tick)))
			dueAt[scheduled] = elapsed + delay
			wheel.Schedule(&owners[scheduled], delay)
			scheduled++
		}
		elapsed += time.Duration(random.Int64N(int64(3 * tick)))
		wheel.Advance(clock.Set(elapsed))
	}
	if early != 0 || late != 0 {
		t.Fatalf("%d timers fired before their deadline, %d more than a tick after the Advance that covered it", early, late)
	}
	for i, count := range fired {
		if count != 1 {
			t.Fatalf("timer %d fired %d times, want 1", i, count)
		}
	}
}

func TestCancelBeforeFiring(t *testing.T) {
	wheel, clock := newTestWheel(t, 10*time.Millisecond, 8)
	fired := 0
	var timer Timer
	initFunc(&timer, func(time.Time) { fired++ })
	wheel.Schedule(&timer, 30*time.Millisecond)
	if !wheel.Cancel(&timer) {
		t.Fatal("Cancel of a pending timer returned false")
	}
	if timer.Pending() || wheel.Pending() != 0 {
		t.Fatalf("after Cancel: timer pending %v, wheel pending %d", timer.Pending(), wheel.Pending())
	}
	if wheel.Cancel(&timer) {
		t.Fatal("second Cancel returned true")
	}
	for tick := int64(1); tick <= 20; tick++ {
		advanceToTick(wheel, clock, tick)
	}
	if fired != 0 {
		t.Fatalf("cancelled timer fired %d times", fired)
	}
}

func TestCancelAfterFiringReturnsFalse(t *testing.T) {
	wheel, clock := newTestWheel(t, 10*time.Millisecond, 8)
	fired := 0
	var timer Timer
	initFunc(&timer, func(time.Time) { fired++ })
	wheel.Schedule(&timer, 10*time.Millisecond)
	advanceToTick(wheel, clock, 1)
	if fired != 1 {
		t.Fatalf("fired %d times, want 1", fired)
	}
	if wheel.Cancel(&timer) {
		t.Fatal("Cancel after firing returned true")
	}
}

func TestCancelOfUnscheduledOrForeignTimerReturnsFalse(t *testing.T) {
	wheel, _ := newTestWheel(t, 10*time.Millisecond, 8)
	other, _ := newTestWheel(t, 10*time.Millisecond, 8)
	var never, foreign Timer
	initFunc(&never, func(time.Time) {})
	initFunc(&foreign, func(time.Time) {})
	other.Schedule(&foreign, time.Second)
	if wheel.Cancel(&never) {
		t.Error("Cancel of a never scheduled timer returned true")
	}
	if wheel.Cancel(&foreign) {
		t.Error("Cancel of a timer pending on another wheel returned true")
	}
	if !other.Cancel(&foreign) {
		t.Error("Cancel on the owning wheel returned false")
	}
}

// TestCancelFromAnotherCallbackInSameAdvance pins down the documented race
// rule: a timer collected by the running Advance can still be cancelled until
// its own handler has been claimed.
func TestCancelFromAnotherCallbackInSameAdvance(t *testing.T) {
	for _, test := range []struct {
		name                     string
		cancellerTick, otherTick int64
		otherFirst               bool
		advanceTo                int64
		wantCancelled            bool
		wantOtherFired           bool
	}{
		{"collected in the same tick, not yet run", 1, 1, false, 1, true, false},
		{"collected from a later tick of the same Advance", 1, 3, false, 3, true, false},
		{"already run earlier in the same tick", 1, 1, true, 1, false, true},
		{"not yet due", 1, 5, false, 1, true, false},
	} {
		t.Run(test.name, func(t *testing.T) {
			wheel, clock := newTestWheel(t, 10*time.Millisecond, 8)
			otherFired := false
			cancelled := false
			var canceller, other Timer
			initFunc(&canceller, func(time.Time) { cancelled = wheel.Cancel(&other) })
			initFunc(&other, func(time.Time) { otherFired = true })
			if test.otherFirst {
				wheel.Schedule(&other, time.Duration(test.otherTick)*wheel.Tick())
			}
			wheel.Schedule(&canceller, time.Duration(test.cancellerTick)*wheel.Tick())
			if !test.otherFirst {
				wheel.Schedule(&other, time.Duration(test.otherTick)*wheel.Tick())
			}
			advanceToTick(wheel, clock, test.advanceTo)
			for tick := test.advanceTo + 1; tick <= 20; tick++ {
				advanceToTick(wheel, clock, tick)
			}
			if cancelled != test.wantCancelled || otherFired != test.wantOtherFired {
				t.Fatalf("Cancel returned %v and the other timer fired %v, want %v and %v",
					cancelled, otherFired, test.wantCancelled, test.wantOtherFired)
			}
			if other.Pending() || wheel.Pending() != 0 {
				t.Fatalf("after the run: other pending %v, wheel pending %d", other.Pending(), wheel.Pending())
			}
		})
	}
}

func TestRescheduleOfCollectedTimerFromAnotherCallback(t *testing.T) {
	wheel, clock := newTestWheel(t, 10*time.Millisecond, 8)
	var firedAt []int64
	var mover, moved Timer
	initFunc(&mover, func(time.Time) { wheel.Schedule(&moved, 30*time.Millisecond) })
	initFunc(&moved, func(now time.Time) { firedAt = append(firedAt, tickOf(wheel, clock, now)) })
	wheel.Schedule(&mover, 10*time.Millisecond)
	wheel.Schedule(&moved, 10*time.Millisecond)
	if got := advanceToTick(wheel, clock, 1); got != 1 {
		t.Fatalf("Advance fired %d, want only the mover", got)
	}
	if !moved.Pending() || wheel.Pending() != 1 {
		t.Fatalf("moved timer pending %v, wheel pending %d; want true and 1", moved.Pending(), wheel.Pending())
	}
	for tick := int64(2); tick <= 10; tick++ {
		advanceToTick(wheel, clock, tick)
	}
	if !slices.Equal(firedAt, []int64{4}) {
		t.Fatalf("moved timer fired at ticks %v, want [4]", firedAt)
	}
}

func TestPeriodicRescheduleFromOwnCallback(t *testing.T) {
	const periods = 50
	for _, periodTicks := range []int64{3, 7, 1} {
		wheel, clock := newTestWheel(t, 10*time.Millisecond, 4)
		period := time.Duration(periodTicks) * wheel.Tick()
		var firedAt []int64
		var timer Timer
		initFunc(&timer, func(now time.Time) {
			firedAt = append(firedAt, tickOf(wheel, clock, now))
			if len(firedAt) < periods {
				wheel.Schedule(&timer, period)
			}
		})
		wheel.Schedule(&timer, period)
		for tick := int64(1); tick <= periodTicks*(periods+3); tick++ {
			advanceToTick(wheel, clock, tick)
		}
		want := make([]int64, periods)
		for i := range want {
			want[i] = int64(i+1) * periodTicks
		}
		if !slices.Equal(firedAt, want) {
			t.Fatalf("period %d ticks: fired at %v, want %v", periodTicks, firedAt, want)
		}
	}
}

func TestPeriodicScheduleAtDoesNotDriftWhenAdvanceIsLate(t *testing.T) {
	const periods = 40
	wheel, clock := newTestWheel(t, 10*time.Millisecond, 4)
	period := 70 * time.Millisecond
	next := clock.origin.Add(period)
	var firedAt []int64
	var timer Timer
	initFunc(&timer, func(now time.Time) {
		firedAt = append(firedAt, tickOf(wheel, clock, now))
		if len(firedAt) < periods {
			next = next.Add(period)
			wheel.ScheduleAt(&timer, next)
		}
	})
	wheel.ScheduleAt(&timer, next)
	for tick := int64(1); tick <= 7*(periods+3); tick++ {
		wheel.Advance(clock.Set(time.Duration(tick)*wheel.Tick() + 9*time.Millisecond))
	}
	for i, tick := range firedAt {
		if want := int64(i+1) * 7; tick != want {
			t.Fatalf("period %d fired at tick %d, want %d (all: %v)", i+1, tick, want, firedAt)
		}
	}
	if len(firedAt) != periods {
		t.Fatalf("fired %d times, want %d", len(firedAt), periods)
	}
}

func TestTimersBeyondOneRotation(t *testing.T) {
	const slots = 8
	wheel, clock := newTestWheel(t, 10*time.Millisecond, slots)
	var firedAt []int64
	deadlines := []int64{10 * slots, 10*slots + 3, 3*slots + 1}
	timers := make([]Timer, len(deadlines))
	for i, deadline := range deadlines {
		initFunc(&timers[i], func(now time.Time) { firedAt = append(firedAt, tickOf(wheel, clock, now)) })
		wheel.Schedule(&timers[i], time.Duration(deadline)*wheel.Tick())
	}
	for tick := int64(1); tick <= 12*slots; tick++ {
		advanceToTick(wheel, clock, tick)
	}
	if !slices.Equal(firedAt, []int64{3*slots + 1, 10 * slots, 10*slots + 3}) {
		t.Fatalf("fired at ticks %v", firedAt)
	}
}

func TestHugeDelayDoesNotOverflowIntoThePast(t *testing.T) {
	wheel, clock := newTestWheel(t, 10*time.Millisecond, 8)
	fired := 0
	var timer, farTimer Timer
	initFunc(&timer, func(time.Time) { fired++ })
	initFunc(&farTimer, func(time.Time) { fired++ })
	clock.Set(time.Hour)
	wheel.Schedule(&timer, math.MaxInt64)
	wheel.ScheduleAt(&farTimer, clock.origin.Add(200*365*24*time.Hour))
	for tick := int64(1); tick <= 100; tick++ {
		advanceToTick(wheel, clock, tick)
	}
	if fired != 0 || wheel.Pending() != 2 {
		t.Fatalf("fired %d, pending %d; want 0 and 2", fired, wheel.Pending())
	}
}

// TestAdvanceAfterLongGapFiresInDeadlineOrder checks the catch-up path: one
// Advance over several rotations fires timers in deadline order, ties in
// scheduling order, and nothing after the target tick.
func TestAdvanceAfterLongGapFiresInDeadlineOrder(t *testing.T) {
	const slots = 8
	for _, gap := range []int64{1, slots - 1, slots, slots + 1, 5*slots + 3} {
		wheel, clock := newTestWheel(t, 10*time.Millisecond, slots)
		random := rand.New(rand.NewPCG(uint64(gap), 7))
		type firing struct{ deadline, order int64 }
		var fired []firing
		timers := make([]Timer, 300)
		deadlines := make([]int64, len(timers))
		for i := range timers {
			deadlines[i] = 1 + random.Int64N(gap+slots)
			initFunc(&timers[i], func(time.Time) { fired = append(fired, firing{deadlines[i], int64(i)}) })
			wheel.Schedule(&timers[i], time.Duration(deadlines[i])*wheel.Tick())
		}
		due := 0
		for _, deadline := range deadlines {
			if deadline <= gap {
				due++
			}
		}
		if got := advanceToTick(wheel, clock, gap); got != due || len(fired) != due {
			t.Fatalf("gap %d: Advance fired %d (handlers %d), want %d", gap, got, len(fired), due)
		}
		advanceToTick(wheel, clock, gap+slots)
		if len(fired) != len(timers) {
			t.Fatalf("gap %d: fired %d of %d", gap, len(fired), len(timers))
		}
		ordered := slices.IsSortedFunc(fired, func(a, b firing) int {
			if a.deadline != b.deadline {
				return int(a.deadline - b.deadline)
			}
			return int(a.order - b.order)
		})
		if !ordered {
			t.Fatalf("gap %d: fired out of (deadline, scheduling) order: %v", gap, fired)
		}
	}
}

func TestTimerIsBoundToOneWheel(t *testing.T) {
	wheel, _ := newTestWheel(t, 10*time.Millisecond, 8)
	other, _ := newTestWheel(t, 10*time.Millisecond, 8)
	var timer Timer
	initFunc(&timer, func(time.Time) {})
	wheel.Schedule(&timer, time.Second)
	defer func() {
		if recover() == nil {
			t.Fatal("Schedule on a second wheel did not panic")
		}
	}()
	other.Schedule(&timer, time.Second)
}

func TestScheduleWithoutInitPanics(t *testing.T) {
	wheel, _ := newTestWheel(t, 10*time.Millisecond, 8)
	defer func() {
		if recover() == nil {
			t.Fatal("Schedule without Init did not panic")
		}
	}()
	var timer Timer
	wheel.Schedule(&timer, time.Second)
}

func TestReentrantAdvancePanics(t *testing.T) {
	wheel, clock := newTestWheel(t, 10*time.Millisecond, 8)
	var recovered any
	var timer Timer
	initFunc(&timer, func(now time.Time) {
		defer func() { recovered = recover() }()
		wheel.Advance(now)
	})
	wheel.Schedule(&timer, 0)
	advanceToTick(wheel, clock, 1)
	if recovered == nil {
		t.Fatal("Advance from a handler did not panic")
	}
	initFunc(&timer, func(time.Time) {})
	wheel.Schedule(&timer, 0)
	if got := advanceToTick(wheel, clock, 2); got != 1 {
		t.Fatalf("Advance after the recovered panic fired %d, want 1", got)
	}
}
