package client

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
)

// requestKind tells the channel requests a router waits for answers to apart.
type requestKind int

const (
	requestSubscribe requestKind = iota
	requestUnsubscribe
)

// request is a subscribe or unsubscribe sent on the open connection whose answer is
// due.
type request struct {
	kind requestKind
	// subscription is the Subscription a subscribe was sent for.
	subscription *Subscription
	// channel is the channel an unsubscribe was sent for.
	channel string
}

// router keeps a Client's subscriptions and routes the channel messages of its
// connections: it renews every subscription on each connection, matches the server's
// answers to requests by id, and hands publications to their handlers. Its methods
// are safe for concurrent use; callbacks are returned to the caller (Run's goroutine)
// and called after the lock is released.
type router struct {
	client *Client
	lastID atomic.Uint64

	mutex sync.Mutex
	// subscriptions maps a channel to the Client's active Subscription of it.
	subscriptions map[string]*Subscription
	// pending maps the id of a request sent on the open connection to the request.
	pending map[uint64]request
	// leaving maps a channel to the id of its unsubscribe in flight: publications of
	// it before the answer belong to the ended subscription and are dropped.
	leaving map[string]uint64
	// serverChannels holds the channels the server subscribed the open connection to
	// by itself.
	serverChannels map[string]struct{}
	// current is the open connection, nil between connections.
	current *connection
	// queries maps the id of a presence query sent on the open connection to its
	// waiter (presence.go).
	queries map[uint64]chan queryAnswer
}

func newRouter(c *Client) *router {
	return &router{
		client:         c,
		subscriptions:  map[string]*Subscription{},
		pending:        map[uint64]request{},
		leaving:        map[string]uint64{},
		serverChannels: map[string]struct{}{},
		queries:        map[uint64]chan queryAnswer{},
	}
}

// nextID returns a fresh request id: a counter, unique within the Client.
func (r *router) nextID() uint64 { return r.lastID.Add(1) }

// add makes s the Client's subscription to its channel and subscribes it when a
// connection is open; false when the channel has an active subscription already.
func (r *router) add(s *Subscription) bool {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	if _, ok := r.subscriptions[s.channel]; ok {
		return false
	}
	r.subscriptions[s.channel] = s
	delete(r.serverChannels, s.channel)
	if r.current != nil {
		r.request(r.current, s)
	}
	return true
}

// unsubscribe ends the subscription to channel: the Client's own, or the server's.
func (r *router) unsubscribe(channel string) {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	if s := r.subscriptions[channel]; s != nil {
		r.leaveLocked(s)
		return
	}
	if _, ok := r.serverChannels[channel]; ok {
		delete(r.serverChannels, channel)
		if r.current != nil {
			r.sendUnsubscribe(r.current, channel)
		}
	}
}

// leave ends s (Subscription.Unsubscribe).
func (r *router) leave(s *Subscription) {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	r.leaveLocked(s)
}

func (r *router) leaveLocked(s *Subscription) {
	if r.subscriptions[s.channel] != s {
		return
	}
	held := s.sent
	r.end(s, SubscriptionUnsubscribed)
	if held && r.current != nil {
		r.sendUnsubscribe(r.current, s.channel)
	}
}

// end removes s for good with its final state.
func (r *router) end(s *Subscription, state SubscriptionState) {
	delete(r.subscriptions, s.channel)
	s.retry++
	s.retrying = false
	s.state.Store(int32(state))
}

// opened makes l the open connection and subscribes every subscription on it.
func (r *router) opened(l *connection) {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	r.current = l
	for _, s := range r.subscriptions {
		r.request(l, s)
	}
}

// closed forgets what belonged to the connection that ended: answers still due, the server's own
// subscriptions, pending retries. The subscriptions wait for the next connection.
func (r *router) closed() {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	r.current = nil
	r.failQueriesLocked()
	clear(r.pending)
	clear(r.leaving)
	clear(r.serverChannels)
	for _, s := range r.subscriptions {
		s.sent, s.busy, s.retrying = false, false, false
		s.retry++
		s.state.Store(int32(SubscriptionSubscribing))
	}
}

// request subscribes s on l unless a subscribe is on its way or done, or a retry is
// waiting: with a fresh token first when it has a token source. Called with the lock.
func (r *router) request(l *connection, s *Subscription) {
	if s.busy || s.sent || s.retrying {
		return
	}
	source := s.options.Token
	if source == nil {
		source = r.client.options.SubscriptionToken
	}
	if source == nil {
		r.sendSubscribe(l, s, "")
		return
	}
	s.busy = true
	l.workers.Add(1)
	go r.fetchToken(l, s, source)
}

// fetchToken asks source for s's token, then subscribes with it; an error is reported
// on Run's goroutine and retried with backoff.
func (r *router) fetchToken(l *connection, s *Subscription, source func(ctx context.Context, channel string) (string, error)) {
	defer l.workers.Done()
	token, err := source(l.ctx, s.channel)
	r.mutex.Lock()
	if r.current != l || r.subscriptions[s.channel] != s {
		r.mutex.Unlock()
		return
	}
	s.busy = false
	if err == nil {
		// The server may have subscribed the connection meanwhile by itself.
		if !s.sent {
			r.sendSubscribe(l, s, token)
		}
		r.mutex.Unlock()
		return
	}
	r.mutex.Unlock()
	l.post(func() {
		r.mutex.Lock()
		active := r.current == l && r.subscriptions[s.channel] == s
		if active {
			r.scheduleRetry(l, s)
		}
		r.mutex.Unlock()
		if active {
			r.reportFor(s, err)
		}
	})
}

// subscribeFrame is the subscribe request; with Recover it asks for the publications
// after Offset in the stream of Epoch.
type subscribeFrame struct {
	Type    string  `json:"type"`
	Channel string  `json:"channel"`
	Token   string  `json:"token,omitempty"`
	ID      uint64  `json:"id"`
	Recover bool    `json:"recover,omitempty"`
	Offset  *uint64 `json:"offset,omitempty"`
	Epoch   string  `json:"epoch,omitempty"`
}

// unsubscribeFrame is the unsubscribe request.
type unsubscribeFrame struct {
	Type    string `json:"type"`
	Channel string `json:"channel"`
	ID      uint64 `json:"id"`
}

func (r *router) sendSubscribe(l *connection, s *Subscription, token string) {
	id := r.nextID()
	r.pending[id] = request{kind: requestSubscribe, subscription: s}
	s.busy, s.sent = true, true
	subscribe := subscribeFrame{Type: "subscribe", Channel: s.channel, Token: token, ID: id}
	if position, ok := s.positionLocked(); ok {
		subscribe.Recover, subscribe.Offset, subscribe.Epoch = true, &position.Offset, position.Epoch
	}
	frame, _ := json.Marshal(subscribe)
	l.pushControl(frame)
}

func (r *router) sendUnsubscribe(l *connection, channel string) {
	id := r.nextID()
	r.pending[id] = request{kind: requestUnsubscribe, channel: channel}
	r.leaving[channel] = id
	frame, _ := json.Marshal(unsubscribeFrame{Type: "unsubscribe", Channel: channel, ID: id})
	l.pushControl(frame)
}

// scheduleRetry subscribes s again after the backoff of its attempt, unless the
// connection ends or s ends first. Called with the lock, on Run's goroutine (it draws
// from Options.Rand).
func (r *router) scheduleRetry(l *connection, s *Subscription) {
	s.attempt++
	options := r.client.options
	delay := backoffDelay(s.attempt, options.BaseDelay, options.MaxDelay, options.Rand())
	s.retry++
	retry := s.retry
	s.retrying = true
	l.workers.Add(1)
	go func() {
		defer l.workers.Done()
		select {
		case <-options.Clock.After(delay):
		case <-l.ctx.Done():
			return
		}
		r.mutex.Lock()
		defer r.mutex.Unlock()
		if s.retry != retry || r.current != l || r.subscriptions[s.channel] != s {
			return
		}
		s.retrying = false
		r.request(l, s)
	}()
}

// reportFor passes err to s's OnError, or to Options.OnError when s has none.
func (r *router) reportFor(s *Subscription, err error) {
	if s.options.OnError != nil {
		s.options.OnError(err)
		return
	}
	r.client.report(err)
}

// channelMessage is a server message of channels. The fields of history are kept raw
// and read by its methods, so a malformed one is ignored rather than making the whole
// message unreadable.
type channelMessage struct {
	Channel   *string         `json:"channel"`
	ID        json.RawMessage `json:"id"`
	Reason    string          `json:"reason"`
	Code      string          `json:"code"`
	Message   string          `json:"message"`
	Data      json.RawMessage `json:"data"`
	Offset    json.RawMessage `json:"offset"`
	Epoch     json.RawMessage `json:"epoch"`
	Recovered json.RawMessage `json:"recovered"`
}

// offset returns the message's offset, if it has one.
func (m *channelMessage) offset() (uint64, bool) {
	offset, err := strconv.ParseUint(string(m.Offset), 10, 64)
	return offset, err == nil
}

// position returns the position a subscribed message carries: false without one (a
// channel without history).
func (m *channelMessage) position() (Position, bool) {
	offset, ok := m.offset()
	var epoch string
	if !ok || json.Unmarshal(m.Epoch, &epoch) != nil || epoch == "" {
		return Position{}, false
	}
	return Position{Offset: offset, Epoch: epoch}, true
}

// handle routes a server message of type kind if it belongs to channels, on Run's
// goroutine, and calls the callbacks it calls for; false when it is an ordinary
// message.
func (r *router) handle(l *connection, kind string, data []byte) bool {
	switch kind {
	case "subscribed", "unsubscribed", "publication", "published", "error", "presence", "presence_stats",
		"join", "leave", "presence_diff":
	default:
		return false
	}
	var message channelMessage
	if json.Unmarshal(data, &message) != nil || (message.Channel == nil && kind != "error") {
		return false
	}
	r.mutex.Lock()
	id, ours := ourID(message.ID)
	if r.answerQueryLocked(id, ours, kind, data, &message) {
		r.mutex.Unlock()
		return true
	}
	switch kind {
	case "presence", "presence_stats":
		r.mutex.Unlock()
		return false
	case "join", "leave", "presence_diff":
		call, taken := r.onPresenceEventLocked(*message.Channel, kind, data)
		r.mutex.Unlock()
		if call != nil {
			call()
		}
		return taken
	}
	answered, found := r.pending[id]
	found = found && ours
	if message.Channel == nil && !found {
		r.mutex.Unlock()
		return false
	}
	if found {
		delete(r.pending, id)
	}
	var call func()
	switch kind {
	case "subscribed":
		call = r.onSubscribed(*message.Channel, answered, found, &message, data)
	case "unsubscribed":
		call = r.onUnsubscribed(*message.Channel, id, found, message, data)
	case "publication":
		call = r.onPublication(*message.Channel, message, data)
	case "error":
		call = r.onError(l, id, answered, found, message)
	}
	r.mutex.Unlock()
	if call != nil {
		call()
	}
	return true
}

// ourID returns the id of a message if it is one this Client could have sent.
func ourID(raw json.RawMessage) (uint64, bool) {
	id, err := strconv.ParseUint(string(raw), 10, 64)
	return id, err == nil
}

func (r *router) onSubscribed(channel string, answered request, found bool, message *channelMessage, data []byte) func() {
	event := Subscribed{Channel: channel, Raw: data}
	if s := r.subscriptions[channel]; s != nil && (!found || answered.subscription == s) {
		if found {
			s.busy = false
		}
		s.sent = true
		return r.confirm(s, event, message)
	}
	if found {
		// The answer to a subscribe whose subscription has ended since: its
		// unsubscribe is on the way.
		return nil
	}
	r.serverChannels[channel] = struct{}{}
	if callback := r.client.options.OnSubscribed; callback != nil {
		return func() { callback(event) }
	}
	return nil
}

func (r *router) onUnsubscribed(channel string, id uint64, found bool, message channelMessage, data []byte) func() {
	if found {
		r.doneLeaving(channel, id)
		return nil
	}
	if _, ok := r.leaving[channel]; ok {
		return nil
	}
	event := Unsubscribed{Channel: channel, Reason: message.Reason, Raw: data}
	if s := r.subscriptions[channel]; s != nil {
		r.end(s, SubscriptionUnsubscribed)
		if callback := s.options.OnUnsubscribed; callback != nil {
			return func() { callback(event) }
		}
		return nil
	}
	if _, ok := r.serverChannels[channel]; !ok {
		return nil
	}
	delete(r.serverChannels, channel)
	if callback := r.client.options.OnUnsubscribed; callback != nil {
		return func() { callback(event) }
	}
	return nil
}

func (r *router) onPublication(channel string, message channelMessage, data []byte) func() {
	if _, ok := r.leaving[channel]; ok {
		return nil
	}
	publication := Publication{Channel: channel, Data: message.Data, Raw: data}
	offset, hasOffset := message.offset()
	if hasOffset {
		publication.Offset = offset
	}
	if s := r.subscriptions[channel]; s != nil {
		if hasOffset && !s.advance(offset) {
			return nil
		}
		handler := s.handler
		return func() { handler(publication) }
	}
	if callback := r.client.options.OnPublication; callback != nil {
		return func() { callback(publication) }
	}
	return nil
}

func (r *router) onError(l *connection, id uint64, answered request, found bool, message channelMessage) func() {
	refusal := &ChannelError{Code: message.Code, Message: message.Message, ID: message.ID}
	if message.Channel != nil {
		refusal.Channel = *message.Channel
	}
	if !found {
		// A refused publish, or a request not made through channels.
		return func() { r.client.report(refusal) }
	}
	if answered.kind == requestUnsubscribe {
		r.doneLeaving(answered.channel, id)
		return nil
	}
	s := answered.subscription
	if r.subscriptions[s.channel] != s {
		return nil
	}
	refusal.Channel = s.channel
	s.busy = false
	if message.Code == ChannelAlreadySubscribed {
		s.sent = true
		return r.confirm(s, Subscribed{Channel: s.channel}, nil)
	}
	s.sent = false
	if refusal.Temporary() {
		r.scheduleRetry(l, s)
	} else {
		r.end(s, SubscriptionFailed)
	}
	return func() { r.reportFor(s, refusal) }
}

// confirm marks s subscribed on the open connection, with the server's subscribed
// message, or nil for already_subscribed (the server had subscribed the connection by
// itself and said so before). It returns s's OnSubscribed and OnRecovery calls unless
// s was subscribed already. The first confirmation on a connection settles the
// position: a subscription that had one asked to recover, and learns here whether it
// did; otherwise it takes the server's.
func (r *router) confirm(s *Subscription, event Subscribed, message *channelMessage) func() {
	s.attempt = 0
	if s.State() == SubscriptionSubscribed {
		return nil
	}
	recovering := s.epoch != ""
	recovered := false
	if message != nil {
		current, hasHistory := message.position()
		recovered = recovering && hasHistory && string(message.Recovered) == "true" && current.Epoch == s.epoch
		if !recovered {
			s.offset, s.offsetKnown, s.epoch = current.Offset, hasHistory, current.Epoch
		}
	}
	s.state.Store(int32(SubscriptionSubscribed))
	onSubscribed, onRecovery := s.options.OnSubscribed, s.options.OnRecovery
	if !recovering {
		onRecovery = nil
	}
	if onSubscribed == nil && onRecovery == nil {
		return nil
	}
	position, _ := s.positionLocked()
	recovery := Recovery{Channel: s.channel, Recovered: recovered, Position: position}
	return func() {
		if onSubscribed != nil {
			onSubscribed(event)
		}
		if onRecovery != nil {
			onRecovery(recovery)
		}
	}
}

// advance moves s's position to the offset of a publication and reports whether to
// deliver it. An offset not above the last delivered one is a duplicate (the server
// promises none; this is a safety net at the seam of a recovery) and is dropped,
// except offset 1: the first publication of a stream that a store started again from
// 1 while the subscription was live (a cluster's Redis flushed; a stream that starts
// again in a new epoch otherwise continues above its old offsets, which the client
// sees as a gap). Either way the position keeps the old epoch, so the next recovery
// is answered recovered:false, as it must: the client cannot name the new epoch.
// Called with the lock.
func (s *Subscription) advance(offset uint64) bool {
	if s.offsetKnown && offset <= s.offset && offset != 1 {
		return false
	}
	s.offset, s.offsetKnown = offset, true
	return true
}

func (r *router) doneLeaving(channel string, id uint64) {
	if r.leaving[channel] == id {
		delete(r.leaving, channel)
	}
}
