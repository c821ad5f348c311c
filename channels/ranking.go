package channels

// A ranking orders one shard's channels by subscriber count: a list of non-empty
// count buckets from the highest count to the lowest, each holding its channels in an
// intrusive list (the structure of an O(1) LFU cache). A subscribe or unsubscribe
// moves its channel to the neighbouring bucket in O(1), and a listing walks from the
// top without visiting empty counts. Each shard keeps two: one of all its channels
// and one per namespace, so a listing by namespace skips no other namespace's
// channels. All of it is guarded by the shard's lock.

// ranking is one ordering: the ends of its list of buckets.
type ranking[S Subscriber] struct {
	highest, lowest *countBucket[S]
}

// countBucket holds the channels of one ranking that have count subscribers.
type countBucket[S Subscriber] struct {
	count         int
	head          *channel[S]
	higher, lower *countBucket[S]
}

// place is a channel's position in one ranking.
type place[S Subscriber] struct {
	bucket         *countBucket[S]
	previous, next *channel[S]
}

// The rankings a channel has a place in: channel.places[all] and
// channel.places[inNamespace].
const (
	all         = 0
	inNamespace = 1
)

// move puts target (places[which]) in the bucket for count, which is one more or one
// less than the count of its bucket; or target is new (no bucket; count 1), or
// emptied (count 0: it leaves the ranking). No allocation unless a bucket must be
// created between two others.
func (r *ranking[S]) move(target *channel[S], which, count int) {
	spot := &target.places[which]
	old := spot.bucket
	if old != nil && count > 0 && old.head == target && spot.next == nil {
		// Alone in its bucket: relabel the bucket unless the neighbour has the new
		// count. No other bucket lies between, so the order holds.
		neighbour := old.higher
		if count < old.count {
			neighbour = old.lower
		}
		if neighbour == nil || neighbour.count != count {
			old.count = count
			return
		}
	}
	var destination *countBucket[S]
	switch {
	case count == 0:
	case old == nil:
		destination = r.lowest
		if destination == nil || destination.count != count {
			destination = r.insertBucket(count, nil, r.lowest)
		}
	case count > old.count:
		destination = old.higher
		if destination == nil || destination.count != count {
			destination = r.insertBucket(count, old, old.higher)
		}
	default:
		destination = old.lower
		if destination == nil || destination.count != count {
			destination = r.insertBucket(count, old.lower, old)
		}
	}
	if old != nil {
		r.unlink(target, which)
	}
	if destination != nil {
		spot.bucket = destination
		spot.next = destination.head
		if destination.head != nil {
			destination.head.places[which].previous = target
		}
		destination.head = target
	}
}

// insertBucket links a new empty bucket for count between lower and higher (either
// nil at an end of the list).
func (r *ranking[S]) insertBucket(count int, lower, higher *countBucket[S]) *countBucket[S] {
	inserted := &countBucket[S]{count: count, lower: lower, higher: higher}
	if lower != nil {
		lower.higher = inserted
	} else {
		r.lowest = inserted
	}
	if higher != nil {
		higher.lower = inserted
	} else {
		r.highest = inserted
	}
	return inserted
}

// unlink takes target out of its bucket, and the bucket out of the list when it is
// left empty.
func (r *ranking[S]) unlink(target *channel[S], which int) {
	spot := &target.places[which]
	bucket := spot.bucket
	if spot.previous != nil {
		spot.previous.places[which].next = spot.next
	} else {
		bucket.head = spot.next
	}
	if spot.next != nil {
		spot.next.places[which].previous = spot.previous
	}
	*spot = place[S]{}
	if bucket.head != nil {
		return
	}
	if bucket.lower != nil {
		bucket.lower.higher = bucket.higher
	} else {
		r.lowest = bucket.higher
	}
	if bucket.higher != nil {
		bucket.higher.lower = bucket.lower
	} else {
		r.highest = bucket.lower
	}
}

// empty reports whether the ranking holds no channel.
func (r *ranking[S]) empty() bool { return r.highest == nil }

// first returns the channel with the most subscribers (one of them), or nil.
func (r *ranking[S]) first() *channel[S] {
	if r == nil || r.highest == nil {
		return nil
	}
	return r.highest.head
}

// following returns the channel after current in descending count order within
// ranking which, or nil.
func following[S Subscriber](current *channel[S], which int) *channel[S] {
	spot := &current.places[which]
	if spot.next != nil {
		return spot.next
	}
	if lower := spot.bucket.lower; lower != nil {
		return lower.head
	}
	return nil
}
