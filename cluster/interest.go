package cluster

import (
	"sync"
	"time"
)

// Channel subscriptions in Redis. A node receives a channel's publications through
// the shard channel ch:{<channel>}, subscribed on its subscription connection to the
// channel's shard (shards.go) only while the channel has a subscriber on this node. ChannelInterest runs on client handler goroutines when a channel's first
// local subscriber arrives or its last leaves, so it only marks the channel as
// changed, in a set. The subscription goroutine takes the marked channels
// channelBatchDelay after the first mark (at once when channelBatchSize are marked),
// asks the Receiver which of them have local subscribers now, and sends one
// SSUBSCRIBE and one SUNSUBSCRIBE for the whole batch (per slot under Redis
// Cluster). Reading the truth when acting
// makes the order of the calls for one channel irrelevant: a subscribe and an
// unsubscribe racing on two handlers end in whatever the channel's state is when
// the batch runs. After a connection breaks, its channels are subscribed again, in
// batches.

// channelBatchDelay is how long the subscription goroutine collects channel changes
// before it acts: short next to a human's wait for a first message, long enough that
// a burst of subscribes (a reconnect storm, a page subscribing to ten channels)
// becomes a few commands.
const channelBatchDelay = 10 * time.Millisecond

// channelBatchSize is how many marked channels make the goroutine act before
// channelBatchDelay, and the most channels one SSUBSCRIBE or SUNSUBSCRIBE names.
const channelBatchSize = 1000

// interest tracks which channels this node receives from Redis. Safe for
// concurrent use as stated per field.
type interest struct {
	// pendingMutex guards pending, the channels marked since the last batch: a set,
	// so a channel subscribed and unsubscribed a thousand times in one batch costs
	// one entry.
	pendingMutex sync.Mutex
	pending      map[string]struct{}
	// wake signals that pending became non-empty, full that it reached
	// channelBatchSize. Both hold at most one signal.
	wake chan struct{}
	full chan struct{}

	// wanted holds the channels with local subscribers as of their last check. Only
	// the subscription goroutine uses it.
	wanted map[string]struct{}

	// confirmedMutex guards confirmed, the channels Redis confirmed on a live
	// subscription connection (a lost connection unconfirms its channels,
	// shards.go), and waiters, the channels closed when a channel is confirmed
	// (see await).
	confirmedMutex sync.RWMutex
	confirmed      map[string]struct{}
	waiters        map[string][]chan struct{}
}

func (i *interest) init() {
	i.pending = make(map[string]struct{})
	i.wake = make(chan struct{}, 1)
	i.full = make(chan struct{}, 1)
	i.wanted = make(map[string]struct{})
	i.confirmed = make(map[string]struct{})
	i.waiters = make(map[string][]chan struct{})
}

// mark records that channel's local subscribers changed. It never blocks on
// anything but the set's mutex.
func (i *interest) mark(channel string) {
	i.pendingMutex.Lock()
	if _, marked := i.pending[channel]; marked {
		i.pendingMutex.Unlock()
		return
	}
	i.pending[channel] = struct{}{}
	count := len(i.pending)
	i.pendingMutex.Unlock()
	switch count {
	case 1:
		signal(i.wake)
	case channelBatchSize:
		signal(i.full)
	}
}

// signal sends on a channel of capacity one unless a signal is waiting already.
func signal(channel chan struct{}) {
	select {
	case channel <- struct{}{}:
	default:
	}
}

// take removes and returns the marked channels.
func (i *interest) take() map[string]struct{} {
	i.pendingMutex.Lock()
	defer i.pendingMutex.Unlock()
	if len(i.pending) == 0 {
		return nil
	}
	taken := i.pending
	i.pending = make(map[string]struct{})
	return taken
}

// decide brings wanted up to date for the changed channels, asking hasSubscribers
// for each, and returns the channels that became wanted and those that no longer
// are. Only the subscription goroutine calls it.
func (i *interest) decide(changed map[string]struct{}, hasSubscribers func(string) bool) (subscribe, unsubscribe []string) {
	for channel := range changed {
		_, wanted := i.wanted[channel]
		switch has := hasSubscribers(channel); {
		case has && !wanted:
			i.wanted[channel] = struct{}{}
			subscribe = append(subscribe, channel)
		case !has && wanted:
			delete(i.wanted, channel)
			unsubscribe = append(unsubscribe, channel)
		}
	}
	return subscribe, unsubscribe
}

// confirm records Redis's confirmation of a subscribe (subscribed true) or an
// unsubscribe of channel, or the loss of its connection (subscribed false).
func (i *interest) confirm(channel string, subscribed bool) {
	i.confirmedMutex.Lock()
	defer i.confirmedMutex.Unlock()
	if subscribed {
		i.confirmed[channel] = struct{}{}
		for _, waiter := range i.waiters[channel] {
			close(waiter)
		}
		delete(i.waiters, channel)
	} else {
		delete(i.confirmed, channel)
	}
}

// isConfirmed reports whether Redis confirmed channel on the current connection.
func (i *interest) isConfirmed(channel string) bool {
	i.confirmedMutex.RLock()
	defer i.confirmedMutex.RUnlock()
	_, confirmed := i.confirmed[channel]
	return confirmed
}

// confirmedCount returns how many channels Redis confirmed on the current
// connection.
func (i *interest) confirmedCount() int {
	i.confirmedMutex.RLock()
	defer i.confirmedMutex.RUnlock()
	return len(i.confirmed)
}

// await returns nil when Redis confirmed channel on the current connection, and
// otherwise a channel closed at its confirmation (on this connection or a later
// one). A caller that stops waiting first calls forget with it.
func (i *interest) await(channel string) chan struct{} {
	i.confirmedMutex.Lock()
	defer i.confirmedMutex.Unlock()
	if _, confirmed := i.confirmed[channel]; confirmed {
		return nil
	}
	waiter := make(chan struct{})
	i.waiters[channel] = append(i.waiters[channel], waiter)
	return waiter
}

// forget removes waiter, returned by await for channel, if it is still waiting.
func (i *interest) forget(channel string, waiter chan struct{}) {
	i.confirmedMutex.Lock()
	defer i.confirmedMutex.Unlock()
	waiters := i.waiters[channel]
	for index, candidate := range waiters {
		if candidate == waiter {
			waiters[index] = waiters[len(waiters)-1]
			waiters[len(waiters)-1] = nil
			waiters = waiters[:len(waiters)-1]
			break
		}
	}
	if len(waiters) == 0 {
		delete(i.waiters, channel)
	} else {
		i.waiters[channel] = waiters
	}
}
