package timerwheel

// firingList is the intrusive singly linked list, through Timer.nextFiring,
// of the timers one Advance call has collected. Building it under the lock and
// walking it after the lock is released costs no allocation per tick, however
// many timers fire. It lives on Advance's stack.
type firingList struct {
	head, tail *Timer
	length     int
}

// append links timer at the tail of the list; requires the wheel lock.
func (list *firingList) append(timer *Timer) {
	timer.nextFiring = nil
	if list.tail == nil {
		list.head = timer
	} else {
		list.tail.nextFiring = timer
	}
	list.tail = timer
	list.length++
}

// sortByDeadline orders the list starting at head, which must be exactly
// length long, by deadline tick, keeping the collection order of timers with
// equal deadlines, and returns the new head. Only needed when Advance catches
// up on more than one rotation, because then one bucket can hold due timers
// from several rotations. It is a top-down merge sort over the links:
// O(n log n), no allocation, recursion depth log2(n) (20 for 1,000,000
// timers). Requires the wheel lock, because it reads deadlines that Schedule
// writes.
func sortByDeadline(head *Timer, length int) *Timer {
	if length < 2 {
		return head
	}
	half := length / 2
	lastOfLeft := head
	for range half - 1 {
		lastOfLeft = lastOfLeft.nextFiring
	}
	right := lastOfLeft.nextFiring
	lastOfLeft.nextFiring = nil
	return mergeByDeadline(sortByDeadline(head, half), sortByDeadline(right, length-half))
}

// mergeByDeadline merges two sorted lists, taking from left on ties so that
// the sort is stable.
func mergeByDeadline(left, right *Timer) *Timer {
	var head *Timer
	link := &head
	for left != nil && right != nil {
		if left.deadline <= right.deadline {
			*link = left
			link = &left.nextFiring
			left = left.nextFiring
		} else {
			*link = right
			link = &right.nextFiring
			right = right.nextFiring
		}
	}
	if left != nil {
		*link = left
	} else {
		*link = right
	}
	return head
}
