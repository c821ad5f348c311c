package cluster

import (
	"context"
	"time"

	"github.com/redis/rueidis"

	"github.com/wsgate/wsgate/session"
)

// The receiving side. Each node holds one dedicated Redis connection subscribed to
// two channels: broadcast (every node) and to:<tag> (this node's sends and kicks).
// Messages arrive in publication order on that one connection and are handed to the
// node's Receiver on the connection's reading goroutine, one after another, so messages from
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

// Receiver delivers what other nodes send to this node's connections only, never
// back to the cluster; package delivery's Publisher implements it, so each delivery
// and each kick is written once for the API, the clients and the cluster. It is
// called on the subscription's reading goroutine, one message after another, and
// must not block on a client. A payload is the JSON text clients receive; it is
// only valid during the call.
type Receiver interface {
	// BroadcastLocal queues payload to every open connection except exclude.
	BroadcastLocal(payload []byte, exclude []session.ConnectionID) int
	// SendToUserLocal queues payload to userID's open connections.
	SendToUserLocal(userID string, payload []byte) int
	// SendToConnectionLocal queues payload to connection id and reports whether it
	// is open here.
	SendToConnectionLocal(id session.ConnectionID, payload []byte) bool
	// KickConnectionLocal closes connection id with 4403 and text and reports
	// whether it was open here.
	KickConnectionLocal(id session.ConnectionID, text string) bool
	// KickUserLocal closes userID's connections with 4403 and text.
	KickUserLocal(userID, text string) int
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
	delivered := true
	switch received.kind {
	case kindBroadcast:
		n.receiver.BroadcastLocal(received.body, received.exclude)
	case kindUser:
		n.receiver.SendToUserLocal(received.userID, received.body)
	case kindConnection:
		delivered = n.receiver.SendToConnectionLocal(received.connection, received.body)
	case kindKickConnection:
		delivered = n.receiver.KickConnectionLocal(received.connection, string(received.body))
	case kindKickUser:
		n.receiver.KickUserLocal(received.userID, string(received.body))
	}
	if !delivered {
		n.counters.undeliverable.Add(1)
	}
}
