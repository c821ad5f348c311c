package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/callbacks"
	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/cluster"
	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/engine"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/session"
)

// options are the binary's settings, from flags, WSGATE_* environment variables and
// the -config file.
type options struct {
	// configFile is -config: the file read for the settings that neither a flag
	// nor a variable gives.
	configFile            string
	addr                  string
	apiAddr               string
	maxBodySize           int
	maxConnectionsPerUser int
	maxConnections        int
	maxMessageSize        int
	compression           bool
	compressionMinSize    int
	insecureUserID        bool
	logLevel              string
	logFormat             string
	pingInterval          time.Duration
	pingTimeout           time.Duration
	handshakeTimeout      time.Duration
	shutdownTimeout       time.Duration
	// drainDuration is -drain-duration: 0 means the shutdown timeout.
	drainDuration        time.Duration
	maxConnectsPerSecond float64
	maxPendingBytes      int
	socketSendBuffer     int
	writeDelay           time.Duration
	maxFanoutDelay       time.Duration
	maxMessagesPerSecond float64
	messageBurst         int
	jwtSecret            string
	jwtPublicKey         string
	jwtAudience          string
	jwtIssuer            string
	apiKey               string
	pprof                bool
	allowedOrigins       string
	redisURL             string
	nodeID               string
	clusterLease         time.Duration
	// maxSubscriptionsPerConnection is -max-subscriptions-per-connection: 0 means
	// unlimited, as for the other limits of the command line.
	maxSubscriptionsPerConnection int
	clientBroadcast               string
	// The backend callbacks (package callbacks).
	connectURL           string
	connectHeaders       string
	rpcURL               string
	subscribeURL         string
	publishURL           string
	eventsURL            string
	callbackSecret       string
	callbackKey          string
	callbackTimeout      time.Duration
	callbackWorkers      int
	callbackQueue        int
	maxRPCsPerConnection int
	eventsBatchSize      int
	eventsBatchDelay     time.Duration
	eventsQueueSize      int
	historyMaxBytes      int64
	joinLeaveRate        int
	presenceDiffPeriod   time.Duration
	presenceDiffMaxUsers int
	// namespaces come from the file's namespaces list only.
	namespaces []channels.NamespaceOptions
	// printVersion is -version: print the build and exit, a command rather than a
	// setting (no variable sets it).
	printVersion bool
	// healthcheck is -healthcheck: check the server at addr and exit, a command too.
	healthcheck bool
}

// commands are the flags that ask for an action instead of configuring the server;
// no WSGATE_* variable sets them, so that a variable in a deployment cannot turn
// the server into something else.
var commands = map[string]bool{"version": true, "healthcheck": true}

// environmentName returns the variable that can set flag name, e.g.
// "max-conns-per-user" -> "WSGATE_MAX_CONNS_PER_USER".
func environmentName(name string) string {
	return "WSGATE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// defineFlags registers every flag on flags, each writing into parsed, with its
// environment variable named in its usage text.
func defineFlags(flags *flag.FlagSet, parsed *options) {
	flags.StringVar(&parsed.configFile, "config", "",
		"read settings from this YAML (or JSON) `FILE`: any flag under its name (ping-interval: 30s) and the channel namespaces; flags and variables win over it")
	flags.StringVar(&parsed.addr, "addr", engine.DefaultAddr, "TCP address to listen on, host:port (empty host = every interface)")
	flags.StringVar(&parsed.apiAddr, "api-addr", "",
		"serve the backend API (publish, channels, stats, metrics, pprof, health) on this host:port with net/http, e.g. a private 10.0.0.5:9090; -addr then serves the WebSocket, /api/v1/ws/stats, /healthz and /readyz only (empty = everything on -addr)")
	flags.IntVar(&parsed.maxBodySize, "max-body-size", engine.DefaultMaxBodySize,
		"largest API request body in bytes (a batch of 1000 publications must fit); larger gets 413 before the body is read")
	flags.IntVar(&parsed.maxConnectionsPerUser, "max-conns-per-user", session.DefaultMaxConnectionsPerUser,
		"connections one user may hold; more are closed with 1008 \"Connection limit reached\" (0 = unlimited)")
	flags.IntVar(&parsed.maxConnections, "max-connections", 0,
		"connections this node holds; more are closed with 1013 \"try again later\" (0 = only the open-files limit)")
	flags.IntVar(&parsed.maxMessageSize, "max-message-size", engine.DefaultMaxMessageSize,
		"largest inbound message in bytes; larger closes the connection with 1009")
	flags.BoolVar(&parsed.compression, "compression", false,
		"accept permessage-deflate (no context takeover either way, no state per connection): fan-outs are compressed once for every client that negotiated it")
	flags.IntVar(&parsed.compressionMinSize, "compression-min-size", session.DefaultCompressionMinSize,
		"with -compression, smallest message in bytes sent compressed; smaller ones go uncompressed (0 = every message)")
	flags.BoolVar(&parsed.insecureUserID, "insecure-user-id", false,
		"trust the ?user_id= query parameter as the user's identity (development and tests only)")
	flags.StringVar(&parsed.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	flags.StringVar(&parsed.logFormat, "log-format", "text", "log format: text or json")
	flags.DurationVar(&parsed.pingInterval, "ping-interval", session.DefaultPingInterval,
		"time between heartbeat pings to a connection (0 = no heartbeat)")
	flags.DurationVar(&parsed.pingTimeout, "ping-timeout", session.DefaultPingTimeout,
		"time a connection has after a ping to send any frame before it is closed with 4000")
	flags.DurationVar(&parsed.handshakeTimeout, "handshake-timeout", engine.DefaultHandshakeTimeout,
		"time a new socket has to complete its upgrade request")
	flags.DurationVar(&parsed.shutdownTimeout, "shutdown-timeout", 10*time.Second,
		"on SIGINT/SIGTERM, time allowed after the drain to finish closing connections before exiting")
	flags.DurationVar(&parsed.drainDuration, "drain-duration", 0,
		"on SIGINT/SIGTERM or POST /api/v1/drain, time over which open connections are closed with 1001 in batches, so clients move to other nodes gradually (0 = the shutdown timeout)")
	flags.Float64Var(&parsed.maxConnectsPerSecond, "max-connects-per-second", 0,
		"new connections this node accepts per second (bursts up to one second's worth); more are closed with 1013 before their token is checked (0 = unlimited)")
	flags.IntVar(&parsed.maxPendingBytes, "max-pending-bytes", session.DefaultMaxPendingBytes,
		"bytes queued for one connection that it has not read; more closes it with 4001 (slow consumer)")
	flags.IntVar(&parsed.socketSendBuffer, "socket-send-buffer", 0,
		"SO_SNDBUF for client sockets in bytes (0 = kernel autotuning, up to megabytes per stalled client)")
	flags.DurationVar(&parsed.writeDelay, "write-delay", 0,
		"time the writers wait after new frames so that more frames share one write (0 = write at once)")
	flags.DurationVar(&parsed.maxFanoutDelay, "max-fanout-delay", session.DefaultMaxFanoutDelay,
		"longest a broadcast or publication waits so that fan-outs arriving back to back share one write per connection (0 = write every fan-out at once)")
	flags.Float64Var(&parsed.maxMessagesPerSecond, "max-messages-per-second", session.DefaultMaxMessagesPerSecond,
		"inbound messages one connection may send per second; more get a rate_limited error (0 = unlimited)")
	flags.IntVar(&parsed.messageBurst, "message-burst", 0,
		"messages a connection may send at once above the rate (0 = twice the rate)")
	flags.StringVar(&parsed.jwtSecret, "jwt-secret", "",
		"HS256 secret (at least 32 bytes): clients must present a JWT signed with it; prefer the variable, flags show in ps")
	flags.StringVar(&parsed.jwtPublicKey, "jwt-public-key", "",
		"PEM file with an RSA (RS256) or ECDSA P-256 (ES256) public key: clients must present a JWT signed with its private key")
	flags.StringVar(&parsed.jwtAudience, "jwt-audience", "", "when set, a client's JWT must list this audience (aud claim)")
	flags.StringVar(&parsed.jwtIssuer, "jwt-issuer", "", "when set, a client's JWT must have this issuer (iss claim)")
	flags.StringVar(&parsed.apiKey, "api-key", "",
		"key backends present as 'Authorization: Bearer <key>' to the publish API, stats, metrics and pprof (empty = loopback clients only)")
	flags.BoolVar(&parsed.pprof, "pprof", true,
		"serve Go's profiler under /debug/pprof/, behind the same rule as -api-key (false = 404)")
	flags.StringVar(&parsed.allowedOrigins, "allowed-origins", "",
		"comma-separated browser origins allowed to connect besides same-origin, e.g. https://app.example.com; * allows any")
	flags.StringVar(&parsed.redisURL, "redis-url", "",
		"Redis that joins this node to a cluster, redis://[user:password@]host:port[/db], or rediss://... for TLS, "+
			"or a Redis Cluster: redis+cluster://host:port[,host:port...] (empty = a single node, no Redis)")
	flags.StringVar(&parsed.nodeID, "node-id", "", "this node's name in logs and in Redis (empty = random per process)")
	flags.DurationVar(&parsed.clusterLease, "cluster-lease", cluster.DefaultLease,
		"time a node that stops renewing its lease (crash, partition) keeps counting in Redis; renewed every third of it")
	flags.IntVar(&parsed.maxSubscriptionsPerConnection, "max-subscriptions-per-connection", channels.DefaultMaxSubscriptions,
		"channels one connection may be subscribed to at once; more get too_many_subscriptions (0 = unlimited)")
	flags.Int64Var(&parsed.historyMaxBytes, "history-max-bytes", history.DefaultMaxBytes,
		"single node: bytes the channels' memory history may hold in all; over it the least recently published channels lose their history")
	flags.IntVar(&parsed.joinLeaveRate, "join-leave-rate", delivery.DefaultJoinLeaveRate,
		"join/leave events per second per channel (namespaces with join_leave) above which subscribers get a periodic presence_diff instead")
	flags.DurationVar(&parsed.presenceDiffPeriod, "presence-diff-period", delivery.DefaultPresenceDiffPeriod,
		"period of the presence_diff messages of a channel whose join/leave events are coalesced")
	flags.IntVar(&parsed.presenceDiffMaxUsers, "presence-diff-max-users", delivery.DefaultPresenceDiffMaxUsers,
		"users a presence_diff lists at most; above it the diff carries only the counts of joins and leaves")
	flags.StringVar(&parsed.clientBroadcast, "client-broadcast", broadcastByGrant,
		"with JWT, who may send the client broadcast to every connection: grant (a token whose wsgate claim has \"broadcast\":true) or everyone; without JWT everyone may")
	flags.StringVar(&parsed.connectURL, "connect-url", "",
		"backend URL asked about every connection after its upgrade, before it is registered (POST, JSON; docs/integration.md); empty = credentials alone decide")
	flags.StringVar(&parsed.connectHeaders, "connect-headers", strings.Join(gateway.DefaultConnectHeaders, ","),
		"comma-separated request headers the connect callback forwards to the backend")
	flags.StringVar(&parsed.rpcURL, "rpc-url", "",
		"backend URL that receives the clients' rpc messages (POST, JSON; docs/integration.md); empty = rpc answers rpc_not_configured")
	flags.StringVar(&parsed.subscribeURL, "subscribe-url", "",
		"backend URL asked about every client subscribe to a namespace with subscribe_check (POST, JSON; docs/integration.md)")
	flags.StringVar(&parsed.publishURL, "publish-url", "",
		"backend URL asked about every client publication to a namespace with publish_check (POST, JSON; docs/integration.md)")
	flags.StringVar(&parsed.eventsURL, "events-url", "",
		"backend URL that receives connect, disconnect, subscribe and unsubscribe events in batches (empty = no events)")
	flags.StringVar(&parsed.callbackSecret, "callback-secret", "",
		"sign every callback body: X-Wsgate-Signature: sha256=<hex HMAC-SHA256 of the body>; prefer the variable, flags show in ps")
	flags.StringVar(&parsed.callbackKey, "callback-key", "", "send every callback with Authorization: Bearer <key>")
	flags.DurationVar(&parsed.callbackTimeout, "callback-timeout", callbacks.DefaultTimeout,
		"time one callback may take; slower is answered as backend_unavailable")
	flags.IntVar(&parsed.callbackWorkers, "callback-workers", callbacks.DefaultWorkers,
		"callbacks in flight at once, and keep-alive connections to the backend")
	flags.IntVar(&parsed.callbackQueue, "callback-queue", callbacks.DefaultQueueSize,
		"callbacks waiting for a worker; more fail at once with backend_unavailable")
	flags.IntVar(&parsed.maxRPCsPerConnection, "max-rpcs-per-connection", delivery.DefaultMaxRPCsPerConnection,
		"rpcs one connection may have in flight; more get too_many_rpcs (0 = unlimited)")
	flags.IntVar(&parsed.eventsBatchSize, "events-batch-size", callbacks.DefaultEventsBatchSize, "most events in one request to -events-url")
	flags.DurationVar(&parsed.eventsBatchDelay, "events-batch-delay", callbacks.DefaultEventsBatchDelay,
		"longest an event waits for others to share its request")
	flags.IntVar(&parsed.eventsQueueSize, "events-queue-size", callbacks.DefaultEventsQueueSize,
		"events waiting to be posted; past it new events are dropped and counted")
	flags.BoolVar(&parsed.printVersion, "version", false, "print the version, commit and Go version, then exit")
	flags.BoolVar(&parsed.healthcheck, "healthcheck", false,
		"GET /healthz of the server listening on -addr over loopback, then exit 0 if it is healthy, else 1 (for container health checks)")
	flags.VisitAll(func(f *flag.Flag) {
		if !commands[f.Name] {
			f.Usage = fmt.Sprintf("%s (env %s)", f.Usage, environmentName(f.Name))
		}
	})
}

// printUsage writes the -h text: what wsgate is and every flag with its default and
// environment variable.
func printUsage(output io.Writer) {
	flags := flag.NewFlagSet("wsgate", flag.ContinueOnError)
	defineFlags(flags, &options{})
	flags.SetOutput(output)
	fmt.Fprint(output, "Usage: wsgate [flags]\n\nwsgate is a WebSocket gateway. Every flag can also be set with the "+
		"environment variable shown, or in the -config file\nunder its name; a flag wins over its variable, a variable over the file.\n"+
		"A duration takes a unit: 500ms, 30s, 1m, 1h30m.\n\n")
	flags.PrintDefaults()
}

// usageError is a command line wsgate cannot parse (an unknown flag, a value of the
// wrong type, a stray argument); run adds a pointer to -h.
type usageError struct{ error }

// parseOptions reads flags from arguments; for every flag not given there, the
// WSGATE_<NAME> variable from lookup; and for every flag given by neither, its key in
// the -config file (named by -config or WSGATE_CONFIG). A flag wins over its
// variable, a variable over the file. -h prints the usage to output and returns flag.ErrHelp;
// -version returns at once, unchecked. Every error names the one flag, variable or
// file line at fault and its value (secrets hidden); a command line that cannot be
// parsed gives a usageError.
func parseOptions(arguments []string, lookup func(string) (string, bool), output io.Writer) (options, error) {
	var parsed options
	flags := flag.NewFlagSet("wsgate", flag.ContinueOnError)
	// The flag package would print its own message and the whole usage on any error;
	// the error is returned instead, and -h prints the usage below.
	flags.SetOutput(io.Discard)
	flags.Usage = func() {}
	defineFlags(flags, &parsed)
	var rejected error
	checkValues(flags, &rejected)
	if err := flags.Parse(arguments); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(output)
			return parsed, err
		}
		if rejected != nil {
			return parsed, usageError{rejected}
		}
		return parsed, usageError{err}
	}
	if flags.NArg() > 0 {
		return parsed, usageError{fmt.Errorf("unexpected argument %q (a flag's value follows its name: -name value)", flags.Arg(0))}
	}
	if parsed.printVersion {
		return parsed, nil
	}
	at := sources{flags: flags, fromEnvironment: map[string]bool{}, fromFile: map[string]int{}}
	given := map[string]bool{}
	flags.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var environmentError error
	flags.VisitAll(func(f *flag.Flag) {
		value, found := lookup(environmentName(f.Name))
		if !found || given[f.Name] || commands[f.Name] || environmentError != nil {
			return
		}
		at.fromEnvironment[f.Name] = true
		if problem := setUnchecked(f, value); problem != "" {
			environmentError = fmt.Errorf("%s=%q: %s", environmentName(f.Name), value, problem)
		}
	})
	if environmentError != nil {
		return parsed, environmentError
	}
	if parsed.configFile == "" {
		return parsed, parsed.validate(at)
	}
	file, err := readConfigFile(parsed.configFile, at)
	if err != nil {
		return parsed, err
	}
	at.file = file.path
	file.apply(flags, given, at)
	parsed.namespaces = file.namespaceOptions()
	if err := parsed.validate(at); err != nil {
		return parsed, err
	}
	return parsed, file.checkNamespaces(parsed.authentication(),
		checkURLs{subscribe: parsed.subscribeURL != "", publish: parsed.publishURL != ""})
}

// readConfigFile reads and parses the -config file at path; an error reading it
// names the flag or variable that gave the path.
func readConfigFile(path string, at sources) (*configFile, error) {
	content, err := os.ReadFile(path)
	if err != nil {
		var pathError *fs.PathError
		if errors.As(err, &pathError) {
			err = pathError.Err
		}
		return nil, at.invalid("config", err.Error())
	}
	return parseConfigFile(path, content)
}

// authentication reports whether clients authenticate with a JWT.
func (o options) authentication() bool { return o.jwtSecret != "" || o.jwtPublicKey != "" }

// The values of -client-broadcast.
const (
	broadcastByGrant  = "grant"
	broadcastEveryone = "everyone"
)

// subscriptionLimit maps -max-subscriptions-per-connection onto
// gateway.Config.MaxSubscriptionsPerConnection, where 0 means the default and a
// negative value unlimited.
func (o options) subscriptionLimit() int {
	if o.maxSubscriptionsPerConnection == 0 {
		return -1
	}
	return o.maxSubscriptionsPerConnection
}

// callbacksConfig returns the backend callbacks' settings; -max-rpcs-per-connection's
// 0 ("unlimited") maps onto a negative limit.
func (o options) callbacksConfig() gateway.CallbacksConfig {
	limit := o.maxRPCsPerConnection
	if limit == 0 {
		limit = -1
	}
	return gateway.CallbacksConfig{ConnectURL: o.connectURL, ConnectHeaders: commaList(o.connectHeaders),
		RPCURL: o.rpcURL, SubscribeURL: o.subscribeURL, PublishURL: o.publishURL, EventsURL: o.eventsURL,
		MaxRPCsPerConnection: limit,
		Client: callbacks.Config{Secret: []byte(o.callbackSecret), BearerKey: o.callbackKey, Timeout: o.callbackTimeout,
			Workers: o.callbackWorkers, QueueSize: o.callbackQueue},
		Events: callbacks.EventsConfig{BatchSize: o.eventsBatchSize, BatchDelay: o.eventsBatchDelay, QueueSize: o.eventsQueueSize}}
}

// everyClientMayBroadcast is -client-broadcast everyone.
func (o options) everyClientMayBroadcast() bool { return o.clientBroadcast == broadcastEveryone }

// origins splits -allowed-origins into its entries, without blanks.
func (o options) origins() []string { return commaList(o.allowedOrigins) }

// commaList splits a comma-separated flag into its entries, without blanks.
func commaList(value string) []string {
	var list []string
	for entry := range strings.SplitSeq(value, ",") {
		if entry = strings.TrimSpace(entry); entry != "" {
			list = append(list, entry)
		}
	}
	return list
}

// jwtConfig returns the token verification settings, reading the -jwt-public-key
// file; the zero Config when JWT is not configured.
func (o options) jwtConfig() (auth.Config, error) {
	config := auth.Config{Secret: []byte(o.jwtSecret), Audience: o.jwtAudience, Issuer: o.jwtIssuer}
	if o.jwtPublicKey != "" {
		key, err := os.ReadFile(o.jwtPublicKey)
		if err != nil {
			return config, fmt.Errorf("-jwt-public-key: %w", err)
		}
		config.PublicKeyPEM = key
	}
	return config, nil
}
