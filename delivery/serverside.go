package delivery

import (
	"context"

	"github.com/wsgate/wsgate/callbacks"
	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/session"
)

// The backend's side of channels: publications and server-side subscriptions, on
// this node and, with a Forwarder, on the others; the ...Local halves are
// what other nodes' requests arrive at (cluster.Receiver); and the index's counts
// for the API.

// DefaultUnsubscribeReason is the "reason" of the "unsubscribed" a client receives
// when the backend removed its subscription without giving one.
const DefaultUnsubscribeReason = "unsubscribed by the server"

// PublishToChannel publishes data (any JSON value, sent byte for byte as given;
// the Publisher does not check it) to every subscriber of channel in the cluster:
// the publication is encoded once, queued to this node's subscribers, then handed
// to the other nodes; a history channel's is appended to its stream first and
// carries its offset (history.go; Result.Position). channel must be a valid name
// (channels.ValidateName): an invalid name has no subscribers.
func (p *Publisher) PublishToChannel(ctx context.Context, channel string, data []byte) Result {
	p.counters.fromAPI.Add(1)
	if options := p.namespaces.Lookup(channel); p.hasHistory(options) {
		return p.publishHistory(ctx, channel, data, historyOptions(options), nil)
	}
	payload := protocol.PublicationPayload(channel, data)
	result := Result{Local: p.publishLocal(channel, payload, nil)}
	if p.forwarder != nil {
		result.Forwarded = true
		result.Nodes, result.Err = p.forwarder.PublishToChannel(ctx, channel, payload)
	}
	return result
}

// ChannelPublication is one publication of a batch: data (any JSON value) for
// channel (a valid name).
type ChannelPublication struct {
	Channel string
	Data    []byte
}

// PublishBatch publishes each of publications as PublishToChannel does, in order,
// and returns their results in the same order. Once the other nodes could not be
// reached, the rest of the batch is delivered on this node only and carries that
// error, so an outage costs one timeout per batch, not one per publication.
func (p *Publisher) PublishBatch(ctx context.Context, publications []ChannelPublication) []Result {
	results := make([]Result, len(publications))
	var outage error
	for position, publication := range publications {
		p.counters.fromAPI.Add(1)
		if options := p.namespaces.Lookup(publication.Channel); p.hasHistory(options) {
			results[position] = p.publishHistoryInBatch(ctx, publication, historyOptions(options), &outage)
			continue
		}
		payload := protocol.PublicationPayload(publication.Channel, publication.Data)
		result := Result{Local: p.publishLocal(publication.Channel, payload, nil)}
		if p.forwarder != nil {
			result.Forwarded = true
			if outage == nil {
				result.Nodes, outage = p.forwarder.PublishToChannel(ctx, publication.Channel, payload)
			}
			result.Err = outage
		}
		results[position] = result
	}
	return results
}

// publishHistoryInBatch publishes a history channel's publication of a batch: in a
// cluster after an outage (*outage set) on this node only, without an offset, and
// a store failure becomes the batch's outage.
func (p *Publisher) publishHistoryInBatch(ctx context.Context, publication ChannelPublication, options history.Options,
	outage *error) Result {
	if p.historyLocal {
		return p.publishHistory(ctx, publication.Channel, publication.Data, options, nil)
	}
	if *outage != nil {
		p.historyCounts.appendFailures.Add(1)
		local := p.deliverHistory(publication.Channel, protocol.PublicationPayload(publication.Channel, publication.Data),
			history.Position{}, nil)
		return Result{Local: local, Forwarded: true, Err: *outage}
	}
	result := p.publishHistory(ctx, publication.Channel, publication.Data, options, nil)
	*outage = result.Err
	return result
}

// ChangeUserSubscription subscribes (subscribe true) or unsubscribes every
// connection of userID in the cluster to or from channel. Each connection that
// changes is told: "subscribed", or "unsubscribed" with reason
// (DefaultUnsubscribeReason when empty). Result.Local counts this node's
// connections that changed. A server-side subscribe is the backend's word: no
// permission is checked, but the per-connection limit and the namespace's
// max_subscribers hold (a connection at its limit is left out, silently).
func (p *Publisher) ChangeUserSubscription(ctx context.Context, userID, channel string, subscribe bool, reason string) Result {
	result := Result{Local: p.ChangeUserSubscriptionLocal(userID, channel, subscribe, reason)}
	if p.forwarder != nil {
		result.Forwarded = true
		result.Nodes, result.Err = p.forwarder.ChangeUserSubscription(ctx, userID, channel, subscribe, reason)
	}
	return result
}

// ChangeConnectionSubscription is ChangeUserSubscription for connection id, on this
// node or on the node that issued it (see Result.Reached: false when no live node
// holds it). On this node, Local is 1 when the connection is open here, whether or
// not its subscription changed.
func (p *Publisher) ChangeConnectionSubscription(ctx context.Context, id session.ConnectionID, channel string, subscribe bool, reason string) Result {
	if p.forwarder != nil && !p.forwarder.Owns(id) {
		found, err := p.forwarder.ChangeConnectionSubscription(ctx, id, channel, subscribe, reason)
		return Result{Forwarded: true, Nodes: count(found), Err: err}
	}
	return Result{Local: count(p.ChangeConnectionSubscriptionLocal(id, channel, subscribe, reason))}
}

// PublishToChannelLocal queues payload, a complete publication message, to
// channel's subscribers on this node and returns how many; it implements
// cluster.Receiver for publications from other nodes.
func (p *Publisher) PublishToChannelLocal(channel string, payload []byte) int {
	p.counters.fromCluster.Add(1)
	if p.hasHistory(p.namespaces.Lookup(channel)) {
		return p.deliverHistory(channel, payload, history.Position{}, nil)
	}
	return p.publishLocal(channel, payload, nil)
}

// ChangeUserSubscriptionLocal subscribes or unsubscribes userID's connections on
// this node (see ChangeUserSubscription) and returns how many changed; it
// implements cluster.Receiver.
func (p *Publisher) ChangeUserSubscriptionLocal(userID, channel string, subscribe bool, reason string) int {
	if channels.ValidateName(channel) != nil {
		return 0
	}
	frame := p.changeFrame(channel, subscribe, reason)
	changed := 0
	for _, s := range p.hub.UserSessions(userID) {
		if p.changeSubscription(s, channel, subscribe, frame) {
			changed++
		}
	}
	return changed
}

// ChangeConnectionSubscriptionLocal subscribes or unsubscribes connection id of
// this node (see ChangeUserSubscription) and reports whether it is open here; it
// implements cluster.Receiver.
func (p *Publisher) ChangeConnectionSubscriptionLocal(id session.ConnectionID, channel string, subscribe bool, reason string) bool {
	s := p.hub.Lookup(id)
	if s == nil {
		return false
	}
	if channels.ValidateName(channel) == nil {
		p.changeSubscription(s, channel, subscribe, p.changeFrame(channel, subscribe, reason))
	}
	return true
}

// HasLocalSubscribers reports whether channel has a subscriber on this node now;
// it implements cluster.Receiver, for the cluster to re-read the truth after
// Forwarder.ChannelInterest.
func (p *Publisher) HasLocalSubscribers(channel string) bool {
	_, found := p.index.Channel(channel)
	return found
}

// changeFrame encodes what a connection whose subscription the server removed is
// told, once for all of them; nil for a subscribe, which join answers per
// connection.
func (p *Publisher) changeFrame(channel string, subscribe bool, reason string) []byte {
	if subscribe {
		return nil
	}
	if reason == "" {
		reason = DefaultUnsubscribeReason
	}
	return protocol.ChannelAnswer{Type: protocol.TypeUnsubscribed, Channel: channel, Reason: reason}.Frame()
}

// changeSubscription subscribes or unsubscribes s to or from channel on the
// server's behalf and tells it when that changed something: frame, or for a
// subscribe the answer join sends (with the position of a history channel).
func (p *Publisher) changeSubscription(s *session.Session, channel string, subscribe bool, frame []byte) bool {
	options := p.namespaces.Lookup(channel)
	if subscribe {
		return p.join(s, channel, options, joinRequest{}) == nil
	}
	if p.leave(s, channel, options) != nil {
		return false
	}
	if !subscribe {
		p.emit(callbacks.EventUnsubscribe, s, channel, UnsubscribedByServer)
	}
	s.Send(frame)
	return true
}

// ChannelCounts returns channel's subscriber and user counts on this node, and
// whether it has subscribers here; O(1).
func (p *Publisher) ChannelCounts(channel string) (channels.ChannelCounts, bool) {
	return p.index.Channel(channel)
}

// TopChannels lists up to limit channels of this node whose names start with
// prefix, most subscribers first, and whether more matched (see
// channels.Index.TopChannels for the cost: O(result), never a scan).
func (p *Publisher) TopChannels(prefix string, limit int) ([]channels.ChannelCounts, bool) {
	return p.index.TopChannels(prefix, limit)
}
