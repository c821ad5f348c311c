package main

import (
	"errors"

	"github.com/wsgate/wsgate/benchmarks/internal/result"
)

// subscriptionMemoryPrefix names the channels of the subscriptions scenario.
const subscriptionMemoryPrefix = "idle-"

// subscriptionMemory settles and reads the server with the fleet's connections idle,
// subscribes each to -channel-subs of -channels channels, settles and reads again:
// the difference over the confirmed subscriptions is the memory of one subscription
// with -channels channels in use. Two invocations that differ only in -channels give
// the memory of a channel from the difference of their figures.
func (b *bench) subscriptionMemory() (*result.SubscriptionMemory, error) {
	open := b.ensureConnections()
	if open == 0 {
		return nil, errors.New("no open connection")
	}
	start := b.mark()
	memory := &result.SubscriptionMemory{Before: b.sample()}
	memory.Subscriptions = b.subscribe(subscriptionMemoryPrefix, b.options.channels, b.options.channelSubscriptions)
	memory.After = b.sample()
	memory.CPU = b.since(start)
	confirmed := float64(memory.Subscriptions.Confirmed)
	if confirmed == 0 {
		return memory, errors.New("no subscription confirmed")
	}
	memory.RSSPerSubscription = float64(memory.After.RSS-memory.Before.RSS) / confirmed
	if memory.Before.Heap != nil && memory.After.Heap != nil {
		value := float64(*memory.After.Heap-*memory.Before.Heap) / confirmed
		memory.HeapPerSubscription = &value
	}
	return memory, nil
}
