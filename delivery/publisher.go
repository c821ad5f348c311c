// Package delivery is the one place where a message meets its recipients: the
// Publisher broadcasts, sends to a user or to a connection, and kicks, first on this
// node through the hub, then, in a cluster, on every other node through a Forwarder.
// The publish API, the client-message path (messages.go, session.MessageHandler) and
// a Go program embedding a gateway all call it; messages arriving from other nodes come back through its
// local half (the ...Local methods, cluster.Receiver), so each delivery and each kick
// is written once.
package delivery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/wsgate/wsgate/callbacks"
	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/session"
)

// Config configures a Publisher. Zero values mean the documented defaults.
type Config struct {
	// Hub is this node's registry of connections. Required.
	Hub *session.Hub
	// Forwarder, when set, carries every delivery to the other nodes of a cluster
	// (package cluster implements it over Redis). Default nil: a single node.
	Forwarder Forwarder
	// Logger receives a line per kick. Default slog.Default().
	Logger *slog.Logger
	// Namespaces are the options of the channel namespaces (package channels).
	// Default: channels.NewNamespaces(nil, Authentication), every namespace with
	// the default options.
	Namespaces *channels.Namespaces
	// Authentication says whether clients authenticate with JWT. With it, the
	// client "broadcast" message needs the token's grant or EveryClientMayBroadcast
	// (channels.BroadcastPermission). Default false: anonymous mode, every client
	// may broadcast, as in the seed.
	Authentication bool
	// EveryClientMayBroadcast lets every client broadcast under Authentication.
	// Default false.
	EveryClientMayBroadcast bool
	// MaxSubscriptionsPerConnection caps one connection's subscriptions; beyond it a
	// subscribe is refused with too_many_subscriptions. Default (0)
	// channels.DefaultMaxSubscriptions (128); negative: unlimited.
	MaxSubscriptionsPerConnection int
	// VerifySubscription checks a subscription token a client sends with a
	// subscribe: nil when token is valid for userID and channel (package auth's
	// Verifier.VerifySubscription, without the expiry), or why not (the error's text
	// is sent to the client, so it must not contain the token). It is called on the
	// client's handler goroutine and must be safe for concurrent use. Default nil:
	// tokens are ignored (no JWT is configured), and the namespaces and grants
	// decide alone.
	VerifySubscription func(token, userID, channel string) error
	// RPC is the backend endpoint client rpc messages are posted to (package
	// callbacks; see callbacks.go). Default nil: an rpc is answered with rpc_error
	// rpc_not_configured.
	RPC *callbacks.Endpoint
	// MaxRPCsPerConnection caps the rpcs one connection may have in flight; one
	// more is answered with rpc_error too_many_rpcs. Default (0)
	// DefaultMaxRPCsPerConnection (16); negative: unlimited.
	MaxRPCsPerConnection int
	// SubscribeCheck and PublishCheck are the backend endpoints of the subscribe
	// and publish checks of the namespaces with subscribe_check and publish_check
	// (checks.go). Each is required when a namespace asks for its check, and
	// unused otherwise. Default nil.
	SubscribeCheck, PublishCheck *callbacks.Endpoint
	// MaxWaitingRequests caps the channel requests one connection may have
	// waiting behind one of its checks (ordering.go); one more is answered with
	// too_many_requests. Default (0) DefaultMaxWaitingRequests (64).
	MaxWaitingRequests int
	// Events, when set, receives a connect and a disconnect event per connection
	// and a subscribe and an unsubscribe event per subscription (package callbacks
	// posts them to the backend in batches). Default nil: no events.
	Events *callbacks.Events

	// History stores the streams of the channels whose namespace sets history_size
	// (package history; docs/channels.md, "History and recovery"). Without a
	// Forwarder it must make no network round trip (history.Memory): a publication
	// is appended and delivered under one per-channel lock. With a Forwarder it is
	// the cluster's shared store, whose Append also publishes each publication to
	// every node, this one included, which deliver it through
	// PublishToChannelLocalAt. Default: a history.Memory with its defaults without
	// a Forwarder; none with one, and history channels then carry no offsets.
	History history.Store
	// ChannelReady, in a cluster with History, returns nil once this node receives
	// channel's publications from the cluster (its subscription to the channel is
	// confirmed), or ctx's error. A subscribe to a history channel calls it on a
	// history worker before it reads the stream's position, so that no publication
	// appended after the read can miss this node. Default nil: ready at once.
	ChannelReady func(ctx context.Context, channel string) error
	// HistoryTimeout bounds each store call made for a client's request (and the
	// wait for ChannelReady before it) in a cluster. Default DefaultHistoryTimeout.
	HistoryTimeout time.Duration
	// HistoryWorkers is the number of goroutines that make those calls, and
	// HistoryQueue the jobs each may hold queued; a job that finds its queue full is
	// refused at once (a subscribe is answered without a position, a publication
	// delivered on this node without an offset, both counted). Used only in a
	// cluster with History. Default DefaultHistoryWorkers and DefaultHistoryQueue.
	HistoryWorkers, HistoryQueue int

	// PresenceCluster, when set, keeps the cluster's presence (package cluster):
	// this node reports each change of its presence to it, presence queries are
	// answered from it, and join and leave come from its cluster-wide transitions
	// (PresenceTransitions) instead of this node's. Default nil: a single node.
	PresenceCluster PresenceCluster
	// JoinLeaveRate is the number of join and leave events per second per channel
	// above which they are coalesced into periodic presence_diff messages
	// (presenceevents.go). Default DefaultJoinLeaveRate (20).
	JoinLeaveRate int
	// PresenceDiffPeriod is the period of presence_diff messages while coalescing.
	// Default DefaultPresenceDiffPeriod (1s).
	PresenceDiffPeriod time.Duration
	// PresenceDiffMaxUsers is the most users a presence_diff lists; above it the
	// diff carries only the counts of joins and leaves. Default
	// DefaultPresenceDiffMaxUsers (100).
	PresenceDiffMaxUsers int
}

// Defaults of Config's history settings.
const (
	DefaultHistoryTimeout = time.Second
	DefaultHistoryWorkers = 32
	DefaultHistoryQueue   = 256
)

// Forwarder is the cross-node half of a delivery, called after this node's part.
// Implementations must be safe for concurrent use. The methods that take a context
// make at most one network round trip, bounded by it, and return how many other
// nodes received the request, or an error when they could not be reached (nothing
// was delivered beyond this node).
type Forwarder interface {
	// Owns reports whether connection id was issued by this node.
	Owns(id session.ConnectionID) bool
	// PublishBroadcast delivers payload to the other nodes' connections except
	// exclude.
	PublishBroadcast(ctx context.Context, payload []byte, exclude []session.ConnectionID) (int, error)
	// PublishToUser delivers payload to userID's connections on the other nodes.
	PublishToUser(ctx context.Context, userID string, payload []byte) (int, error)
	// PublishToConnection delivers payload to connection id of another node; false
	// means no live node holds it.
	PublishToConnection(ctx context.Context, id session.ConnectionID, payload []byte) (bool, error)
	// KickConnection closes connection id of another node with 4403 and text; false
	// means no live node holds it.
	KickConnection(ctx context.Context, id session.ConnectionID, text string) (bool, error)
	// KickUser closes userID's connections on the other nodes with 4403 and text.
	KickUser(ctx context.Context, userID, text string) (int, error)
	// RelayBroadcast hands a client's broadcast to the other nodes and returns at
	// once: it runs on the sending client's handler goroutine, so it must not wait
	// for the network (it queues, and drops and counts what does not fit). payload
	// is never modified afterwards, so it may be kept.
	RelayBroadcast(payload []byte)

	// The cross-node half of channels.

	// PublishToChannel delivers payload (a complete server message, the JSON of a
	// {"type":"publication",...}; receivers frame it) to channel's subscribers on the
	// other nodes and returns how many other nodes received it. One bounded round trip.
	PublishToChannel(ctx context.Context, channel string, payload []byte) (int, error)
	// RelayToChannel is PublishToChannel for a client's publication: it returns at
	// once (queues; drops and counts what does not fit), like RelayBroadcast.
	RelayToChannel(channel string, payload []byte)
	// ChangeUserSubscription subscribes (subscribe true) or unsubscribes userID's
	// connections on the other nodes to/from channel; reason is sent to the client in
	// "unsubscribed" ("" when subscribing). Returns the other nodes reached.
	ChangeUserSubscription(ctx context.Context, userID, channel string, subscribe bool, reason string) (int, error)
	// ChangeConnectionSubscription does it for connection id of another node; false
	// when no live node holds it.
	ChangeConnectionSubscription(ctx context.Context, id session.ConnectionID, channel string, subscribe bool, reason string) (bool, error)
	// ChannelInterest tells the cluster that this node's first subscriber of channel
	// arrived (interested true) or its last left. It must return at once: the
	// cluster subscribes and unsubscribes in Redis in batches in the background, and
	// re-reads the truth through Publisher.HasLocalSubscribers when it acts (calls
	// for one channel may arrive out of order).
	ChannelInterest(channel string, interested bool)
}

// Result is what one delivery reached.
type Result struct {
	// Local is the number of this node's connections the message was queued for, or
	// that were closed (kicks).
	Local int
	// Forwarded reports whether the request was handed to the cluster: always with a
	// Forwarder, except for a single connection that lives on this node.
	Forwarded bool
	// Nodes is the number of other nodes that received the request, when Forwarded
	// and Err is nil (for a single connection: 1 when its node received it).
	Nodes int
	// Err is non-nil when the other nodes could not be reached: the delivery is
	// degraded to this node's connections (Local). It wraps cluster.ErrUnavailable
	// in a cluster over Redis.
	Err error
	// Position is a history channel's publication's place in its stream; the zero
	// Position for other deliveries, and when the store could not be reached (Err
	// says why: the publication was delivered on this node without an offset). In
	// a cluster, a history channel's publication is delivered by every node from
	// the store's message, this one included, so Local and Nodes are 0 then.
	Position history.Position
}

// Reached reports whether the delivery reached a connection here or another node;
// for a single connection, false means that no live node holds it (unless Err).
func (r Result) Reached() bool { return r.Local > 0 || r.Nodes > 0 }

// Publisher delivers messages and kicks on this node and, with a Forwarder, on
// every node of the cluster. Messages are JSON text: each goes out as one text frame,
// encoded once however many connections receive it, byte for byte as given (the
// Publisher does not check it). Its methods are safe for concurrent use and never
// block on a client; the cluster's part waits at most for one bounded round trip.
//
// It also owns this node's channel index (channels.go): the client's subscribe,
// unsubscribe and publish, the backend's publications and server-side
// subscriptions, and their cross-node half through the Forwarder.
type Publisher struct {
	hub       *session.Hub
	forwarder Forwarder
	logger    *slog.Logger

	index                   *channels.Index[*session.Session]
	namespaces              *channels.Namespaces
	authentication          bool
	everyClientMayBroadcast bool
	verifySubscription      func(token, userID, channel string) error
	counters                channelCounters

	rpc                  *callbacks.Endpoint
	subscribeCheck       *callbacks.Endpoint
	publishCheck         *callbacks.Endpoint
	chains               requestChains
	maxRPCsPerConnection int
	rpcsInFlight         rpcCounts
	events               *callbacks.Events
	// history is nil when no store is configured; historyLocal says that the
	// store is this node's own (no Forwarder), so append and delivery run under
	// the channel's stripe lock, and workers is nil then.
	history        history.Store
	historyLocal   bool
	channelReady   func(ctx context.Context, channel string) error
	historyTimeout time.Duration
	workers        *historyWorkers
	streams        streams
	historyCounts  historyCounters

	presence       presenceState
	presenceCounts presenceCounters
}

// NewPublisher returns a Publisher for config.
func NewPublisher(config Config) (*Publisher, error) {
	if config.Hub == nil {
		return nil, errors.New("delivery: Config.Hub is required")
	}
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	if config.Namespaces == nil {
		namespaces, err := channels.NewNamespaces(nil, config.Authentication)
		if err != nil {
			return nil, fmt.Errorf("delivery: %w", err)
		}
		config.Namespaces = namespaces
	}
	p := &Publisher{hub: config.Hub, forwarder: config.Forwarder, logger: config.Logger,
		namespaces: config.Namespaces, authentication: config.Authentication,
		everyClientMayBroadcast: config.EveryClientMayBroadcast, verifySubscription: config.VerifySubscription,
		rpc: config.RPC, maxRPCsPerConnection: cmp.Or(config.MaxRPCsPerConnection, DefaultMaxRPCsPerConnection),
		events: config.Events, subscribeCheck: config.SubscribeCheck, publishCheck: config.PublishCheck}
	if config.MaxWaitingRequests < 0 {
		return nil, errors.New("delivery: Config.MaxWaitingRequests must not be negative")
	}
	p.chains.limit = cmp.Or(config.MaxWaitingRequests, DefaultMaxWaitingRequests)
	subscribeChecked, publishChecked := config.Namespaces.Checked()
	if len(subscribeChecked) > 0 && config.SubscribeCheck == nil {
		return nil, fmt.Errorf("delivery: namespace %q has subscribe_check, but no subscribe check endpoint is configured",
			subscribeChecked[0])
	}
	if len(publishChecked) > 0 && config.PublishCheck == nil {
		return nil, fmt.Errorf("delivery: namespace %q has publish_check, but no publish check endpoint is configured",
			publishChecked[0])
	}
	indexConfig := channels.Config{MaxSubscriptions: config.MaxSubscriptionsPerConnection}
	if config.Forwarder != nil {
		indexConfig.Activity = config.Forwarder.ChannelInterest
	}
	index, err := channels.NewIndex[*session.Session](indexConfig)
	if err != nil {
		return nil, fmt.Errorf("delivery: %w", err)
	}
	p.index = index
	if err := p.configureHistory(config); err != nil {
		return nil, fmt.Errorf("delivery: %w", err)
	}
	if err := p.configurePresence(config); err != nil {
		return nil, fmt.Errorf("delivery: %w", err)
	}
	return p, nil
}

// configureHistory sets up the history side of config (see Config.History).
func (p *Publisher) configureHistory(config Config) error {
	if config.HistoryTimeout < 0 || config.HistoryWorkers < 0 || config.HistoryQueue < 0 {
		return errors.New("Config.HistoryTimeout, HistoryWorkers and HistoryQueue must not be negative")
	}
	p.streams.init()
	p.history, p.historyLocal = config.History, config.Forwarder == nil
	if p.history == nil && p.historyLocal {
		memory, err := history.NewMemory(history.MemoryConfig{})
		if err != nil {
			return err
		}
		p.history = memory
	}
	p.channelReady = config.ChannelReady
	p.historyTimeout = cmp.Or(config.HistoryTimeout, DefaultHistoryTimeout)
	if p.history != nil && !p.historyLocal {
		p.workers = newHistoryWorkers(cmp.Or(config.HistoryWorkers, DefaultHistoryWorkers),
			cmp.Or(config.HistoryQueue, DefaultHistoryQueue))
	}
	return nil
}

// Close stops the history workers of a cluster's Publisher (see
// Config.HistoryWorkers) and the goroutine of join and leave events, once one
// was sent, dropping what is still queued; call it once the hub has shut down.
// The Publisher must not be used afterwards.
func (p *Publisher) Close() {
	if p.workers != nil {
		p.workers.close()
	}
	p.presence.events.close()
}

// Broadcast queues payload to every open connection of the cluster except those in
// exclude.
func (p *Publisher) Broadcast(ctx context.Context, payload []byte, exclude ...session.ConnectionID) Result {
	result := Result{Local: p.BroadcastLocal(payload, exclude)}
	if p.forwarder != nil {
		result.Forwarded = true
		result.Nodes, result.Err = p.forwarder.PublishBroadcast(ctx, payload, exclude)
	}
	return result
}

// SendToUser queues payload to every open connection of userID in the cluster. A
// user without connections is not an error: Local and Nodes are then 0.
func (p *Publisher) SendToUser(ctx context.Context, userID string, payload []byte) Result {
	result := Result{Local: p.SendToUserLocal(userID, payload)}
	if p.forwarder != nil {
		result.Forwarded = true
		result.Nodes, result.Err = p.forwarder.PublishToUser(ctx, userID, payload)
	}
	return result
}

// SendToConnection queues payload to connection id, on this node or, in a cluster,
// on the node that issued it (see Result.Reached).
func (p *Publisher) SendToConnection(ctx context.Context, id session.ConnectionID, payload []byte) Result {
	if p.forwarder != nil && !p.forwarder.Owns(id) {
		found, err := p.forwarder.PublishToConnection(ctx, id, payload)
		return Result{Forwarded: true, Nodes: count(found), Err: err}
	}
	return Result{Local: count(p.SendToConnectionLocal(id, payload))}
}

// KickConnection closes connection id with 4403 and text as the close reason, on this
// node or on the node that issued it (see Result.Reached). text must be valid UTF-8
// of at most protocol.MaxCloseTextSize bytes.
func (p *Publisher) KickConnection(ctx context.Context, id session.ConnectionID, text string) Result {
	if p.forwarder != nil && !p.forwarder.Owns(id) {
		found, err := p.forwarder.KickConnection(ctx, id, text)
		return Result{Forwarded: true, Nodes: count(found), Err: err}
	}
	return Result{Local: count(p.KickConnectionLocal(id, text))}
}

// KickUser closes every connection of userID in the cluster with 4403 and text (see
// KickConnection).
func (p *Publisher) KickUser(ctx context.Context, userID, text string) Result {
	result := Result{Local: p.KickUserLocal(userID, text)}
	if p.forwarder != nil {
		result.Forwarded = true
		result.Nodes, result.Err = p.forwarder.KickUser(ctx, userID, text)
	}
	return result
}

func count(found bool) int {
	if found {
		return 1
	}
	return 0
}

// BroadcastLocal queues payload to this node's open connections except exclude and
// returns how many; it implements cluster.Receiver.
func (p *Publisher) BroadcastLocal(payload []byte, exclude []session.ConnectionID) int {
	return p.hub.Broadcast(protocol.TextFrame(payload), exclude...)
}

// SendToUserLocal queues payload to userID's open connections on this node and
// returns how many; it implements cluster.Receiver.
func (p *Publisher) SendToUserLocal(userID string, payload []byte) int {
	return p.hub.SendToUser(userID, protocol.TextFrame(payload))
}

// SendToConnectionLocal queues payload to connection id of this node and reports
// whether it is open here; it implements cluster.Receiver.
func (p *Publisher) SendToConnectionLocal(id session.ConnectionID, payload []byte) bool {
	return p.hub.SendToConnection(id, protocol.TextFrame(payload))
}

// KickConnectionLocal closes connection id of this node with 4403 and text and
// reports whether it was open here; it implements cluster.Receiver.
func (p *Publisher) KickConnectionLocal(id session.ConnectionID, text string) bool {
	connection := p.hub.Lookup(id)
	if connection == nil {
		return false
	}
	connection.CloseWithText(session.ReasonKicked, text)
	p.logger.Info("connection kicked", "connection_id", id.String(), "user_id", connection.UserID(),
		"remote_addr", connection.RemoteAddr())
	return true
}

// KickUserLocal closes userID's connections on this node with 4403 and text and
// returns how many; it implements cluster.Receiver.
func (p *Publisher) KickUserLocal(userID, text string) int {
	connections := p.hub.UserSessions(userID)
	for _, connection := range connections {
		connection.CloseWithText(session.ReasonKicked, text)
	}
	p.logger.Info("user kicked", "user_id", userID, "connections", len(connections))
	return len(connections)
}
