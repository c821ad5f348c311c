// Command cluster measures what the Redis hop costs a broadcast: it runs, in one
// process and one invocation, a single node without Redis and two nodes joined through
// a private redis-server, connects the same receivers to one node, and triggers
// broadcasts through the publish API
//
//   - single node: on the single node (no Redis at all);
//   - same node, clustered: on the receivers' node (local fan-out plus one PUBLISH);
//   - cross node: on the other node, so every delivery goes through Redis.
//
// For each it reports the delivery latency from the API request to a receiver's read,
// for the first receiver of each broadcast (the hop itself) and for every receiver
// (including the spread of the fan-out), and the delivered messages per second under
// sustained publishing. docs/cluster.md has figures from this machine.
//
//	go run ./benchmarks/cluster -connections 1000 -duration 5s
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"github.com/wsgate/wsgate/cluster"
	"github.com/wsgate/wsgate/engine"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/session"
)

// options are the command's flags.
type options struct {
	connections int
	messages    int
	duration    time.Duration
	workers     int
	redisURL    string
}

func main() {
	var parsed options
	flag.IntVar(&parsed.connections, "connections", 1000, "receiving WebSocket connections")
	flag.IntVar(&parsed.messages, "messages", 200, "broadcasts in the latency phase, one at a time")
	flag.DurationVar(&parsed.duration, "duration", 5*time.Second, "length of the throughput phase")
	flag.IntVar(&parsed.workers, "workers", 4, "concurrent API clients in the throughput phase")
	flag.StringVar(&parsed.redisURL, "redis-url", "", "Redis to use (empty = start a private redis-server)")
	flag.Parse()
	if err := run(parsed); err != nil {
		fmt.Fprintln(os.Stderr, "cluster benchmark:", err)
		os.Exit(1)
	}
}

func run(parsed options) error {
	redisURL := parsed.redisURL
	if redisURL == "" {
		stop, url, err := startRedis()
		if err != nil {
			return err
		}
		defer stop()
		redisURL = url
	}
	single, err := startGateway("")
	if err != nil {
		return err
	}
	defer single.Shutdown(time.Second)
	publisher, err := startGateway(redisURL)
	if err != nil {
		return err
	}
	defer publisher.Shutdown(time.Second)
	receiver, err := startGateway(redisURL)
	if err != nil {
		return err
	}
	defer receiver.Shutdown(time.Second)

	scenarios := []scenario{
		{name: "single node (no Redis)", trigger: single, receivers: single},
		{name: "same node, clustered", trigger: receiver, receivers: receiver},
		{name: "cross node (via Redis)", trigger: publisher, receivers: receiver},
	}
	fmt.Printf("cluster fan-out: %d receivers, %d sequential broadcasts for latency, %v of %d concurrent publishers for throughput\n",
		parsed.connections, parsed.messages, parsed.duration, parsed.workers)
	fmt.Printf("one process, GOMAXPROCS %d, %s, Redis %s\n\n", runtime.GOMAXPROCS(0), runtime.Version(), redisURL)
	fmt.Printf("| scenario | first delivery p50 | p99 | every delivery p50 | p99 | max | delivered msg/s | broadcasts/s |\n" +
		"|---|---|---|---|---|---|---|---|\n")
	for _, current := range scenarios {
		result, err := current.measure(parsed)
		if err != nil {
			return fmt.Errorf("%s: %w", current.name, err)
		}
		fmt.Printf("| %s | %v | %v | %v | %v | %v | %.0f | %.0f |\n", current.name, result.firstP50, result.firstP99,
			result.p50, result.p99, result.max, result.deliveredPerSecond, result.broadcastsPerSecond)
	}
	return nil
}

// startGateway starts a node on a free loopback port, joined to redisURL unless it is
// empty; no heartbeat, no limits, so only fan-out is measured.
func startGateway(redisURL string) (*gateway.Gateway, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	node, err := gateway.New(gateway.Config{
		Session: session.Config{PingInterval: session.Off, MaxConnectionsPerUser: session.Unlimited, MaxMessagesPerSecond: session.Unlimited},
		Engine:  engine.Config{Addr: "127.0.0.1:0"},
		Cluster: cluster.Config{RedisURL: redisURL},
		Logger:  quiet,
	})
	if err != nil {
		return nil, err
	}
	if err := node.Start(); err != nil {
		return nil, err
	}
	if node.Cluster == nil {
		return node, nil
	}
	deadline := time.Now().Add(5 * time.Second)
	for !node.Cluster.Healthy() {
		if time.Now().After(deadline) {
			node.Shutdown(time.Second)
			return nil, fmt.Errorf("node did not join the cluster at %s", redisURL)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return node, nil
}

// startRedis runs a private redis-server without persistence on a free port.
func startRedis() (func(), string, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	port := strconv.Itoa(listener.Addr().(*net.TCPAddr).Port)
	_ = listener.Close()
	command := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--loglevel", "warning")
	if err := command.Start(); err != nil {
		return nil, "", fmt.Errorf("start redis-server (make deps-redis installs it): %w", err)
	}
	stop := func() {
		_ = command.Process.Kill()
		_ = command.Wait()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		connection, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			_ = connection.Close()
			return stop, "redis://127.0.0.1:" + port + "/0", nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, "", fmt.Errorf("redis-server did not listen on %s", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
