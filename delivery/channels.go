package delivery

import (
	"errors"
	"sync"

	"github.com/wsgate/wsgate/callbacks"
	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/session"
)

// The client's side of channels: subscribe, unsubscribe and publish (HandleMessage
// dispatches them here), the channels a token subscribes a connection to as it
// connects, the cleanup when it closes, and the local fan-out of a publication.
// Each runs on the connection's own handler goroutine, so the answers to one
// connection's requests keep their order.

// subscriberBuffers recycles the snapshots of a channel's subscribers that a
// publication is queued to, so a fan-out allocates nothing after warm-up.
var subscriberBuffers = sync.Pool{New: func() any { return new([]*session.Session) }}

// connectionOf returns what a permission decision knows of s.
func connectionOf(s *session.Session) channels.Connection {
	return channels.Connection{UserID: s.UserID(), Grants: s.Grants()}
}

// refuse answers a channel operation with the error err (an *channels.Error; any
// other error is answered as permission_denied with its text), echoing the channel
// and the request's id, and returns the wire code.
func refuse(s *session.Session, err error, channel string, id []byte) string {
	refusal := &channels.Error{Code: channels.CodePermissionDenied, Message: err.Error()}
	_ = errors.As(err, &refusal)
	s.Send(protocol.Error{Code: refusal.Code, Message: refusal.Message, Channel: channel, ID: string(id)}.Frame())
	return refusal.Code
}

// subscribeFrom handles a client's subscribe, in order with the connection's
// other channel requests (ordering.go): the name, the subscription token if any,
// the permission, the backend's subscribe check in a namespace that asks for it
// (checks.go), the limits; it answers "subscribed" (for a history channel with
// its position, and what the client missed when it asks to recover; see
// joining.go) or an error.
func (p *Publisher) subscribeFrom(s *session.Session, message protocol.Message) {
	p.inOrder(s, message, func() bool {
		options, err := p.subscribeAllowed(s, message)
		if err == nil && options.SubscribeCheck {
			return p.checkSubscribe(s, message, options)
		}
		if err == nil {
			err = p.join(s, message.Channel, options, joinRequest{id: message.ID, recover: message.Recover,
				from: history.Position{Offset: message.Offset, Epoch: message.Epoch}})
		}
		if err != nil && !errors.Is(err, errClosed) {
			p.counters.subscribeRefusals.add(refuse(s, err, message.Channel, message.ID))
		}
		return false
	})
}

// subscribeAllowed checks message, a subscribe of s, against the rules (the
// name, the subscription token the client sent, or none, the namespace and the
// grants, a subscription already held) and returns the channel's namespace
// options when they allow it.
func (p *Publisher) subscribeAllowed(s *session.Session, message protocol.Message) (channels.NamespaceOptions, error) {
	channel, token := message.Channel, message.Token
	if err := channels.ValidateName(channel); err != nil {
		return channels.NamespaceOptions{}, err
	}
	options := p.namespaces.Lookup(channel)
	tokenChannel := ""
	var err error
	if token != "" && p.verifySubscription != nil {
		if err = p.verifySubscription(token, s.UserID(), channel); err != nil {
			err = &channels.Error{Code: channels.CodePermissionDenied, Message: "subscription token refused: " + err.Error()}
		}
		tokenChannel = channel
	}
	if err == nil {
		err = channels.SubscribePermission(options, connectionOf(s), channel, tokenChannel)
	}
	if err != nil {
		if p.index.Subscribed(s, channel) {
			// The server subscribed the connection itself (the token's channels, the
			// connect callback's, the subscribe API), which the rules need not allow:
			// the client's own subscribe finds it there, and both clients take
			// already_subscribed as the subscription they asked for.
			return options, channels.ErrAlreadySubscribed
		}
		return options, err
	}
	if options.SubscribeCheck && p.index.Subscribed(s, channel) {
		// Not worth a call to the backend: join would refuse it.
		return options, channels.ErrAlreadySubscribed
	}
	return options, nil
}

// subscribe adds s to channel in the index (and its presence, presence.go),
// within the namespace's max_subscribers. A session that closed meanwhile may
// have been cleaned up already (SessionClosed), so the subscription is taken
// back: it reports ErrClosed then.
func (p *Publisher) subscribe(s *session.Session, channel string, options channels.NamespaceOptions) error {
	if err := p.subscribeTracked(s, channel, options); err != nil {
		return err
	}
	if !s.IsOpen() {
		_ = p.unsubscribeTracked(s, channel, options)
		return errClosed
	}
	p.emit(callbacks.EventSubscribe, s, channel, "")
	return nil
}

// errClosed: the connection closed while it was being subscribed. Nothing is sent
// to it any more, so its text is never seen.
var errClosed = errors.New("the connection closed")

// unsubscribeFrom handles a client's unsubscribe, in order with the connection's
// other channel requests, and answers "unsubscribed" or an error.
func (p *Publisher) unsubscribeFrom(s *session.Session, message protocol.Message) {
	p.inOrder(s, message, func() bool {
		err := channels.ValidateName(message.Channel)
		if err == nil {
			err = p.leave(s, message.Channel, p.namespaces.Lookup(message.Channel))
		}
		if err != nil {
			p.counters.subscribeRefusals.add(refuse(s, err, message.Channel, message.ID))
			return false
		}
		p.emit(callbacks.EventUnsubscribe, s, message.Channel, UnsubscribedByClient)
		s.Send(protocol.ChannelAnswer{Type: protocol.TypeUnsubscribed, Channel: message.Channel, ID: message.ID}.Frame())
		return false
	})
}

// publishFrom handles a client's publish, in order with the connection's other
// channel requests: the name and the permission, the backend's publish check in
// a namespace that asks for it (checks.go), then the delivery (deliverFrom).
func (p *Publisher) publishFrom(s *session.Session, message protocol.Message) {
	p.inOrder(s, message, func() bool {
		channel := message.Channel
		err := channels.ValidateName(channel)
		var options channels.NamespaceOptions
		if err == nil {
			options = p.namespaces.Lookup(channel)
			err = channels.PublishPermission(options, connectionOf(s), channel, p.index.Subscribed(s, channel))
		}
		if err != nil {
			p.counters.publishRefusals.add(refuse(s, err, channel, message.ID))
			return false
		}
		if options.PublishCheck {
			return p.checkPublish(s, message, options)
		}
		p.deliverFrom(s, channel, message.Data, options, message.ID)
		return false
	})
}

// deliverFrom delivers data, s's publication to channel, allowed: to this
// node's subscribers (the publisher among them only when its namespace says
// publisher_receives) and, in a cluster, to the other nodes without waiting for
// them (a history channel's: history.go). A publish with an id is acknowledged
// with "published".
func (p *Publisher) deliverFrom(s *session.Session, channel string, data []byte, options channels.NamespaceOptions, id []byte) {
	p.counters.fromClients.Add(1)
	exclude := s
	if options.PublisherReceives {
		exclude = nil
	}
	if p.hasHistory(options) {
		p.publishHistoryFrom(s, channel, data, options, exclude, id)
		return
	}
	payload := protocol.PublicationPayload(channel, data)
	p.publishLocal(channel, payload, exclude)
	if p.forwarder != nil {
		p.forwarder.RelayToChannel(channel, payload)
	}
	if id != nil {
		s.Send(protocol.ChannelAnswer{Type: protocol.TypePublished, Channel: channel, ID: id}.Frame())
	}
}

// publishLocal queues payload, a publication, framed once, to channel's
// subscribers on this node except exclude (nil: none) and returns how many.
func (p *Publisher) publishLocal(channel string, payload []byte, exclude *session.Session) int {
	buffer := subscriberBuffers.Get().(*[]*session.Session)
	subscribers := p.index.Subscribers(channel, (*buffer)[:0])
	delivered := 0
	if len(subscribers) > 0 {
		delivered = p.hub.SendToSessions(protocol.TextFrame(payload), subscribers, exclude)
	}
	clear(subscribers)
	*buffer = subscribers[:0]
	subscriberBuffers.Put(buffer)
	p.counters.delivered.Add(uint64(delivered))
	return delivered
}

// SessionOpened implements session.MessageHandler: it posts the connect event, then
// subscribes the new connection
// to the channels its token lists (the "channels" of its wsgate claim), answering
// "subscribed" for each (with the position of a history channel), or an error for
// a channel that cannot be (an invalid name, a limit). The token is the backend's
// word, so no permission is checked.
func (p *Publisher) SessionOpened(s *session.Session, initial []string) {
	p.emit(callbacks.EventConnect, s, "", "")
	for _, channel := range initial {
		err := channels.ValidateName(channel)
		if err == nil {
			err = p.join(s, channel, p.namespaces.Lookup(channel), joinRequest{})
		}
		switch {
		case errors.Is(err, errClosed):
			return
		case err != nil:
			p.counters.subscribeRefusals.add(refuse(s, err, channel, nil))
		}
	}
}

// SessionClosed implements session.MessageHandler: it posts the disconnect event of
// a connection that was opened (not of a refused one) and removes every
// subscription of the closed connection, in O(its subscriptions).
func (p *Publisher) SessionClosed(s *session.Session) {
	if !s.Refused() {
		p.emit(callbacks.EventDisconnect, s, "", s.Reason().String())
	}
	names := closedNamesPool.Get().(*[]string)
	*names = p.unsubscribeAllTracked(s, (*names)[:0])
	p.forgetJoins(s, *names)
	clear(*names)
	closedNamesPool.Put(names)
}

// closedNamesPool recycles the list of channels SessionClosed is handed back, so a
// reconnect storm of subscribed connections allocates no list per disconnect.
var closedNamesPool = sync.Pool{New: func() any { return new([]string) }}
