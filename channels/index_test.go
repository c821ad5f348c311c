package channels

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// testSubscriber stands in for a session: a pointer with a user id.
type testSubscriber struct{ user string }

func (s *testSubscriber) UserID() string { return s.user }

func newTestIndex(t testing.TB, config Config) *Index[*testSubscriber] {
	t.Helper()
	index, err := NewIndex[*testSubscriber](config)
	if err != nil {
		t.Fatal(err)
	}
	return index
}

// checkInvariants walks every structure of the index and fails t on any
// inconsistency: buckets ordered and non-empty, counts, positions, users, the
// subscribers' own lists. It recomputes what the index keeps on change, so tests
// can compare.
func checkInvariants(t *testing.T, index *Index[*testSubscriber]) {
	t.Helper()
	channelTotal, subscriptionTotal := 0, 0
	// connectionsOfUser counts, from the channels, each user's connections in each
	// channel, to compare with the subscriber shards' user lists.
	type userInChannel struct {
		user    string
		channel *channel[*testSubscriber]
	}
	connectionsOfUser := map[userInChannel]int32{}
	for shardPosition, shard := range index.channelShards {
		shard.mutex.RLock()
		seen := checkRanking(t, &shard.ranking, all)
		if seen != len(shard.channels) {
			t.Fatalf("shard %d: %d channels ranked, %d in the map", shardPosition, seen, len(shard.channels))
		}
		for namespace, ranking := range shard.namespaces {
			if ranking.empty() {
				t.Fatalf("shard %d: namespace %q has an empty ranking", shardPosition, namespace)
			}
			seen -= checkRanking(t, ranking, inNamespace)
		}
		if seen != 0 {
			t.Fatalf("shard %d: the namespace rankings hold %d channels fewer than the ranking of all", shardPosition, seen)
		}
		for name, member := range shard.channels {
			if member.places[all].bucket == nil || member.places[inNamespace].bucket == nil ||
				shard.namespaces[NamespaceOf(name)] != member.namespace {
				t.Fatalf("channel %q is missing from a ranking", name)
			}
		}
		seen = len(shard.channels)
		if int64(seen) != shard.channelCount.Load() {
			t.Fatalf("shard %d: %d channels in the map, count %d", shardPosition, seen, shard.channelCount.Load())
		}
		shardSubscriptions := 0
		for name, member := range shard.channels {
			if member.name != name || len(member.subscriptions) != len(member.subscribers) {
				t.Fatalf("channel %q: name or parallel slices inconsistent", name)
			}
			users := map[string]int32{}
			for position, subscriber := range member.subscribers {
				record := member.subscriptions[position]
				if record.channel != member || int(record.position) != position {
					t.Fatalf("channel %q: subscription %d records channel %p position %d", name, position, record.channel, record.position)
				}
				if subscriber.user != "" {
					users[subscriber.user]++
				}
			}
			if len(users) != int(member.users) {
				t.Fatalf("channel %q: %d users counted, %d present", name, member.users, len(users))
			}
			for user, count := range users {
				connectionsOfUser[userInChannel{user, member}] = count
			}
			shardSubscriptions += len(member.subscribers)
		}
		if int64(shardSubscriptions) != shard.subscriptionCount.Load() {
			t.Fatalf("shard %d: %d subscriptions present, count %d", shardPosition, shardSubscriptions, shard.subscriptionCount.Load())
		}
		channelTotal += seen
		subscriptionTotal += shardSubscriptions
		shard.mutex.RUnlock()
	}
	listed := 0
	for _, owner := range index.subscriberShards {
		owner.mutex.RLock()
		for subscriber, first := range owner.subscriptions {
			if first == nil {
				t.Fatalf("subscriber %p has an empty list instead of no entry", subscriber)
			}
			names := map[string]bool{}
			for record := first; record != nil; record = record.next {
				if names[record.channel.name] {
					t.Fatalf("subscriber %p is twice in %q", subscriber, record.channel.name)
				}
				names[record.channel.name] = true
				if record.channel.subscribers[record.position] != subscriber {
					t.Fatalf("subscriber %p: its subscription to %q points at another subscriber", subscriber, record.channel.name)
				}
			}
			listed += len(names)
		}
		for user, state := range owner.users {
			if owner != index.subscriberShardOf(nil, user) {
				t.Fatalf("user %q is listed in the wrong subscriber shard", user)
			}
			subscribed := int32(0)
			for subscriber, first := range owner.subscriptions {
				if subscriber.user == user && first != nil {
					subscribed++
				}
			}
			if subscribed != state.connections || subscribed == 0 {
				t.Fatalf("user %q: %d subscribed connections counted, %d present", user, state.connections, subscribed)
			}
			entries := state.channels
			if entries == nil {
				if state.connections != 1 || state.single == nil {
					t.Fatalf("user %q: no channel list with %d connections", user, state.connections)
				}
				for record := owner.subscriptions[state.single]; record != nil; record = record.next {
					entries = append(entries, userChannel[*testSubscriber]{record.channel, 1})
				}
			}
			for _, entry := range entries {
				key := userInChannel{user, entry.channel}
				if connectionsOfUser[key] != entry.connections {
					t.Fatalf("user %q: %d connections in %q listed, %d present", user, entry.connections, entry.channel.name, connectionsOfUser[key])
				}
				delete(connectionsOfUser, key)
			}
		}
		owner.mutex.RUnlock()
	}
	for key, count := range connectionsOfUser {
		t.Fatalf("user %q has %d connections in %q that its list lacks", key.user, count, key.channel.name)
	}
	if listed != subscriptionTotal || index.SubscriptionCount() != subscriptionTotal || index.ChannelCount() != channelTotal {
		t.Fatalf("%d subscriptions in lists, %d in channels; SubscriptionCount %d, ChannelCount %d for %d channels",
			listed, subscriptionTotal, index.SubscriptionCount(), index.ChannelCount(), channelTotal)
	}
}

// checkRanking checks ranking's buckets (strictly descending counts, consistent
// links, none empty) and its channels' places which, and returns how many channels
// it holds.
func checkRanking(t *testing.T, ranking *ranking[*testSubscriber], which int) int {
	t.Helper()
	seen := 0
	var previous *countBucket[*testSubscriber]
	for bucket := ranking.highest; bucket != nil; previous, bucket = bucket, bucket.lower {
		if bucket.higher != previous || bucket.head == nil || (previous != nil && previous.count <= bucket.count) || bucket.count < 1 {
			t.Fatalf("bucket %d is misplaced, empty or out of order", bucket.count)
		}
		var before *channel[*testSubscriber]
		for member := bucket.head; member != nil; before, member = member, member.places[which].next {
			seen++
			if member.places[which].previous != before || member.places[which].bucket != bucket || len(member.subscribers) != bucket.count {
				t.Fatalf("channel %q: wrong links or bucket (%d subscribers in bucket %d)", member.name, len(member.subscribers), bucket.count)
			}
		}
	}
	if previous != ranking.lowest {
		t.Fatal("the lowest bucket is not the end of the list")
	}
	return seen
}

func TestSubscribeReceiveUnsubscribe(t *testing.T) {
	index := newTestIndex(t, Config{})
	alice, bob, anonymous := &testSubscriber{"alice"}, &testSubscriber{"bob"}, &testSubscriber{}
	aliceAgain := &testSubscriber{"alice"} // a second connection of alice
	for _, subscriber := range []*testSubscriber{alice, bob, anonymous, aliceAgain} {
		if err := index.Subscribe(subscriber, "news", 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := index.Subscribe(alice, "chat:lobby", 0); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, index)
	if counts, found := index.Channel("news"); !found || counts != (ChannelCounts{"news", 4, 2}) {
		t.Fatalf("Channel(news) = %+v %v, want 4 subscribers, 2 users", counts, found)
	}
	got := index.Subscribers("news", nil)
	if len(got) != 4 || !slices.Contains(got, alice) || !slices.Contains(got, anonymous) {
		t.Fatalf("Subscribers(news) = %v", got)
	}
	if got := index.Subscribers("chat:lobby", nil); len(got) != 1 || got[0] != alice {
		t.Fatalf("Subscribers(chat:lobby) = %v, want alice alone: channels leak into each other", got)
	}
	if !index.Subscribed(alice, "chat:lobby") || index.Subscribed(bob, "chat:lobby") || index.SubscriptionCountOf(alice) != 2 {
		t.Fatal("Subscribed or SubscriptionCountOf disagree with the subscriptions")
	}
	if err := index.Unsubscribe(alice, "news"); err != nil {
		t.Fatal(err)
	}
	if counts, _ := index.Channel("news"); counts != (ChannelCounts{"news", 3, 2}) {
		t.Fatalf("after alice's first connection left: %+v, want 3 subscribers, still 2 users", counts)
	}
	if err := index.Unsubscribe(aliceAgain, "news"); err != nil {
		t.Fatal(err)
	}
	if counts, _ := index.Channel("news"); counts != (ChannelCounts{"news", 2, 1}) {
		t.Fatalf("after alice's second connection left: %+v, want 2 subscribers, 1 user", counts)
	}
	if got := index.Subscribers("news", nil); slices.Contains(got, alice) || slices.Contains(got, aliceAgain) {
		t.Fatalf("alice still receives news after unsubscribing: %v", got)
	}
	if err := index.Unsubscribe(alice, "news"); err != ErrNotSubscribed {
		t.Fatalf("second unsubscribe = %v, want not_subscribed", err)
	}
	if err := index.Unsubscribe(bob, "never"); err != ErrNotSubscribed {
		t.Fatalf("unsubscribe from an unknown channel = %v, want not_subscribed", err)
	}
	checkInvariants(t, index)
}

func TestSubscribeRefusalsChangeNothing(t *testing.T) {
	index := newTestIndex(t, Config{MaxSubscriptions: 2})
	alice, bob, carol := &testSubscriber{"alice"}, &testSubscriber{"bob"}, &testSubscriber{"carol"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(index.Subscribe(alice, "a", 2))
	must(index.Subscribe(alice, "b", 0))
	if err := index.Subscribe(alice, "a", 2); err != ErrAlreadySubscribed {
		t.Fatalf("duplicate subscribe = %v, want already_subscribed (before too_many_subscriptions)", err)
	}
	if err := index.Subscribe(alice, "c", 0); err != ErrTooManySubscriptions {
		t.Fatalf("third subscribe with a limit of 2 = %v, want too_many_subscriptions", err)
	}
	must(index.Subscribe(bob, "a", 2))
	if err := index.Subscribe(carol, "a", 2); err != ErrTooManySubscribers {
		t.Fatalf("third subscriber of a channel limited to 2 = %v, want too_many_subscribers", err)
	}
	if _, found := index.Channel("c"); found || index.Subscribed(carol, "a") || index.SubscriptionCountOf(carol) != 0 {
		t.Fatal("a refused subscribe left something behind")
	}
	must(index.Unsubscribe(bob, "a"))
	must(index.Subscribe(carol, "a", 2))
	checkInvariants(t, index)
}

func TestMaxSubscriptionsDefaultsAndCanBeLifted(t *testing.T) {
	for _, test := range []struct {
		configured, allowed int
	}{{0, DefaultMaxSubscriptions}, {-1, 1000}, {5, 5}} {
		index := newTestIndex(t, Config{MaxSubscriptions: test.configured})
		subscriber := &testSubscriber{"u"}
		subscribed := 0
		for channel := range 1000 {
			if index.Subscribe(subscriber, fmt.Sprint("c", channel), 0) != nil {
				break
			}
			subscribed++
		}
		if subscribed != test.allowed {
			t.Errorf("MaxSubscriptions %d: %d subscriptions accepted, want %d", test.configured, subscribed, test.allowed)
		}
	}
}

func TestUnsubscribeAllCleansEverySubscription(t *testing.T) {
	var mutex sync.Mutex
	active := map[string]bool{}
	index := newTestIndex(t, Config{Activity: func(channel string, isActive bool) {
		mutex.Lock()
		defer mutex.Unlock()
		active[channel] = isActive
	}})
	leaving, staying := &testSubscriber{"leaving"}, &testSubscriber{"staying"}
	var want []string
	for channel := range 20 {
		name := fmt.Sprint("room:", channel)
		want = append(want, name)
		if err := index.Subscribe(leaving, name, 0); err != nil {
			t.Fatal(err)
		}
		if channel%2 == 0 {
			if err := index.Subscribe(staying, name, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	left := index.UnsubscribeAll(leaving, nil)
	slices.Sort(left)
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Fatalf("UnsubscribeAll returned %v, want %v", left, want)
	}
	if index.SubscriptionCountOf(leaving) != 0 || index.ChannelCount() != 10 || index.SubscriptionCount() != 10 {
		t.Fatalf("after UnsubscribeAll: %d subscriptions of the subscriber, %d channels, %d subscriptions; want 0, 10, 10",
			index.SubscriptionCountOf(leaving), index.ChannelCount(), index.SubscriptionCount())
	}
	for channel := range 20 {
		name := fmt.Sprint("room:", channel)
		if active[name] != (channel%2 == 0) {
			t.Errorf("channel %s: activity says active=%v, want %v", name, active[name], channel%2 == 0)
		}
	}
	if left := index.UnsubscribeAll(leaving, nil); len(left) != 0 {
		t.Fatalf("second UnsubscribeAll returned %v", left)
	}
	index.UnsubscribeAll(staying, nil)
	if index.ChannelCount() != 0 || index.SubscriptionCount() != 0 {
		t.Fatalf("after everyone left: %d channels, %d subscriptions", index.ChannelCount(), index.SubscriptionCount())
	}
	checkInvariants(t, index)
}

func TestActivityReportsFirstAndLastSubscriberOnly(t *testing.T) {
	var calls []string
	index := newTestIndex(t, Config{Activity: func(channel string, active bool) {
		calls = append(calls, fmt.Sprint(channel, " ", active))
	}})
	first, second := &testSubscriber{"a"}, &testSubscriber{"b"}
	for _, step := range []func() error{
		func() error { return index.Subscribe(first, "news", 0) },
		func() error { return index.Subscribe(second, "news", 0) },
		func() error { return index.Unsubscribe(first, "news") },
		func() error { return index.Unsubscribe(second, "news") },
		func() error { return index.Subscribe(second, "news", 0) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"news true", "news false", "news true"}; !slices.Equal(calls, want) {
		t.Fatalf("activity calls %v, want %v", calls, want)
	}
}

func TestTenThousandCyclesLeaveNoEntryBehind(t *testing.T) {
	index := newTestIndex(t, Config{Shards: 4})
	subscribers := []*testSubscriber{{"a"}, {"b"}, {""}}
	for cycle := range 10000 {
		subscriber := subscribers[cycle%len(subscribers)]
		name := fmt.Sprint("cycle:", cycle%7)
		if err := index.Subscribe(subscriber, name, 0); err != nil {
			t.Fatal(err)
		}
		if cycle%3 == 0 {
			index.UnsubscribeAll(subscriber, nil)
		} else if err := index.Unsubscribe(subscriber, name); err != nil {
			t.Fatal(err)
		}
	}
	checkInvariants(t, index)
	for _, shard := range index.channelShards {
		if len(shard.channels) != 0 || !shard.ranking.empty() || shard.ranking.lowest != nil || len(shard.namespaces) != 0 {
			t.Fatal("a channel shard kept a channel, a bucket or a namespace")
		}
	}
	for _, owner := range index.subscriberShards {
		if len(owner.subscriptions) != 0 {
			t.Fatal("a subscriber shard kept a subscriber")
		}
	}
}

// TestRandomOperationsMatchAModel drives the index with random subscribes,
// unsubscribes and disconnects, and compares every answer and the final state with
// a plain map.
func TestRandomOperationsMatchAModel(t *testing.T) {
	random := rand.New(rand.NewPCG(1, 2))
	index := newTestIndex(t, Config{Shards: 2, MaxSubscriptions: 6})
	const limitPerChannel = 9
	subscribers := make([]*testSubscriber, 30)
	for position := range subscribers {
		subscribers[position] = &testSubscriber{fmt.Sprint("user", position%11)}
		if position%5 == 0 {
			subscribers[position].user = ""
		}
	}
	model := map[*testSubscriber]map[string]bool{}
	members := map[string]int{}
	for step := range 20000 {
		subscriber := subscribers[random.IntN(len(subscribers))]
		name := fmt.Sprint("c", random.IntN(12))
		if model[subscriber] == nil {
			model[subscriber] = map[string]bool{}
		}
		switch operation := random.IntN(10); {
		case operation < 6:
			var want error
			switch {
			case model[subscriber][name]:
				want = ErrAlreadySubscribed
			case len(model[subscriber]) >= 6:
				want = ErrTooManySubscriptions
			case members[name] >= limitPerChannel:
				want = ErrTooManySubscribers
			}
			if got := index.Subscribe(subscriber, name, limitPerChannel); got != want {
				t.Fatalf("step %d: Subscribe = %v, want %v", step, got, want)
			}
			if want == nil {
				model[subscriber][name] = true
				members[name]++
			}
		case operation < 9:
			var want error
			if !model[subscriber][name] {
				want = ErrNotSubscribed
			}
			if got := index.Unsubscribe(subscriber, name); got != want {
				t.Fatalf("step %d: Unsubscribe = %v, want %v", step, got, want)
			}
			if want == nil {
				delete(model[subscriber], name)
				members[name]--
			}
		default:
			left := index.UnsubscribeAll(subscriber, nil)
			if len(left) != len(model[subscriber]) {
				t.Fatalf("step %d: UnsubscribeAll left %d channels, want %d", step, len(left), len(model[subscriber]))
			}
			for _, channel := range left {
				members[channel]--
			}
			model[subscriber] = nil
		}
		if step%500 == 0 {
			checkInvariants(t, index)
		}
	}
	checkInvariants(t, index)
	for name, count := range members {
		users := map[string]bool{}
		for subscriber, channels := range model {
			if channels[name] && subscriber.user != "" {
				users[subscriber.user] = true
			}
		}
		counts, found := index.Channel(name)
		if found != (count > 0) || counts.Subscribers != count || counts.Users != len(users) {
			t.Fatalf("channel %s: %+v (found %v), want %d subscribers and %d users", name, counts, found, count, len(users))
		}
	}
}

// TestConcurrentOperationsKeepTheIndexConsistent runs subscribes, unsubscribes,
// disconnects, snapshots and listings from several goroutines (the race detector
// watches), then checks the invariants and that a receiver of Activity that re-reads
// the state ends with the index's set of channels.
func TestConcurrentOperationsKeepTheIndexConsistent(t *testing.T) {
	var activityMutex sync.Mutex
	believed := map[string]bool{}
	var index *Index[*testSubscriber]
	index = newTestIndex(t, Config{Shards: 4, Activity: func(channel string, _ bool) {
		activityMutex.Lock()
		defer activityMutex.Unlock()
		_, active := index.Channel(channel)
		believed[channel] = active
	}})
	var group sync.WaitGroup
	for worker := range 4 {
		group.Go(func() {
			random := rand.New(rand.NewPCG(uint64(worker), 7))
			subscribers := make([]*testSubscriber, 50)
			for position := range subscribers {
				subscribers[position] = &testSubscriber{fmt.Sprint("user", position%7)}
			}
			var buffer []*testSubscriber
			for range 5000 {
				subscriber := subscribers[random.IntN(len(subscribers))]
				name := fmt.Sprint("c", random.IntN(40))
				switch random.IntN(10) {
				case 0:
					index.UnsubscribeAll(subscriber, nil)
				case 1:
					buffer = index.Subscribers(name, buffer[:0])
				case 2:
					index.TopChannels("c1", 5)
				case 3, 4, 5:
					_ = index.Unsubscribe(subscriber, name)
				default:
					_ = index.Subscribe(subscriber, name, 0)
				}
			}
		})
	}
	group.Wait()
	checkInvariants(t, index)
	activityMutex.Lock()
	defer activityMutex.Unlock()
	for channel := range 40 {
		name := fmt.Sprint("c", channel)
		if _, active := index.Channel(name); believed[name] != active {
			t.Errorf("channel %s: the Activity receiver believes active=%v, the index says %v", name, believed[name], active)
		}
	}
}

func TestSubscribersAppendsToTheCallersBuffer(t *testing.T) {
	index := newTestIndex(t, Config{})
	subscribers := make([]*testSubscriber, 1000)
	for position := range subscribers {
		subscribers[position] = &testSubscriber{}
		if err := index.Subscribe(subscribers[position], "big", 0); err != nil {
			t.Fatal(err)
		}
	}
	buffer := make([]*testSubscriber, 0, 1000)
	allocations := testing.AllocsPerRun(20, func() {
		buffer = index.Subscribers("big", buffer[:0])
	})
	if allocations != 0 || len(buffer) != 1000 {
		t.Fatalf("snapshot of 1,000 into a large enough buffer: %v allocations, %d subscribers", allocations, len(buffer))
	}
	if got := index.Subscribers("none", buffer[:0]); len(got) != 0 {
		t.Fatalf("Subscribers of an unknown channel = %d subscribers", len(got))
	}
}

func TestChannelSlicesShrinkWhenSubscribersLeave(t *testing.T) {
	index := newTestIndex(t, Config{MaxSubscriptions: -1})
	subscribers := make([]*testSubscriber, 4096)
	for position := range subscribers {
		subscribers[position] = &testSubscriber{fmt.Sprint(position)}
		if err := index.Subscribe(subscribers[position], "shrinking", 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, subscriber := range subscribers[10:] {
		if err := index.Unsubscribe(subscriber, "shrinking"); err != nil {
			t.Fatal(err)
		}
	}
	shard := index.channelShardOf("shrinking")
	remaining := shard.channels["shrinking"]
	if capacity := cap(remaining.subscribers); capacity >= shrinkThreshold*2 {
		t.Fatalf("10 subscribers left of 4,096 keep a capacity of %d", capacity)
	}
	checkInvariants(t, index)
}

func TestNewIndexRefusesNegativeShards(t *testing.T) {
	if _, err := NewIndex[*testSubscriber](Config{Shards: -1}); err == nil {
		t.Fatal("NewIndex accepted -1 shards")
	}
	index := newTestIndex(t, Config{Shards: 5})
	if len(index.channelShards) != 8 || len(index.subscriberShards) != 8 {
		t.Fatalf("5 shards became %d and %d, want 8", len(index.channelShards), len(index.subscriberShards))
	}
}

func TestErrorsOfTheIndexMatchWithErrorsIs(t *testing.T) {
	index := newTestIndex(t, Config{})
	subscriber := &testSubscriber{}
	_ = index.Subscribe(subscriber, "x", 0)
	err := fmt.Errorf("wrapped: %w", index.Subscribe(subscriber, "x", 0))
	var channelError *Error
	if !errors.Is(err, ErrAlreadySubscribed) || !errors.As(err, &channelError) || channelError.Code != CodeAlreadySubscribed {
		t.Fatalf("wrapped duplicate subscribe error %v does not match already_subscribed", err)
	}
}

// TestDistinctUsersFollowEveryConnectionOfAUser steps one user's two connections
// through the index's transition from one subscribed connection (whose own list
// stands for the user) to two (with the user's channels listed) and back to none.
func TestDistinctUsersFollowEveryConnectionOfAUser(t *testing.T) {
	index := newTestIndex(t, Config{Shards: 1})
	first, second, other := &testSubscriber{"alice"}, &testSubscriber{"alice"}, &testSubscriber{"bob"}
	users := func(channel string) int {
		counts, _ := index.Channel(channel)
		return counts.Users
	}
	for _, step := range []struct {
		what         string
		operation    func() error
		usersX       int
		usersY       int
		listChannels bool
	}{
		{"first connection joins x", func() error { return index.Subscribe(first, "x", 0) }, 1, 0, false},
		{"first connection joins y", func() error { return index.Subscribe(first, "y", 0) }, 1, 1, false},
		{"bob joins x", func() error { return index.Subscribe(other, "x", 0) }, 2, 1, false},
		{"second connection joins x", func() error { return index.Subscribe(second, "x", 0) }, 2, 1, true},
		{"first connection leaves x", func() error { return index.Unsubscribe(first, "x") }, 2, 1, true},
		{"second connection leaves x", func() error { return index.Unsubscribe(second, "x") }, 1, 1, true},
		{"second connection joins y", func() error { return index.Subscribe(second, "y", 0) }, 1, 1, true},
		{"first connection disconnects", func() error { index.UnsubscribeAll(first, nil); return nil }, 1, 1, true},
		{"second connection disconnects", func() error { index.UnsubscribeAll(second, nil); return nil }, 1, 0, false},
		{"second connection joins y again", func() error { return index.Subscribe(second, "y", 0) }, 1, 1, false},
	} {
		if err := step.operation(); err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		checkInvariants(t, index)
		if users("x") != step.usersX || users("y") != step.usersY {
			t.Fatalf("%s: %d users in x, %d in y; want %d and %d", step.what, users("x"), users("y"), step.usersX, step.usersY)
		}
		owner := index.subscriberShards[0]
		if listed := owner.users["alice"] != nil && owner.users["alice"].channels != nil; listed != step.listChannels {
			t.Fatalf("%s: alice's channels listed = %v, want %v", step.what, listed, step.listChannels)
		}
	}
}
