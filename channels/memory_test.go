package channels

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/wsgate/wsgate/internal/testsupport"
)

// measureSubscriptions returns the heap the index uses for subscribers each in
// perSubscriber channels out of channelCount (subscriber k in channels k*perSubscriber
// ... modulo channelCount, so every channel gets the same number), in bytes. The
// subscribers and channel names exist before the first measurement: only the index
// is counted.
func measureSubscriptions(t *testing.T, subscriberCount, perSubscriber, channelCount int, withUsers bool) int64 {
	t.Helper()
	subscribers := make([]*testSubscriber, subscriberCount)
	for position := range subscribers {
		subscribers[position] = &testSubscriber{}
		if withUsers {
			subscribers[position].user = fmt.Sprint("user-", position)
		}
	}
	names := make([]string, channelCount)
	for position := range names {
		names[position] = fmt.Sprint("scores:match-", position)
	}
	before := testsupport.LiveHeap()
	index := newTestIndex(t, Config{})
	for position, subscriber := range subscribers {
		for offset := range perSubscriber {
			if err := index.Subscribe(subscriber, names[(position*perSubscriber+offset)%channelCount], 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	used := testsupport.LiveHeap() - before
	if index.SubscriptionCount() != subscriberCount*perSubscriber || index.ChannelCount() != channelCount {
		t.Fatalf("%d subscriptions in %d channels, want %d in %d", index.SubscriptionCount(), index.ChannelCount(),
			subscriberCount*perSubscriber, channelCount)
	}
	runtime.KeepAlive(index)
	runtime.KeepAlive(subscribers)
	runtime.KeepAlive(names)
	return used
}

// TestMemoryPerSubscriptionAndChannel measures the index's heap for 100,000
// subscriptions (10,000 subscribers in 10 channels each) over 1,000 channels, and
// over 100,000 channels of one subscriber each: the first gives the bytes per
// subscription, the difference the bytes per channel; and for 75,000 (15,000
// subscribers in 5 channels each) over 1,000 channels. It holds the per-subscription
// cost under the 100-byte target and logs the figures (go test -v -run
// Memory).
func TestMemoryPerSubscriptionAndChannel(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 30 MB")
	}
	const subscribers, perSubscriber, subscriptions = 10000, 10, 10000 * 10
	for _, withUsers := range []bool{true, false} {
		shared := measureSubscriptions(t, subscribers, perSubscriber, 1000, withUsers)
		separate := measureSubscriptions(t, subscribers, perSubscriber, subscriptions, withUsers)
		perSubscription := float64(shared) / subscriptions
		perChannel := float64(separate-shared) / (subscriptions - 1000)
		t.Logf("users %v: %.1f B per subscription (100 per channel), %.1f B per channel more, %.1f B per one-subscriber channel in all",
			withUsers, perSubscription, perChannel, float64(separate)/subscriptions)
		if perSubscription >= 100 {
			t.Errorf("users %v: a subscription costs %.1f bytes, over the 100-byte target", withUsers, perSubscription)
		}
		// The shape of loadgen's subscriptions scenario in benchmarks/README.md:
		// 15,000 subscribers in 5 of 1,000 channels, 75 per channel.
		fewer := float64(measureSubscriptions(t, 15000, 5, 1000, withUsers)) / (15000 * 5)
		t.Logf("users %v: %.1f B per subscription (15,000 subscribers in 5 of 1,000 channels)", withUsers, fewer)
		if fewer >= 100 {
			t.Errorf("users %v: a subscription of 5 per subscriber costs %.1f bytes, over the 100-byte target", withUsers, fewer)
		}
	}
}
