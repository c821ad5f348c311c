package delivery

import (
	"sync/atomic"

	"github.com/wsgate/wsgate/channels"
)

// RefusalCodes are the codes by which refused channel operations are counted (see
// ChannelStats): the wire codes of package channels.
var RefusalCodes = [...]string{
	channels.CodeInvalidChannel,
	channels.CodePermissionDenied,
	channels.CodeAlreadySubscribed,
	channels.CodeNotSubscribed,
	channels.CodeTooManySubscriptions,
	channels.CodeTooManySubscribers,
	channels.CodePublishNotAllowed,
}

// refusalCounts counts refusals per position in RefusalCodes.
type refusalCounts [len(RefusalCodes)]atomic.Uint64

// add counts one refusal with code; a code outside RefusalCodes is not counted.
func (counts *refusalCounts) add(code string) {
	for position, known := range RefusalCodes {
		if known == code {
			counts[position].Add(1)
			return
		}
	}
}

// snapshot returns the counts by code.
func (counts *refusalCounts) snapshot() map[string]uint64 {
	values := make(map[string]uint64, len(RefusalCodes))
	for position, code := range RefusalCodes {
		values[code] = counts[position].Load()
	}
	return values
}

// channelCounters are the Publisher's channel counters, maintained as events happen.
type channelCounters struct {
	fromClients, fromAPI, fromCluster atomic.Uint64
	delivered                         atomic.Uint64
	subscribeRefusals                 refusalCounts
	publishRefusals                   refusalCounts
	broadcastRefusals                 atomic.Uint64
}

// ChannelStats are the channel figures of this node, for metrics. Every figure is
// a counter maintained as events happen, or a count the index keeps; reading them
// costs O(index shards).
type ChannelStats struct {
	// Channels is the number of channels with a subscriber on this node.
	Channels int
	// Subscriptions is the number of (connection, channel) pairs on this node.
	Subscriptions int
	// PublicationsFromClients, PublicationsFromAPI and PublicationsFromCluster count
	// the publications this node received: from its clients' publish, from the
	// backend (API or an embedding program), and from other nodes.
	PublicationsFromClients, PublicationsFromAPI, PublicationsFromCluster uint64
	// PublicationsDelivered counts the publication frames queued to this node's
	// subscribers (one per subscriber and publication).
	PublicationsDelivered uint64
	// SubscribeRefusals and PublishRefusals count the refused client subscribes
	// (unsubscribes count here too, with not_subscribed) and publishes by wire code,
	// one key per RefusalCodes entry.
	SubscribeRefusals, PublishRefusals map[string]uint64
	// BroadcastRefusals counts client broadcasts refused under authentication.
	BroadcastRefusals uint64
}

// ChannelStats returns this node's channel figures. Safe for concurrent use.
func (p *Publisher) ChannelStats() ChannelStats {
	return ChannelStats{
		Channels:                p.index.ChannelCount(),
		Subscriptions:           p.index.SubscriptionCount(),
		PublicationsFromClients: p.counters.fromClients.Load(),
		PublicationsFromAPI:     p.counters.fromAPI.Load(),
		PublicationsFromCluster: p.counters.fromCluster.Load(),
		PublicationsDelivered:   p.counters.delivered.Load(),
		SubscribeRefusals:       p.counters.subscribeRefusals.snapshot(),
		PublishRefusals:         p.counters.publishRefusals.snapshot(),
		BroadcastRefusals:       p.counters.broadcastRefusals.Load(),
	}
}
