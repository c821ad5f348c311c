package channels

import (
	"slices"
	"strings"
)

// ChannelCounts are the counts of one channel on this index.
type ChannelCounts struct {
	Channel string
	// Subscribers is the number of subscriptions to the channel.
	Subscribers int
	// Users is the number of distinct non-empty user ids among them (anonymous
	// subscribers are not counted).
	Users int
}

// MergedCounts are channel counts summed over several indexes, the nodes of a
// cluster: how many nodes answered (the asking one included) and how many live nodes
// did not answer in time (Missing; the counts are then partial). A value type.
type MergedCounts struct {
	// Channels holds the counts: one entry for a query of one channel, most
	// subscribers first (then by name) for a listing.
	Channels []ChannelCounts
	// Truncated says that a listing had more matching channels than its limit.
	Truncated bool
	// Nodes is the number of nodes whose counts are summed.
	Nodes int
	// Missing is the number of live nodes that did not answer.
	Missing int
}

// Channel returns the counts of channel and whether it has subscribers on this
// index, in O(1) under the channel's shard read lock.
func (x *Index[S]) Channel(channel string) (ChannelCounts, bool) {
	shard := x.channelShardOf(channel)
	shard.mutex.RLock()
	defer shard.mutex.RUnlock()
	found := shard.channels[channel]
	if found == nil {
		return ChannelCounts{Channel: channel}, false
	}
	return found.counts(), true
}

// counts returns the channel's counts; the caller holds its shard's lock.
func (c *channel[S]) counts() ChannelCounts {
	return ChannelCounts{Channel: c.name, Subscribers: len(c.subscribers), Users: int(c.users)}
}

// ChannelCount returns the number of channels with at least one subscriber, in
// O(shards) without locking.
func (x *Index[S]) ChannelCount() int {
	total := int64(0)
	for _, shard := range x.channelShards {
		total += shard.channelCount.Load()
	}
	return int(total)
}

// SubscriptionCount returns the number of subscriptions (subscriber and channel
// pairs), in O(shards) without locking.
func (x *Index[S]) SubscriptionCount() int {
	total := int64(0)
	for _, shard := range x.channelShards {
		total += shard.subscriptionCount.Load()
	}
	return int(total)
}

// TopChannels returns up to limit channels whose names start with prefix ("" for
// all), most subscribers first (equal counts by name; which of several channels tied
// at the limit is listed is not specified), and whether matching channels were left
// out. A limit below 1 returns nothing.
//
// Each shard ranks its channels by subscriber count, all of them and those of each
// namespace, so the listing merges the shards' rankings from the highest count down
// and stops after limit channels: it costs O(shards + limit x log shards), whatever
// the number of channels and subscribers, without a prefix and with a prefix that
// starts with a namespace and its ':' ("chat:"). The rest of such a prefix
// ("chat:room-") skips the namespace's channels that do not match; a prefix without
// ':' skips every channel that does not match. Skipping costs the channels that rank
// above the matches, never subscribers. The shards are read-locked together, in
// ascending order, for the merge: the result is one consistent moment, and
// subscribes wait at most that long.
func (x *Index[S]) TopChannels(prefix string, limit int) (top []ChannelCounts, truncated bool) {
	if limit < 1 {
		return nil, false
	}
	which := all
	namespace, _, byNamespace := strings.Cut(prefix, string(NamespaceSeparator))
	if byNamespace {
		which = inNamespace
	}
	top = make([]ChannelCounts, 0, min(limit, x.ChannelCount()))
	for _, shard := range x.channelShards {
		shard.mutex.RLock()
	}
	// cursors is a max-heap, by subscriber count, of each shard's next matching
	// channel.
	cursors := make([]*channel[S], 0, len(x.channelShards))
	for _, shard := range x.channelShards {
		ranking := &shard.ranking
		if byNamespace {
			ranking = shard.namespaces[namespace]
		}
		if first := nextMatch(ranking.first(), which, prefix); first != nil {
			cursors = append(cursors, first)
		}
	}
	heapify(cursors)
	for len(cursors) > 0 && len(top) < limit {
		best := cursors[0]
		top = append(top, best.counts())
		if next := nextMatch(following(best, which), which, prefix); next != nil {
			cursors[0] = next
		} else {
			last := len(cursors) - 1
			cursors[0] = cursors[last]
			cursors = cursors[:last]
		}
		siftDown(cursors, 0)
	}
	truncated = len(cursors) > 0
	for _, shard := range x.channelShards {
		shard.mutex.RUnlock()
	}
	slices.SortFunc(top, func(left, right ChannelCounts) int {
		if left.Subscribers != right.Subscribers {
			return right.Subscribers - left.Subscribers
		}
		return strings.Compare(left.Channel, right.Channel)
	})
	return top, truncated
}

// nextMatch returns candidate or the first channel after it in ranking which whose
// name starts with prefix, or nil.
func nextMatch[S Subscriber](candidate *channel[S], which int, prefix string) *channel[S] {
	for candidate != nil && !strings.HasPrefix(candidate.name, prefix) {
		candidate = following(candidate, which)
	}
	return candidate
}

// heapify orders cursors as a max-heap by subscriber count.
func heapify[S Subscriber](cursors []*channel[S]) {
	for position := len(cursors)/2 - 1; position >= 0; position-- {
		siftDown(cursors, position)
	}
}

// siftDown restores the max-heap below position.
func siftDown[S Subscriber](cursors []*channel[S], position int) {
	for {
		largest := position
		for _, child := range [2]int{2*position + 1, 2*position + 2} {
			if child < len(cursors) && len(cursors[child].subscribers) > len(cursors[largest].subscribers) {
				largest = child
			}
		}
		if largest == position {
			return
		}
		cursors[position], cursors[largest] = cursors[largest], cursors[position]
		position = largest
	}
}
