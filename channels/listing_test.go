package channels

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// subscribeMany gives channel count subscribers, created for it.
func subscribeMany(t *testing.T, index *Index[*testSubscriber], channel string, count int) []*testSubscriber {
	t.Helper()
	subscribers := make([]*testSubscriber, count)
	for position := range subscribers {
		subscribers[position] = &testSubscriber{fmt.Sprint("user", position%3)}
		if err := index.Subscribe(subscribers[position], channel, 0); err != nil {
			t.Fatal(err)
		}
	}
	return subscribers
}

func TestTopChannelsOrdersByCountThenName(t *testing.T) {
	index := newTestIndex(t, Config{Shards: 4})
	for channel, count := range map[string]int{"news": 5, "chat:a": 3, "chat:b": 3, "chat:c": 1, "scores": 7, "chat:d": 4} {
		subscribeMany(t, index, channel, count)
	}
	top, truncated := index.TopChannels("", 10)
	want := []ChannelCounts{{"scores", 7, 3}, {"news", 5, 3}, {"chat:d", 4, 3}, {"chat:a", 3, 3}, {"chat:b", 3, 3}, {"chat:c", 1, 1}}
	if truncated || !slices.Equal(top, want) {
		t.Fatalf("TopChannels(\"\", 10) = %v %v, want %v", top, truncated, want)
	}
	top, truncated = index.TopChannels("", 2)
	if !truncated || !slices.Equal(top, want[:2]) {
		t.Fatalf("TopChannels(\"\", 2) = %v %v, want %v truncated", top, truncated, want[:2])
	}
	top, truncated = index.TopChannels("chat:", 3)
	if !truncated || !slices.Equal(top, []ChannelCounts{{"chat:d", 4, 3}, {"chat:a", 3, 3}, {"chat:b", 3, 3}}) {
		t.Fatalf("TopChannels(chat:, 3) = %v %v", top, truncated)
	}
	top, truncated = index.TopChannels("chat:", 4)
	if truncated || len(top) != 4 {
		t.Fatalf("TopChannels(chat:, 4) = %v %v, want all four chat channels, not truncated", top, truncated)
	}
	if top, truncated := index.TopChannels("none", 5); len(top) != 0 || truncated {
		t.Fatalf("TopChannels(none) = %v %v", top, truncated)
	}
	if top, truncated := index.TopChannels("", 0); top != nil || truncated {
		t.Fatalf("TopChannels with limit 0 = %v %v", top, truncated)
	}
}

// TestTopChannelsMatchesSortingEveryChannel follows random subscribes and
// unsubscribes (counts moving up and down through shared and lone buckets) and
// compares each listing with a full sort of the counts.
func TestTopChannelsMatchesSortingEveryChannel(t *testing.T) {
	random := rand.New(rand.NewPCG(3, 4))
	index := newTestIndex(t, Config{Shards: 4, MaxSubscriptions: -1})
	subscribers := make([]*testSubscriber, 60)
	for position := range subscribers {
		subscribers[position] = &testSubscriber{fmt.Sprint("user", position)}
	}
	names := []string{"a:1", "a:2", "a:3", "a:10", "b:1", "b:2", "c", "c:1", "d", "e", "f", "g:x", "g:y", ":odd"}
	for round := range 3000 {
		subscriber := subscribers[random.IntN(len(subscribers))]
		name := names[random.IntN(len(names))]
		if random.IntN(2) == 0 {
			_ = index.Subscribe(subscriber, name, 0)
		} else {
			_ = index.Unsubscribe(subscriber, name)
		}
		if round%50 != 0 {
			continue
		}
		checkInvariants(t, index)
		for _, prefix := range []string{"", "a:", "a:1", "c", "c:", "g:", ":", "z", "z:"} {
			var all []ChannelCounts
			for _, name := range names {
				if counts, found := index.Channel(name); found && strings.HasPrefix(name, prefix) {
					all = append(all, counts)
				}
			}
			limit := 1 + random.IntN(6)
			top, truncated := index.TopChannels(prefix, limit)
			if truncated != (len(all) > limit) || len(top) != min(limit, len(all)) {
				t.Fatalf("round %d prefix %q limit %d: %d channels, truncated %v; %d match", round, prefix, limit, len(top), truncated, len(all))
			}
			slices.SortFunc(all, func(left, right ChannelCounts) int { return right.Subscribers - left.Subscribers })
			for position, counts := range top {
				if counts.Subscribers != all[position].Subscribers {
					t.Fatalf("round %d prefix %q: position %d has %d subscribers, want %d (%v vs %v)",
						round, prefix, position, counts.Subscribers, all[position].Subscribers, top, all)
				}
				if position > 0 && top[position-1].Subscribers == counts.Subscribers && top[position-1].Channel > counts.Channel {
					t.Fatalf("round %d: equal counts not ordered by name: %v", round, top)
				}
			}
		}
	}
}
