package delivery

import (
	"context"
	"encoding/json"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/session"
)

// Publications of history channels (namespaces with history_size). Each gets an
// offset from the store, and its frame, encoded once with that offset, is
// delivered under the channel's stripe lock (joining.go), so that connections
// joining the channel meanwhile get it exactly once:
//
//   - Single node (no Forwarder): append and delivery under the stripe lock
//     together, so this node delivers in offset order.
//   - Cluster: the shared store's Append also publishes the publication to every
//     node, this one included, in offset order; each node delivers it when the
//     cluster hands it to PublishToChannelLocalAt. A client's publication is
//     appended on a history worker, never on its handler goroutine. When the store
//     cannot be reached (or the workers are saturated), the publication is
//     delivered on this node only, without an offset, and the failure counted.

// publishHistory appends data to channel's stream and delivers it (see above);
// exclude (nil: none) does not receive it on a single node. In a cluster every
// subscriber, exclude included, receives it from the store's message, which does
// not say who published it.
func (p *Publisher) publishHistory(ctx context.Context, channel string, data []byte, options history.Options,
	exclude *session.Session) Result {
	if p.historyLocal {
		target := p.streams.of(channel)
		target.mutex.Lock()
		defer target.mutex.Unlock()
		position, err := p.history.Append(ctx, channel, data, options)
		if err != nil {
			p.historyCounts.appendFailures.Add(1)
			return Result{Local: p.deliverLocked(target, channel, protocol.PublicationPayload(channel, data), position, exclude), Err: err}
		}
		p.historyCounts.appended.Add(1)
		payload := protocol.PublicationPayloadAt(channel, data, position.Offset)
		return Result{Local: p.deliverLocked(target, channel, payload, position, exclude), Position: position}
	}
	position, err := p.history.Append(ctx, channel, data, options)
	if err != nil {
		p.historyCounts.appendFailures.Add(1)
		return Result{Local: p.deliverHistory(channel, protocol.PublicationPayload(channel, data), history.Position{}, exclude),
			Forwarded: true, Err: err}
	}
	p.historyCounts.appended.Add(1)
	return Result{Forwarded: true, Position: position}
}

// publishHistoryFrom is publishFrom for a history channel: the publication is
// appended (on a history worker in a cluster) and a publish with an id is
// answered "published" with its position.
func (p *Publisher) publishHistoryFrom(s *session.Session, channel string, data []byte, options channels.NamespaceOptions,
	exclude *session.Session, id json.RawMessage) {
	if p.historyLocal {
		result := p.publishHistory(context.Background(), channel, data, historyOptions(options), exclude)
		acknowledge(s, channel, id, result.Position)
		return
	}
	appended := func() {
		ctx, cancel := context.WithTimeout(context.Background(), p.historyTimeout)
		result := p.publishHistory(ctx, channel, data, historyOptions(options), exclude)
		cancel()
		acknowledge(s, channel, id, result.Position)
	}
	if !p.workers.submit(channel, appended) {
		p.historyCounts.appendsRejected.Add(1)
		p.deliverHistory(channel, protocol.PublicationPayload(channel, data), history.Position{}, exclude)
		acknowledge(s, channel, id, history.Position{})
	}
}

// acknowledge answers a client's publish that carried an id with "published", and
// the publication's position when it has one.
func acknowledge(s *session.Session, channel string, id json.RawMessage, position history.Position) {
	if id == nil {
		return
	}
	answer := protocol.ChannelAnswer{Type: protocol.TypePublished, Channel: channel, ID: id}
	if position != (history.Position{}) {
		answer.Position = &position
	}
	s.Send(answer.Frame())
}

// deliverHistory queues payload, a publication of history channel at position
// (the zero Position: without an offset), to the channel's subscribers on this
// node except exclude, under the channel's stripe lock, and returns how many
// received it.
func (p *Publisher) deliverHistory(channel string, payload []byte, position history.Position, exclude *session.Session) int {
	target := p.streams.of(channel)
	target.mutex.Lock()
	defer target.mutex.Unlock()
	return p.deliverLocked(target, channel, payload, position, exclude)
}

// deliverLocked is deliverHistory with target, channel's stripe, locked: the
// frame is encoded once, the channel's joiners get it through their buffers
// (divertLocked), every other subscriber directly.
func (p *Publisher) deliverLocked(target *stripe, channel string, payload []byte, position history.Position,
	exclude *session.Session) int {
	buffer := subscriberBuffers.Get().(*[]*session.Session)
	subscribers := p.index.Subscribers(channel, (*buffer)[:0])
	delivered := 0
	var frame []byte
	if len(subscribers) > 0 {
		frame = protocol.TextFrame(payload)
	}
	if len(target.joining[channel]) > 0 {
		subscribers, delivered = p.divertLocked(target, channel, subscribers, frame, position, exclude)
	}
	if len(subscribers) > 0 {
		delivered += p.hub.SendToSessions(frame, subscribers, exclude)
	}
	clear(subscribers)
	*buffer = subscribers[:0]
	subscriberBuffers.Put(buffer)
	p.counters.delivered.Add(uint64(delivered))
	return delivered
}

// PublishToChannelLocalAt delivers a history channel's publication, data at
// position, to channel's subscribers on this node and returns how many received
// it; it implements cluster.Receiver for the shared store's messages. The cluster
// calls it for every publication of a history channel with local subscribers, the
// ones this node appended included, one after another in offset order (the order
// of the store's messages), on its subscription's goroutine. It encodes the
// publication once for this node's subscribers; data is only valid during the
// call.
func (p *Publisher) PublishToChannelLocalAt(channel string, data []byte, position history.Position) int {
	p.counters.fromCluster.Add(1)
	return p.deliverHistory(channel, protocol.PublicationPayloadAt(channel, data, position.Offset), position, nil)
}

// HistoryOf reads channel's stream for the history endpoint: up to limit
// publications with offset > since, oldest first, and the top. found is false
// when the channel's namespace keeps no history here (or no store is configured).
// It makes at most one round trip, bounded by ctx.
func (p *Publisher) HistoryOf(ctx context.Context, channel string, since uint64, limit int) (publications []history.Publication,
	top history.Position, found bool, err error) {
	options := p.namespaces.Lookup(channel)
	if !p.hasHistory(options) {
		return nil, history.Position{}, false, nil
	}
	publications, top, err = p.history.Read(ctx, channel, since, limit, historyOptions(options))
	return publications, top, true, err
}
