package channels

import "sync"

// subscriberShard holds the subscription lists of the subscribers that hash to it:
// by user id, so that every connection of a user is here, or by the subscriber for
// an anonymous one.
type subscriberShard[S Subscriber] struct {
	mutex sync.RWMutex
	// subscriptions holds each subscriber's own small list, in subscription order
	// except that an unsubscribe moves the last into the freed place. A subscriber
	// with none has no entry.
	subscriptions map[S][]*subscription[S]
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
		subscriptions: make(map[S][]*subscription[S]),
		users:         make(map[string]*userSubscriptions[S]),
	}
}

// findLocked returns the position of channel in list, or -1. The caller holds the
// mutex.
func findLocked[S Subscriber](list []*subscription[S], channel string) int {
	for position, existing := range list {
		if existing.channel.name == channel {
			return position
		}
	}
	return -1
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
		return user.single == subscriber || findLocked(sh.subscriptions[user.single], channel) < 0
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
		for _, existing := range sh.subscriptions[user.single] {
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

// removeSubscriptionLocked takes the subscription at position out of subscriber's
// list. The caller holds the mutex for writing.
func (sh *subscriberShard[S]) removeSubscriptionLocked(subscriber S, list []*subscription[S], position int) {
	last := len(list) - 1
	list[position] = list[last]
	list[last] = nil
	if last == 0 {
		delete(sh.subscriptions, subscriber)
	} else {
		sh.subscriptions[subscriber] = list[:last]
	}
}
