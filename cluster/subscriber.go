package cluster

import (
	"context"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/session"
)

// The receiving side. Each node holds one dedicated Redis connection subscribed to
// two channels, broadcast (every node) and to:<tag> (this node's sends, kicks and
// subscription changes), and to ch:<channel> for each channel with a subscriber on
// this node (see interest.go). One connection for all of them keeps one reading
// goroutine and one order: messages arrive in publication order and are handed to
// the node's Receiver one after another, so messages from one source to one
// connection keep their order. The goroutine that holds the connection also sends
// the channel subscription batches on it, so the connection has one user and a new
// connection starts from the full set of wanted channels. Delivery only queues
// frames (the hub never blocks on a client); while a delivery runs, Redis buffers
// what follows, up to its client-output-buffer-limit for pub/sub clients, and then
// drops the subscription, which this node renews by itself.

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
		n.interest.reset()
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
		if !n.waitDeciding(delay) {
			return
		}
		delay = min(2*delay, maxResubscribeDelay)
	}
}

// waitDeciding is wait for the subscription goroutine without a connection: it
// keeps deciding which channels it wants as their local subscribers change, so the
// marked set stays small during an outage and the next connection subscribes the
// channels wanted then.
func (n *Node) waitDeciding(duration time.Duration) bool {
	timer := time.NewTimer(duration)
	defer timer.Stop()
	for {
		select {
		case <-n.stop:
			return false
		case <-timer.C:
			return true
		case <-n.interest.wake:
		case <-n.interest.full:
		}
		n.interest.decide(n.interest.take(), n.receiver.HasLocalSubscribers)
	}
}

// subscribe subscribes one dedicated connection to the cluster's channels and the
// wanted channels, and holds it, applying channel changes in batches, until the
// connection breaks, a channel command fails or the node closes. It reports whether
// the subscription was confirmed.
func (n *Node) subscribe() (bool, error) {
	dedicated, _ := n.client.Dedicate()
	defer dedicated.Close()
	generation := n.interest.reset()
	lost := dedicated.SetPubSubHooks(rueidis.PubSubHooks{
		OnMessage: n.receive,
		OnSubscription: func(event rueidis.PubSubSubscription) {
			n.confirmSubscription(generation, event)
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
	n.interest.decide(n.interest.take(), n.receiver.HasLocalSubscribers)
	if err := n.changeChannels(dedicated, n.interest.everyWanted(), nil); err != nil {
		return true, err
	}
	return true, n.holdSubscription(dedicated, lost)
}

// confirmSubscription handles Redis's confirmation of a subscribe or an unsubscribe
// on connection generation.
func (n *Node) confirmSubscription(generation uint64, event rueidis.PubSubSubscription) {
	switch event.Channel {
	case n.keys.inbox:
		if event.Kind == "subscribe" {
			n.subscribed.Store(true)
			n.requestRenewal()
		}
	case n.keys.broadcast:
		// Confirmed together with the inbox, which stands for both.
	default:
		if channel, ok := strings.CutPrefix(event.Channel, n.keys.channelPrefix); ok {
			n.interest.confirm(generation, channel, event.Kind == "subscribe")
		}
	}
}

// holdSubscription waits for the connection to break or the node to close, and
// meanwhile sends the channel changes, channelBatchDelay after the first change of
// a batch or as soon as channelBatchSize channels changed.
func (n *Node) holdSubscription(dedicated rueidis.DedicatedClient, lost <-chan error) error {
	batch := time.NewTimer(channelBatchDelay)
	batch.Stop()
	defer batch.Stop()
	armed := false
	for {
		select {
		case err := <-lost:
			return err
		case <-n.stop:
			return nil
		case <-n.interest.wake:
			if !armed {
				batch.Reset(channelBatchDelay)
				armed = true
			}
			continue
		case <-batch.C:
		case <-n.interest.full:
			batch.Stop()
		}
		armed = false
		subscribe, unsubscribe := n.interest.decide(n.interest.take(), n.receiver.HasLocalSubscribers)
		if err := n.changeChannels(dedicated, subscribe, unsubscribe); err != nil {
			return err
		}
	}
}

// changeChannels subscribes and unsubscribes channels on the subscription
// connection, up to channelBatchSize per command. A failed command leaves Redis's
// state unknown, so its error ends the connection: the next one subscribes the
// wanted channels from scratch.
func (n *Node) changeChannels(dedicated rueidis.DedicatedClient, subscribe, unsubscribe []string) error {
	for start := 0; start < len(subscribe); start += channelBatchSize {
		part := subscribe[start:min(start+channelBatchSize, len(subscribe))]
		if err := n.channelCommand(dedicated, dedicated.B().Subscribe().Channel(n.keys.channels(part)...).Build()); err != nil {
			return err
		}
	}
	for start := 0; start < len(unsubscribe); start += channelBatchSize {
		part := unsubscribe[start:min(start+channelBatchSize, len(unsubscribe))]
		if err := n.channelCommand(dedicated, dedicated.B().Unsubscribe().Channel(n.keys.channels(part)...).Build()); err != nil {
			return err
		}
	}
	return nil
}

// channelCommand sends one SUBSCRIBE or UNSUBSCRIBE and counts it.
func (n *Node) channelCommand(dedicated rueidis.DedicatedClient, command rueidis.Completed) error {
	ctx, cancel := n.call(context.Background())
	err := dedicated.Do(ctx, command).Error()
	cancel()
	n.counters.channelBatches.Add(1)
	if err != nil {
		n.logger.Warn("channel subscription change failed; subscribing again", "error", err.Error())
	}
	return err
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
	// PublishToChannelLocal queues payload to channel's subscribers on this node and
	// returns how many.
	PublishToChannelLocal(channel string, payload []byte) int
	// ChangeUserSubscriptionLocal subscribes (subscribe true) or unsubscribes
	// userID's connections on this node to or from channel, answering each with
	// "subscribed" or "unsubscribed" with reason, and returns how many connections
	// changed.
	ChangeUserSubscriptionLocal(userID, channel string, subscribe bool, reason string) int
	// ChangeConnectionSubscriptionLocal does it for connection id and reports
	// whether it is open here.
	ChangeConnectionSubscriptionLocal(id session.ConnectionID, channel string, subscribe bool, reason string) bool
	// PublishToChannelLocalAt queues the publication of data (the publication's
	// "data" as published) at position, a history channel's publication from
	// Redis, to channel's subscribers on this node and returns how many. It is
	// called for every node's publications, this node's own included, in offset
	// order per channel.
	PublishToChannelLocalAt(channel string, data []byte, position history.Position) int
	// HasLocalSubscribers reports whether channel has a subscriber on this node now.
	// Unlike the others it is called on the subscription goroutine, when the node
	// decides which channels to receive.
	HasLocalSubscribers(channel string) bool
	// ChannelCounts returns channel's subscriber and user counts on this node and
	// whether it has subscribers here. Like TopChannels it answers channel queries
	// (query.go): it is called on a query worker or an API request's goroutine,
	// never the subscription goroutine, and must cost O(its answer).
	ChannelCounts(channel string) (channels.ChannelCounts, bool)
	// TopChannels lists up to limit channels of this node whose names start with
	// prefix, most subscribers first (then by name), and whether more matched.
	TopChannels(prefix string, limit int) ([]channels.ChannelCounts, bool)
	// PresenceTransitions publishes join and leave for the users whose presence in
	// channel began (joined) or ended (left) across the whole cluster, to the
	// channel's subscribers on every node; it must return at once. The node calls
	// it from its presence goroutine for the transitions its own changes caused,
	// and for the leaves of the nodes it swept after their lease expired (and its
	// own when it leaves, from Close). joined or left may be nil, never both.
	PresenceTransitions(channel string, joined, left []string)
}

// receive handles one message from Redis. The node's own broadcasts and channel
// publications come back on their channels and are skipped: their origin delivered
// them locally already. History publications are the exception: every node,
// the origin included, delivers them from here, so that each node's delivery order
// is Redis's order, which is offset order. Channel queries and their replies only pass through here:
// a query is queued for a worker, a reply handed to its waiting query.
func (n *Node) receive(message rueidis.PubSubMessage) {
	received, err := decodeEnvelope([]byte(message.Message))
	if err != nil {
		n.counters.malformed.Add(1)
		n.logger.Debug("malformed message on a cluster channel", "channel", message.Channel)
		return
	}
	if received.kind == kindHistoryPublication {
		n.receiveHistory(received)
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
	case kindChannel:
		n.counters.channelReceived.Add(1)
		n.receiver.PublishToChannelLocal(received.channel, received.body)
	case kindUserSubscription:
		n.receiver.ChangeUserSubscriptionLocal(received.userID, received.channel, received.subscribe, string(received.body))
	case kindConnectionSubscription:
		delivered = n.receiver.ChangeConnectionSubscriptionLocal(received.connection, received.channel, received.subscribe,
			string(received.body))
	case kindChannelQuery:
		n.receiveQuery(received)
	case kindQueryReply:
		n.queries.deliver(received.query, received.body)
	}
	if !delivered {
		n.counters.undeliverable.Add(1)
	}
}

// receiveHistory hands a history publication to the HistoryReceiver.
func (n *Node) receiveHistory(received envelope) {
	n.counters.historyReceived.Add(1)
	if received.origin != n.tag {
		n.counters.received.Add(1)
		n.counters.channelReceived.Add(1)
	}
	n.receiver.PublishToChannelLocalAt(received.channel, received.body,
		history.Position{Offset: received.offset, Epoch: received.epoch})
}
