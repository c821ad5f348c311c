package channels

import "sync"

// subscriberShard holds the subscription lists of the subscribers that hash to it:
// by user id, so that every connection of a user is here, or by the subscriber for
// an anonymous one.
type subscriberShard[S Subscriber] struct {
	mutex sync.RWMutex
	// subscriptions holds the first of each subscriber's own subscriptions, linked
	// through subscription.next in subscription order: a map entry of 16 bytes and
	// no slice per subscriber (a slice header in the entry and a list grown by
	// doubling cost a connection of 5 subscriptions about 100 bytes more). A
	// subscriber with none has no entry.
	subscriptions map[S]*subscription[S]
	// users holds the users with at least one subscribed connection: a channel's
	// distinct user count changes only when a user's first connection joins it or
	// its last leaves, and this is where the index learns which.
	users map[string]*userSubscriptions[S]
}

// userSubscriptions says which channels one user's connections are in. While a
// single connection of the user has subscriptions, that connection's own list says
// it, and channels stays nil (no cost beyond this 48-byte struct: most users have
// one connection). From the second subscribed connection on, channels lists each
// channel with its number of the user's connections (16 bytes per channel) until
// the user has no subscribed connection left.
type userSubscriptions[S Subscriber] struct {
	single      S
	connections int32
	channels    []userChannel[S]
}

// userChannel is one channel one user's connections are in.
type userChannel[S Subscriber] struct {
	channel     *channel[S]
	connections int32
}

func newSubscriberShard[S Subscriber]() *subscriberShard[S] {
	return &subscriberShard[S]{
		subscriptions: make(map[S]*subscription[S]),
		users:         make(map[string]*userSubscriptions[S]),
	}
}

// findLocked returns the subscription to channel in the list that starts at first
// and the one before it (nil when it is the first), or a nil subscription and the
// list's last. The caller holds the mutex.
func findLocked[S Subscriber](first *subscription[S], channel string) (found, previous *subscription[S]) {
	for existing := first; existing != nil; existing = existing.next {
		if existing.channel.name == channel {
			return existing, previous
		}
		previous = existing
	}
	return nil, previous
}

// newUserLocked reports whether subscriber, of userID and not in channel, would be
// its user's first connection in channel; an anonymous subscriber never counts. The
// caller holds the mutex.
func (sh *subscriberShard[S]) newUserLocked(subscriber S, userID, channel string) bool {
	if userID == "" {
		return false
	}
	user := sh.users[userID]
	switch {
	case user == nil:
		return true
	case user.channels == nil:
		found, _ := findLocked(sh.subscriptions[user.single], channel)
		return user.single == subscriber || found == nil
	}
	for _, entry := range user.channels {
		if entry.channel.name == channel {
			return false
		}
	}
	return true
}

// joinedLocked records that subscriber, of userID, joined channel joined;
// firstOfSubscriber says it had no subscription before. The caller holds the mutex
// for writing and has added the subscription to the subscriber's list.
func (sh *subscriberShard[S]) joinedLocked(subscriber S, userID string, joined *channel[S], firstOfSubscriber bool) {
	if userID == "" {
		return
	}
	user := sh.users[userID]
	switch {
	case user == nil:
		sh.users[userID] = &userSubscriptions[S]{single: subscriber, connections: 1}
		return
	case user.channels == nil && user.single == subscriber:
		return
	case user.channels == nil:
		// A second connection: from now on the user's channels are listed.
		for existing := sh.subscriptions[user.single]; existing != nil; existing = existing.next {
			user.channels = append(user.channels, userChannel[S]{channel: existing.channel, connections: 1})
		}
		var none S
		user.single = none
	}
	if firstOfSubscriber {
		user.connections++
	}
	for position := range user.channels {
		if user.channels[position].channel == joined {
			user.channels[position].connections++
			return
		}
	}
	user.channels = append(user.channels, userChannel[S]{channel: joined, connections: 1})
}

// leftLocked records that subscriber, of userID, left channel left; lastOfSubscriber
// says it has no subscription any more. It reports whether that was the user's last
// connection in the channel. The caller holds the mutex for writing.
func (sh *subscriberShard[S]) leftLocked(userID string, left *channel[S], lastOfSubscriber bool) (lastOfUser bool) {
	if userID == "" {
		return false
	}
	user := sh.users[userID]
	if lastOfSubscriber {
		if user.connections--; user.connections == 0 {
			delete(sh.users, userID)
			return true
		}
	}
	if user.channels == nil {
		return true
	}
	for position := range user.channels {
		entry := &user.channels[position]
		if entry.channel != left {
			continue
		}
		if entry.connections--; entry.connections > 0 {
			return false
		}
		last := len(user.channels) - 1
		user.channels[position] = user.channels[last]
		user.channels[last] = userChannel[S]{}
		user.channels = user.channels[:last]
		return true
	}
	return true
}

// unlinkLocked takes removed, which follows previous (nil: removed is the first),
// out of subscriber's list. The caller holds the mutex for writing.
func (sh *subscriberShard[S]) unlinkLocked(subscriber S, previous, removed *subscription[S]) {
	switch {
	case previous != nil:
		previous.next = removed.next
	case removed.next != nil:
		sh.subscriptions[subscriber] = removed.next
	default:
		delete(sh.subscriptions, subscriber)
	}
	removed.next = nil
}
