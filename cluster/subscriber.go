package cluster

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/redis/rueidis"

	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/session"
)

// The receiving side. Each node holds one dedicated Redis connection subscribed to
// two channels: broadcast (every node) and to:<tag> (this node's sends and kicks).
// Messages arrive in publication order on that one connection and are delivered to
// the hub on the connection's reading goroutine, one after another, so messages from
// one source to one connection keep their order. Delivery only queues frames (the
// hub never blocks on a client); while a delivery runs, Redis buffers what follows,
// up to its client-output-buffer-limit for pub/sub clients, and then drops the
// subscription, which this node renews by itself.

// Resubscription delays: the first retry comes after minResubscribeDelay, each
// further one waits twice as long, up to maxResubscribeDelay. Delivery resumes at
// most maxResubscribeDelay (plus one connect) after Redis returns.
const (
	minResubscribeDelay = 50 * time.Millisecond
	maxResubscribeDelay = time.Second
)

// subscribeLoop keeps the node subscribed until Close.
func (n *Node) subscribeLoop() {
	defer n.workers.Done()
	delay := minResubscribeDelay
	for {
		wasSubscribed, err := n.subscribe()
		n.subscribed.Store(false)
		select {
		case <-n.stop:
			return
		default:
		}
		if wasSubscribed {
			n.counters.subscriptionLosses.Add(1)
			n.logger.Warn("cluster subscription lost; messages from other nodes are missed until it is back")
			delay = minResubscribeDelay
		}
		if err != nil {
			n.observe(err)
		}
		if !n.wait(delay) {
			return
		}
		delay = min(2*delay, maxResubscribeDelay)
	}
}

// subscribe subscribes one dedicated connection and holds it until the connection
// breaks or the node closes. It reports whether the subscription was confirmed.
func (n *Node) subscribe() (bool, error) {
	dedicated, _ := n.client.Dedicate()
	defer dedicated.Close()
	lost := dedicated.SetPubSubHooks(rueidis.PubSubHooks{
		OnMessage: n.receive,
		OnSubscription: func(event rueidis.PubSubSubscription) {
			if event.Kind == "subscribe" && event.Count == 2 {
				n.subscribed.Store(true)
				n.requestRenewal()
			}
		},
	})
	ctx, cancel := n.call(context.Background())
	err := dedicated.Do(ctx, dedicated.B().Subscribe().Channel(n.keys.broadcast, n.keys.inbox).Build()).Error()
	cancel()
	if err != nil {
		return false, err
	}
	// Reachability is left to the shared connection's own calls and probes: after a
	// short outage its idle connection may still be the broken one.
	n.logger.Info("subscribed to the cluster's channels", "broadcast", n.keys.broadcast, "inbox", n.keys.inbox)
	select {
	case err := <-lost:
		return true, err
	case <-n.stop:
		return true, nil
	}
}

// receive handles one message from Redis. The node's own broadcasts come back on the
// broadcast channel and are skipped: their origin delivered them locally already.
func (n *Node) receive(message rueidis.PubSubMessage) {
	received, err := decodeEnvelope([]byte(message.Message))
	if err != nil {
		n.counters.malformed.Add(1)
		n.logger.Debug("malformed message on a cluster channel", "channel", message.Channel)
		return
	}
	if received.origin == n.tag {
		return
	}
	n.counters.received.Add(1)
	switch received.kind {
	case kindBroadcast:
		n.hub.Broadcast(protocol.TextFrame(received.body), received.exclude...)
	case kindUser:
		n.hub.SendToUser(received.userID, protocol.TextFrame(received.body))
	case kindConnection:
		if !n.hub.SendToConnection(received.connection, protocol.TextFrame(received.body)) {
			n.counters.undeliverable.Add(1)
		}
	case kindKickConnection:
		connection := n.hub.Lookup(received.connection)
		if connection == nil {
			n.counters.undeliverable.Add(1)
			return
		}
		connection.CloseWithText(session.ReasonKicked, string(received.body))
		n.logger.Info("connection kicked", "connection_id", received.connection.String(),
			"user_id", connection.UserID(), "remote_addr", connection.RemoteAddr(), "from_node", hex.EncodeToString(received.origin[:]))
	case kindKickUser:
		connections := n.hub.UserSessions(received.userID)
		for _, connection := range connections {
			connection.CloseWithText(session.ReasonKicked, string(received.body))
		}
		n.logger.Info("user kicked", "user_id", received.userID, "connections", len(connections))
	}
}
