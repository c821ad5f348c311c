package client

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync/atomic"
)

// ErrAlreadySubscribed is returned by Subscribe when the Client has a subscription to
// the channel already; Unsubscribe it first.
var ErrAlreadySubscribed = errors.New("client: already subscribed to this channel")

// The error codes of channel requests (docs/protocol.md, "Channels"): the Code of a
// ChannelError.
const (
	ChannelInvalid              = "invalid_channel"
	ChannelPermissionDenied     = "permission_denied"
	ChannelAlreadySubscribed    = "already_subscribed"
	ChannelNotSubscribed        = "not_subscribed"
	ChannelTooManySubscriptions = "too_many_subscriptions"
	ChannelTooManySubscribers   = "too_many_subscribers"
	ChannelPublishNotAllowed    = "publish_not_allowed"
	ChannelRateLimited          = "rate_limited"
)

// ChannelError is a channel request the server refused: its {"type":"error"} answer.
type ChannelError struct {
	// Code is the error code, one of the Channel constants or a newer one.
	Code string
	// Message is the server's human-readable explanation.
	Message string
	// Channel is the channel of the refused request.
	Channel string
	// ID is the request's id as the server echoed it (a JSON number or string), nil
	// without one.
	ID json.RawMessage
}

// Error describes the refusal, e.g. `client: channel "news": permission_denied (...)`.
func (e *ChannelError) Error() string {
	return "client: channel " + strconv.Quote(e.Channel) + ": " + e.Code + " (" + e.Message + ")"
}

// Temporary reports whether the same request may succeed later (rate_limited,
// too_many_subscribers): a Subscription then retries by itself with backoff.
func (e *ChannelError) Temporary() bool {
	return e.Code == ChannelRateLimited || e.Code == ChannelTooManySubscribers
}

// Publication is one message published to a channel. It is a value; its slices are not
// reused by the Client.
type Publication struct {
	// Channel is the channel it was published to.
	Channel string
	// Data is the published JSON value, as published.
	Data json.RawMessage
	// Offset is its place in the channel's stream in a channel with history
	// (increasing by one per publication, from 1); 0 in a channel without.
	Offset uint64
	// Raw is the whole server message, with any field the server adds.
	Raw json.RawMessage
}

// Position is a place in a channel's stream: the offset of a publication (0 before the
// first) and the epoch of the stream, a string that changes when the server lost the
// stream and started it over. The zero Position (Epoch "") is none.
type Position struct {
	Offset uint64
	Epoch  string
}

// Recovery is the outcome of a resubscribe that asked the server for what the
// subscription missed (see SubscribeOptions.OnRecovery).
type Recovery struct {
	// Channel is the subscription's channel.
	Channel string
	// Recovered is true when every publication missed while disconnected follows, in
	// order, before the live ones; false when they are lost (history too short, the
	// stream started over, history unavailable) and the application should reload
	// its state from its backend.
	Recovered bool
	// Position is where the subscription now is: on false the server's current
	// position, from which publications go on; the zero Position when the channel has
	// no history any more.
	Position Position
}

// Decode unmarshals the published value into target.
func (p Publication) Decode(target any) error { return json.Unmarshal(p.Data, target) }

// Subscribed is the server's confirmation of a subscription.
type Subscribed struct {
	// Channel is the subscribed channel.
	Channel string
	// Raw is the whole server message, with any field the server adds (a position, a
	// recovery flag); nil when the server said already_subscribed instead.
	Raw json.RawMessage
}

// Unsubscribed is the end of a subscription by the server or the backend.
type Unsubscribed struct {
	// Channel is the channel of the ended subscription.
	Channel string
	// Reason is the server's reason.
	Reason string
	// Raw is the whole server message.
	Raw json.RawMessage
}

// SubscriptionState is where a Subscription is in its life. Read it with
// Subscription.State.
type SubscriptionState int32

// The states of a Subscription. Unsubscribed and Failed are final.
const (
	// SubscriptionSubscribing: waiting for the server's confirmation, or for a
	// connection (after every reconnect the subscription is renewed).
	SubscriptionSubscribing SubscriptionState = iota
	// SubscriptionSubscribed: the server confirmed it on the open connection.
	SubscriptionSubscribed
	// SubscriptionUnsubscribed: ended by Unsubscribe, or by the server.
	SubscriptionUnsubscribed
	// SubscriptionFailed: the server refused it for good (e.g. permission_denied).
	SubscriptionFailed
)

// String returns "subscribing", "subscribed", "unsubscribed" or "failed".
func (s SubscriptionState) String() string {
	switch s {
	case SubscriptionSubscribed:
		return "subscribed"
	case SubscriptionUnsubscribed:
		return "unsubscribed"
	case SubscriptionFailed:
		return "failed"
	default:
		return "subscribing"
	}
}

// SubscribeOptions configures one Subscription. Every field is optional. The callbacks
// follow the rule of Options: called on Run's goroutine, one at a time.
type SubscribeOptions struct {
	// OnJoin and OnLeave are called with each join and leave of the channel (a
	// namespace with join_leave); OnPresenceDiff with each presence_diff, the
	// coalesced joins and leaves under churn. Without them those messages go to
	// Options.OnMessage.
	OnJoin, OnLeave func(PresenceEvent)
	OnPresenceDiff  func(PresenceDiff)
	// Token returns the subscription token sent with each subscribe of this
	// subscription (so a fresh one after every reconnect); an error is reported to
	// OnError and retried with backoff. Default Options.SubscriptionToken.
	Token func(ctx context.Context, channel string) (string, error)
	// OnSubscribed is called each time the server confirms the subscription: once per
	// connection.
	OnSubscribed func(Subscribed)
	// OnRecovery is called after each resubscribe of a subscription that has a
	// position (a channel with history), right after OnSubscribed and before any
	// publication of the new connection: whether what was missed follows. It is not
	// called after the first subscribe, unless Since is set.
	OnRecovery func(Recovery)
	// Since is a position the application already has (from the backend's history or
	// publish answers, or a Subscription's Position kept across a restart): the first
	// subscribe recovers from it too, followed by OnRecovery. Default none (Epoch "").
	Since Position
	// OnUnsubscribed is called when the server or the backend ends the subscription
	// (not after Unsubscribe).
	OnUnsubscribed func(Unsubscribed)
	// OnError is called with a *ChannelError when the server refuses the subscribe, or
	// with the error of Token. After a temporary refusal (ChannelError.Temporary) or a
	// Token error the subscription retries with backoff; after any other refusal it
	// has failed (State returns SubscriptionFailed).
	OnError func(error)
}

// Subscription is a Client's subscription to one channel, made by Client.Subscribe. Its
// methods are safe for concurrent use.
type Subscription struct {
	router  *router
	channel string
	handler func(Publication)
	options SubscribeOptions
	state   atomic.Int32

	// Guarded by router.mutex.
	// sent: a subscribe went out on this connection and was not refused, so the
	// server may hold the subscription; busy: a token is being fetched or an answer
	// is due; attempt counts refusals in a row for the backoff; retry identifies the
	// pending retry (incremented to cancel it).
	sent, busy bool
	attempt    int
	retry      uint64
	retrying   bool
	// offset is the offset of the last publication delivered, or the stream's top at
	// subscribe (when offsetKnown); epoch is the stream's epoch, "" while the
	// subscription has no position. Together they are what a resubscribe recovers
	// from.
	offset      uint64
	offsetKnown bool
	epoch       string
}

// Channel returns the channel name.
func (s *Subscription) Channel() string { return s.channel }

// State returns the subscription's current state.
func (s *Subscription) State() SubscriptionState { return SubscriptionState(s.state.Load()) }

// Position returns the position the next resubscribe recovers from (the offset of the
// last publication delivered, or of the stream's top at subscribe, and the epoch), and
// false in a channel without history or before the first confirmation without
// SubscribeOptions.Since.
func (s *Subscription) Position() (Position, bool) {
	s.router.mutex.Lock()
	defer s.router.mutex.Unlock()
	return s.positionLocked()
}

// positionLocked is Position, called with the router's lock.
func (s *Subscription) positionLocked() (Position, bool) {
	if s.epoch == "" {
		return Position{}, false
	}
	return Position{Offset: s.offset, Epoch: s.epoch}, true
}

// Unsubscribe ends the subscription: its handler gets no publication any more, the
// server is told when it holds the subscription, and it is not renewed after
// reconnects. It does nothing when the subscription has ended already. It never
// blocks on the network and calls no callback.
func (s *Subscription) Unsubscribe() { s.router.leave(s) }

// Subscribe subscribes to channel, now or as soon as a connection is open, and again
// after every reconnect, until Unsubscribe. handler receives each publication, on
// Run's goroutine like every callback. options, at most one, sets a token source and
// callbacks for this subscription. A refusal such as permission_denied ends this
// subscription only (see SubscribeOptions.OnError). In a channel with history every
// resubscribe asks to recover what was missed and SubscribeOptions.OnRecovery says
// whether it was; handler sees each publication once, in order (one whose offset is
// not above the last delivered is dropped as a duplicate, see docs/clients.md).
// Subscribe returns ErrAlreadySubscribed when the Client has an active subscription
// to channel, and ErrClosed after Close or once Run has returned.
func (c *Client) Subscribe(channel string, handler func(Publication), options ...SubscribeOptions) (*Subscription, error) {
	if channel == "" {
		return nil, errors.New("client: Subscribe: empty channel name")
	}
	if handler == nil {
		return nil, errors.New("client: Subscribe: nil handler")
	}
	if len(options) > 1 {
		return nil, errors.New("client: Subscribe: more than one SubscribeOptions")
	}
	if c.isDone() {
		return nil, ErrClosed
	}
	subscription := &Subscription{router: c.router, channel: channel, handler: handler}
	if len(options) == 1 {
		subscription.options = options[0]
	}
	if since := subscription.options.Since; since.Epoch != "" {
		subscription.offset, subscription.offsetKnown, subscription.epoch = since.Offset, true, since.Epoch
	} else if since.Offset != 0 {
		return nil, errors.New("client: Subscribe: SubscribeOptions.Since has an offset but no epoch")
	}
	if !c.router.add(subscription) {
		return nil, ErrAlreadySubscribed
	}
	return subscription, nil
}

// Unsubscribe ends the Client's subscription to channel (as Subscription.Unsubscribe
// does), or the subscription the server made for the open connection by itself. It
// never blocks on the network.
func (c *Client) Unsubscribe(channel string) { c.router.unsubscribe(channel) }

// Publish publishes data to channel: {"type":"publish","channel":...,"data":...,"id":N}.
// data is encoded as JSON ([]byte and json.RawMessage are taken as encoded JSON). The
// publication waits in the send queue like a message of Send and goes out on the open
// connection, or on the next one while offline. Publish returns once it has been
// written to the socket, without waiting for the server: the server answers the
// publish (it carries an id) with "published", which the Client drops, or with a
// refusal (e.g. publish_not_allowed), which arrives afterwards as a *ChannelError
// with the publish's id given to Options.OnError. It returns ErrQueueFull when the queue is
// full, ErrClosed when the Client is closed or Run returns first, and ctx's error when
// ctx ends first; with those two the publication is withdrawn, unless it was being
// written at that moment.
func (c *Client) Publish(ctx context.Context, channel string, data any) error {
	if channel == "" {
		return errors.New("client: Publish: empty channel name")
	}
	if c.isDone() {
		return ErrClosed
	}
	encoded, err := encodeJSON(data)
	if err != nil {
		return err
	}
	name, _ := json.Marshal(channel)
	frame := make([]byte, 0, len(encoded)+len(name)+64)
	frame = append(frame, `{"type":"publish","channel":`...)
	frame = append(frame, name...)
	frame = append(frame, `,"data":`...)
	frame = append(frame, encoded...)
	frame = append(frame, `,"id":`...)
	frame = strconv.AppendUint(frame, c.router.nextID(), 10)
	frame = append(frame, '}')
	item := &outgoing{data: frame, written: make(chan struct{})}
	if !c.queue.push(item) {
		return ErrQueueFull
	}
	select {
	case <-item.written:
		return nil
	case <-ctx.Done():
		item.withdraw()
		return ctx.Err()
	case <-c.done:
		item.withdraw()
		return ErrClosed
	}
}
