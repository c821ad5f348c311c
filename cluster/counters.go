package cluster

import "sync/atomic"

// counters are the node's cluster totals, maintained on every event with atomic adds.
type counters struct {
	published          atomic.Uint64
	publishFailures    atomic.Uint64
	relayDropped       atomic.Uint64
	received           atomic.Uint64
	undeliverable      atomic.Uint64
	malformed          atomic.Uint64
	admissionFallbacks atomic.Uint64
	subscriptionLosses atomic.Uint64
	redisErrors        atomic.Uint64

	channelPublished    atomic.Uint64
	channelReceived     atomic.Uint64
	channelRelayDropped atomic.Uint64
	channelBatches      atomic.Uint64
	queriesDropped      atomic.Uint64

	historyAppended     atomic.Uint64
	historyReads        atomic.Uint64
	historyReadFailures atomic.Uint64
	historyReceived     atomic.Uint64

	presenceApplied       atomic.Uint64
	presenceBatches       atomic.Uint64
	presenceFailures      atomic.Uint64
	presenceRewrites      atomic.Uint64
	presenceSwept         atomic.Uint64
	presenceJoins         atomic.Uint64
	presenceLeaves        atomic.Uint64
	presenceQueries       atomic.Uint64
	presenceQueryFailures atomic.Uint64
}

// Counters is a snapshot of a node's cluster totals since it started, for metrics
// and tests. Every field only grows, except ChannelSubscriptions, a gauge.
type Counters struct {
	// Published counts envelopes published to Redis: one per API request that had to
	// reach other nodes and one per client broadcast.
	Published uint64
	// PublishFailures counts cross-node deliveries that did not happen because Redis
	// was unreachable or too slow: API requests answered 503 and client broadcasts
	// that stayed on this node.
	PublishFailures uint64
	// RelayDropped counts client broadcasts dropped before publication because the
	// relay queue held Config.MaxRelayBytes (they also stayed on this node).
	RelayDropped uint64
	// Received counts envelopes from other nodes delivered to this node's connections.
	Received uint64
	// Undeliverable counts envelopes for a connection that was no longer open here.
	Undeliverable uint64
	// Malformed counts messages on the cluster's channels that no node wrote.
	Malformed uint64
	// AdmissionFallbacks counts connects admitted on this node's limit alone because
	// Redis could not decide (fail open to the local limit).
	AdmissionFallbacks uint64
	// SubscriptionLosses counts how often the subscription to the cluster's channels
	// broke; the node subscribes again by itself.
	SubscriptionLosses uint64
	// RedisErrors counts Redis calls that failed to reach Redis (refused, reset,
	// timed out).
	RedisErrors uint64
	// ChannelPublished counts channel publications published to Redis, from the API
	// and from clients (they count in Published too).
	ChannelPublished uint64
	// ChannelReceived counts channel publications from other nodes delivered to
	// this node's subscribers (they count in Received too).
	ChannelReceived uint64
	// ChannelRelayDropped counts client publications to channels dropped before
	// publication because the relay queue held Config.MaxRelayBytes (they reached
	// this node's subscribers only).
	ChannelRelayDropped uint64
	// ChannelBatches counts the SSUBSCRIBE and SUNSUBSCRIBE commands that changed the
	// channels this node receives, each for up to 1,000 channels.
	ChannelBatches uint64
	// QueriesDropped counts other nodes' channel queries dropped unanswered because
	// queryQueueSize (64) queries already waited for a worker; their askers report
	// this node missing.
	QueriesDropped uint64
	// HistoryAppended counts publications appended to history streams in Redis
	// (they count in ChannelPublished and Published too; a failed append counts in
	// PublishFailures).
	HistoryAppended uint64
	// HistoryReads counts history reads (recoveries, subscribes to history
	// channels, the history API) that Redis answered; HistoryReadFailures those
	// that failed because Redis was unreachable or too slow.
	HistoryReads        uint64
	HistoryReadFailures uint64
	// HistoryReceived counts history publications from Redis handed to this node's
	// subscribers, its own included.
	HistoryReceived uint64
	// PresenceApplied counts presence changes (one user's connections in one
	// channel on this node) written to Redis; changes coalesced before their write
	// count once.
	PresenceApplied uint64
	// PresenceBatches counts the pipelined rounds that wrote them.
	PresenceBatches uint64
	// PresenceFailures counts presence changes whose write failed; they stay
	// pending and are written again when Redis answers.
	PresenceFailures uint64
	// PresenceRewrites counts how often the node rewrote all its presence under a
	// new incarnation (its presence lease had expired, Redis lost it, or too many
	// changes waited through an outage).
	PresenceRewrites uint64
	// PresenceSwept counts contributions of dead nodes (and this node's own when
	// it left) removed by this node's sweeps.
	PresenceSwept uint64
	// PresenceJoins and PresenceLeaves count the cluster-wide joins and leaves
	// this node reported to its Receiver.
	PresenceJoins  uint64
	PresenceLeaves uint64
	// PresenceQueries counts presence pages, stats and users-online reads Redis
	// answered; PresenceQueryFailures those that failed because Redis was
	// unreachable or too slow.
	PresenceQueries       uint64
	PresenceQueryFailures uint64
	// ChannelSubscriptions is the number of channels this node receives from Redis
	// now (those with local subscribers, once Redis confirmed them); 0 while the
	// subscription connection is down.
	ChannelSubscriptions uint64
}

// Counters returns a snapshot of the node's cluster totals. Safe for concurrent use;
// the fields are read one by one, so they may be a few events apart.
func (n *Node) Counters() Counters {
	return Counters{
		Published:          n.counters.published.Load(),
		PublishFailures:    n.counters.publishFailures.Load(),
		RelayDropped:       n.counters.relayDropped.Load(),
		Received:           n.counters.received.Load(),
		Undeliverable:      n.counters.undeliverable.Load(),
		Malformed:          n.counters.malformed.Load(),
		AdmissionFallbacks: n.counters.admissionFallbacks.Load(),
		SubscriptionLosses: n.counters.subscriptionLosses.Load(),
		RedisErrors:        n.counters.redisErrors.Load(),

		ChannelPublished:    n.counters.channelPublished.Load(),
		ChannelReceived:     n.counters.channelReceived.Load(),
		ChannelRelayDropped: n.counters.channelRelayDropped.Load(),
		ChannelBatches:      n.counters.channelBatches.Load(),
		QueriesDropped:      n.counters.queriesDropped.Load(),
		HistoryAppended:     n.counters.historyAppended.Load(),
		HistoryReads:        n.counters.historyReads.Load(),
		HistoryReadFailures: n.counters.historyReadFailures.Load(),
		HistoryReceived:     n.counters.historyReceived.Load(),

		PresenceApplied:       n.counters.presenceApplied.Load(),
		PresenceBatches:       n.counters.presenceBatches.Load(),
		PresenceFailures:      n.counters.presenceFailures.Load(),
		PresenceRewrites:      n.counters.presenceRewrites.Load(),
		PresenceSwept:         n.counters.presenceSwept.Load(),
		PresenceJoins:         n.counters.presenceJoins.Load(),
		PresenceLeaves:        n.counters.presenceLeaves.Load(),
		PresenceQueries:       n.counters.presenceQueries.Load(),
		PresenceQueryFailures: n.counters.presenceQueryFailures.Load(),
		ChannelSubscriptions:  uint64(n.interest.confirmedCount()),
	}
}

// EachCounter calls visit with every counter's snake_case name, help text and value,
// for the /metrics endpoint (api.Cluster). Safe for concurrent use.
func (n *Node) EachCounter(visit func(name, help string, value uint64)) {
	snapshot := n.Counters()
	visit("published", "Envelopes published to Redis (one per cross-node API request or client broadcast).", snapshot.Published)
	visit("publish_failures", "Cross-node deliveries that failed because Redis was unreachable or too slow.", snapshot.PublishFailures)
	visit("relay_dropped", "Client broadcasts dropped before publication because the relay queue was full.", snapshot.RelayDropped)
	visit("received", "Envelopes from other nodes delivered to this node's connections.", snapshot.Received)
	visit("undeliverable", "Envelopes for a connection no longer open on this node.", snapshot.Undeliverable)
	visit("malformed", "Messages on the cluster's channels that no node wrote.", snapshot.Malformed)
	visit("admission_fallbacks", "Connects admitted on this node's limit alone because Redis could not decide.", snapshot.AdmissionFallbacks)
	visit("subscription_losses", "Times the subscription to the cluster's channels broke (resubscribed automatically).", snapshot.SubscriptionLosses)
	visit("redis_errors", "Redis calls that failed to reach Redis.", snapshot.RedisErrors)
	visit("channel_published", "Channel publications published to Redis (also counted in published).", snapshot.ChannelPublished)
	visit("channel_received", "Channel publications from other nodes delivered here (also counted in received).", snapshot.ChannelReceived)
	visit("channel_relay_dropped", "Client publications to channels dropped before publication because the relay queue was full.",
		snapshot.ChannelRelayDropped)
	visit("channel_batches", "SSUBSCRIBE and SUNSUBSCRIBE commands that changed the channels this node receives from Redis.",
		snapshot.ChannelBatches)
	visit("queries_dropped", "Other nodes' channel queries dropped unanswered because the query queue was full.",
		snapshot.QueriesDropped)
	visit("history_appended", "Publications appended to history streams in Redis (also counted in channel_published).",
		snapshot.HistoryAppended)
	visit("history_reads", "History reads (subscribes and recoveries of history channels, the history API) Redis answered.",
		snapshot.HistoryReads)
	visit("history_read_failures", "History reads that failed because Redis was unreachable or too slow.",
		snapshot.HistoryReadFailures)
	visit("history_received", "History publications from Redis delivered to this node's subscribers.", snapshot.HistoryReceived)
	visit("presence_applied", "Presence changes (a user's connections in a channel on this node) written to Redis.",
		snapshot.PresenceApplied)
	visit("presence_batches", "Pipelined rounds that wrote presence changes to Redis.", snapshot.PresenceBatches)
	visit("presence_failures", "Presence changes whose write to Redis failed (kept and written again).",
		snapshot.PresenceFailures)
	visit("presence_rewrites", "Times this node rewrote all its presence under a new incarnation.", snapshot.PresenceRewrites)
	visit("presence_swept", "Presence contributions of dead nodes removed by this node's sweeps.", snapshot.PresenceSwept)
	visit("presence_joins", "Cluster-wide presence joins this node reported.", snapshot.PresenceJoins)
	visit("presence_leaves", "Cluster-wide presence leaves this node reported.", snapshot.PresenceLeaves)
	visit("presence_queries", "Presence pages, stats and users-online reads Redis answered.", snapshot.PresenceQueries)
	visit("presence_query_failures", "Presence reads that failed because Redis was unreachable or too slow.",
		snapshot.PresenceQueryFailures)
}

// EachGauge calls visit with every gauge's snake_case name, help text and value,
// for the /metrics endpoint (api.Cluster). Safe for concurrent use.
func (n *Node) EachGauge(visit func(name, help string, value float64)) {
	visit("channel_subscriptions", "Channels this node receives from Redis now (those with local subscribers).",
		float64(n.interest.confirmedCount()))
}
