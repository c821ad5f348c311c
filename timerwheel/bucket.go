package timerwheel

// bucket is one slot of the wheel: an intrusive doubly linked list of the
// timers whose deadline tick maps to the slot. The links live in the Timer, so
// a bucket is 16 B (64 KiB for the default 4096 slots) and linking or
// unlinking a timer is O(1) and allocation-free. Timers are appended at the
// tail so that timers with the same deadline tick fire in scheduling order.
// All methods require the wheel lock.
type bucket struct {
	head, tail *Timer
}

// append links timer at the tail of the bucket.
func (b *bucket) append(timer *Timer) {
	timer.next = nil
	timer.previous = b.tail
	if b.tail == nil {
		b.head = timer
	} else {
		b.tail.next = timer
	}
	b.tail = timer
}

// remove unlinks timer, which must be linked into this bucket.
func (b *bucket) remove(timer *Timer) {
	if timer.previous == nil {
		b.head = timer.next
	} else {
		timer.previous.next = timer.next
	}
	if timer.next == nil {
		b.tail = timer.previous
	} else {
		timer.next.previous = timer.previous
	}
	timer.previous = nil
	timer.next = nil
}

// collectDue moves every timer whose deadline tick is at or before target
// from the bucket to the tail of due and marks it firing. Timers whose
// deadline lies in a later rotation stay linked; skipping them is the cost of
// storing absolute deadlines instead of keeping one list per rotation.
func (b *bucket) collectDue(target int64, due *firingList) {
	for timer := b.head; timer != nil; {
		next := timer.next
		if timer.deadline <= target {
			b.remove(timer)
			timer.state.Store(stateFiring)
			due.append(timer)
		}
		timer = next
	}
}
