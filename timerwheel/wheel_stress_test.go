package timerwheel

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// orderedTimer records its index into a shared log when it fires, so the
// million-timer test can check the firing order without a closure per timer.
type orderedTimer struct {
	timer    Timer
	index    int32
	deadline int64
	log      *firingLog
}

type firingLog struct {
	wheel  *Wheel
	clock  *fakeClock
	fired  []int32
	misses int
}

// orderedKind finds the orderedTimer at the offset of its timer field.
var orderedKind = NewKind(func(timer *Timer, now time.Time) {
	owner := (*orderedTimer)(unsafe.Add(unsafe.Pointer(timer), -int(unsafe.Offsetof(orderedTimer{}.timer))))
	log := owner.log
	if tickOf(log.wheel, log.clock, now) < owner.deadline {
		log.misses++
	}
	log.fired = append(log.fired, owner.index)
})

func TestMillionTimersFireOnceInDeadlineOrder(t *testing.T) {
	const (
		timers = 1_000_000
		tick   = time.Millisecond
		slots  = 4096
	)
	wheel, clock := newTestWheel(t, tick, slots)
	log := &firingLog{wheel: wheel, clock: clock, fired: make([]int32, 0, timers)}
	random := rand.New(rand.NewPCG(3, 4))
	owners := make([]orderedTimer, timers)
	var lastDeadline int64
	for i := range owners {
		owner := &owners[i]
		delay := 1 + time.Duration(random.Int64N(int64(3*slots*tick)))
		owner.index = int32(i)
		owner.deadline = ceilTicks(delay, tick)
		owner.log = log
		lastDeadline = max(lastDeadline, owner.deadline)
		owner.timer.Init(orderedKind)
		wheel.Schedule(&owner.timer, delay)
	}
	if wheel.Pending() != timers {
		t.Fatalf("Pending() = %d after scheduling, want %d", wheel.Pending(), timers)
	}
	// Mostly short steps, with jumps of exactly one rotation and of more
	// than one rotation to exercise the catch-up sort.
	var current int64
	for current < lastDeadline {
		switch random.IntN(20) {
		case 0:
			current += slots
		case 1:
			current += slots + 1 + random.Int64N(2*slots)
		default:
			current += 1 + random.Int64N(50)
		}
		advanceToTick(wheel, clock, current)
	}
	if len(log.fired) != timers || log.misses != 0 {
		t.Fatalf("fired %d of %d, %d before their deadline tick", len(log.fired), timers, log.misses)
	}
	seen := make([]bool, timers)
	var previous int64
	for position, index := range log.fired {
		if seen[index] {
			t.Fatalf("timer %d fired twice", index)
		}
		seen[index] = true
		deadline := owners[index].deadline
		if deadline < previous {
			t.Fatalf("position %d: deadline tick %d fired after %d", position, deadline, previous)
		}
		previous = deadline
	}
	if wheel.Pending() != 0 {
		t.Fatalf("Pending() = %d after all fired, want 0", wheel.Pending())
	}
}

// concurrentTimer is one timer of the concurrency test. cancelledForGood is
// set only after a Cancel that returned true and is never followed by another
// Schedule, so the timer must not be pending afterwards and must not fire in
// the final drain. (It may still fire while the worker runs: a handler
// claimed before the worker's last Schedule can run after the Cancel.)
type concurrentTimer struct {
	timer            Timer
	fired            atomic.Int64
	cancelledForGood bool
}

// concurrentKind finds the concurrentTimer at the offset of its timer field.
var concurrentKind = NewKind(func(timer *Timer, _ time.Time) {
	owner := (*concurrentTimer)(unsafe.Add(unsafe.Pointer(timer), -int(unsafe.Offsetof(concurrentTimer{}.timer))))
	owner.fired.Add(1)
})

func TestConcurrentScheduleCancelWhileAdvancing(t *testing.T) {
	const (
		workers          = 8
		timersPerWorker  = 500
		operationsPerRun = 20_000
		tick             = time.Millisecond
	)
	wheel, clock := newTestWheel(t, tick, 64)
	owners := make([][]concurrentTimer, workers)
	for worker := range owners {
		owners[worker] = make([]concurrentTimer, timersPerWorker)
		for i := range owners[worker] {
			owner := &owners[worker][i]
			owner.timer.Init(concurrentKind)
		}
	}

	stopAdvancing := make(chan struct{})
	advancerDone := make(chan struct{})
	go func() {
		defer close(advancerDone)
		for step := time.Duration(1); ; step++ {
			select {
			case <-stopAdvancing:
				return
			default:
				wheel.Advance(clock.Set(step * tick / 2))
			}
		}
	}()

	var group sync.WaitGroup
	for worker := range workers {
		group.Go(func() {
			random := rand.New(rand.NewPCG(uint64(worker), 11))
			mine := owners[worker]
			for range operationsPerRun {
				owner := &mine[random.IntN(len(mine))]
				if random.IntN(3) == 0 {
					wheel.Cancel(&owner.timer)
				} else {
					wheel.Schedule(&owner.timer, time.Duration(random.Int64N(int64(200*tick))))
				}
			}
			// Cancel every even timer as the last operation on it.
			for i := 0; i < len(mine); i += 2 {
				if wheel.Cancel(&mine[i].timer) {
					mine[i].cancelledForGood = true
				}
			}
		})
	}
	group.Wait()
	close(stopAdvancing)
	<-advancerDone

	armed, cancelledForGood, everFired := 0, 0, int64(0)
	for worker := range owners {
		for i := range owners[worker] {
			owner := &owners[worker][i]
			everFired += owner.fired.Load()
			if owner.timer.Pending() {
				armed++
				if i%2 == 0 {
					t.Fatalf("worker %d timer %d is pending after its final Cancel", worker, i)
				}
			}
			if owner.cancelledForGood {
				cancelledForGood++
			}
		}
	}
	if everFired == 0 || cancelledForGood == 0 {
		t.Fatalf("fired %d, cancelled for good %d: the test exercised nothing", everFired, cancelledForGood)
	}
	if wheel.Pending() != armed {
		t.Fatalf("wheel Pending() = %d, timers armed = %d", wheel.Pending(), armed)
	}
	drained := wheel.Advance(clock.Now().Add(time.Hour))
	if drained != armed || wheel.Pending() != 0 {
		t.Fatalf("drain fired %d of %d armed, %d still pending", drained, armed, wheel.Pending())
	}
	if drainedFired := sumFired(owners) - everFired; drainedFired != int64(armed) {
		t.Fatalf("handlers ran %d times in the drain, want %d (a cancelled or idle timer fired)", drainedFired, armed)
	}
}

func sumFired(owners [][]concurrentTimer) int64 {
	var total int64
	for worker := range owners {
		for i := range owners[worker] {
			total += owners[worker][i].fired.Load()
		}
	}
	return total
}
