// Package gateway assembles a wsgate node: the session hub, the publisher that
// delivers across the cluster, the HTTP API and the nbio engine, wired the way
// cmd/wsgate runs them. Tests and embedders start a whole node with it; an embedding
// program delivers to clients through Gateway.Publisher without going through HTTP.
package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/wsgate/wsgate/api"
	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/callbacks"
	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/cluster"
	"github.com/wsgate/wsgate/dashboard"
	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/engine"
	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/session"
)

// Config configures a node. Zero values mean the defaults documented on the
// session, engine and api configurations.
type Config struct {
	// Session configures the registry, limits and heartbeat. Its Logger defaults to
	// Logger; its Observer is set by the gateway to the API's metrics (/metrics).
	Session session.Config
	// Engine configures the listener and transport. Identify, CheckOrigin, Connect
	// (with Callbacks.ConnectURL), Handler, Screen and Logger are set by the
	// gateway; MaxBodySize is the API's body limit too, on either listener.
	Engine engine.Config
	// InsecureUserID trusts the ?user_id= query parameter as the user's identity
	// (development and tests only). Default false: connections are anonymous. It
	// cannot be combined with JWT.
	InsecureUserID bool
	// JWT, when it sets a secret or public key, makes every client present a valid
	// token whose "sub" is its user id (see package auth); other clients are closed
	// with 4401 "unauthorized", and a token that expires while connected closes its
	// connection with 4100 "token expired". Default: no authentication.
	JWT auth.Config
	// APIKey protects the publish API, stats and metrics (see api.Config.APIKey).
	// Default empty: those answer loopback clients only.
	APIKey string
	// DisableProfiling removes Go's profiler from the API (see
	// api.Config.DisableProfiling). Default false: /debug/pprof/ is served behind the
	// API key rule.
	DisableProfiling bool
	// AllowedOrigins lists browser origins accepted besides same-origin requests;
	// "*" accepts any (see auth.OriginConfig). Default empty: requests without
	// Origin and same-origin requests only.
	AllowedOrigins []string
	// Cluster joins this node to others through Redis when Cluster.RedisURL is set
	// (see package cluster; its Logger defaults to Logger). Default: no Redis, a
	// single node.
	Cluster cluster.Config
	// Namespaces are the options of the channel namespaces the operator names (the
	// configuration file's "namespaces" list); New validates them with
	// channels.NewNamespaces and refuses invalid options or a name listed twice.
	// Default empty: every namespace has channels.DefaultNamespaceOptions (subscribe
	// anyone without JWT, a grant with it; client publish off).
	Namespaces []channels.NamespaceOptions
	// MaxSubscriptionsPerConnection caps the channels one connection may be
	// subscribed to at once; a subscribe beyond it is refused with
	// too_many_subscriptions. Default (0) channels.DefaultMaxSubscriptions (128); a
	// negative value means unlimited.
	MaxSubscriptionsPerConnection int
	// History bounds the memory history of a single node (the channels of the
	// namespaces with history_size; see package history): MaxBytes is its
	// node-wide budget. Default history.DefaultMaxBytes. A node in a cluster keeps
	// no history in memory.
	History history.MemoryConfig
	// Presence sets how the join and leave events of the namespaces with
	// join_leave are coalesced under churn (PresenceConfig). Default: the
	// delivery package's defaults.
	Presence PresenceConfig
	// EveryClientMayBroadcast lets every connection send the client broadcast
	// message when JWT is configured. Default false: with JWT only a connection
	// whose token's wsgate claim has "broadcast":true may, others get
	// permission_denied. Without JWT every connection may, whatever this says.
	EveryClientMayBroadcast bool
	// Callbacks configures the calls to the application's backend: the connect
	// callback, client rpcs and connection events (see CallbacksConfig). Default:
	// none.
	Callbacks CallbacksConfig
	// APIAddr, when set ("host:port"), serves the backend API (publish, send,
	// kick, channels, stats, metrics, profiling, health) on a listener of its own
	// with Go's net/http, so that it can stay on a private network while the
	// WebSocket endpoint faces the internet; Engine.Addr then serves the WebSocket,
	// GET /api/v1/ws/stats, /healthz and /readyz only (see api.API.Public and
	// apiserver.go). Default empty: everything on Engine.Addr.
	APIAddr string
	// Logger receives every log. Default slog.Default().
	Logger *slog.Logger
}

// PresenceConfig sets the coalescing of join and leave events (docs/channels.md,
// "Presence"). Zero values mean the defaults named per field. A value type.
type PresenceConfig struct {
	// JoinLeaveRate is the number of join and leave events per second per channel
	// above which they become periodic presence_diff messages. Default
	// delivery.DefaultJoinLeaveRate (20).
	JoinLeaveRate int
	// DiffPeriod is the period of presence_diff messages. Default
	// delivery.DefaultPresenceDiffPeriod (1s).
	DiffPeriod time.Duration
	// DiffMaxUsers is the most users a presence_diff lists; above it the diff
	// carries only the counts. Default delivery.DefaultPresenceDiffMaxUsers (100).
	DiffMaxUsers int
}

// Gateway is one running node. Its methods are safe for concurrent use.
type Gateway struct {
	// Hub is the node's registry of connections: stats, lookups, this node only.
	Hub *session.Hub
	// Publisher broadcasts, sends to users and connections, and kicks, on this node
	// and, with Config.Cluster, on every node of the cluster: what the publish API
	// does, for a Go program that embeds the gateway.
	Publisher *delivery.Publisher
	// Server is the listener and event loop.
	Server *engine.Server
	// Cluster is the node's membership in a cluster; nil without Config.Cluster.
	Cluster *cluster.Node
	// Callbacks is the client that calls the backend; nil without
	// Config.Callbacks. Its Metrics are served on /metrics.
	Callbacks *callbacks.Client
	// Events posts connection events; nil without Config.Callbacks.EventsURL.
	Events *callbacks.Events
	// History is a single node's history store; nil in a cluster.
	History *history.Memory
	// api serves the API on Config.APIAddr; nil without it.
	api *apiServer

	dashboard *dashboard.Dashboard

	calls        backend
	shutdownOnce sync.Once
	cut          int
}

// New builds a node; call Start to listen.
func New(config Config) (*Gateway, error) {
	if err := config.Validate(); err != nil {
		return nil, err
	}
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	if config.Session.Logger == nil {
		config.Session.Logger = config.Logger
	}
	identify, verifier, err := identifier(config)
	if err != nil {
		return nil, err
	}
	origins, err := auth.NewOriginPolicy(auth.OriginConfig{Allowed: config.AllowedOrigins})
	if err != nil {
		return nil, err
	}
	namespaces, err := channels.NewNamespaces(config.Namespaces, config.JWT.Enabled())
	if err != nil {
		return nil, fmt.Errorf("gateway: Config.Namespaces: %w", err)
	}
	node, err := joinCluster(&config)
	if err != nil {
		return nil, err
	}
	config.Engine.Logger = config.Logger
	config.Engine.Identify = identify
	config.Engine.CheckOrigin = origins.Allow
	// The hub reports fan-out and ping timings to the dashboard's latencies, which
	// pass them on to the histograms the API exposes.
	metrics := api.NewMetrics()
	latencies := dashboard.NewLatencies(metrics)
	config.Session.Observer = latencies
	hub, err := session.NewHub(config.Session)
	if err != nil {
		closeCluster(node)
		return nil, err
	}
	publisherConfig := delivery.Config{Hub: hub, Logger: config.Logger, Namespaces: namespaces,
		Authentication: config.JWT.Enabled(), EveryClientMayBroadcast: config.EveryClientMayBroadcast,
		MaxSubscriptionsPerConnection: config.MaxSubscriptionsPerConnection,
		JoinLeaveRate:                 config.Presence.JoinLeaveRate, PresenceDiffPeriod: config.Presence.DiffPeriod,
		PresenceDiffMaxUsers: config.Presence.DiffMaxUsers}
	if verifier != nil {
		publisherConfig.VerifySubscription = func(token, userID, channel string) error {
			_, err := verifier.VerifySubscription(token, userID, channel)
			return err
		}
	}
	var memory *history.Memory
	if node == nil {
		if memory, err = history.NewMemory(config.History); err != nil {
			hub.Shutdown(0)
			return nil, fmt.Errorf("gateway: Config.History: %w", err)
		}
		publisherConfig.History = memory
	}
	calls, err := startCallbacks(config, &publisherConfig)
	if err != nil {
		hub.Shutdown(0)
		closeCluster(node)
		return nil, err
	}
	if calls.connect != nil {
		config.Engine.Connect = calls.connect.connect
	}
	g, err := assemble(config, publisherConfig, node, memory, metrics, latencies, calls)
	if err != nil {
		hub.Shutdown(0)
		closeCluster(node)
		calls.stop(time.Now())
		return nil, err
	}
	return g, nil
}

// assemble builds what serves the hub of publisherConfig: the publisher (forwarding
// to node, when there is one), the dashboard, the API (with memory, the single
// node's history store, nil in a cluster) and the engine.
func assemble(config Config, publisherConfig delivery.Config, node *cluster.Node, memory *history.Memory,
	metrics *api.Metrics, latencies *dashboard.Latencies, calls backend) (*Gateway, error) {
	hub := publisherConfig.Hub
	publisher, apiCluster, err := newPublisher(publisherConfig, node)
	if err != nil {
		return nil, err
	}
	dashboardConfig := dashboard.Config{Hub: hub, Publisher: publisher, Latencies: latencies, Logger: config.Logger}
	if node != nil {
		dashboardConfig.Cluster = node
	}
	board, err := dashboard.New(dashboardConfig)
	if err != nil {
		publisher.Close()
		return nil, err
	}
	// The API and the engine share one body limit: the engine enforces it while it
	// buffers, the API on its own listener.
	config.Engine.MaxBodySize = cmp.Or(config.Engine.MaxBodySize, engine.DefaultMaxBodySize)
	apiConfig := api.Config{Hub: hub, Publisher: publisher, Logger: config.Logger, APIKey: config.APIKey,
		Metrics: metrics, Cluster: apiCluster, DisableProfiling: config.DisableProfiling,
		MaxBodySize: int64(config.Engine.MaxBodySize), Dashboard: board, History: memory}
	if calls.client != nil {
		apiConfig.MetricSets = append(apiConfig.MetricSets, calls.client.Metrics())
	}
	handler, err := api.New(apiConfig)
	if err != nil {
		publisher.Close()
		return nil, err
	}
	var separate *apiServer
	if config.APIAddr != "" {
		separate = newAPIServer(config, handler)
		handler = handler.Public()
	}
	config.Engine.Handler, config.Engine.Screen = handler, handler.Screen
	transport, err := session.NewTransport(hub, publisher)
	if err != nil {
		publisher.Close()
		return nil, err
	}
	server, err := engine.New(config.Engine, transport)
	if err != nil {
		publisher.Close()
		return nil, err
	}
	return &Gateway{Hub: hub, Publisher: publisher, Server: server, Cluster: node, History: memory, dashboard: board,
		Callbacks: calls.client, Events: calls.events, calls: calls, api: separate}, nil
}

// joinCluster creates the cluster node when config asks for one and sets the hub's
// admission and id tag to it; it returns nil without Redis.
func joinCluster(config *Config) (*cluster.Node, error) {
	if config.Cluster.RedisURL == "" {
		return nil, nil
	}
	if config.Cluster.Logger == nil {
		config.Cluster.Logger = config.Logger
	}
	node, err := cluster.New(config.Cluster)
	if err != nil {
		return nil, err
	}
	config.Session.Admission = node
	config.Session.NodeTag = node.Tag()
	return node, nil
}

// newPublisher returns the publisher of config, forwarding to node and keeping
// history in node's Redis when there is one, and node as the API's Cluster (a nil interface without one: a nil
// *cluster.Node in an interface would not compare equal to nil).
func newPublisher(config delivery.Config, node *cluster.Node) (*delivery.Publisher, api.Cluster, error) {
	if node == nil {
		publisher, err := delivery.NewPublisher(config)
		return publisher, nil, err
	}
	config.Forwarder = node
	// History channels keep their streams in Redis; a subscribe to one reads the
	// stream only once this node receives the channel from Redis.
	config.History = node.History()
	config.ChannelReady = node.AwaitChannel
	config.PresenceCluster = node
	publisher, err := delivery.NewPublisher(config)
	return publisher, node, err
}

// closeCluster closes node unless it is nil.
func closeCluster(node *cluster.Node) {
	if node != nil {
		node.Close()
	}
}

// Start joins the cluster, if configured, then binds the listener and starts serving.
func (g *Gateway) Start() error {
	if g.Cluster != nil {
		g.Cluster.Start(g.Hub, g.Publisher)
	}
	if err := g.api.listen(); err != nil {
		g.Hub.Shutdown(0)
		g.Publisher.Close()
		closeCluster(g.Cluster)
		g.calls.stop(time.Now())
		return err
	}
	if err := g.Server.Start(); err != nil {
		g.api.stop(context.Background())
		g.Hub.Shutdown(0)
		closeCluster(g.Cluster)
		g.calls.stop(time.Now())
		return err
	}
	g.api.serve()
	g.dashboard.Start()
	return nil
}

// Addr returns the bound listening address.
func (g *Gateway) Addr() net.Addr { return g.Server.Addr() }

// APIAddr returns the bound address of the API's own listener (Config.APIAddr), or
// nil without one or before Start.
func (g *Gateway) APIAddr() net.Addr { return g.api.addr() }

// Shutdown stops accepting, closes every connection with 1001 "server shutting down",
// waits for them to go (at most timeout), leaves the cluster if it is in one (see
// cluster.Node.Close), stops the API's own listener, if any (letting requests in
// progress finish), and the event loop, then posts the pending connection events
// (their disconnects among them) within what is left of timeout (at least 100 ms)
// and closes the callbacks client. It returns how many sockets had to
// be cut without completing the close handshake. Only the first call has an effect;
// later calls return its result.
func (g *Gateway) Shutdown(timeout time.Duration) int {
	g.shutdownOnce.Do(func() {
		started := time.Now()
		g.Server.StopAccepting()
		g.dashboard.Close()
		g.cut = g.Hub.Shutdown(timeout)
		g.Publisher.Close()
		closeCluster(g.Cluster)
		stopContext, cancel := context.WithTimeout(context.Background(), max(timeout-time.Since(started), time.Second))
		defer cancel()
		g.api.stop(stopContext)
		_ = g.Server.Stop(stopContext)
		g.calls.stop(started.Add(timeout))
	})
	return g.cut
}

// Drain starts draining the node over duration (0: Config.Session.DrainDuration):
// /readyz answers 503 at once, new connections are refused with 1001 and the open
// ones are closed with 1001 in batches spread over duration (see
// session.Hub.Drain). It reports whether this call started the drain. In a cluster
// each close gives the user's count back, as any disconnect does.
func (g *Gateway) Drain(duration time.Duration) bool { return g.Hub.Drain(duration) }

// DrainAndShutdown is the graceful exit of a process: it drains the node over
// duration (0: Config.Session.DrainDuration; a drain already running keeps its
// own), waits until its last batch ran, then shuts down (Shutdown), all within
// duration + timeout. It returns how many sockets had to be cut without completing
// the close handshake.
func (g *Gateway) DrainAndShutdown(duration, timeout time.Duration) int {
	started := time.Now()
	if duration == 0 {
		duration = g.Hub.Config().DrainDuration
	}
	g.Hub.Drain(duration)
	g.Hub.WaitDrained(duration + timeout)
	return g.Shutdown(max(duration+timeout-time.Since(started), time.Second))
}

// Validate reports the first setting of config that New would refuse: it checks the
// session, engine and (with a Redis URL) cluster configurations with their own
// Validate, and the identity settings. Errors name the field.
func (config Config) Validate() error {
	if err := config.Session.Validate(); err != nil {
		return err
	}
	if err := config.Engine.Validate(); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(config.APIAddr); config.APIAddr != "" && err != nil {
		return fmt.Errorf("gateway: Config.APIAddr %q is not host:port (e.g. 127.0.0.1:9090): %w", config.APIAddr, err)
	}
	if config.Cluster.RedisURL != "" {
		if err := config.Cluster.Validate(); err != nil {
			return err
		}
	}
	switch {
	case !config.JWT.Enabled() && (config.JWT.Audience != "" || config.JWT.Issuer != ""):
		return errors.New("gateway: Config.JWT: an audience or issuer needs a secret or public key")
	case config.JWT.Enabled() && config.InsecureUserID:
		return errors.New("gateway: Config.InsecureUserID cannot be combined with Config.JWT")
	}
	namespaces, err := channels.NewNamespaces(config.Namespaces, config.JWT.Enabled())
	if err != nil {
		return fmt.Errorf("gateway: Config.Namespaces: %w", err)
	}
	subscribeChecked, publishChecked := namespaces.Checked()
	if len(subscribeChecked) > 0 && config.Callbacks.SubscribeURL == "" {
		return fmt.Errorf("gateway: namespace %q has subscribe_check, which needs Config.Callbacks.SubscribeURL (-subscribe-url)",
			subscribeChecked[0])
	}
	if len(publishChecked) > 0 && config.Callbacks.PublishURL == "" {
		return fmt.Errorf("gateway: namespace %q has publish_check, which needs Config.Callbacks.PublishURL (-publish-url)",
			publishChecked[0])
	}
	if config.Callbacks.MaxWaitingRequests < 0 {
		return errors.New("gateway: Config.Callbacks.MaxWaitingRequests must not be negative")
	}
	if err := config.Callbacks.Client.Validate(); err != nil {
		return fmt.Errorf("gateway: Config.Callbacks: %w", err)
	}
	return nil
}

// identifier returns how upgrade requests are identified: by token, by the
// insecure ?user_id=, or not at all (nil: anonymous); and the token verifier, nil
// without JWT.
func identifier(config Config) (func(*http.Request) (session.Identity, session.CloseReason), *auth.Verifier, error) {
	if !config.JWT.Enabled() {
		if config.InsecureUserID {
			return userIDFromQuery, nil, nil
		}
		return nil, nil, nil
	}
	verifier, err := auth.NewVerifier(config.JWT)
	if err != nil {
		return nil, nil, err
	}
	logger := config.Logger
	return func(request *http.Request) (session.Identity, session.CloseReason) {
		identity, err := verifier.Authenticate(request)
		var grants *channels.Grants
		if err == nil {
			grants, err = compileGrants(identity.Grants)
		}
		if err != nil {
			// The cause only: the token itself is a credential and never logged.
			logger.Debug("token refused", "cause", err.Error(), "remote_addr", request.RemoteAddr)
			return session.Identity{}, session.ReasonUnauthorized
		}
		result := session.Identity{UserID: identity.UserID, ExpiresAt: identity.ExpiresAt, Grants: grants}
		if identity.Grants != nil {
			result.Channels = identity.Grants.Channels
		}
		return result, session.ReasonNone
	}, verifier, nil
}

// compileGrants turns a token's wsgate claim into the permissions a session keeps:
// nil when the claim grants nothing (the common case costs no allocation), an error
// naming the first pattern that is not one.
func compileGrants(claim *auth.Grants) (*channels.Grants, error) {
	if claim == nil || len(claim.Subscribe) == 0 && len(claim.Publish) == 0 && !claim.Broadcast {
		return nil, nil
	}
	subscribe, err := channels.NewPatterns(claim.Subscribe)
	if err != nil {
		return nil, fmt.Errorf("wsgate claim, subscribe: %w", err)
	}
	publish, err := channels.NewPatterns(claim.Publish)
	if err != nil {
		return nil, fmt.Errorf("wsgate claim, publish: %w", err)
	}
	return &channels.Grants{Subscribe: subscribe, Publish: publish, Broadcast: claim.Broadcast}, nil
}

// userIDFromQuery trusts ?user_id= (see Config.InsecureUserID).
func userIDFromQuery(request *http.Request) (session.Identity, session.CloseReason) {
	return session.Identity{UserID: queryValue(request.URL.RawQuery, "user_id")}, session.ReasonNone
}
