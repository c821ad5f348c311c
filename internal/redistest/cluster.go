package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/goleak"
)

// clusterTimeout bounds how long a Redis Cluster may take to reach cluster_state:ok
// after its creation or after a master's restart.
const clusterTimeout = 20 * time.Second

// nodeTimeout is the cluster's cluster-node-timeout in ms: how long a master may be
// unreachable before the others mark it failed. Short, so that tests of a dead
// master take seconds.
const nodeTimeout = 1000

// Cluster is a local Redis Cluster of masters without replicas, each a Server on its
// own free loopback port, created with redis-cli --cluster create. Its methods are
// not safe for concurrent use; call them from the test's goroutine.
type Cluster struct {
	t testing.TB
	// Masters are the cluster's redis-server processes; Masters[i].Kill stops one as
	// a crash would.
	Masters []*Server
	cli     string
}

// StartCluster starts a Redis Cluster of masters masters (3 unless more are asked
// for), slots spread evenly, cluster-require-full-coverage off (the slots of live
// masters keep answering while one is down) and a node timeout of one second, and
// waits until every master reports cluster_state:ok. It stops the servers when the
// test ends. Like Start, it skips the test when redis-server or redis-cli is missing
// (fails when CI is set).
func StartCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	masters = max(masters, 3)
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-cli is not installed (CI is set, so this fails instead of skipping): run make deps-redis")
		}
		t.Skip("redis-cli is not installed: run make deps-redis")
	}
	for attempt := 1; ; attempt++ {
		c := &Cluster{t: t, cli: cli}
		output, err := c.create(masters)
		if err == nil {
			c.WaitReady()
			return c
		}
		for _, server := range c.Masters {
			server.Kill()
		}
		if attempt == createAttempts {
			t.Fatalf("redistest: redis-cli --cluster create, %d attempts, the last: %v\n%s", attempt, err, output)
		}
		t.Logf("redistest: redis-cli --cluster create failed (attempt %d, trying new servers): %v\n%s", attempt, err, output)
	}
}

// createAttempts is how many fresh sets of servers StartCluster tries; createTimeout
// bounds one redis-cli --cluster create, which otherwise can wait forever for the
// nodes to agree ("Waiting for the cluster to join", seen once on a loaded machine).
const (
	createAttempts = 3
	createTimeout  = 30 * time.Second
)

// create starts the masters (each with a cluster bus port of its own choosing: the
// default, the port plus 10000, may be taken or above 65535) and joins them into a
// cluster with redis-cli; it returns redis-cli's output and its error.
func (c *Cluster) create(masters int) ([]byte, error) {
	directory := c.t.TempDir()
	addresses := make([]string, 0, masters)
	for index := range masters {
		config := filepath.Join(directory, "nodes-"+strconv.Itoa(index)+".conf")
		server := Start(c.t, "--cluster-enabled", "yes", "--cluster-config-file", config,
			"--cluster-port", strconv.Itoa(freePort(c.t)),
			"--cluster-node-timeout", strconv.Itoa(nodeTimeout), "--cluster-require-full-coverage", "no")
		c.Masters = append(c.Masters, server)
		addresses = append(addresses, server.Addr())
	}
	arguments := append([]string{"--cluster", "create"}, addresses...)
	arguments = append(arguments, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), createTimeout)
	defer cancel()
	return exec.CommandContext(ctx, c.cli, arguments...).CombinedOutput()
}

// URL returns the cluster's seed addresses as a redis+cluster:// URL.
func (c *Cluster) URL() string {
	addresses := make([]string, len(c.Masters))
	for index, server := range c.Masters {
		addresses[index] = server.Addr()
	}
	return "redis+cluster://" + strings.Join(addresses, ",")
}

// WaitReady waits until every running master reports cluster_state:ok and knows
// every master, and fails the test after clusterTimeout.
func (c *Cluster) WaitReady() {
	c.t.Helper()
	deadline := time.Now().Add(clusterTimeout)
	for {
		state := c.state()
		if state == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("redistest: the cluster did not become ready within %v: %s", clusterTimeout, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// state returns "" when every running master is ready, else what is missing.
func (c *Cluster) state() string {
	for _, server := range c.Masters {
		if server.command == nil {
			continue
		}
		info, err := c.Command(server, "CLUSTER", "INFO")
		if err != nil {
			return err.Error()
		}
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(len(c.Masters))) {
			return server.Addr() + ": " + strings.ReplaceAll(info, "\r\n", " ")
		}
	}
	return ""
}

// WaitSlotsDown waits until the running masters report cluster_slots_fail above
// zero, that is, they agree that a master is down (after the node timeout), and
// fails the test after clusterTimeout.
func (c *Cluster) WaitSlotsDown() {
	c.t.Helper()
	deadline := time.Now().Add(clusterTimeout)
	for {
		down := true
		for _, server := range c.Masters {
			if server.command == nil {
				continue
			}
			info, err := c.Command(server, "CLUSTER", "INFO")
			if err != nil || strings.Contains(info, "cluster_slots_fail:0\r\n") {
				down = false
			}
		}
		if down {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("redistest: the cluster did not mark a master failed within %v", clusterTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Command runs redis-cli with arguments against server and returns its output.
func (c *Cluster) Command(server *Server, arguments ...string) (string, error) {
	output, err := exec.Command(c.cli, append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(server.port)}, arguments...)...).Output()
	if err != nil {
		return "", fmt.Errorf("redis-cli %s against %s: %w", strings.Join(arguments, " "), server.Addr(), err)
	}
	return string(output), nil
}

// MasterOf returns the master that serves key's slot.
func (c *Cluster) MasterOf(key string) *Server {
	c.t.Helper()
	output, err := c.Command(c.Masters[0], "CLUSTER", "KEYSLOT", key)
	if err != nil {
		c.t.Fatalf("redistest: %v", err)
	}
	slot, err := strconv.Atoi(strings.TrimSpace(output))
	if err != nil {
		c.t.Fatalf("redistest: CLUSTER KEYSLOT answered %q", output)
	}
	for _, server := range c.Masters {
		if server.command != nil && c.serves(server, slot) {
			return server
		}
	}
	c.t.Fatalf("redistest: no running master serves slot %d of %q", slot, key)
	return nil
}

// serves reports whether server is the master of slot, from the line of CLUSTER
// NODES that describes itself.
func (c *Cluster) serves(server *Server, slot int) bool {
	output, err := c.Command(server, "CLUSTER", "NODES")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(output, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 9 || !strings.Contains(fields[2], "myself") {
			continue
		}
		for _, ranged := range fields[8:] {
			first, last, found := strings.Cut(ranged, "-")
			if !found {
				last = first
			}
			low, errLow := strconv.Atoi(first)
			high, errHigh := strconv.Atoi(last)
			if errLow == nil && errHigh == nil && low <= slot && slot <= high {
				return true
			}
		}
	}
	return false
}

// IgnoreClusterRefresh is a goleak option for packages that test against a
// Cluster: after a topology change (a master killed, a node gone) rueidis closes the
// connections it dropped from its own goroutine, five seconds later, which may
// outlive the last test.
var IgnoreClusterRefresh = goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2")

// IgnoreDelayedRefresh is a goleak option for packages whose cluster nodes may not
// reach their Redis: a rueidis client that could not learn the topology schedules
// its next try on a goroutine that sleeps about a second first (singleflight's
// DelayDo), which no Close can wake, so it may outlive the last test.
var IgnoreDelayedRefresh = goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1")

// Each runs test twice, as subtests with the same assertions: against a single
// Redis ("single") and against a Redis Cluster of three masters ("cluster"), each
// given by its URL (see Server.URL and Cluster.URL).
func Each(t *testing.T, test func(t *testing.T, url string)) {
	t.Run("single", func(t *testing.T) { test(t, Start(t).URL()) })
	t.Run("cluster", func(t *testing.T) { test(t, StartCluster(t, 3).URL()) })
}

// Client returns a client for looking into a Redis of this package by its URL: a
// Server's, or a Cluster's (then commands go to the master of their slot). It is
// closed when the test ends.
func Client(t testing.TB, url string) rueidis.Client {
	t.Helper()
	var options rueidis.ClientOption
	if seeds, clustered := strings.CutPrefix(url, "redis+cluster://"); clustered {
		options.InitAddress = strings.Split(seeds, ",")
	} else {
		parsed, err := rueidis.ParseURL(url)
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		options = parsed
		options.ForceSingleClient = true
	}
	options.DisableCache = true
	client, err := rueidis.NewClient(options)
	if err != nil {
		t.Fatalf("redistest: client for %s: %v", url, err)
	}
	t.Cleanup(client.Close)
	return client
}
