package cluster

import (
	"context"
	"errors"

	"github.com/redis/rueidis"

	"github.com/wsgate/wsgate/session"
)

// The cross-node half of every delivery (delivery.Forwarder). The publisher delivers
// to this node's connections itself and then calls one of these methods:
//
//	broadcast            SPUBLISH broadcast              every node receives it once
//	send to user, kick   HGETALL user:<user>, then       only the nodes holding the user
//	                     SPUBLISH to:<tag> per node
//	send to connection   SPUBLISH to:<tag of the id>     only the node holding it
//
// Sends to a user take two round trips: the user's hash and the nodes' inboxes lie in
// different Redis Cluster slots, so one script cannot read the one and publish to the
// others. The rest take one.
//
// Each returns how many other nodes received the message (Redis's count of
// subscribers that got it), or an error when Redis could not be reached: nothing
// was then delivered beyond this node, except when the call timed out after Redis
// ran it, and for a send to a user on a Redis Cluster, which reached the nodes whose
// inbox shard answered (their count comes with the error). Calls are bounded by Config.Timeout and ctx,
// and fail at once while a single Redis is known to be unreachable (see available).

// ErrUnavailable wraps every error of the cross-node methods: Redis could not be
// reached in time, so the message reached this node's connections only.
var ErrUnavailable = errors.New("cluster unavailable")

// PublishBroadcast publishes payload (a JSON object's text) to every other node,
// whose connections except those in exclude receive it. It returns the number of
// other nodes that received it.
func (n *Node) PublishBroadcast(ctx context.Context, payload []byte, exclude []session.ConnectionID) (int, error) {
	receivers, err := n.publish(ctx, n.keys.broadcast, envelope{kind: kindBroadcast, exclude: exclude, body: payload})
	if err != nil {
		return 0, err
	}
	// The node's own subscription receives its broadcast too, and skips it.
	if n.subscribed.Load() && receivers > 0 {
		receivers--
	}
	return receivers, nil
}

// PublishToUser publishes payload to the other live nodes holding connections of
// userID and returns how many received it.
func (n *Node) PublishToUser(ctx context.Context, userID string, payload []byte) (int, error) {
	return n.route(ctx, envelope{kind: kindUser, userID: userID, body: payload})
}

// PublishToConnection publishes payload to the node that issued id (see Owns; the
// caller delivers ids of this node itself). It reports false when that node is not
// subscribed (gone, or reconnecting to Redis): the connection cannot be reached.
func (n *Node) PublishToConnection(ctx context.Context, id session.ConnectionID, payload []byte) (bool, error) {
	receivers, err := n.publish(ctx, inboxChannel(n.keys.prefix, id.NodeTag()),
		envelope{kind: kindConnection, connection: id, body: payload})
	return receivers > 0, err
}

// KickConnection asks the node that issued id to close it with 4403 and text as the
// reason. It reports false when that node is not subscribed.
func (n *Node) KickConnection(ctx context.Context, id session.ConnectionID, text string) (bool, error) {
	receivers, err := n.publish(ctx, inboxChannel(n.keys.prefix, id.NodeTag()),
		envelope{kind: kindKickConnection, connection: id, body: []byte(text)})
	return receivers > 0, err
}

// KickUser asks the other live nodes holding connections of userID to close them
// with 4403 and text as the reason, and returns how many nodes received it.
func (n *Node) KickUser(ctx context.Context, userID, text string) (int, error) {
	return n.route(ctx, envelope{kind: kindKickUser, userID: userID, body: []byte(text)})
}

// publish sends message on channel with one SPUBLISH and returns Redis's receiver
// count.
func (n *Node) publish(ctx context.Context, channel string, message envelope) (int, error) {
	if !n.available() {
		n.counters.publishFailures.Add(1)
		return 0, errors.Join(ErrUnavailable, errOutage)
	}
	message.origin = n.tag
	encoded := message.encode(nil)
	ctx, cancel := n.call(ctx)
	receivers, err := n.client.Do(ctx, n.client.B().Spublish().Channel(channel).Message(rueidis.BinaryString(encoded)).Build()).AsInt64()
	cancel()
	n.countPublication(err)
	if err != nil {
		return 0, errors.Join(ErrUnavailable, err)
	}
	return int(receivers), nil
}

// route publishes message to each other node that holds connections of message's
// user: it reads the user's hash, then publishes to those nodes' inboxes in one
// pipelined write. A node that died without its fields being swept yet receives
// nothing (no subscriber) and is not counted.
func (n *Node) route(ctx context.Context, message envelope) (int, error) {
	if !n.available() {
		n.counters.publishFailures.Add(1)
		return 0, errors.Join(ErrUnavailable, errOutage)
	}
	message.origin = n.tag
	ctx, cancel := n.call(ctx)
	defer cancel()
	fields, err := n.client.Do(ctx, n.client.B().Hgetall().Key(n.keys.user(message.userID)).Build()).AsStrMap()
	if err != nil {
		n.countPublication(err)
		return 0, errors.Join(ErrUnavailable, err)
	}
	var commands rueidis.Commands
	var encoded []byte
	for tag, count := range fields {
		if tag == n.keys.tag || atoiOrZero(count) <= 0 {
			continue
		}
		if encoded == nil {
			encoded = message.encode(nil)
		}
		commands = append(commands, n.client.B().Spublish().Channel(inboxOf(n.keys.prefix, tag)).Message(rueidis.BinaryString(encoded)).Build())
	}
	if len(commands) == 0 {
		n.countPublication(nil)
		return 0, nil
	}
	reached := 0
	for _, result := range n.client.DoMulti(ctx, commands...) {
		receivers, resultErr := result.AsInt64()
		err = errors.Join(err, resultErr)
		reached += int(receivers)
	}
	n.countPublication(err)
	if err != nil {
		return reached, errors.Join(ErrUnavailable, err)
	}
	return reached, nil
}
