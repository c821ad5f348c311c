package channels

import (
	"errors"
	"hash/maphash"
	"math/bits"
)

// Subscriber is what the Index needs of a subscriber: it is comparable (in practice a
// pointer: the delivery layer uses *session.Session) and names its user, "" for an
// anonymous one, to count each channel's distinct users. UserID must return the same
// value for the life of the subscriber; the index calls it before taking a lock.
type Subscriber interface {
	comparable
	UserID() string
}

// Config configures an Index. Zero values mean the documented defaults.
type Config struct {
	// Shards is the number of channel shards and of subscriber shards, rounded up
	// to a power of two. Default 64 (DefaultShards).
	Shards int
	// MaxSubscriptions caps the subscriptions of one subscriber (a connection's
	// -max-subscriptions-per-connection); the index enforces it atomically with the
	// subscribe. Default 128 (DefaultMaxSubscriptions); negative means unlimited.
	MaxSubscriptions int
	// Activity, when set, is called after a channel got its first subscriber on
	// this index (active true) or lost its last (active false), for the cluster layer
	// to subscribe to the channel's traffic from other nodes, or stop. It runs on the
	// goroutine that subscribed or unsubscribed, after every lock is released, so it
	// must be quick (queue the channel for a batch). Calls for one channel from
	// different goroutines may arrive out of order (a "false" after the "true" that
	// followed it), so a receiver treats a call as "this channel changed" and, when it
	// acts, reads the channel's current state with Channel; as every change is
	// followed by a call, the last read sees the final state. Default: none.
	Activity func(channel string, active bool)
}

// Defaults of Config.
const (
	DefaultShards           = 64
	DefaultMaxSubscriptions = 128
)

// Index is the channel index of one node: channel to subscribers (sharded by channel
// name) and subscriber to channels (sharded by user id, or by subscriber when
// anonymous), with counts kept on every change. A subscriber without subscriptions
// costs the index nothing. All methods are safe for concurrent use; the lock rules
// are in the package documentation.
//
// Memory (TestMemoryPerSubscriptionAndChannel, amd64): with 10 subscriptions per
// subscriber and 100 per channel a subscription costs about 59 bytes when every
// subscriber has its own user id and 50 when anonymous; with 5 per subscriber and
// 75 per channel 71 and 51 (the per-user record is shared by fewer); a channel
// costs about 182 bytes on top of its subscriptions (a channel with one subscriber
// about 240 bytes in all).
type Index[S Subscriber] struct {
	channelShards    []*channelShard[S]
	subscriberShards []*subscriberShard[S]
	shardMask        uint64
	seed             maphash.Seed
	maxSubscriptions int
	activity         func(channel string, active bool)
}

// NewIndex returns an empty Index.
func NewIndex[S Subscriber](config Config) (*Index[S], error) {
	if config.Shards < 0 {
		return nil, errors.New("channels: Config.Shards is negative")
	}
	if config.Shards == 0 {
		config.Shards = DefaultShards
	}
	if config.MaxSubscriptions == 0 {
		config.MaxSubscriptions = DefaultMaxSubscriptions
	}
	shards := 1 << bits.Len(uint(config.Shards-1))
	index := &Index[S]{
		channelShards:    make([]*channelShard[S], shards),
		subscriberShards: make([]*subscriberShard[S], shards),
		shardMask:        uint64(shards - 1),
		seed:             maphash.MakeSeed(),
		maxSubscriptions: config.MaxSubscriptions,
		activity:         config.Activity,
	}
	for position := range shards {
		index.channelShards[position] = &channelShard[S]{
			channels:   make(map[string]*channel[S]),
			namespaces: make(map[string]*ranking[S]),
		}
		index.subscriberShards[position] = newSubscriberShard[S]()
	}
	return index, nil
}

func (x *Index[S]) channelShardOf(channel string) *channelShard[S] {
	return x.channelShards[maphash.String(x.seed, channel)&x.shardMask]
}

// subscriberShardOf returns the shard of a subscriber with userID: chosen by the user
// id, so all of a user's connections share it, or by the subscriber when anonymous.
func (x *Index[S]) subscriberShardOf(subscriber S, userID string) *subscriberShard[S] {
	if userID != "" {
		return x.subscriberShards[maphash.String(x.seed, userID)&x.shardMask]
	}
	return x.subscriberShards[maphash.Comparable(x.seed, subscriber)&x.shardMask]
}

// Subscribe adds subscriber to channel. It returns ErrAlreadySubscribed,
// ErrTooManySubscriptions (the subscriber holds Config.MaxSubscriptions), or
// ErrTooManySubscribers (the channel holds maxSubscribers, its namespace's
// max_subscribers; 0 means unlimited), checked in that order; a refused subscribe
// changes nothing. The channel name must be valid (ValidateName): the index does
// not check it. Cost: O(subscriptions of the subscriber, and channels of its user
// when the user has several subscribed connections); it allocates 24 bytes, plus
// the channel when it is new, 48 bytes for a user's first subscription, and the
// channel's slice growth.
//
// A subscriber that is going away must not stay behind: its owner calls
// UnsubscribeAll once it no longer accepts subscriptions (a session after it left
// the open state), and a subscribe racing with that checks afterwards that the
// subscriber is still open and otherwise calls Unsubscribe itself.
func (x *Index[S]) Subscribe(subscriber S, channel string, maxSubscribers int) error {
	userID := subscriber.UserID()
	owner := x.subscriberShardOf(subscriber, userID)
	owner.mutex.Lock()
	first := owner.subscriptions[subscriber]
	count := 0
	var last *subscription[S]
	for existing := first; existing != nil; existing = existing.next {
		if existing.channel.name == channel {
			owner.mutex.Unlock()
			return ErrAlreadySubscribed
		}
		count++
		last = existing
	}
	if x.maxSubscriptions > 0 && count >= x.maxSubscriptions {
		owner.mutex.Unlock()
		return ErrTooManySubscriptions
	}
	newUser := owner.newUserLocked(subscriber, userID, channel)
	shard := x.channelShardOf(channel)
	shard.mutex.Lock()
	added, created, err := shard.addLocked(subscriber, channel, newUser, maxSubscribers)
	shard.mutex.Unlock()
	if err != nil {
		owner.mutex.Unlock()
		return err
	}
	if last == nil {
		owner.subscriptions[subscriber] = added
	} else {
		last.next = added
	}
	owner.joinedLocked(subscriber, userID, added.channel, first == nil)
	owner.mutex.Unlock()
	if created && x.activity != nil {
		x.activity(added.channel.name, true)
	}
	return nil
}

// Unsubscribe removes subscriber from channel, or returns ErrNotSubscribed. Cost:
// O(subscriptions of the subscriber, and channels of its user when the user has
// several subscribed connections), no allocation.
func (x *Index[S]) Unsubscribe(subscriber S, channel string) error {
	userID := subscriber.UserID()
	owner := x.subscriberShardOf(subscriber, userID)
	owner.mutex.Lock()
	first := owner.subscriptions[subscriber]
	removed, previous := findLocked(first, channel)
	if removed == nil {
		owner.mutex.Unlock()
		return ErrNotSubscribed
	}
	name := removed.channel.name
	lastOfUser := owner.leftLocked(userID, removed.channel, first.next == nil)
	shard := x.channelShardOf(name)
	shard.mutex.Lock()
	emptied := shard.removeLocked(removed, lastOfUser)
	shard.mutex.Unlock()
	owner.unlinkLocked(subscriber, previous, removed)
	owner.mutex.Unlock()
	if emptied && x.activity != nil {
		x.activity(name, false)
	}
	return nil
}

// UnsubscribeAll removes subscriber from every channel, as its disconnect needs, and
// appends the channels it was in to into (in no particular order), returning the
// extended slice; into may be nil. Cost: O(subscriptions of the subscriber) shard
// locks taken in turn (times the channels of its user when the user has several
// subscribed connections); no allocation beyond into's growth, unless
// Config.Activity is set and more than eight channels lose their last subscriber.
func (x *Index[S]) UnsubscribeAll(subscriber S, into []string) []string {
	userID := subscriber.UserID()
	owner := x.subscriberShardOf(subscriber, userID)
	owner.mutex.Lock()
	first := owner.subscriptions[subscriber]
	delete(owner.subscriptions, subscriber)
	// Channels this emptied, for Activity after unlocking; on the stack unless a
	// disconnect empties more than eight channels.
	var emptiedBuffer [8]string
	emptiedNames := emptiedBuffer[:0]
	for removed := first; removed != nil; removed = removed.next {
		name := removed.channel.name
		into = append(into, name)
		lastOfUser := owner.leftLocked(userID, removed.channel, removed.next == nil)
		shard := x.channelShardOf(name)
		shard.mutex.Lock()
		emptied := shard.removeLocked(removed, lastOfUser)
		shard.mutex.Unlock()
		if emptied && x.activity != nil {
			emptiedNames = append(emptiedNames, name)
		}
	}
	owner.mutex.Unlock()
	for _, name := range emptiedNames {
		x.activity(name, false)
	}
	return into
}

// Subscribers appends the subscribers of channel to into and returns the extended
// slice: the snapshot a publication is queued to. It copies the channel's dense
// slice under the shard's read lock, so pass a pooled buffer (into[:0]) and a
// publication to 15,000 subscribers allocates nothing; clear the buffer before
// pooling it, so it does not keep subscribers alive. O(subscribers of the channel),
// one memory copy.
func (x *Index[S]) Subscribers(channel string, into []S) []S {
	shard := x.channelShardOf(channel)
	shard.mutex.RLock()
	if found := shard.channels[channel]; found != nil {
		into = append(into, found.subscribers...)
	}
	shard.mutex.RUnlock()
	return into
}

// Subscribed reports whether subscriber is subscribed to channel, in
// O(subscriptions of the subscriber) with no allocation.
func (x *Index[S]) Subscribed(subscriber S, channel string) bool {
	owner := x.subscriberShardOf(subscriber, subscriber.UserID())
	owner.mutex.RLock()
	defer owner.mutex.RUnlock()
	found, _ := findLocked(owner.subscriptions[subscriber], channel)
	return found != nil
}

// SubscriptionsOf appends the channels subscriber is in to into (in the order
// subscribed) and returns the extended slice. O(subscriptions of the subscriber).
func (x *Index[S]) SubscriptionsOf(subscriber S, into []string) []string {
	owner := x.subscriberShardOf(subscriber, subscriber.UserID())
	owner.mutex.RLock()
	defer owner.mutex.RUnlock()
	for existing := owner.subscriptions[subscriber]; existing != nil; existing = existing.next {
		into = append(into, existing.channel.name)
	}
	return into
}

// SubscriptionCountOf returns how many channels subscriber is in, in
// O(subscriptions of the subscriber).
func (x *Index[S]) SubscriptionCountOf(subscriber S) int {
	owner := x.subscriberShardOf(subscriber, subscriber.UserID())
	owner.mutex.RLock()
	defer owner.mutex.RUnlock()
	count := 0
	for existing := owner.subscriptions[subscriber]; existing != nil; existing = existing.next {
		count++
	}
	return count
}
