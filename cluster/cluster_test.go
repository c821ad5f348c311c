package cluster

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/goleak"

	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/internal/redistest"
	"github.com/wsgate/wsgate/internal/tcpproxy"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/session"
)

// TestMain fails the package if a node leaves a goroutine behind after Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent(), redistest.IgnoreClusterRefresh, redistest.IgnoreDelayedRefresh)
}

// testLease is short so that expiry tests take seconds.
const testLease = time.Second

// startNode joins a node with its own empty hub to the Redis at url and closes both
// when the test ends.
func startNode(t testing.TB, url string) *Node {
	t.Helper()
	return startNodeWithLease(t, url, testLease)
}

// startNodeWithLease is startNode with a lease of its own.
func startNodeWithLease(t testing.TB, url string, lease time.Duration) *Node {
	t.Helper()
	node, receiver := newNode(t, Config{RedisURL: url, Lease: lease})
	node.Start(receiver.hub, receiver)
	return node
}

// newNode creates a node for config (with the test's lease, timeout and a silent
// logger where config leaves them zero), its own empty hub and a recorder as its
// Receiver, without starting it; it closes them when the test ends.
func newNode(t testing.TB, config Config) (*Node, *recorder) {
	t.Helper()
	if config.Lease == 0 {
		config.Lease = testLease
	}
	if config.Timeout == 0 {
		config.Timeout = 500 * time.Millisecond
	}
	config.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	node, err := New(config)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hub, err := session.NewHub(session.Config{NodeTag: node.Tag(), Admission: node,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	publisher, err := delivery.NewPublisher(delivery.Config{Hub: hub, Forwarder: node,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("NewPublisher: %v", err)
	}
	t.Cleanup(func() {
		hub.Shutdown(time.Second)
		node.Close()
	})
	return node, newRecorder(node, hub, publisher)
}

// crash stops a node's goroutines without leaving the cluster, as if its process
// died: its lease is no longer renewed and nothing is cleaned up.
func crash(n *Node) {
	n.closeOnce.Do(func() {
		close(n.stop)
		n.workers.Wait()
		n.client.Close()
	})
}

// forEachRedis runs test against a single Redis and a 3-master Redis Cluster.
var forEachRedis = redistest.Each

// inspector returns a Redis client for checking what the nodes wrote.
func inspector(t testing.TB, url string) rueidis.Client {
	t.Helper()
	options, clustered, err := clientOptions(url)
	if err != nil {
		t.Fatal(err)
	}
	options.DisableCache = true
	options.ForceSingleClient = !clustered
	client, err := rueidis.NewClient(options)
	if err != nil {
		t.Fatalf("inspector: %v", err)
	}
	t.Cleanup(client.Close)
	return client
}

// fieldOf returns node n's count in userID's hash, 0 when absent.
func fieldOf(t *testing.T, client rueidis.Client, n *Node, userID string) int64 {
	t.Helper()
	value, err := client.Do(context.Background(), client.B().Hget().Key(n.keys.user(userID)).Field(n.keys.tag).Build()).AsInt64()
	if rueidis.IsRedisNil(err) {
		return 0
	}
	if err != nil {
		t.Fatalf("HGET: %v", err)
	}
	return value
}

// waitFor polls condition until it holds or timeout passes (see testsupport.WaitFor).
var waitFor = testsupport.WaitFor

func acquire(t *testing.T, n *Node, userID string, limit int) bool {
	t.Helper()
	allowed, err := n.Acquire(userID, limit)
	if err != nil {
		t.Fatalf("Acquire(%q): %v", userID, err)
	}
	return allowed
}

func TestLimitHoldsAcrossNodesAndReleasesFree(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		first, second := startNode(t, url), startNode(t, url)
		// Two connections on the first node and one on the second fill alice's limit.
		for index, n := range []*Node{first, first, second} {
			if !acquire(t, n, "alice", 3) {
				t.Fatalf("connection %d of alice was refused within her limit of 3", index+1)
			}
		}
		for _, n := range []*Node{second, first} {
			if acquire(t, n, "alice", 3) {
				t.Fatal("a fourth connection was admitted with limit 3 across two nodes")
			}
		}
		if !acquire(t, second, "alice", 0) {
			t.Fatal("limit 0 must mean unlimited")
		}
		first.Release("alice")
		client := inspector(t, url)
		waitFor(t, 2*time.Second, "the release to reach Redis", func() bool {
			return fieldOf(t, client, first, "alice") == 1
		})
		if !acquire(t, second, "alice", 4) {
			t.Fatal("a released connection still counted")
		}
	})
}

func TestConcurrentConnectsOnTwoNodesGiveExactlyTheLimit(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		nodes := []*Node{startNode(t, url), startNode(t, url)}
		var admitted atomic.Int64
		var group sync.WaitGroup
		for attempt := range 40 {
			group.Go(func() {
				if allowed, err := nodes[attempt%2].Acquire("carol", 5); err == nil && allowed {
					admitted.Add(1)
				}
			})
		}
		group.Wait()
		if admitted.Load() != 5 {
			t.Fatalf("%d of 40 concurrent connects admitted with limit 5, want exactly 5", admitted.Load())
		}
	})
}

func TestACrashedNodeStopsCountingWithinItsLease(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		survivor, doomed := startNode(t, url), startNode(t, url)
		for range 3 {
			acquire(t, doomed, "dave", 3)
		}
		if acquire(t, survivor, "dave", 3) {
			t.Fatal("the limit did not count the other node's connections")
		}
		crashed := time.Now()
		crash(doomed)
		waitFor(t, testLease+time.Second, "the crashed node's connections to stop counting", func() bool {
			return acquire(t, survivor, "dave", 3)
		})
		t.Logf("counts released %v after the crash (lease %v)", time.Since(crashed).Round(time.Millisecond), testLease)
		client := inspector(t, url)
		waitFor(t, 3*testLease, "the sweep to delete the crashed node's fields and index entry", func() bool {
			index, err := client.Do(context.Background(), client.B().Zscore().Key(doomed.keys.nodes).Member(doomed.keys.tag).Build()).ToString()
			return fieldOf(t, client, doomed, "dave") == 0 && rueidis.IsRedisNil(err) && index == ""
		})
		nodes, _, _, err := survivor.Totals(context.Background())
		if err != nil || nodes != 1 {
			t.Fatalf("Totals after the crash: %d nodes, %v; want 1", nodes, err)
		}
	})
}

func TestCountsAreRewrittenAfterRedisLosesThem(t *testing.T) {
	redis := redistest.Start(t)
	node := startNode(t, redis.URL())
	client := inspector(t, redis.URL())
	acquire(t, node, "erin", 0)
	acquire(t, node, "erin", 0)
	acquire(t, node, "frank", 0)

	redis.Kill()
	node.Release("erin")
	if _, err := node.Acquire("grace", 5); err == nil {
		t.Fatal("Acquire succeeded with Redis down")
	}
	if node.Counters().AdmissionFallbacks != 1 {
		t.Fatalf("admission fallbacks = %d, want 1", node.Counters().AdmissionFallbacks)
	}
	waitFor(t, 2*time.Second, "the node to notice Redis is gone", func() bool { return !node.Healthy() })
	redis.Restart()

	waitFor(t, 3*testLease, "the counts to be rewritten into the empty Redis", func() bool {
		return fieldOf(t, client, node, "erin") == 1 && fieldOf(t, client, node, "frank") == 1 &&
			fieldOf(t, client, node, "grace") == 1
	})
	waitFor(t, 3*testLease, "the node to be healthy again", node.Healthy)
	// A pooled connection from before the restart can still fail one call with EOF
	// (the node then falls back to its local limit); wait until calls go through.
	waitFor(t, 3*testLease, "a Redis call to go through", func() bool {
		if _, err := node.Acquire("probe", 0); err != nil {
			return false
		}
		node.Release("probe")
		return true
	})
	// erin holds one connection (two acquired, one released while Redis was down):
	// a second fits her limit of 2, a third does not.
	if !acquire(t, node, "erin", 2) {
		t.Fatal("erin's second connection was refused: the rewritten count is too high")
	}
	if acquire(t, node, "erin", 2) {
		t.Fatal("erin's third connection was admitted with limit 2: the limit ignored the rewritten count")
	}
}

func TestNodesRewriteTheirCountsAsSoonAsRedisRestarts(t *testing.T) {
	// A lease of a minute renews every 20 s: counts back within seconds can only
	// come from the nodes noticing that Redis is back.
	const lease = time.Minute
	redis := redistest.Start(t)
	first, second := startNodeWithLease(t, redis.URL(), lease), startNodeWithLease(t, redis.URL(), lease)
	if !acquire(t, first, "amy", 2) || !acquire(t, second, "amy", 2) {
		t.Fatal("connections within the limit were refused")
	}

	redis.Kill()
	waitFor(t, 2*time.Second, "both nodes to notice Redis is gone", func() bool {
		return !first.Healthy() && !second.Healthy()
	})
	redis.Restart()
	restarted := time.Now()
	client := inspector(t, redis.URL())
	waitFor(t, lease/6, "both nodes' counts to be back in the empty Redis", func() bool {
		return fieldOf(t, client, first, "amy") == 1 && fieldOf(t, client, second, "amy") == 1
	})
	t.Logf("counts back %v after Redis restarted (lease %v)", time.Since(restarted).Round(time.Millisecond), lease)
	if acquire(t, first, "amy", 2) || acquire(t, second, "amy", 2) {
		t.Fatal("a third connection of amy was admitted with limit 2 after the restart")
	}
}

func TestCloseLeavesNothingBehind(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		stays := startNode(t, url)
		leaves := startNode(t, url)
		acquire(t, leaves, "heidi", 0)
		if nodes, _, _, err := stays.Totals(context.Background()); err != nil || nodes != 2 {
			t.Fatalf("Totals: %d nodes, %v; want 2", nodes, err)
		}
		leaves.Close()
		client := inspector(t, url)
		if fieldOf(t, client, leaves, "heidi") != 0 {
			t.Fatal("the node left its user's count behind")
		}
		exists, err := client.Do(context.Background(), client.B().Exists().Key(leaves.keys.nodeUsers).Build()).AsInt64()
		if err != nil || exists != 0 {
			t.Fatalf("the user set still exists after Close (%d, %v)", exists, err)
		}
		indexed, err := client.Do(context.Background(), client.B().Zscore().Key(leaves.keys.nodes).Member(leaves.keys.tag).Build()).ToString()
		if !rueidis.IsRedisNil(err) || indexed != "" {
			t.Fatalf("the node is still in the index after Close (%q, %v)", indexed, err)
		}
		lease, err := client.Do(context.Background(), client.B().Hexists().Key(leaves.keys.leases).Field(leaves.keys.tag).Build()).AsBool()
		if err != nil || lease {
			t.Fatalf("the lease is still in the leases hash after Close (%v, %v)", lease, err)
		}
		if nodes, _, _, err := stays.Totals(context.Background()); err != nil || nodes != 1 {
			t.Fatalf("Totals after Close: %d nodes, %v; want 1", nodes, err)
		}
	})
}

func TestAFrozenRedisCostsOneTimeoutNotOnePerRequest(t *testing.T) {
	redis := redistest.Start(t)
	proxy, err := tcpproxy.Start(redis.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	node := startNode(t, "redis://"+proxy.Addr()+"/0")
	acquire(t, node, "ivan", 0)

	proxy.Freeze() // Redis stops answering; no socket breaks
	started := time.Now()
	if _, err := node.Acquire("ivan", 0); err == nil {
		t.Fatal("Acquire succeeded with Redis frozen")
	}
	if waited := time.Since(started); waited < node.config.Timeout/2 {
		t.Fatalf("the first request failed after %v, before its timeout: was Redis really frozen?", waited)
	}
	started = time.Now()
	for range 20 {
		if _, err := node.PublishToUser(context.Background(), "ivan", []byte(`{}`)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("publish during the outage: %v, want ErrUnavailable", err)
		}
	}
	if waited := time.Since(started); waited > node.config.Timeout {
		t.Fatalf("20 requests during a known outage took %v: they waited for Redis instead of failing at once", waited)
	}

	proxy.Restore()
	waitFor(t, 3*testLease, "the node to find Redis again", func() bool {
		_, err := node.Acquire("ivan", 0)
		return err == nil
	})
}

func TestANodeStartedWithoutRedisJoinsWhenItComes(t *testing.T) {
	redis := redistest.Start(t)
	redis.Kill()
	node := startNode(t, redis.URL())
	if node.Healthy() {
		t.Fatal("a node without Redis reports healthy")
	}
	if _, err := node.Acquire("judy", 1); err == nil {
		t.Fatal("Acquire succeeded without Redis")
	}
	redis.Restart()
	waitFor(t, 3*testLease, "the node to join", node.Healthy)
	client := inspector(t, redis.URL())
	waitFor(t, 3*testLease, "the connection admitted without Redis to be counted", func() bool {
		return fieldOf(t, client, node, "judy") == 1
	})
	if acquire(t, node, "judy", 1) {
		t.Fatal("the limit ignored the connection admitted while Redis was down")
	}
}

// TestAfterARedisRestartANodeCountsOnceItHasRewrittenItsCounts pins the window
// docs/cluster.md describes: Redis restarted empty holds a node's counts only once
// that node has rewritten them, so until then its users' connections do not count
// on the other nodes and a user can go over the limit; once every node has
// rewritten, the limit holds again with the real total.
func TestAfterARedisRestartANodeCountsOnceItHasRewrittenItsCounts(t *testing.T) {
	const lease = time.Minute
	redis := redistest.Start(t)
	path, err := tcpproxy.Start(redis.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = path.Close() })
	early := startNodeWithLease(t, redis.URL(), lease)
	late := startNodeWithLease(t, "redis://"+path.Addr()+"/0", lease)
	if !acquire(t, early, "amy", 2) || !acquire(t, late, "amy", 2) {
		t.Fatal("connections within the limit were refused")
	}

	path.Freeze() // late cannot reach the restarted Redis until Restore
	redis.Kill()
	redis.Restart()
	client := inspector(t, redis.URL())
	waitFor(t, lease/6, "early's count to be back in the empty Redis", func() bool { return fieldOf(t, client, early, "amy") == 1 })
	if fieldOf(t, client, late, "amy") != 0 {
		t.Fatal("late's count reached Redis through a frozen path")
	}
	if !acquire(t, early, "amy", 2) {
		t.Fatal("early refused amy's connect though late's count is not back: the window closed (update docs/cluster.md)")
	}

	path.Restore()
	waitFor(t, lease/6, "late's count to be back", func() bool { return fieldOf(t, client, late, "amy") == 1 })
	if acquire(t, early, "amy", 2) || acquire(t, late, "amy", 2) {
		t.Fatal("amy, at three connections with limit 2 once every count is back, got another")
	}
}
