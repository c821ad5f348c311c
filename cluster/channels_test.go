package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/wsgate/wsgate/internal/redistest"
	"github.com/wsgate/wsgate/session"
)

// startChannelNode starts a node with a recorder as its Receiver (see newNode).
func startChannelNode(t *testing.T, url string) (*Node, *recorder) {
	t.Helper()
	node, receiver := newNode(t, Config{RedisURL: url})
	node.Start(receiver.hub, receiver)
	return node, receiver
}

// numsub returns how many connections subscribe to channel's Redis channel, by
// Redis's PUBSUB SHARDNUMSUB.
func numsub(t *testing.T, client rueidis.Client, channel string) int64 {
	t.Helper()
	answer, err := client.Do(context.Background(),
		client.B().PubsubShardnumsub().Channel(DefaultPrefix+"ch:{"+channel+"}").Build()).ToArray()
	if err != nil || len(answer) != 2 {
		t.Fatalf("PUBSUB NUMSUB %s: %v, %v", channel, answer, err)
	}
	count, err := answer[1].AsInt64()
	if err != nil {
		t.Fatalf("PUBSUB NUMSUB %s: %v", channel, err)
	}
	return count
}

// publishTo publishes payload to channel from n and checks how many other nodes
// received it.
func publishTo(t *testing.T, n *Node, channel, payload string, wantNodes int) {
	t.Helper()
	nodes, err := n.PublishToChannel(context.Background(), channel, []byte(payload))
	if err != nil || nodes != wantNodes {
		t.Fatalf("PublishToChannel(%q, %s) = %d, %v; want %d other nodes", channel, payload, nodes, err, wantNodes)
	}
}

func TestAChannelPublicationReachesEverySubscribedNodeExactlyOnce(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		client := inspector(t, url)
		a, atA := startChannelNode(t, url)
		b, atB := startChannelNode(t, url)
		c, atC := startChannelNode(t, url)
		d, atD := startChannelNode(t, url) // no subscriber of any channel
		for _, subscribed := range []*recorder{atA, atB, atC} {
			subscribed.subscribe("news")
		}
		atB.subscribe("sport")
		waitFor(t, 2*time.Second, "A, B and C to subscribe to news and B to sport", func() bool {
			return numsub(t, client, "news") == 3 && numsub(t, client, "sport") == 1
		})
		// NUMSUB counts connections: 3 for news means D's is not among them.
		waitFor(t, time.Second, "the nodes to see Redis's confirmations", func() bool {
			return a.Counters().ChannelSubscriptions == 1 && b.Counters().ChannelSubscriptions == 2 &&
				c.Counters().ChannelSubscriptions == 1
		})
		if subscriptions := d.Counters().ChannelSubscriptions; subscriptions != 0 {
			t.Fatalf("the node without subscribers receives %d channels", subscriptions)
		}

		const published = 20
		var want []string
		for index := range published {
			payload := fmt.Sprintf(`{"n":%d}`, index)
			want = append(want, payload)
			publishTo(t, a, "news", payload, 2) // B and C; A's own subscription skips it
		}
		publishTo(t, d, "news", `{"from":"d"}`, 3) // a node without interest reaches all three
		publishTo(t, b, "news", `{"from":"b"}`, 2)
		publishTo(t, c, "news", `{"from":"c"}`, 2)
		publishTo(t, a, "sport", `{"goal":1}`, 1)
		// Each node reads its channels on one connection, in Redis's order: once the last
		// publication arrived, any duplicate of an earlier one would have too.
		wantAt := map[*recorder][]string{
			atA: {`{"from":"d"}`, `{"from":"b"}`, `{"from":"c"}`},
			atB: append(slices.Clone(want), `{"from":"d"}`, `{"from":"c"}`),
			atC: append(slices.Clone(want), `{"from":"d"}`, `{"from":"b"}`),
		}
		for receiver, expected := range wantAt {
			waitFor(t, 2*time.Second, "every publication to arrive", func() bool {
				return len(receiver.received("news")) >= len(expected)
			})
			if got := receiver.received("news"); !slices.Equal(got, expected) {
				t.Fatalf("a node received %q on news, want exactly %q", got, expected)
			}
		}
		waitFor(t, 2*time.Second, "the publication on sport to arrive at B", func() bool {
			return len(atB.received("sport")) == 1
		})
		if atA.received("sport") != nil || atC.received("sport") != nil {
			t.Fatal("a publication on sport reached a node without subscribers of sport")
		}
		if atD.receivedCount() != 0 || d.Counters().Received != 0 {
			t.Fatalf("the node without subscribers received %d publications (%d envelopes)", atD.receivedCount(), d.Counters().Received)
		}
		if counters := a.Counters(); counters.ChannelPublished != published+1 || counters.ChannelReceived != 3 {
			t.Fatalf("A counted %d channel publications sent and %d received, want %d and 3",
				counters.ChannelPublished, counters.ChannelReceived, published+1)
		}
		if received := c.Counters().ChannelReceived; received != published+2 {
			t.Fatalf("C counted %d channel publications received, want %d", received, published+2)
		}
	})
}

func TestInterestOnThenOffUnsubscribesAndTheTruthWinsOverTheHint(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		client := inspector(t, url)
		node, receiver := startChannelNode(t, url)
		waitFor(t, 2*time.Second, "the node to subscribe", node.Healthy)

		started := time.Now()
		receiver.subscribe("room")
		waitFor(t, time.Second, "the node to subscribe to room", func() bool { return numsub(t, client, "room") == 1 })
		t.Logf("SUBSCRIBE seen by Redis %v after ChannelInterest", time.Since(started).Round(100*time.Microsecond))
		waitFor(t, time.Second, "the confirmation", func() bool { return node.Counters().ChannelSubscriptions == 1 })
		if nodes, err := node.PublishToChannel(context.Background(), "room", []byte(`{}`)); err != nil || nodes != 0 {
			t.Fatalf("a publication with no other node subscribed reached %d other nodes (%v), want 0", nodes, err)
		}

		receiver.unsubscribe("room")
		waitFor(t, time.Second, "the node to unsubscribe from room", func() bool {
			return numsub(t, client, "room") == 0 && node.Counters().ChannelSubscriptions == 0
		})

		// Calls for one channel may arrive out of order: a stale "last subscriber left"
		// for a channel that has subscribers again must not unsubscribe it.
		receiver.setLocal("room", true)
		node.ChannelInterest("room", false)
		waitFor(t, time.Second, "the truth (a subscriber) to win over the stale hint", func() bool {
			return numsub(t, client, "room") == 1
		})
		receiver.setLocal("room", false)
		node.ChannelInterest("room", true)
		waitFor(t, time.Second, "the truth (no subscriber) to win over the stale hint", func() bool {
			return numsub(t, client, "room") == 0
		})
	})
}

func TestManyInterestCallsBecomeFewSubscribeCommands(t *testing.T) {
	redis := redistest.Start(t)
	client := inspector(t, redis.URL())
	node, receiver := startChannelNode(t, redis.URL())
	waitFor(t, 2*time.Second, "the node to subscribe", node.Healthy)

	const channels, workers = 3000, 6
	name := func(index int) string { return fmt.Sprintf("ticker:%d", index) }
	started := time.Now()
	var group sync.WaitGroup
	for worker := range workers {
		group.Go(func() {
			for index := worker; index < channels; index += workers {
				receiver.subscribe(name(index))
				// A subscriber arriving on a channel that has one already: the delivery
				// side would not call, but a repeated call must cost nothing.
				node.ChannelInterest(name(index), true)
			}
		})
	}
	group.Wait()
	waitFor(t, 10*time.Second, "every channel to be subscribed", func() bool {
		return node.Counters().ChannelSubscriptions == channels
	})
	subscribeBatches := node.Counters().ChannelBatches
	t.Logf("%d channels subscribed in %d commands, all confirmed %v after the first ChannelInterest",
		channels, subscribeBatches, time.Since(started).Round(time.Millisecond))
	// channels/channelBatchSize commands at best; one per channel without batching.
	if subscribeBatches > channels/30 {
		t.Fatalf("%d ChannelInterest calls took %d SUBSCRIBE commands; want at most %d", channels, subscribeBatches, channels/30)
	}
	if count := numsub(t, client, name(channels-1)); count != 1 {
		t.Fatalf("NUMSUB of the last channel = %d, want 1", count)
	}

	for index := range channels {
		receiver.unsubscribe(name(index))
	}
	waitFor(t, 10*time.Second, "every channel to be unsubscribed", func() bool {
		return node.Counters().ChannelSubscriptions == 0
	})
	if unsubscribeBatches := node.Counters().ChannelBatches - subscribeBatches; unsubscribeBatches > channels/30 {
		t.Fatalf("%d unsubscribes took %d UNSUBSCRIBE commands; want at most %d", channels, unsubscribeBatches, channels/30)
	}
	if count := numsub(t, client, name(0)); count != 0 {
		t.Fatalf("NUMSUB of the first channel = %d after unsubscribing, want 0", count)
	}
}

func TestChannelsAreSubscribedAgainAfterRedisRestarts(t *testing.T) {
	redis := redistest.Start(t)
	publisher, _ := startChannelNode(t, redis.URL())
	subscriber, receiver := startChannelNode(t, redis.URL())
	receiver.subscribe("kept")
	receiver.subscribe("dropped")
	client := inspector(t, redis.URL())
	waitFor(t, 2*time.Second, "the node to subscribe", func() bool {
		return numsub(t, client, "kept") == 1 && numsub(t, client, "dropped") == 1
	})

	redis.Kill()
	waitFor(t, 2*time.Second, "the node to lose its subscription", func() bool {
		return !subscriber.Healthy() && subscriber.Counters().ChannelSubscriptions == 0
	})
	// Local subscribers come and go during the outage; ChannelInterest does not wait
	// for Redis.
	receiver.subscribe("added")
	receiver.unsubscribe("dropped")
	redis.Restart()
	restarted := time.Now()
	client = inspector(t, redis.URL())
	waitFor(t, 5*time.Second, "the node to subscribe to its channels again", func() bool {
		return numsub(t, client, "kept") == 1 && numsub(t, client, "added") == 1 && numsub(t, client, "dropped") == 0
	})
	t.Logf("channels subscribed again %v after Redis restarted", time.Since(restarted).Round(time.Millisecond))
	if losses := subscriber.Counters().SubscriptionLosses; losses == 0 {
		t.Fatal("the lost subscription was not counted")
	}
	// The publisher's pooled connection from before the restart may fail one call.
	waitFor(t, 5*time.Second, "a publication to reach the node", func() bool {
		nodes, err := publisher.PublishToChannel(context.Background(), "added", []byte(`{"after":"restart"}`))
		return err == nil && nodes == 1
	})
	waitFor(t, time.Second, "the publication to arrive", func() bool {
		return slices.Contains(receiver.received("added"), `{"after":"restart"}`)
	})
}

func TestSubscriptionChangesReachTheNodesHoldingTheirTarget(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		a, _ := startChannelNode(t, url)
		b, atB := startChannelNode(t, url)
		c, atC := startChannelNode(t, url)
		for _, n := range []*Node{a, b, c} {
			waitFor(t, 2*time.Second, "the nodes to subscribe", n.Healthy)
		}
		acquire(t, b, "alice", 0) // alice has a connection on B only
		ctx := context.Background()

		if nodes, err := a.ChangeUserSubscription(ctx, "alice", "room:1", true, ""); err != nil || nodes != 1 {
			t.Fatalf("ChangeUserSubscription(alice) = %d, %v; want 1 node", nodes, err)
		}
		connection := session.NewTaggedConnectionID(c.Tag())
		if reached, err := a.ChangeConnectionSubscription(ctx, connection, "room:1", false, "moderated"); err != nil || !reached {
			t.Fatalf("ChangeConnectionSubscription(C's connection) = %v, %v; want true", reached, err)
		}
		if nodes, err := a.ChangeUserSubscription(ctx, "alice", "room:1", false, "banned"); err != nil || nodes != 1 {
			t.Fatalf("ChangeUserSubscription(alice, unsubscribe) = %d, %v; want 1 node", nodes, err)
		}
		nobody := session.NewTaggedConnectionID(session.NodeTag{9, 9, 9, 9, 9, 9})
		if reached, err := a.ChangeConnectionSubscription(ctx, nobody, "room:1", true, ""); err != nil || reached {
			t.Fatalf("ChangeConnectionSubscription(a connection of no node) = %v, %v; want false", reached, err)
		}
		if nodes, err := a.ChangeUserSubscription(ctx, "nobody", "room:1", true, ""); err != nil || nodes != 0 {
			t.Fatalf("ChangeUserSubscription(a user of no node) = %d, %v; want 0 nodes", nodes, err)
		}

		wantAtB := []subscriptionChange{
			{userID: "alice", channel: "room:1", subscribe: true},
			{userID: "alice", channel: "room:1", subscribe: false, reason: "banned"},
		}
		wantAtC := []subscriptionChange{{connection: connection, channel: "room:1", subscribe: false, reason: "moderated"}}
		waitFor(t, 2*time.Second, "the changes to arrive", func() bool {
			return len(atB.changesSeen()) >= len(wantAtB) && len(atC.changesSeen()) >= len(wantAtC)
		})
		if got := atB.changesSeen(); !slices.Equal(got, wantAtB) {
			t.Fatalf("B received %+v, want %+v", got, wantAtB)
		}
		if got := atC.changesSeen(); !slices.Equal(got, wantAtC) {
			t.Fatalf("C received %+v, want %+v", got, wantAtC)
		}
		if undeliverable := c.Counters().Undeliverable; undeliverable != 0 {
			t.Fatalf("C counted %d undeliverable changes for its own connection", undeliverable)
		}
	})
}

func TestRelayToChannelDropsAndCountsWhatDoesNotFit(t *testing.T) {
	redis := redistest.Start(t)
	client := inspector(t, redis.URL())
	_, atSubscriber := startChannelNode(t, redis.URL())
	atSubscriber.subscribe("ticker")
	waitFor(t, 2*time.Second, "the subscriber to subscribe", func() bool { return numsub(t, client, "ticker") == 1 })

	// Not started yet: nothing drains the relay queue, as when Redis is slow.
	relaying, atRelaying := newNode(t, Config{RedisURL: redis.URL(), MaxRelayBytes: 1000})
	const sent = 100
	var want []string
	for index := range sent {
		payload := fmt.Sprintf(`{"type":"publication","channel":"ticker","data":%d}`, index)
		want = append(want, payload)
		relaying.RelayToChannel("ticker", []byte(payload))
	}
	counters := relaying.Counters()
	dropped := int(counters.ChannelRelayDropped)
	if dropped == 0 || dropped == sent {
		t.Fatalf("%d of %d publications dropped with a 1,000-byte queue; want some but not all", dropped, sent)
	}
	if counters.RelayDropped != 0 {
		t.Fatalf("channel drops counted as broadcast drops (%d)", counters.RelayDropped)
	}
	queued := sent - dropped

	relaying.Start(atRelaying.hub, atRelaying)
	waitFor(t, 2*time.Second, "the queued publications to arrive", func() bool {
		return len(atSubscriber.received("ticker")) >= queued
	})
	// What was queued went out in order; what came after the queue was full did not.
	if got := atSubscriber.received("ticker"); !slices.Equal(got, want[:queued]) {
		t.Fatalf("the subscriber received %q, want the first %d publications in order", got, queued)
	}
	if published := relaying.Counters().ChannelPublished; published != uint64(queued) {
		t.Fatalf("ChannelPublished = %d, want %d", published, queued)
	}
	t.Logf("%d of %d publications fit in 1,000 bytes", queued, sent)
}
