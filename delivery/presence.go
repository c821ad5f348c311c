package delivery

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/presence"
	"github.com/wsgate/wsgate/session"
)

// Presence (namespaces with presence or join_leave; docs/channels.md,
// "Presence"): this node's registry, kept on every subscribe, unsubscribe and
// disconnect of a connection with a user id; the join and leave events
// (presenceevents.go); and, in a cluster, the PresenceCluster that keeps the
// cluster's presence, which this node reports each change to.
//
// A connection's subscription and its presence change together: the index and
// the registry are updated under the user's stripe lock, so a disconnect racing
// with a subscribe (a server-side one, on another goroutine) never leaves a user
// present without a subscription, or the reverse.

// PresenceCluster is the cross-node half of presence; *cluster.Node implements it.
// nil (Config field) means a single node: presence is answered from this node alone.
// Safe for concurrent use.
type PresenceCluster interface {
	// ReportPresence hands one change of this node's presence to the cluster and
	// returns at once: it runs on a client's handler goroutine (subscribe,
	// unsubscribe, disconnect), so it queues; the cluster applies changes in batches
	// in the background, in call order per (channel, user). It is called only for
	// channels whose namespace has presence on.
	ReportPresence(change presence.Change)
	// Presence returns one page of channel's presence across the cluster (every live
	// node, this one included): at most limit users (1..presence.MaxPageSize),
	// starting at cursor ("" for the first page). One bounded Redis round trip.
	Presence(ctx context.Context, channel string, limit int, cursor string) (presence.Page, error)
	// PresenceStats returns channel's distinct users and connections across the
	// cluster, in O(1) Redis work (counters maintained on change, never a scan).
	PresenceStats(ctx context.Context, channel string) (users, connections int, err error)
	// UsersOnline returns, in order, how many open connections each user has across
	// the cluster (0: offline), whether or not the user is in any channel. At most
	// 1000 users; one bounded Redis round trip.
	UsersOnline(ctx context.Context, userIDs []string) ([]int, error)
}

// MaxUsersOnline is the most users one UsersOnline call asks about.
const MaxUsersOnline = 1000

// ErrPresenceNotEnabled: the channel's namespace keeps no presence (presence is
// not set). Its wire code is channels.CodePresenceNotEnabled.
var ErrPresenceNotEnabled = &channels.Error{Code: channels.CodePresenceNotEnabled,
	Message: "this channel's namespace keeps no presence"}

// ErrInvalidCursor: a presence page was asked with a cursor no page returned.
var ErrInvalidCursor = &channels.Error{Code: channels.CodeInvalidCursor,
	Message: "the cursor is not one a presence page returned"}

// ErrTooManyUsers: UsersOnline was asked about more than MaxUsersOnline users.
var ErrTooManyUsers = errors.New("delivery: more than 1000 users asked about at once")

// userStripeCount is the number of locks that serialize the subscription changes
// of users with presence-tracked channels.
const userStripeCount = 256

// presenceState is the Publisher's presence: registry, events, stripes, cluster.
type presenceState struct {
	registry *presenceRegistry
	events   *presenceEvents
	cluster  PresenceCluster
	// tracked says some namespace tracks presence: only then does a disconnect
	// take its user's stripe.
	tracked bool
	seed    maphash.Seed
	stripes [userStripeCount]sync.Mutex
}

// presenceCounters count the presence messages this node sent and answered.
type presenceCounters struct {
	eventsSent, queries atomic.Uint64
}

// configurePresence sets up the presence side of config.
func (p *Publisher) configurePresence(config Config) error {
	if config.JoinLeaveRate < 0 || config.PresenceDiffPeriod < 0 || config.PresenceDiffMaxUsers < 0 {
		return errors.New("Config.JoinLeaveRate, PresenceDiffPeriod and PresenceDiffMaxUsers must not be negative")
	}
	rate := config.JoinLeaveRate
	if rate == 0 {
		rate = DefaultJoinLeaveRate
	}
	period := config.PresenceDiffPeriod
	if period == 0 {
		period = DefaultPresenceDiffPeriod
	}
	maxUsers := config.PresenceDiffMaxUsers
	if maxUsers == 0 {
		maxUsers = DefaultPresenceDiffMaxUsers
	}
	p.presence.registry = newPresenceRegistry()
	p.presence.events = newPresenceEvents(rate, period, maxUsers, p.sendPresenceEvent)
	p.presence.cluster = config.PresenceCluster
	p.presence.tracked = config.Namespaces.AnyTracksPresence()
	p.presence.seed = maphash.MakeSeed()
	return nil
}

// userStripe returns the lock of userID's subscription changes.
func (p *Publisher) userStripe(userID string) *sync.Mutex {
	return &p.presence.stripes[maphash.String(p.presence.seed, userID)%userStripeCount]
}

// tracksPresence reports whether s's subscriptions to channels with options change
// presence: an anonymous connection is never present.
func tracksPresence(s *session.Session, options channels.NamespaceOptions) bool {
	return options.TracksPresence() && s.UserID() != ""
}

// subscribeTracked adds s to channel in the index and, for a presence channel, to
// the registry, together.
func (p *Publisher) subscribeTracked(s *session.Session, channel string, options channels.NamespaceOptions) error {
	if !tracksPresence(s, options) {
		return p.index.Subscribe(s, channel, options.MaxSubscribers)
	}
	stripe := p.userStripe(s.UserID())
	stripe.Lock()
	defer stripe.Unlock()
	if err := p.index.Subscribe(s, channel, options.MaxSubscribers); err != nil {
		return err
	}
	p.presentAdd(channel, s.UserID(), options)
	return nil
}

// unsubscribeTracked removes s from channel in the index and, for a presence
// channel, from the registry, together.
func (p *Publisher) unsubscribeTracked(s *session.Session, channel string, options channels.NamespaceOptions) error {
	if !tracksPresence(s, options) {
		return p.index.Unsubscribe(s, channel)
	}
	stripe := p.userStripe(s.UserID())
	stripe.Lock()
	defer stripe.Unlock()
	if err := p.index.Unsubscribe(s, channel); err != nil {
		return err
	}
	p.presentRemove(channel, s.UserID(), options)
	return nil
}

// unsubscribeAllTracked removes s from every channel (UnsubscribeAll) and from the
// registry of the presence channels among them, and appends the channels to into.
func (p *Publisher) unsubscribeAllTracked(s *session.Session, into []string) []string {
	userID := s.UserID()
	if !p.presence.tracked || userID == "" {
		return p.index.UnsubscribeAll(s, into)
	}
	stripe := p.userStripe(userID)
	stripe.Lock()
	defer stripe.Unlock()
	start := len(into)
	into = p.index.UnsubscribeAll(s, into)
	for _, channel := range into[start:] {
		if options := p.namespaces.Lookup(channel); options.TracksPresence() {
			p.presentRemove(channel, userID, options)
		}
	}
	return into
}

// presentAdd counts a connection of userID more in channel and reports the change.
func (p *Publisher) presentAdd(channel, userID string, options channels.NamespaceOptions) {
	p.presence.registry.add(channel, userID, func(connections int) {
		p.presenceChanged(channel, userID, connections, connections == 1, options)
	})
}

// presentRemove counts a connection of userID fewer in channel and reports the
// change.
func (p *Publisher) presentRemove(channel, userID string, options channels.NamespaceOptions) {
	p.presence.registry.remove(channel, userID, func(connections int) {
		p.presenceChanged(channel, userID, connections, connections == 0, options)
	})
}

// presenceChanged reports one change (userID has connections in channel now;
// transition says that was its first connection's arrival or its last one's
// departure): to the cluster when there is one, which then decides the
// cluster-wide join and leave (PresenceTransitions); on a single node, the
// transition is the join or leave. It runs under the registry's lock, so it only
// queues.
func (p *Publisher) presenceChanged(channel, userID string, connections int, transition bool, options channels.NamespaceOptions) {
	if p.presence.cluster != nil {
		p.presence.cluster.ReportPresence(presence.Change{Channel: channel, User: userID, Connections: connections})
		return
	}
	if options.JoinLeave && transition {
		p.presence.events.add(presenceEvent{channel: channel, user: userID, joined: connections > 0})
	}
}

// PresenceTransitions publishes join and leave for users whose presence in channel
// began (joined) or ended (left) across the whole cluster, to channel's subscribers
// on every node, coalesced under churn exactly like this node's own join/leave
// events. The cluster calls it (on the node whose change caused the transition, or
// the node that swept a dead node's presence) and it returns at once. Channels
// whose namespace has no join_leave are ignored.
func (p *Publisher) PresenceTransitions(channel string, joined, left []string) {
	if !p.namespaces.Lookup(channel).JoinLeave || len(joined)+len(left) == 0 {
		return
	}
	events := make([]presenceEvent, 0, len(joined)+len(left))
	for _, user := range joined {
		events = append(events, presenceEvent{channel: channel, user: user, joined: true})
	}
	for _, user := range left {
		events = append(events, presenceEvent{channel: channel, user: user})
	}
	p.presence.events.add(events...)
}

// PresenceEnabled reports whether channel's namespace answers presence queries
// (its presence option).
func (p *Publisher) PresenceEnabled(channel string) bool {
	return p.namespaces.Lookup(channel).Presence
}

// Presence returns one page of channel's presence (see presence.Page): at most
// limit users (0: presence.DefaultPageSize; at most presence.MaxPageSize) after
// cursor ("" for the first page), across the cluster with a PresenceCluster, from
// this node's registry otherwise (O(log users + limit)). It returns
// ErrPresenceNotEnabled for a namespace without presence, ErrInvalidCursor for a
// cursor no page returned, or the cluster's error.
func (p *Publisher) Presence(ctx context.Context, channel string, limit int, cursor string) (presence.Page, error) {
	if !p.PresenceEnabled(channel) {
		return presence.Page{}, ErrPresenceNotEnabled
	}
	p.presenceCounts.queries.Add(1)
	if p.presence.cluster != nil {
		page, err := p.presence.cluster.Presence(ctx, channel, pageLimit(limit), cursor)
		if errors.Is(err, presence.ErrInvalidCursor) {
			return page, ErrInvalidCursor
		}
		return page, err
	}
	page, err := p.presence.registry.page(channel, limit, cursor)
	if errors.Is(err, errInvalidCursor) {
		return page, ErrInvalidCursor
	}
	return page, err
}

// PresenceStats returns channel's distinct users and connections, in O(1): across
// the cluster with a PresenceCluster, on this node otherwise. Errors as Presence.
func (p *Publisher) PresenceStats(ctx context.Context, channel string) (users, connections int, err error) {
	if !p.PresenceEnabled(channel) {
		return 0, 0, ErrPresenceNotEnabled
	}
	p.presenceCounts.queries.Add(1)
	if p.presence.cluster != nil {
		return p.presence.cluster.PresenceStats(ctx, channel)
	}
	users, connections = p.presence.registry.stats(channel)
	return users, connections, nil
}

// UsersOnline returns, in order, how many open connections each of userIDs (at
// most MaxUsersOnline) has: across the cluster with a PresenceCluster, from this
// node's hub otherwise (O(1) each). Every connection counts, subscribed or not.
func (p *Publisher) UsersOnline(ctx context.Context, userIDs []string) ([]int, error) {
	if len(userIDs) > MaxUsersOnline {
		return nil, ErrTooManyUsers
	}
	if p.presence.cluster != nil {
		return p.presence.cluster.UsersOnline(ctx, userIDs)
	}
	counts := make([]int, len(userIDs))
	for index, userID := range userIDs {
		counts[index] = p.hub.UserConnectionCount(userID)
	}
	return counts, nil
}

// PresenceCounts are the presence figures of PresenceCountsOf.
type PresenceCounts struct {
	// EventsSent counts the join, leave and presence_diff messages this node sent
	// to a channel's subscribers (each once, however many received it).
	EventsSent uint64
	// Queries counts presence and presence stats queries, from clients and the API.
	Queries uint64
}

// PresenceCountsOf returns the presence counters, in O(1).
func (p *Publisher) PresenceCountsOf() PresenceCounts {
	return PresenceCounts{EventsSent: p.presenceCounts.eventsSent.Load(), Queries: p.presenceCounts.queries.Load()}
}
