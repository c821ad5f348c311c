package cluster

import (
	"slices"
	"sync"

	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/session"
)

// recorder is the Receiver of the test nodes. The publisher delivers broadcasts,
// sends and kicks to the node's hub as in production; the channel half, which
// package delivery implements on top of its channel index, is played by the
// recorder: the test decides which channels have local subscribers (subscribe,
// unsubscribe) and the recorder keeps, in arrival order, every channel publication
// and subscription change the node hands it. Safe for concurrent use.
type recorder struct {
	*delivery.Publisher
	node *Node
	hub  *session.Hub

	mutex        sync.Mutex
	local        map[string]bool
	publications []publication
	changes      []subscriptionChange
	positioned   []positionedPublication
	transitions  []presenceTransition
}

// presenceTransition is one PresenceTransitions call a recorder received.
type presenceTransition struct {
	channel string
	joined  []string
	left    []string
}

// positionedPublication is one history publication a recorder received.
type positionedPublication struct {
	channel  string
	data     string
	position history.Position
}

// publication is one channel publication a recorder received.
type publication struct {
	channel string
	payload string
}

// subscriptionChange is one subscription change a recorder received: for a user
// (userID set) or for a connection.
type subscriptionChange struct {
	userID     string
	connection session.ConnectionID
	channel    string
	subscribe  bool
	reason     string
}

func newRecorder(node *Node, hub *session.Hub, publisher *delivery.Publisher) *recorder {
	return &recorder{Publisher: publisher, node: node, hub: hub, local: make(map[string]bool)}
}

// subscribe gives channel a local subscriber and tells the node, as the delivery
// side does for a channel's first subscriber.
func (r *recorder) subscribe(channel string) {
	r.setLocal(channel, true)
	r.node.ChannelInterest(channel, true)
}

// unsubscribe removes channel's local subscribers and tells the node.
func (r *recorder) unsubscribe(channel string) {
	r.setLocal(channel, false)
	r.node.ChannelInterest(channel, false)
}

// setLocal sets whether channel has local subscribers without telling the node.
func (r *recorder) setLocal(channel string, subscribed bool) {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	if subscribed {
		r.local[channel] = true
	} else {
		delete(r.local, channel)
	}
}

// PublishToChannelLocal records the publication; it counts one subscriber for a
// channel with local subscribers.
func (r *recorder) PublishToChannelLocal(channel string, payload []byte) int {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	r.publications = append(r.publications, publication{channel: channel, payload: string(payload)})
	if r.local[channel] {
		return 1
	}
	return 0
}

// PublishToChannelLocalAt records the history publication (HistoryReceiver).
func (r *recorder) PublishToChannelLocalAt(channel string, data []byte, position history.Position) int {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	r.positioned = append(r.positioned, positionedPublication{channel: channel, data: string(data), position: position})
	return 1
}

// positionedOf returns the history publications received for channel, in arrival
// order.
func (r *recorder) positionedOf(channel string) []positionedPublication {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	var received []positionedPublication
	for _, publication := range r.positioned {
		if publication.channel == channel {
			received = append(received, publication)
		}
	}
	return received
}

// ChangeUserSubscriptionLocal records the change and counts one connection changed.
func (r *recorder) ChangeUserSubscriptionLocal(userID, channel string, subscribe bool, reason string) int {
	r.record(subscriptionChange{userID: userID, channel: channel, subscribe: subscribe, reason: reason})
	return 1
}

// ChangeConnectionSubscriptionLocal records the change and reports the connection
// open when its id carries this node's tag.
func (r *recorder) ChangeConnectionSubscriptionLocal(id session.ConnectionID, channel string, subscribe bool, reason string) bool {
	r.record(subscriptionChange{connection: id, channel: channel, subscribe: subscribe, reason: reason})
	return r.node.Owns(id)
}

// HasLocalSubscribers reports what subscribe and unsubscribe set.
func (r *recorder) HasLocalSubscribers(channel string) bool {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	return r.local[channel]
}

func (r *recorder) record(change subscriptionChange) {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	r.changes = append(r.changes, change)
}

// received returns the payloads received for channel, in arrival order.
func (r *recorder) received(channel string) []string {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	var payloads []string
	for _, received := range r.publications {
		if received.channel == channel {
			payloads = append(payloads, received.payload)
		}
	}
	return payloads
}

// receivedCount returns how many publications the recorder received, on any
// channel.
func (r *recorder) receivedCount() int {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	return len(r.publications)
}

// changesSeen returns the subscription changes received, in arrival order.
func (r *recorder) changesSeen() []subscriptionChange {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	return slices.Clone(r.changes)
}

// PresenceTransitions records the cluster-wide joins and leaves, in arrival order.
func (r *recorder) PresenceTransitions(channel string, joined, left []string) {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	r.transitions = append(r.transitions, presenceTransition{channel: channel, joined: slices.Clone(joined),
		left: slices.Clone(left)})
}

// transitionsOf returns how many joins and leaves the recorder received per user
// of channel.
func (r *recorder) transitionsOf(channel string) (joins, leaves map[string]int) {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	joins, leaves = make(map[string]int), make(map[string]int)
	for _, transition := range r.transitions {
		if transition.channel != channel {
			continue
		}
		for _, user := range transition.joined {
			joins[user]++
		}
		for _, user := range transition.left {
			leaves[user]++
		}
	}
	return joins, leaves
}
