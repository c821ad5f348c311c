package timerwheel

import (
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/testsupport"
)

// benchPendingTimers is the number of timers already pending when each
// operation is measured: one per connection of a fully loaded node.
const benchPendingTimers = 1_000_000

// benchOwner stands in for a session that embeds its timer.
type benchOwner struct {
	timer Timer
}

// benchKind is the benchmarks' Kind; nothing fires while they run.
var benchKind = NewKind(func(*Timer, time.Time) {})

// benchCallback is shared by every time.AfterFunc timer, so the baseline pays
// no closure allocation; a real session would capture itself and pay one.
func benchCallback() {}

// benchDelay spreads deadlines over 10 to 15 minutes: nothing fires while the
// benchmarks run, and the timers land in many wheel buckets and heap positions.
func benchDelay(i int) time.Duration {
	return 10*time.Minute + time.Duration(i%300_000)*time.Millisecond
}

// bytesPerTimer returns the heap growth since before divided by the pending
// timer count. Benchmarks report it as "bytes/timer" after their loop,
// because b.ResetTimer discards metrics reported before it.
func bytesPerTimer(before int64) float64 {
	return float64(testsupport.LiveHeap()-before) / benchPendingTimers
}

// newPendingWheel returns a real-clock wheel (not started, so nothing fires)
// with benchPendingTimers timers pending, and their bytes per timer including
// the embedding owners and the wheel's buckets.
func newPendingWheel(b *testing.B) (*Wheel, []benchOwner, float64) {
	b.Helper()
	before := testsupport.LiveHeap()
	wheel, err := New(Config{})
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	owners := newBenchOwners(benchPendingTimers)
	for i := range owners {
		wheel.Schedule(&owners[i].timer, benchDelay(i))
	}
	return wheel, owners, bytesPerTimer(before)
}

func newBenchOwners(count int) []benchOwner {
	owners := make([]benchOwner, count)
	for i := range owners {
		owners[i].timer.Init(benchKind)
	}
	return owners
}

// newPendingAfterFuncs returns benchPendingTimers pending runtime timers,
// stopped when the benchmark ends, and their bytes per timer including the
// *time.Timer handle a session would keep.
func newPendingAfterFuncs(b *testing.B) ([]*time.Timer, float64) {
	b.Helper()
	before := testsupport.LiveHeap()
	timers := make([]*time.Timer, benchPendingTimers)
	for i := range timers {
		timers[i] = time.AfterFunc(benchDelay(i), benchCallback)
	}
	memory := bytesPerTimer(before)
	b.Cleanup(func() { stopAll(timers) })
	return timers, memory
}

func stopAll(timers []*time.Timer) {
	for _, timer := range timers {
		timer.Stop()
	}
}

// BenchmarkSchedule arms a timer that is not pending.
func BenchmarkSchedule(b *testing.B) {
	b.Run("wheel", func(b *testing.B) {
		wheel, _, memory := newPendingWheel(b)
		fresh := newBenchOwners(b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			wheel.Schedule(&fresh[i].timer, benchDelay(i))
		}
		b.ReportMetric(memory, "bytes/timer")
	})
	b.Run("afterfunc", func(b *testing.B) {
		_, memory := newPendingAfterFuncs(b)
		fresh := make([]*time.Timer, b.N)
		b.Cleanup(func() { stopAll(fresh) })
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			fresh[i] = time.AfterFunc(benchDelay(i), benchCallback)
		}
		b.ReportMetric(memory, "bytes/timer")
	})
}

// BenchmarkCancel disarms a pending timer.
func BenchmarkCancel(b *testing.B) {
	b.Run("wheel", func(b *testing.B) {
		wheel, _, memory := newPendingWheel(b)
		extra := newBenchOwners(b.N)
		for i := range extra {
			wheel.Schedule(&extra[i].timer, benchDelay(i))
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			wheel.Cancel(&extra[i].timer)
		}
		b.ReportMetric(memory, "bytes/timer")
	})
	b.Run("afterfunc", func(b *testing.B) {
		_, memory := newPendingAfterFuncs(b)
		extra := make([]*time.Timer, b.N)
		for i := range extra {
			extra[i] = time.AfterFunc(benchDelay(i), benchCallback)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			extra[i].Stop()
		}
		b.ReportMetric(memory, "bytes/timer")
	})
}

// BenchmarkReschedule moves an already pending timer to a new deadline, the
// per-pong operation of a gateway.
func BenchmarkReschedule(b *testing.B) {
	b.Run("wheel", func(b *testing.B) {
		wheel, owners, memory := newPendingWheel(b)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			wheel.Schedule(&owners[i%benchPendingTimers].timer, benchDelay(i+7))
		}
		b.ReportMetric(memory, "bytes/timer")
	})
	b.Run("afterfunc", func(b *testing.B) {
		timers, memory := newPendingAfterFuncs(b)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			timers[i%benchPendingTimers].Reset(benchDelay(i + 7))
		}
		b.ReportMetric(memory, "bytes/timer")
	})
}
