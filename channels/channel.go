package channels

import (
	"strings"
	"sync"
	"sync/atomic"
)

// subscription is one subscriber in one channel. The subscriber's list links it (so
// unsubscribe and disconnect find the channel without a lookup, and a subscriber's
// list costs no slice of its own), and the channel holds it at the same position
// as the subscriber (so removal is a swap with the last, O(1)). 24 bytes.
type subscription[S Subscriber] struct {
	channel *channel[S]
	// next is the subscriber's next subscription, nil for its last; guarded by the
	// subscriber's shard lock.
	next *subscription[S]
	// position is the index in channel.subscribers; guarded by the channel's shard
	// lock (a removal moves another subscription into the freed place).
	position int32
}

// channel is one channel with at least one subscriber on this index; all fields are
// guarded by its shard's lock. It is 128 bytes.
type channel[S Subscriber] struct {
	// name is a copy of the subscriber's string, so the index never pins a larger
	// buffer the name was cut from.
	name string
	// subscribers is dense, so a publication's snapshot is one copy of a slice;
	// subscriptions runs parallel to it.
	subscribers   []S
	subscriptions []*subscription[S]
	// users is the number of distinct non-empty user ids among the subscribers;
	// the subscriber shards decide when it changes (userSubscriptions).
	users int32
	// namespace is the shard's ranking of the channels of this channel's namespace;
	// places are this channel's positions in the shard's rankings (all, then
	// inNamespace).
	namespace *ranking[S]
	places    [2]place[S]
}

// channelShard holds the channels whose names hash to it.
type channelShard[S Subscriber] struct {
	mutex    sync.RWMutex
	channels map[string]*channel[S]
	// ranking orders all the shard's channels by subscriber count, namespaces
	// those of each namespace with at least one channel here.
	ranking    ranking[S]
	namespaces map[string]*ranking[S]
	// channelCount and subscriptionCount are written under mutex and read without
	// it, so totals cost O(shards) and never wait for a writer.
	channelCount      atomic.Int64
	subscriptionCount atomic.Int64
}

// shrinkThreshold is the capacity from which a channel's slices are reallocated
// when they fall to a quarter full, so a channel that once had 100,000 subscribers
// does not keep 1.6 MB for its last few.
const shrinkThreshold = 64

// grownCapacity is the capacity a channel's full slices of length grow to: a
// quarter more (at least one), not append's double, so that a channel's slices
// carry about a tenth of unused room rather than up to half (a third on average):
// 16 bytes a subscriber pays for each unused place. The extra copies keep a
// subscribe amortized O(1).
func grownCapacity(length int) int {
	return length + max(length/4, 1)
}

// addLocked adds subscriber to the channel named name, creating it, unless the
// channel holds maxSubscribers (0: unlimited) already; newUser says the subscriber's
// user has no other connection in the channel. It returns the subscription and
// whether the channel is new on this index. The caller holds the shard's mutex for
// writing and has checked that subscriber is not in the channel.
func (sh *channelShard[S]) addLocked(subscriber S, name string, newUser bool, maxSubscribers int) (*subscription[S], bool, error) {
	target := sh.channels[name]
	created := target == nil
	if created {
		target = &channel[S]{name: strings.Clone(name)}
		namespace := NamespaceOf(target.name)
		target.namespace = sh.namespaces[namespace]
		if target.namespace == nil {
			target.namespace = new(ranking[S])
			sh.namespaces[namespace] = target.namespace
		}
		sh.channels[target.name] = target
		sh.channelCount.Add(1)
	} else if maxSubscribers > 0 && len(target.subscribers) >= maxSubscribers {
		return nil, false, ErrTooManySubscribers
	}
	if len(target.subscribers) == cap(target.subscribers) {
		capacity := grownCapacity(len(target.subscribers))
		target.subscribers = append(make([]S, 0, capacity), target.subscribers...)
		target.subscriptions = append(make([]*subscription[S], 0, capacity), target.subscriptions...)
	}
	added := &subscription[S]{channel: target, position: int32(len(target.subscribers))}
	target.subscribers = append(target.subscribers, subscriber)
	target.subscriptions = append(target.subscriptions, added)
	if newUser {
		target.users++
	}
	sh.subscriptionCount.Add(1)
	sh.rankLocked(target)
	return added, created, nil
}

// removeLocked removes the subscription from its channel and reports whether that
// emptied the channel, which then leaves the index; lastOfUser says it was the last
// connection of its user in the channel. The caller holds the shard's mutex for
// writing.
func (sh *channelShard[S]) removeLocked(removed *subscription[S], lastOfUser bool) (emptied bool) {
	target := removed.channel
	last := len(target.subscribers) - 1
	moved := target.subscriptions[last]
	target.subscribers[removed.position] = target.subscribers[last]
	target.subscriptions[removed.position] = moved
	moved.position = removed.position
	var zero S
	target.subscribers[last] = zero
	target.subscriptions[last] = nil
	target.subscribers = target.subscribers[:last]
	target.subscriptions = target.subscriptions[:last]
	if lastOfUser {
		target.users--
	}
	sh.subscriptionCount.Add(-1)
	sh.rankLocked(target)
	if last == 0 {
		delete(sh.channels, target.name)
		if target.namespace.empty() {
			delete(sh.namespaces, NamespaceOf(target.name))
		}
		sh.channelCount.Add(-1)
		return true
	}
	if capacity := cap(target.subscribers); capacity >= shrinkThreshold && last <= capacity/4 {
		target.subscribers = append(make([]S, 0, 2*last), target.subscribers...)
		target.subscriptions = append(make([]*subscription[S], 0, 2*last), target.subscriptions...)
	}
	return false
}

// rankLocked moves target to its subscriber count's place in the shard's rankings.
func (sh *channelShard[S]) rankLocked(target *channel[S]) {
	count := len(target.subscribers)
	sh.ranking.move(target, all, count)
	target.namespace.move(target, inNamespace, count)
}
