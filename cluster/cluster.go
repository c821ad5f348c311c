// Package cluster makes several wsgate nodes behave as one gateway through Redis:
// broadcasts, channel publications, sends to users and connections, server-side
// subscriptions and kicks reach the right connections on every node exactly once,
// a node receives only the channels its connections subscribe to, per-user
// connection limits hold cluster-wide, and stats cover every live node. A Node implements session.Admission for the hub,
// delivery.Forwarder for the publisher (the cross-node half of every delivery) and
// api.Cluster for stats; it hands what other nodes send to a Receiver (the
// publisher's local half). docs/cluster.md describes the design, what Redis holds and
// how failures behave.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/wsgate/wsgate/session"
)

// Config configures a Node. Zero values mean the documented defaults.
type Config struct {
	// RedisURL locates Redis: redis://[user:password@]host:port[/db], rediss:// for
	// TLS, or a Redis Cluster: redis+cluster://[user:password@]host:port[,host:port...]
	// (rediss+cluster:// for TLS), whose hosts are seeds. A redis:// URL that points
	// at a cluster node is taken as the cluster when that node answers at start.
	// Required.
	RedisURL string
	// NodeID names the node in logs and in its lease. Default: 12 random hex digits,
	// new in every process.
	NodeID string
	// Lease is how long the node's lease lives in Redis without renewal; it is renewed
	// every Lease/3. A node that stops renewing (crash, partition) drops out of
	// cluster stats and its users' connections stop counting against their limits
	// within Lease. Default 10s; at least 500ms.
	Lease time.Duration
	// Timeout bounds each Redis call, and so how long a connect, an API request or a
	// renewal waits for Redis before it fails. Default 1s.
	Timeout time.Duration
	// Prefix starts every Redis key and channel, so several clusters can share one
	// Redis. Default "wsgate:".
	Prefix string
	// MaxRelayBytes bounds the client broadcasts and channel publications waiting to
	// be published, in bytes (each one's JSON plus a header of 12 bytes and, for a
	// publication, the channel's name, plus the name of its Redis channel); what does
	// not fit is dropped and counted in Counters.RelayDropped or
	// Counters.ChannelRelayDropped. Default 8 MiB.
	MaxRelayBytes int
	// HistoryMetaTTL is how long a history channel's epoch and offsets stay in
	// Redis after its last publication or read (its publications go after the
	// namespace's history_ttl): a client that missed nothing on a channel quiet for
	// less than this still recovers. Default 24h.
	HistoryMetaTTL time.Duration
	// Logger receives the cluster's logs. Default slog.Default().
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultLease          = 10 * time.Second
	DefaultTimeout        = time.Second
	DefaultPrefix         = "wsgate:"
	DefaultMaxRelayBytes  = 8 << 20
	DefaultHistoryMetaTTL = 24 * time.Hour
	// MinLease is the shortest Config.Lease accepted.
	MinLease = 500 * time.Millisecond
)

// Node is this process's membership in a cluster. Create it with New, give its Tag
// and itself as Admission to the hub's session.Config and itself as the Forwarder of
// the hub's delivery.Publisher, then Start it with that hub and publisher; Close it
// after the hub shut down. Its methods are safe for concurrent use.
type Node struct {
	config Config
	id     string
	tag    session.NodeTag
	keys   keys
	logger *slog.Logger
	client rueidis.Client
	// sharded says client is a Redis Cluster's.
	sharded bool
	// hub gives the node's totals for its lease; receiver delivers what other nodes
	// send. Both are set by Start.
	hub      *session.Hub
	receiver Receiver

	admission admission
	// receiveMutex makes the subscription connections hand messages to receiver one
	// after another.
	receiveMutex sync.Mutex
	relay        relayQueue
	interest     interest
	queries      queries
	history      History
	presence     presenceState
	counters     counters
	// reachable says whether the last Redis call reached Redis; subscribed whether
	// the node currently receives the cluster's channels.
	reachable  atomic.Bool
	subscribed atomic.Bool
	// rewriteAll is set when the lease had to be created anew: every user's count on
	// this node must be written again. rewriteAgain, used by the maintenance
	// goroutine only, sets it again at the next renewal (see renew).
	rewriteAll   atomic.Bool
	rewriteAgain bool
	// dead holds the tags of the nodes whose lease had expired at the last renewal.
	dead atomic.Pointer[[]string]
	// recoveries counts how often Redis became reachable again after failed calls.
	recoveries atomic.Uint64
	// renewNow asks the maintenance goroutine to renew at once rather than at the
	// next Lease/3 tick: Redis has just come back and may have lost this node's
	// lease and counts (see requestRenewal).
	renewNow chan struct{}

	stop      chan struct{}
	workers   sync.WaitGroup
	startOnce sync.Once
	closeOnce sync.Once
}

// Validate reports the first field of config that New would refuse, by name: a
// missing or unparsable RedisURL, a Lease under MinLease (0 means the default), a
// negative Timeout, MaxRelayBytes or HistoryMetaTTL.
func (config Config) Validate() error {
	switch {
	case config.RedisURL == "":
		return errors.New("cluster: Config.RedisURL is required")
	case config.Lease != 0 && config.Lease < MinLease:
		return fmt.Errorf("cluster: Config.Lease is %v; want 0 (the default, %v) or at least %v", config.Lease, DefaultLease, MinLease)
	case config.Timeout < 0:
		return fmt.Errorf("cluster: Config.Timeout is %v; want 0 (the default, %v) or more", config.Timeout, DefaultTimeout)
	case config.MaxRelayBytes < 0:
		return fmt.Errorf("cluster: Config.MaxRelayBytes is %d; want 0 (the default, %d) or more", config.MaxRelayBytes, DefaultMaxRelayBytes)
	case config.HistoryMetaTTL < 0:
		return fmt.Errorf("cluster: Config.HistoryMetaTTL is %v; want 0 (the default, %v) or more", config.HistoryMetaTTL, DefaultHistoryMetaTTL)
	}
	if _, _, err := clientOptions(config.RedisURL); err != nil {
		return urlError(config.RedisURL, err)
	}
	return nil
}

// urlError is the error for an unparsable Config.RedisURL; it never shows the URL's
// password.
func urlError(address string, err error) error {
	return fmt.Errorf("cluster: Config.RedisURL %s: %w; want %s", redactedURL(address), withoutURL(err), urlForm)
}

// New validates config (see Validate) and connects to Redis. A single Redis may be
// down at that moment: the node then starts degraded and joins when Redis answers.
// A Redis Cluster needs one of its seeds to answer, to learn the topology. When
// Redis answers but refuses the node for its configuration (a wrong password or
// user, a database number out of range), New fails: no retry would succeed. Errors
// never show the URL's password.
func New(config Config) (*Node, error) {
	if err := config.Validate(); err != nil {
		return nil, err
	}
	if config.Lease == 0 {
		config.Lease = DefaultLease
	}
	if config.Timeout == 0 {
		config.Timeout = DefaultTimeout
	}
	if config.Prefix == "" {
		config.Prefix = DefaultPrefix
	}
	if config.MaxRelayBytes == 0 {
		config.MaxRelayBytes = DefaultMaxRelayBytes
	}
	if config.HistoryMetaTTL == 0 {
		config.HistoryMetaTTL = DefaultHistoryMetaTTL
	}
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	options, clustered, err := clientOptions(config.RedisURL)
	if err != nil {
		return nil, urlError(config.RedisURL, err)
	}
	options.DisableCache = true
	// One pipelined connection (per Redis) instead of rueidis's default (two on two
	// cores, four from four cores), each call picking one at random. After Redis
	// restarts every pooled connection fails its next call once; with several, one
	// left idle through the outage could fail a connect long after the probe found
	// Redis back, marking it unreachable again and deciding connects on the local
	// limit alone. With one, the probe's successful PING proves the connection every
	// call uses. BenchmarkAcquire measured no loss on two cores: Redis's own
	// thread, not the connection, bounds the round trips.
	options.PipelineMultiplex = -1
	options.Dialer.Timeout = config.Timeout
	options.ConnWriteTimeout = max(config.Timeout, time.Second)
	var tag session.NodeTag
	for tag == (session.NodeTag{}) {
		_, _ = rand.Read(tag[:])
	}
	if config.NodeID == "" {
		config.NodeID = randomID()
	}
	client, err := connect(options, clustered)
	if client == nil {
		return nil, fmt.Errorf("cluster: Redis at %s: %w", redactedURL(config.RedisURL), err)
	}
	if answer, refused := refusal(err); refused {
		client.Close()
		return nil, fmt.Errorf("cluster: Redis at %s refused this node: %w (check the URL's user, password and database number)",
			redactedURL(config.RedisURL), answer)
	}
	n := &Node{
		config:   config,
		id:       config.NodeID,
		tag:      tag,
		keys:     newKeys(config.Prefix, tag),
		logger:   config.Logger.With("node_id", config.NodeID),
		client:   client,
		sharded:  client.Mode() == rueidis.ClientModeCluster,
		stop:     make(chan struct{}),
		renewNow: make(chan struct{}, 1),
	}
	n.admission.init()
	n.relay.init(config.MaxRelayBytes)
	n.interest.init()
	n.queries.init()
	n.history.node = n
	n.presence.init(n.keys.tag)
	n.reachable.Store(err == nil)
	n.rewriteAll.Store(true)
	if err != nil {
		n.logger.Warn("redis unavailable at start; serving this node's connections until it answers",
			"error", err.Error())
	}
	return n, nil
}

// connect returns a client for options. A Redis Cluster URL needs one of its seeds
// to answer now, to learn the topology; a plain URL is tried as a cluster first
// (rueidis's detection, one CLUSTER SLOTS), and is otherwise a single Redis, which
// may be down at start: the client then comes with the error, and the node starts
// degraded.
func connect(options rueidis.ClientOption, clustered bool) (rueidis.Client, error) {
	if clustered {
		client, err := rueidis.NewClient(options)
		if err != nil {
			return nil, fmt.Errorf("no seed of the Redis Cluster answered: %w", err)
		}
		if client.Mode() != rueidis.ClientModeCluster {
			client.Close()
			return nil, errors.New("the seed is not in cluster mode; use redis:// for a single Redis")
		}
		return client, nil
	}
	if client, err := rueidis.NewClient(options); err == nil {
		return client, nil
	}
	options.ForceSingleClient = true
	return rueidis.NewClient(options)
}

func randomID() string {
	var bytes [6]byte
	_, _ = rand.Read(bytes[:])
	return hex.EncodeToString(bytes[:])
}

// ID returns the node's id (Config.NodeID or the random default).
func (n *Node) ID() string { return n.id }

// Tag returns the tag that starts the ids of this node's connections; set it as the
// hub's session.Config.NodeTag.
func (n *Node) Tag() session.NodeTag { return n.tag }

// Owns reports whether connection id was issued by this node.
func (n *Node) Owns(id session.ConnectionID) bool { return id.NodeTag() == n.tag }

// Start joins the cluster with hub, whose totals the lease carries, and receiver,
// which delivers what other nodes send to hub's connections: it takes the lease
// (waiting at most Config.Timeout for Redis), then subscribes to the cluster's
// channels and to the channels with local subscribers, and starts publishing
// client broadcasts and publications in the background, and answering other
// nodes' channel queries (query.go), and writing this node's presence changes
// (presence.go). The goroutines it starts (four, plus queryWorkers) stop in Close.
// Only the first call has an effect.
func (n *Node) Start(hub *session.Hub, receiver Receiver) {
	n.startOnce.Do(func() {
		n.hub = hub
		n.receiver = receiver
		n.renew()
		n.renewPresence()
		n.workers.Add(4 + queryWorkers)
		go n.presenceLoop()
		go n.subscribeLoop()
		go n.maintainLoop()
		go n.relayLoop()
		for range queryWorkers {
			go n.answerLoop()
		}
	})
}

// Close leaves the cluster: it stops the node's goroutines, deletes its presence
// (reporting its users' leaves to the Receiver), its lease and its users' counts
// from Redis (within Config.Timeout per step, so a Redis outage does not hold a
// shutdown; an expired lease cleans up instead), and disconnects.
// Call it after the hub shut down. Only the first call has an effect.
func (n *Node) Close() {
	n.closeOnce.Do(func() {
		close(n.stop)
		n.workers.Wait()
		n.leavePresence(time.Now().Add(2 * n.config.Timeout))
		n.leave()
		n.client.Close()
	})
}

// leave deletes what this node holds in Redis, batch by batch, for at most
// 2 x Config.Timeout.
func (n *Node) leave() {
	deadline := time.Now().Add(2 * n.config.Timeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for {
		users, err := n.client.Do(ctx, n.client.B().Srandmember().Key(n.keys.nodeUsers).Count(sweepBatch).Build()).AsStrSlice()
		if err == nil && len(users) == 0 {
			err = forgetScript.Exec(ctx, n.client, []string{n.keys.nodes, n.keys.leases}, []string{n.keys.tag, "1"}).Error()
			if err == nil {
				return
			}
		}
		if err == nil && !n.deleteFields(ctx, n.keys.tag, users) {
			err = errors.New("a user's count could not be deleted")
		}
		if err == nil {
			err = n.client.Do(ctx, n.client.B().Srem().Key(n.keys.nodeUsers).Member(users...).Build()).Error()
		}
		if err != nil {
			n.logger.Warn("could not leave the cluster cleanly; the lease expires instead", "error", err.Error(),
				"lease", n.config.Lease.String())
			return
		}
	}
}

// Healthy reports whether the node is fully part of the cluster: Redis answered its
// last call and the node receives the cluster's channels. When it is false the node
// still serves its own connections (readiness says "degraded").
func (n *Node) Healthy() bool { return n.reachable.Load() && n.subscribed.Load() }

// call returns a context bounded by Config.Timeout and by parent.
func (n *Node) call(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, n.config.Timeout)
}

// errOutage is the error of requests that did not try Redis because it is known to be
// unreachable.
var errOutage = errors.New("redis unreachable")

// available reports whether a request (a connect, an API call, a client broadcast)
// should try Redis: not while Redis is known to be unreachable, so that a Redis that
// stopped answering does not make every connect and API call wait Config.Timeout.
// The maintenance goroutine probes Redis meanwhile (see probeInterval) and any
// success makes it reachable again.
func (n *Node) available() bool { return n.reachable.Load() }

// observe records the outcome of a Redis call: an error that is not Redis's own
// answer means Redis is unreachable (a single Redis; for a Redis Cluster see
// below). Reachability changes are logged once each, not
// per call, so an outage does not flood the log.
func (n *Node) observe(err error) {
	if err != nil {
		if _, answered := rueidis.IsRedisErr(err); answered {
			return
		}
		n.counters.redisErrors.Add(1)
		if n.sharded {
			// One master's failure says nothing about the others, so nothing is marked
			// unreachable. The master may come back empty (restarted without a
			// replica to fail over to), losing counts of this node: all are rewritten
			// at the next renewals, those that fail again until they succeed.
			n.rewriteAll.Store(true)
			return
		}
		if n.reachable.Load() && n.reachable.Swap(false) {
			n.logger.Warn("redis unavailable: cross-node delivery fails, limits fall back to this node's",
				"error", err.Error())
		}
		return
	}
	if !n.reachable.Load() && !n.reachable.Swap(true) {
		n.logger.Info("redis reachable again")
		n.recoveries.Add(1)
		n.requestRenewal()
	}
}

// requestRenewal wakes the maintenance goroutine to renew the lease, rewrite stale
// counts and, when the lease is gone, every count; it never blocks. It is called
// when Redis answers again after failed calls and when the subscription comes
// (back) up, the two signs that Redis may have restarted empty: until this node's
// counts are back, connects elsewhere do not see them, and the next Lease/3 tick
// would leave that window open for up to 3.3 s by default.
func (n *Node) requestRenewal() {
	select {
	case n.renewNow <- struct{}{}:
	default:
	}
}
