// Command scale runs wsgate at 100,000 connections on one machine: a Redis (one
// server, a 3-master Redis Cluster it starts itself, or one given by URL), six wsgate
// processes joined through it (this machine allows 20,000 open files per process, so
// about 16,700 connections each) and one load generator worker process per node
// (benchmarks/loadgen -worker) dialing from several loopback source addresses. It
// measures the connections held, RSS per node and per connection, the kernel's
// memory per socket, one API broadcast and one channel publication reaching every
// connection (time to the last delivery on each node and overall), Redis's processor
// time and commands per publication and per subscribe, a burst of publications for
// where one Redis saturates, and the cluster-wide stats query. Repeated measurements
// are reported as medians. Results go to benchmarks/results/scale/<label>/.
//
//	make bench-scale                                     # one Redis
//	make bench-scale SCALE_FLAGS='-redis cluster'        # a 3-master Redis Cluster
//	go run ./benchmarks/scale -h
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// options are the command's flags.
type options struct {
	wsgate       string
	loadgen      string
	redis        string
	redisURL     string
	masters      int
	nodes        int
	connections  int
	sources      int
	concurrency  int
	pingInterval time.Duration
	pingTimeout  time.Duration
	rounds       int
	statsQueries int
	burst        time.Duration
	pin          bool
	label        string
	output       string
}

func main() {
	var parsed options
	flag.StringVar(&parsed.wsgate, "wsgate", "bin/wsgate", "the wsgate binary")
	flag.StringVar(&parsed.loadgen, "loadgen", "bin/loadgen", "the load generator binary (go build ./benchmarks/loadgen)")
	flag.StringVar(&parsed.redis, "redis", "single", "Redis to start: single (one redis-server) or cluster (-masters redis-servers in cluster mode, no replicas); ignored with -redis-url")
	flag.StringVar(&parsed.redisURL, "redis-url", "", "a Redis to use instead, as the nodes' -redis-url (redis://host:port/0 or redis+cluster://h1:p1,h2:p2,...); INFO is read from every host:port in it")
	flag.IntVar(&parsed.masters, "masters", 3, "masters of -redis cluster")
	flag.IntVar(&parsed.nodes, "nodes", 6, "wsgate nodes, each its own process")
	flag.IntVar(&parsed.connections, "n", 100000, "connections in all, spread evenly over the nodes")
	flag.IntVar(&parsed.sources, "sources", 4, "source addresses 127.0.0.2, 127.0.0.3, ... each worker dials from")
	flag.IntVar(&parsed.concurrency, "concurrency", 32, "dials in flight per worker")
	flag.DurationVar(&parsed.pingInterval, "ping-interval", 30*time.Second, "the nodes' heartbeat (wsgate's default); memory is read after one interval at each step")
	flag.DurationVar(&parsed.pingTimeout, "ping-timeout", time.Minute, "the nodes' -ping-timeout: longer than wsgate's default 10s, since on a shared 2-core machine a starved worker answers a ping late while it reads a fan-out and the node would close its connections")
	flag.IntVar(&parsed.rounds, "rounds", 5, "broadcasts and channel publications, one after the other (medians are reported)")
	flag.IntVar(&parsed.statsQueries, "stats-queries", 21, "cluster-wide stats queries (median and maximum are reported)")
	flag.DurationVar(&parsed.burst, "burst", 5*time.Second, "length of the publication burst")
	flag.BoolVar(&parsed.pin, "pin", false, "run the nodes and Redis on core 1 and the workers on core 0 (taskset); off, the kernel spreads every process over both cores")
	flag.StringVar(&parsed.label, "label", "", "results directory name under -output (default: the -redis mode, or \"given\")")
	flag.StringVar(&parsed.output, "output", "benchmarks/results/scale", "where results go")
	flag.Parse()
	if parsed.label == "" {
		parsed.label = parsed.redis
		if parsed.redisURL != "" {
			parsed.label = "given"
		}
	}
	if err := run(parsed); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

// progress prints a step of the run on standard error.
func progress(format string, arguments ...any) {
	fmt.Fprintf(os.Stderr, "scale %s: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, arguments...))
}

func run(parsed options) error {
	if parsed.nodes < 1 || parsed.connections < parsed.nodes || parsed.rounds < 1 || parsed.sources < 1 || parsed.sources > 250 {
		return fmt.Errorf("-nodes, -rounds and -sources (at most 250) must be positive, -n at least -nodes")
	}
	openFiles, err := raiseOpenFiles()
	if err != nil {
		return fmt.Errorf("raise the open-file limit: %w", err)
	}
	perNode := (parsed.connections + parsed.nodes - 1) / parsed.nodes
	if uint64(perNode)+100 > openFiles {
		return fmt.Errorf("%d connections per node need more than the %d open files a process may have: use more -nodes", perNode, openFiles)
	}
	low, high := portRange()
	ports := high - low + 1
	// With IP_BIND_ADDRESS_NO_PORT (loadgen's dialer) a port is taken per source
	// address and destination, and every node is its own destination.
	perPair := (perNode + parsed.sources - 1) / parsed.sources
	if ports > 0 && perPair > ports {
		return fmt.Errorf("%d connections per source address and node exceed the %d ephemeral ports: use more -sources", perPair, ports)
	}
	progress("open files per process %d (soft raised to hard); ephemeral ports %d-%d: %d per source and node, %d needed",
		openFiles, low, high, ports, perPair)

	directory, err := os.MkdirTemp("", "wsgate-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(directory)
	var redis *redisSet
	switch {
	case parsed.redisURL != "":
		redis, err = givenRedis(parsed.redisURL)
	case parsed.redis == "single":
		redis, err = startSingleRedis()
	case parsed.redis == "cluster":
		redis, err = startClusterRedis(parsed.masters, directory)
	default:
		err = fmt.Errorf("-redis %q: want single or cluster", parsed.redis)
	}
	if err != nil {
		return err
	}
	defer redis.stop()
	nodeCPUs, workerCPUs := "", ""
	if parsed.pin {
		nodeCPUs, workerCPUs = "1", "0"
		for _, process := range redis.processes {
			_ = pin(process.Process.Pid, nodeCPUs)
		}
	}
	progress("Redis %s (%d servers)", redis.url, len(redis.addresses))

	nodes, err := startNodes(parsed.wsgate, parsed.nodes, redis.url, parsed.pingInterval, parsed.pingTimeout, nodeCPUs)
	if err != nil {
		return err
	}
	defer func() {
		for _, started := range nodes {
			started.stop()
		}
	}()
	var fleet workers
	defer func() { fleet.close() }()
	for _, target := range nodes {
		started, err := startWorker(parsed.loadgen, target.wsURL(), parsed.sources, parsed.concurrency, workerCPUs)
		if err != nil {
			return err
		}
		fleet = append(fleet, started)
	}
	progress("%d nodes and %d workers started", len(nodes), len(fleet))

	b := &bench{options: parsed, redis: redis, nodes: nodes, fleet: fleet, workerCPUs: workerCPUs}
	b.report = newReport(parsed, redis, openFiles, [2]int{low, high})
	if err := b.measure(); err != nil {
		return err
	}
	b.report.LoadEnd = loadAverage()
	target := filepath.Join(parsed.output, parsed.label)
	if err := b.report.write(target); err != nil {
		return err
	}
	fmt.Print(b.report.table())
	progress("results in %s", target)
	return nil
}
