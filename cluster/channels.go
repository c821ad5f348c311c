package cluster

import (
	"context"
	"errors"

	"github.com/wsgate/wsgate/session"
)

// The cross-node half of channels (delivery.Forwarder's channel methods), one Redis
// call each, like the methods of router.go:
//
//	publish to a channel         SPUBLISH ch:{<channel>}    the nodes with local subscribers
//	subscribe a user             HGETALL, SPUBLISH to:<tag>  the nodes holding the user
//	subscribe a connection       SPUBLISH to:<tag of the id> the node holding it
//
// RelayToChannel, a client's publication, is queued instead (relay.go), and
// ChannelInterest only marks the channel for the subscription goroutine
// (interest.go).

// PublishToChannel publishes payload (a complete server message's JSON) to
// channel's subscribers on the other nodes and returns how many other nodes
// received it. The node's own subscription to the channel, when it has local
// subscribers, receives the publication too and skips it; it is not counted. The
// count is exact except while this node's subscribe or unsubscribe of channel is
// in flight (a few milliseconds after its first subscriber arrived or its last
// left), when it may be one off.
func (n *Node) PublishToChannel(ctx context.Context, channel string, payload []byte) (int, error) {
	receivers, err := n.publish(ctx, n.keys.channel(channel), envelope{kind: kindChannel, channel: channel, body: payload})
	if err != nil {
		return 0, err
	}
	n.counters.channelPublished.Add(1)
	if receivers > 0 && n.interest.isConfirmed(channel) {
		receivers--
	}
	return receivers, nil
}

// ChangeUserSubscription subscribes (subscribe true) or unsubscribes userID's
// connections on the other live nodes holding the user to or from channel; reason
// goes to the clients in "unsubscribed". It returns how many nodes received it.
func (n *Node) ChangeUserSubscription(ctx context.Context, userID, channel string, subscribe bool, reason string) (int, error) {
	return n.route(ctx, envelope{kind: kindUserSubscription, userID: userID, channel: channel, subscribe: subscribe,
		body: []byte(reason)})
}

// ChangeConnectionSubscription does it for connection id, which the node that
// issued it (see Owns; the caller handles ids of this node itself) changes. It
// reports false when that node is not subscribed (gone, or reconnecting to Redis).
func (n *Node) ChangeConnectionSubscription(ctx context.Context, id session.ConnectionID, channel string, subscribe bool, reason string) (bool, error) {
	receivers, err := n.publish(ctx, inboxChannel(n.keys.prefix, id.NodeTag()),
		envelope{kind: kindConnectionSubscription, connection: id, channel: channel, subscribe: subscribe, body: []byte(reason)})
	return receivers > 0, err
}

// ChannelInterest tells the node that channel's first local subscriber arrived
// (interested true) or its last left. It returns at once, whatever Redis's state:
// the subscription goroutine subscribes and unsubscribes in batches, within about
// channelBatchDelay (10 ms) plus a round trip, and asks the Receiver's
// HasLocalSubscribers for the truth when it acts, so calls for one channel may come
// in any order and interested is only a hint.
func (n *Node) ChannelInterest(channel string, interested bool) {
	n.interest.mark(channel)
}

// AwaitChannel returns when this node receives channel's publications from Redis:
// when Redis confirmed its subscription to the channel's Redis channel, which
// happens within about channelBatchDelay (10 ms) plus a round trip of the channel's
// first local subscriber (ChannelInterest). It returns at once when it is confirmed
// already, ErrUnavailable at once while Redis is known to be unreachable, and
// ctx's error when ctx ends first (a subscription being set up again waits). Reading a history channel's top after it returned
// leaves no gap: every publication appended later reaches this node from Redis.
// It blocks: call it from a goroutine that may wait (not the event loop's handlers,
// not the subscription goroutine).
func (n *Node) AwaitChannel(ctx context.Context, channel string) error {
	waiter := n.interest.await(channel)
	if waiter == nil {
		return nil
	}
	if !n.available() {
		n.interest.forget(channel, waiter)
		return errors.Join(ErrUnavailable, errOutage)
	}
	select {
	case <-waiter:
		return nil
	case <-ctx.Done():
		n.interest.forget(channel, waiter)
		return ctx.Err()
	case <-n.stop:
		n.interest.forget(channel, waiter)
		return errors.Join(ErrUnavailable, errors.New("node closed"))
	}
}
