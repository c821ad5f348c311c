package timerwheel

import (
	"slices"
	"testing"
)

// bucketContents walks the bucket forwards and backwards and fails if the two
// directions disagree, so a broken previous link cannot hide.
func bucketContents(t *testing.T, bucket *bucket) []*Timer {
	t.Helper()
	var forwards, backwards []*Timer
	for timer := bucket.head; timer != nil; timer = timer.next {
		forwards = append(forwards, timer)
	}
	for timer := bucket.tail; timer != nil; timer = timer.previous {
		backwards = append(backwards, timer)
	}
	slices.Reverse(backwards)
	if !slices.Equal(forwards, backwards) {
		t.Fatalf("forward walk %v differs from backward walk %v", forwards, backwards)
	}
	return forwards
}

func TestBucketAppendAndRemove(t *testing.T) {
	var bucket bucket
	timers := make([]Timer, 4)
	for i := range timers {
		bucket.append(&timers[i])
	}
	first, second, third, fourth := &timers[0], &timers[1], &timers[2], &timers[3]
	if got := bucketContents(t, &bucket); !slices.Equal(got, []*Timer{first, second, third, fourth}) {
		t.Fatal("append did not keep insertion order")
	}
	for _, step := range []struct {
		remove *Timer
		want   []*Timer
	}{
		{second, []*Timer{first, third, fourth}},
		{first, []*Timer{third, fourth}},
		{fourth, []*Timer{third}},
		{third, nil},
	} {
		bucket.remove(step.remove)
		if got := bucketContents(t, &bucket); !slices.Equal(got, step.want) {
			t.Fatalf("after removing a timer: %d timers left, want %d", len(got), len(step.want))
		}
		if step.remove.next != nil || step.remove.previous != nil {
			t.Fatal("removed timer keeps its links")
		}
	}
	if bucket.head != nil || bucket.tail != nil {
		t.Fatal("empty bucket keeps a head or tail")
	}
}

func TestBucketCollectDueKeepsLaterRotations(t *testing.T) {
	var bucket bucket
	deadlines := []int64{3, 11, 3, 19, 2}
	timers := make([]Timer, len(deadlines))
	for i, deadline := range deadlines {
		timers[i].deadline = deadline
		timers[i].state.Store(statePending)
		bucket.append(&timers[i])
	}
	var due firingList
	bucket.collectDue(3, &due)
	var collected []*Timer
	for timer := due.head; timer != nil; timer = timer.nextFiring {
		collected = append(collected, timer)
		if timer.state.Load() != stateFiring {
			t.Fatal("collected timer is not marked firing")
		}
	}
	if !slices.Equal(collected, []*Timer{&timers[0], &timers[2], &timers[4]}) || due.length != 3 || due.tail != &timers[4] {
		t.Fatalf("collected %d timers (length %d), want the three due ones in order", len(collected), due.length)
	}
	if got := bucketContents(t, &bucket); !slices.Equal(got, []*Timer{&timers[1], &timers[3]}) {
		t.Fatalf("bucket keeps %d timers, want the two later ones", len(got))
	}
}
