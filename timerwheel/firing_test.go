package timerwheel

import (
	"math/rand/v2"
	"testing"
)

func TestSortByDeadlineIsOrderedAndStable(t *testing.T) {
	random := rand.New(rand.NewPCG(5, 6))
	for _, length := range []int{0, 1, 2, 3, 7, 1000} {
		timers := make([]Timer, length)
		position := make(map[*Timer]int, length)
		var list firingList
		for i := range timers {
			timers[i].deadline = random.Int64N(10)
			position[&timers[i]] = i
			list.append(&timers[i])
		}
		head := sortByDeadline(list.head, list.length)
		count := 0
		var previous *Timer
		for timer := head; timer != nil; timer = timer.nextFiring {
			count++
			if previous != nil {
				if timer.deadline < previous.deadline {
					t.Fatalf("length %d: deadline %d after %d", length, timer.deadline, previous.deadline)
				}
				if timer.deadline == previous.deadline && position[timer] < position[previous] {
					t.Fatalf("length %d: equal deadlines %d out of collection order", length, timer.deadline)
				}
			}
			previous = timer
		}
		if count != length {
			t.Fatalf("sorted list has %d timers, want %d", count, length)
		}
	}
}
