package cluster

import (
	"time"

	"github.com/redis/rueidis"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/session"
)

// The receiving side. A node subscribes to two shard channels of its own,
// broadcast (every node) and to:<tag> (this node's sends, kicks, subscription
// changes and query replies), and to ch:{<channel>} for each channel with a
// subscriber on this node (see interest.go), on the connections of shards.go: one on
// a single Redis, one per master that owns one of them on a Redis Cluster. One
// goroutine, the subscription goroutine, owns those connections and sends every
// subscription change, so a new connection starts from the full set of wanted
// channels. Messages arrive on each connection in publication order and are handed
// to the node's Receiver one after another (receiveMutex: under Redis Cluster
// several connections read at once), so messages from one source to one connection
// keep their order as long as they travel through one shard channel. Delivery only
// queues frames (the hub never blocks on a client); while a delivery runs, Redis
// buffers what follows, up to its client-output-buffer-limit for pub/sub clients,
// and then drops the connection, which this node renews by itself.

// Resubscription delays: the first retry comes after minResubscribeDelay, each
// further one waits twice as long, up to maxResubscribeDelay. Delivery resumes at
// most maxResubscribeDelay (plus one connect) after Redis returns.
const (
	minResubscribeDelay = 50 * time.Millisecond
	maxResubscribeDelay = time.Second
)

// subscribeLoop is the subscription goroutine: it keeps the node subscribed to its
// channels and applies the channel changes in batches, channelBatchDelay after the
// first change of a batch or as soon as channelBatchSize channels changed, until
// Close. Channels that could not be subscribed (Redis or their master unreachable)
// are tried again after a growing delay, while the others keep receiving.
func (n *Node) subscribeLoop() {
	defer n.workers.Done()
	s := n.newSubscriptions()
	defer s.close()
	batch := time.NewTimer(channelBatchDelay)
	batch.Stop()
	defer batch.Stop()
	retry := time.NewTimer(0)
	defer retry.Stop()
	delay := minResubscribeDelay
	batchArmed, retryArmed := false, true
	for {
		select {
		case <-n.stop:
			return
		case loss := <-s.losses:
			s.drop(loss.shard, loss.err)
			delay = minResubscribeDelay
			if !retryArmed {
				retry.Reset(delay)
				retryArmed = true
			}
			continue
		case <-n.interest.wake:
			if !batchArmed {
				batch.Reset(channelBatchDelay)
				batchArmed = true
			}
			continue
		case <-batch.C:
			batchArmed = false
		case <-n.interest.full:
			batch.Stop()
			batchArmed = false
		case <-retry.C:
			retryArmed = false
		}
		subscribe, unsubscribe := n.interest.decide(n.interest.take(), n.receiver.HasLocalSubscribers)
		s.want(subscribe)
		s.unwant(unsubscribe)
		if retryArmed {
			continue
		}
		if err := s.sync(); err != nil {
			n.observe(err)
			retry.Reset(delay)
			retryArmed = true
			delay = min(2*delay, maxResubscribeDelay)
		} else {
			delay = minResubscribeDelay
		}
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
	n.receiveMutex.Lock()
	defer n.receiveMutex.Unlock()
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
