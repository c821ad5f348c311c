package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// scenarioNames are the scenarios in the order they may be given.
var scenarioNames = []string{"idle", "connect", "fanout", "rate", "echo", "channel-fanout", "channels-rate", "subscriptions", "churn", "storm", "presence"}

// connectionsPerProcess is how many connections one process holds before -procs
// spreads them: the open-file limit of this machine is 20,000 per process.
const connectionsPerProcess = 18000

// options are the command line of the load generator.
type options struct {
	url                  string
	target               *url.URL
	base                 string
	debugBase            string
	connections          int
	scenarios            []string
	steps                []int
	serverName           string
	serverPID            int
	gcPath               string
	processes            int
	workerCPUs           []int
	sources              int
	concurrency          int
	dialTimeout          time.Duration
	trigger              string
	broadcasts           int
	gap                  time.Duration
	await                time.Duration
	rate                 float64
	duration             time.Duration
	drain                time.Duration
	echoConnections      int
	channels             int
	channelSubscriptions int
	publishRate          float64
	publishBatch         int
	subscribeTimeout     time.Duration
	echoDuration         time.Duration
	settleMin            time.Duration
	settleMax            time.Duration
	churnRate            float64
	churnDuration        time.Duration
	churnLifetime        time.Duration
	churnUsers           int64
	connsPerUser         int
	// The storm scenario's settings (storm.go).
	stormClients   int
	stormInterval  time.Duration
	stormBaseline  time.Duration
	stormBaseDelay time.Duration
	stormMaxDelay  time.Duration
	stormTimeout   time.Duration
	// The presence scenario's settings (presence.go).
	presenceWatchers int
	presenceJoiners  int
	presenceWindow   time.Duration
	presenceObserve  time.Duration
	presenceRounds   int
	presenceQueries  int
	jsonPath         string
	worker           bool
	// compression offers permessage-deflate on every connection; payload is the
	// size of a broadcast's content in bytes.
	compression bool
	payload     int
}

// parseOptions reads the command line; flag.ErrHelp means -h was given.
func parseOptions(arguments []string, output io.Writer) (options, error) {
	var o options
	var scenarios, steps, cpus string
	flags := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	flags.SetOutput(output)
	flags.StringVar(&o.url, "url", "ws://127.0.0.1:8080/api/v1/ws", "WebSocket endpoint of the server under test")
	flags.IntVar(&o.connections, "n", 15000, "connections")
	flags.StringVar(&scenarios, "scenario", "connect,fanout,rate,echo", "comma-separated scenarios, run in order on the same connections: "+strings.Join(scenarioNames, ", "))
	flags.StringVar(&steps, "steps", "", "idle: connection counts to settle and measure at, the slope is taken between the last two (default n/15,n/3,n)")
	flags.StringVar(&o.serverName, "server-name", "server", "name of the server in the results")
	flags.IntVar(&o.serverPID, "server-pid", 0, "pid of the server, for its RSS, CPU time and environment from /proc")
	flags.StringVar(&o.debugBase, "debug-url", "", "base URL of the server's /metrics and -gc-path (default: the server's own address)")
	flags.StringVar(&o.gcPath, "gc-path", "/debug/pprof/heap?gc=1", "GET path that forces a GC on the server before each memory reading, if it answers 200 (empty: never)")
	flags.IntVar(&o.processes, "procs", 0, "client processes (0: one per 18,000 connections); with 2 or more, worker processes hold the connections, each its own Go runtime, and their figures are merged")
	flags.StringVar(&cpus, "cpus", "", "comma-separated CPUs the worker processes are pinned to with taskset, worker i to the i-th (in turn); empty: not pinned (they inherit this process's affinity)")
	flags.IntVar(&o.sources, "sources", 4, "local source addresses 127.0.0.2, 127.0.0.3, ... to dial from (0: let the kernel choose)")
	flags.IntVar(&o.concurrency, "concurrency", 64, "dials in progress at once")
	flags.DurationVar(&o.dialTimeout, "dial-timeout", 10*time.Second, "time for one connection's upgrade")
	flags.StringVar(&o.trigger, "trigger", "client", "how broadcasts are started: client ({\"type\":\"broadcast\"} over an extra connection) or api (POST /api/v1/broadcast)")
	flags.IntVar(&o.broadcasts, "broadcasts", 50, "fanout: broadcasts, one after the other")
	flags.DurationVar(&o.gap, "gap", 50*time.Millisecond, "fanout: pause after each broadcast has arrived everywhere")
	flags.DurationVar(&o.await, "await", 10*time.Second, "fanout: longest wait for one broadcast to arrive everywhere")
	flags.Float64Var(&o.rate, "rate", 10, "rate: broadcasts per second")
	flags.DurationVar(&o.duration, "duration", 10*time.Second, "rate: how long to send")
	flags.DurationVar(&o.drain, "drain", 30*time.Second, "rate: longest wait after the last send for deliveries in flight")
	flags.IntVar(&o.echoConnections, "echo-conns", 0, "echo: connections with a message in flight (0: all)")
	flags.DurationVar(&o.echoDuration, "echo-duration", 5*time.Second, "echo: how long to echo")
	flags.DurationVar(&o.settleMin, "settle-min", 6*time.Second, "idle: shortest settle at each step (at least one heartbeat interval)")
	flags.DurationVar(&o.settleMax, "settle-max", 30*time.Second, "idle: longest settle at each step")
	flags.IntVar(&o.channels, "channels", 1000, "channels-rate, subscriptions: channels the connections subscribe to")
	flags.IntVar(&o.channelSubscriptions, "channel-subs", 10, "channels-rate, subscriptions: channels per connection, connection i in channels (i+k*channels/channel-subs) mod channels")
	flags.Float64Var(&o.publishRate, "publish-rate", 1000, "channels-rate: publications per second, spread over the channels in turn")
	flags.IntVar(&o.publishBatch, "publish-batch", 100, "channels-rate: publications per POST /api/v1/publish, consecutive channels (at most 1,000; channels/channel-subs reaches every connection once)")
	flags.DurationVar(&o.subscribeTimeout, "subscribe-timeout", 30*time.Second, "channel scenarios: longest wait for the answers to the subscribes")
	flags.Float64Var(&o.churnRate, "churn-rate", 200, "churn: short-lived connections opened per second")
	flags.DurationVar(&o.churnDuration, "churn-duration", time.Minute, "churn: how long to churn")
	flags.DurationVar(&o.churnLifetime, "churn-lifetime", 2*time.Second, "churn: mean life of a short-lived connection (uniform over half to one and a half times it)")
	flags.Int64Var(&o.churnUsers, "churn-users", 500, "churn: user ids churn-0 ... the short-lived connections take in turn (the server needs -insecure-user-id)")
	flags.IntVar(&o.stormClients, "storm-clients", 15000, "storm: clients that connect at once on top of the -n steady ones")
	flags.DurationVar(&o.stormInterval, "storm-interval", 100*time.Millisecond, "storm: time between two broadcasts (POST /api/v1/broadcast) to the steady connections")
	flags.DurationVar(&o.stormBaseline, "storm-baseline", 5*time.Second, "storm: time the broadcasts run before the storm")
	flags.DurationVar(&o.stormBaseDelay, "storm-base-delay", 500*time.Millisecond, "storm: first retry delay ceiling of a refused client (the Go client's default)")
	flags.DurationVar(&o.stormMaxDelay, "storm-max-delay", 30*time.Second, "storm: largest retry delay ceiling (the Go client's default)")
	flags.DurationVar(&o.stormTimeout, "storm-timeout", 3*time.Minute, "storm: longest wait for every storm client to be in")
	flags.IntVar(&o.presenceWatchers, "presence-watchers", 100, "presence: users subscribed to the storm's channel before it")
	flags.IntVar(&o.presenceJoiners, "presence-joiners", 10000, "presence: users that subscribe to the channel during the storm")
	flags.DurationVar(&o.presenceWindow, "presence-window", time.Second, "presence: time the joiners' subscribes are spread over")
	flags.DurationVar(&o.presenceObserve, "presence-observe", 4*time.Second, "presence: time from the storm's start during which the watchers' presence messages, frames sent and CPU are counted")
	flags.IntVar(&o.presenceRounds, "presence-rounds", 3, "presence: rounds of each measure (storm with and without join_leave, memory with and without presence, each query kind), alternating")
	flags.IntVar(&o.presenceQueries, "presence-queries", 1000, "presence: queries of each kind per round, one after the other")
	flags.IntVar(&o.connsPerUser, "conns-per-user", 0, "connections per user: each dial carries ?user_id=, consecutive dials share a user in groups of this size (0: anonymous; the server needs -insecure-user-id)")
	flags.StringVar(&o.jsonPath, "json", "", "also write the result as JSON to this file")
	flags.BoolVar(&o.compression, "compression", false, "offer permessage-deflate (no context takeover) on every connection, and inflate what arrives compressed")
	flags.IntVar(&o.payload, "payload", defaultPayloadBytes, "fanout, rate: bytes of a broadcast's content, padded with JSON records of random words and numbers (compresses like real JSON)")
	flags.BoolVar(&o.worker, "worker", false, "internal: serve connections for a parent load generator over stdin/stdout")
	flags.Usage = func() {
		fmt.Fprintln(output, "loadgen opens many WebSocket connections to a wsgate-compatible server and measures memory")
		fmt.Fprintln(output, "per connection, connect rate, broadcast fan-out, sustained delivery and echo, and wsgate's")
		fmt.Fprintln(output, "channels: fan-out through a channel, publications across channels, memory per subscription.")
		fmt.Fprintln(output, "\nUsage: loadgen [flags]")
		flags.PrintDefaults()
	}
	if err := flags.Parse(arguments); err != nil {
		return o, err
	}
	target, err := url.Parse(o.url)
	if err != nil || target.Scheme != "ws" || target.Host == "" {
		return o, fmt.Errorf("-url %q: want ws://host:port/path", o.url)
	}
	o.target = target
	o.base = "http://" + target.Host
	if o.debugBase == "" {
		o.debugBase = o.base
	}
	o.debugBase = strings.TrimSuffix(o.debugBase, "/")
	for name := range strings.SplitSeq(scenarios, ",") {
		if !slices.Contains(scenarioNames, name) {
			return o, fmt.Errorf("-scenario: unknown %q (want %s)", name, strings.Join(scenarioNames, ", "))
		}
		o.scenarios = append(o.scenarios, name)
	}
	if o.trigger != "client" && o.trigger != "api" {
		return o, fmt.Errorf("-trigger %q: want client or api", o.trigger)
	}
	if o.connections < 1 || o.concurrency < 1 || o.broadcasts < 1 || o.rate <= 0 || o.sources < 0 || o.connsPerUser < 0 || o.sources > 250 {
		return o, errors.New("-n, -concurrency, -broadcasts and -rate must be positive, -sources 0 to 250, -conns-per-user not negative")
	}
	if o.channelSubscriptions < 1 || o.channels < o.channelSubscriptions || o.publishRate <= 0 || o.publishBatch < 1 || o.publishBatch > 1000 {
		return o, errors.New("-channel-subs must be positive and at most -channels, -publish-rate positive, -publish-batch 1 to 1000")
	}
	if o.presenceWatchers < 1 || o.presenceJoiners < 1 || o.presenceWindow <= 0 || o.presenceRounds < 1 || o.presenceQueries < 1 {
		return o, errors.New("-presence-watchers, -presence-joiners, -presence-window, -presence-rounds and -presence-queries must be positive")
	}
	if o.churnRate <= 0 || o.churnUsers < 1 || o.churnLifetime <= 0 {
		return o, errChurnOptions
	}
	if o.steps, err = parseSteps(steps, o.connections); err != nil {
		return o, err
	}
	if o.processes <= 0 {
		o.processes = (o.connections + connectionsPerProcess - 1) / connectionsPerProcess
	}
	if o.workerCPUs, err = parseCPUs(cpus); err != nil {
		return o, err
	}
	if o.echoConnections <= 0 || o.echoConnections > o.connections {
		o.echoConnections = o.connections
	}
	return o, nil
}

// parseSteps reads -steps, or derives n/15, n/3, n.
func parseSteps(text string, connections int) ([]int, error) {
	if text == "" {
		steps := []int{connections / 15, connections / 3, connections}
		return slices.Compact(slices.DeleteFunc(steps, func(step int) bool { return step < 1 })), nil
	}
	var steps []int
	for field := range strings.SplitSeq(text, ",") {
		step, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || step < 1 || (len(steps) > 0 && step <= steps[len(steps)-1]) {
			return nil, fmt.Errorf("-steps %q: want increasing positive counts", text)
		}
		steps = append(steps, step)
	}
	return steps, nil
}

// parseCPUs reads -cpus: a comma-separated list of CPU numbers, or nothing.
func parseCPUs(text string) ([]int, error) {
	if text == "" {
		return nil, nil
	}
	var cpus []int
	for field := range strings.SplitSeq(text, ",") {
		cpu, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || cpu < 0 {
			return nil, fmt.Errorf("-cpus %q: want comma-separated CPU numbers", text)
		}
		cpus = append(cpus, cpu)
	}
	return cpus, nil
}

// sourceAddresses returns 127.0.0.2, 127.0.0.3, ... when the server is on an IPv4
// loopback address and sources are wanted; otherwise nil (the kernel chooses).
func (o options) sourceAddresses() []net.IP {
	ip := net.ParseIP(o.target.Hostname())
	if o.sources == 0 || ip == nil || ip.To4() == nil || !ip.IsLoopback() {
		return nil
	}
	addresses := make([]net.IP, o.sources)
	for i := range addresses {
		addresses[i] = net.IPv4(127, 0, 0, byte(2+i))
	}
	return addresses
}
