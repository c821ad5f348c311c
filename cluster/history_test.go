package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/history"
	"github.com/wsgate/wsgate/internal/redistest"
	"github.com/wsgate/wsgate/internal/tcpproxy"
	"github.com/wsgate/wsgate/internal/testsupport"
)

// longOptions keep a test's stream for longer than the test.
var longOptions = history.Options{Size: 100, TTL: time.Minute}

// appendAll appends data to channel from n and returns the positions, failing the
// test on any error.
func appendAll(t *testing.T, n *Node, channel string, options history.Options, data ...string) []history.Position {
	t.Helper()
	positions := make([]history.Position, len(data))
	for index, text := range data {
		position, err := n.History().Append(context.Background(), channel, []byte(text), options)
		if err != nil {
			t.Fatalf("Append(%q, %s): %v", channel, text, err)
		}
		positions[index] = position
	}
	return positions
}

// read reads channel's history from n, failing the test on error.
func read(t *testing.T, n *Node, channel string, since uint64, limit int, options history.Options) ([]history.Publication, history.Position) {
	t.Helper()
	publications, top, err := n.History().Read(context.Background(), channel, since, limit, options)
	if err != nil {
		t.Fatalf("Read(%q, %d, %d): %v", channel, since, limit, err)
	}
	return publications, top
}

// offsetsAndData renders publications as "offset:data" for comparisons.
func offsetsAndData(publications []history.Publication) []string {
	rendered := make([]string, len(publications))
	for index, publication := range publications {
		rendered[index] = fmt.Sprintf("%d:%s", publication.Offset, publication.Data)
	}
	return rendered
}

func TestHistoryAssignsOffsetsKeepsTheLastSizeAndReadsSinceAnOffset(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		node, _ := startChannelNode(t, url)
		options := history.Options{Size: 3, TTL: time.Minute}

		publications, top := read(t, node, "news", 0, 10, options)
		if len(publications) != 0 || top.Epoch == "" {
			t.Fatalf("a new stream read %v, top %+v; want nothing and an epoch", publications, top)
		}
		// A new stream's offsets start above the server's clock in microseconds (so
		// that a stream that starts again continues above its lost offsets).
		base := top.Offset
		if now := uint64(time.Now().UnixMicro()); base < now-uint64(time.Minute.Microseconds()) || base > now+uint64(time.Minute.Microseconds()) {
			t.Fatalf("a new stream's top is %d; want about the clock in microseconds (%d)", base, now)
		}
		positions := appendAll(t, node, "news", options, `1`, `"two"`, `{"n":3}`, `[4]`, `5`)
		for index, position := range positions {
			if position.Offset != base+uint64(index+1) || position.Epoch != top.Epoch {
				t.Fatalf("append %d got %+v; want offset %d in the epoch the first read gave (%s)", index+1, position, base+uint64(index+1), top.Epoch)
			}
		}
		at := func(relative uint64, data string) string { return fmt.Sprintf("%d:%s", base+relative, data) }
		publications, top = read(t, node, "news", 0, 10, options)
		if want := []string{at(3, `{"n":3}`), at(4, `[4]`), at(5, `5`)}; !slices.Equal(offsetsAndData(publications), want) || top.Offset != base+5 {
			t.Fatalf("read since 0 = %v, top %+v; want the last three %v, top base+5", offsetsAndData(publications), top, want)
		}
		if history.Recovered(history.Position{Offset: base + 1, Epoch: top.Epoch}, publications[1:], top) {
			t.Fatal("a recovery across trimmed publications counted as complete")
		}
		publications, _ = read(t, node, "news", base+3, 10, options)
		if !history.Recovered(history.Position{Offset: base + 3, Epoch: top.Epoch}, publications, top) {
			t.Fatalf("recovery from 3 with %v is not complete", offsetsAndData(publications))
		}
		publications, _ = read(t, node, "news", base+2, 1, options)
		if want := []string{at(3, `{"n":3}`)}; !slices.Equal(offsetsAndData(publications), want) {
			t.Fatalf("read since 2 limit 1 = %v; want %v", offsetsAndData(publications), want)
		}
		publications, top = read(t, node, "news", base+1, 0, options)
		if len(publications) != 0 || top.Offset != base+5 {
			t.Fatalf("limit 0 read %v, top %+v; want the top only", publications, top)
		}
		for _, since := range []uint64{base + 5, base + 6, base + 99, 1<<64 - 1} {
			if publications, top = read(t, node, "news", since, 10, options); len(publications) != 0 || top.Offset != base+5 {
				t.Fatalf("read since %d = %v, top %+v; want nothing, top base+5", since, publications, top)
			}
		}
		if _, err := node.History().Append(context.Background(), "news", []byte(`1`), history.Options{Size: 0, TTL: time.Minute}); err == nil {
			t.Fatal("an append without a size was accepted")
		}
	})
}

func TestHistoryLeavesOutPublicationsOlderThanTheTTLAndKeepsItsEpochAfterExpiry(t *testing.T) {
	redis := redistest.Start(t)
	client := inspector(t, redis.URL())
	node, _ := startChannelNode(t, redis.URL())
	options := history.Options{Size: 10, TTL: 300 * time.Millisecond}
	first := appendAll(t, node, "quiet", options, `"old"`)[0]
	testsupport.WaitFor(t, 5*time.Second, "the first publication to outlive the TTL", func() bool {
		publications, _ := read(t, node, "quiet", 0, 10, options)
		return len(publications) == 0
	})
	second := appendAll(t, node, "quiet", options, `"new"`)[0]
	publications, top := read(t, node, "quiet", 0, 10, options)
	if want := []string{fmt.Sprintf(`%d:"new"`, first.Offset+1)}; !slices.Equal(offsetsAndData(publications), want) ||
		top != second || second.Epoch != first.Epoch {
		t.Fatalf("read %v, top %+v (first %+v); want %v in the same epoch", offsetsAndData(publications), top, first, want)
	}
	if history.Recovered(history.Position{Offset: first.Offset - 1, Epoch: top.Epoch}, publications, top) {
		t.Fatal("a recovery across an expired publication counted as complete")
	}
	testsupport.WaitFor(t, 5*time.Second, "the stream's key to expire", func() bool {
		exists, err := client.Do(context.Background(), client.B().Exists().Key(DefaultPrefix+"history:{quiet}").Build()).AsInt64()
		return err == nil && exists == 0
	})
	publications, top = read(t, node, "quiet", second.Offset, 10, options)
	if len(publications) != 0 || top != second || !history.Recovered(second, publications, top) {
		t.Fatalf("after the stream expired: read %v, top %+v; want the same top %+v and a complete recovery from it", publications, top, second)
	}
}

func TestTwoNodesAppendingAtOnceGiveStrictlyIncreasingOffsetsInOneOrderEverywhere(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		a, atA := startChannelNode(t, url)
		b, atB := startChannelNode(t, url)
		c, atC := startChannelNode(t, url)
		nodes := []*Node{a, b, c}
		for index, subscribed := range []*recorder{atA, atB, atC} {
			subscribed.subscribe("race")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := nodes[index].AwaitChannel(ctx, "race"); err != nil {
				t.Fatalf("AwaitChannel: %v", err)
			}
			cancel()
		}
		const perNode = 300
		var group sync.WaitGroup
		offsets := make([][]uint64, 2)
		for index, publisher := range []*Node{a, b} {
			group.Go(func() {
				for sequence := range perNode {
					position, err := publisher.History().Append(context.Background(), "race",
						[]byte(fmt.Sprintf(`"%d-%d"`, index, sequence)), history.Options{Size: 1000, TTL: time.Minute})
					if err != nil {
						t.Errorf("node %d append %d: %v", index, sequence, err)
						return
					}
					offsets[index] = append(offsets[index], position.Offset)
				}
			})
		}
		group.Wait()
		for index, own := range offsets {
			if !slices.IsSorted(own) || len(slices.Compact(slices.Clone(own))) != perNode {
				t.Fatalf("node %d's own offsets are not strictly increasing: %v", index, own)
			}
		}
		all := slices.Sorted(slices.Values(append(slices.Clone(offsets[0]), offsets[1]...)))
		for index, offset := range all {
			if offset != all[0]+uint64(index) {
				t.Fatalf("the two nodes' offsets are not %d consecutive ones, each once: %v", 2*perNode, all)
			}
		}
		var reference []positionedPublication
		for index, subscribed := range []*recorder{atA, atB, atC} {
			testsupport.WaitFor(t, 10*time.Second, "every publication to reach every node", func() bool {
				return len(subscribed.positionedOf("race")) == 2*perNode
			})
			received := subscribed.positionedOf("race")
			for position, publication := range received {
				if publication.position.Offset != all[position] || publication.position.Epoch != received[0].position.Epoch {
					t.Fatalf("node %d received offset %d at place %d: delivery order is not offset order", index,
						publication.position.Offset, position+1)
				}
			}
			if reference == nil {
				reference = received
			} else if !slices.Equal(received, reference) {
				t.Fatalf("node %d received another order than node 0", index)
			}
		}
		// The stream holds them in the same order.
		publications, _ := read(t, a, "race", 0, 2*perNode, history.Options{Size: 1000, TTL: time.Minute})
		for index, publication := range publications {
			if string(publication.Data) != reference[index].data {
				t.Fatalf("stream entry %d is %s; the nodes received %s", index+1, publication.Data, reference[index].data)
			}
		}
	})
}

func TestAFlushedRedisStartsANewEpochAndRecoveryFromTheOldOneFails(t *testing.T) {
	redis := redistest.Start(t)
	client := inspector(t, redis.URL())
	node, _ := startChannelNode(t, redis.URL())
	before := appendAll(t, node, "news", longOptions, `1`, `2`, `3`)[2]
	if err := client.Do(context.Background(), client.B().Flushall().Build()).Error(); err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
	publications, top := read(t, node, "news", before.Offset-1, 10, longOptions)
	if top.Epoch == before.Epoch || top.Offset <= before.Offset || len(publications) != 0 {
		t.Fatalf("after FLUSHALL: read %v, top %+v; want a new epoch (not %s) above offset %d", publications, top, before.Epoch, before.Offset)
	}
	if history.Recovered(history.Position{Offset: before.Offset - 1, Epoch: before.Epoch}, publications, top) {
		t.Fatal("a recovery from the flushed epoch counted as complete")
	}
	if after := appendAll(t, node, "news", longOptions, `4`)[0]; after != (history.Position{Offset: top.Offset + 1, Epoch: top.Epoch}) {
		t.Fatalf("the first append after FLUSHALL got %+v; want offset %d in %s", after, top.Offset+1, top.Epoch)
	}
}

func TestAFailoverToAReplicaStartsANewEpoch(t *testing.T) {
	// Replication writes a snapshot file on the replica: keep it out of the package
	// directory.
	primary := redistest.Start(t, "--dir", t.TempDir())
	replica := redistest.Start(t, "--dir", t.TempDir())
	replicaClient := inspector(t, replica.URL())
	port := primary.Addr()[len("127.0.0.1:"):]
	if err := replicaClient.Do(context.Background(), replicaClient.B().Replicaof().Host("127.0.0.1").Port(mustAtoi(t, port)).Build()).Error(); err != nil {
		t.Fatalf("REPLICAOF: %v", err)
	}
	proxy, err := tcpproxy.Start(primary.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	node, _ := startChannelNode(t, "redis://"+proxy.Addr()+"/0")
	before := appendAll(t, node, "news", longOptions, `1`, `2`)[1]
	testsupport.WaitFor(t, 10*time.Second, "the replica to hold the stream", func() bool {
		offset, err := replicaClient.Do(context.Background(),
			replicaClient.B().Hget().Key(DefaultPrefix+"history:{news}:meta").Field("offset").Build()).ToString()
		return err == nil && offset == strconv.FormatUint(before.Offset, 10)
	})
	// The failover: the replica becomes the primary and the node's connection moves.
	if err := replicaClient.Do(context.Background(), replicaClient.B().Replicaof().No().One().Build()).Error(); err != nil {
		t.Fatalf("REPLICAOF NO ONE: %v", err)
	}
	proxy.SetTarget(replica.Addr())
	proxy.Cut()
	var top history.Position
	testsupport.WaitFor(t, 10*time.Second, "a read through the promoted replica", func() bool {
		_, position, err := node.History().Read(context.Background(), "news", 0, 10, longOptions)
		top = position
		return err == nil
	})
	publications, _ := read(t, node, "news", 0, 10, longOptions)
	if top.Epoch == before.Epoch || top.Offset < before.Offset || len(publications) != 0 {
		t.Fatalf("after the failover the top is %+v with %d publications; want a new, empty epoch (not %s) from offset %d on, although the replica copied the stream",
			top, len(publications), before.Epoch, before.Offset)
	}
}

func mustAtoi(t *testing.T, text string) int64 {
	t.Helper()
	value, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return value
}

func TestWithRedisDownAppendAndReadFailAtOnceWithErrUnavailable(t *testing.T) {
	redis := redistest.Start(t)
	node, _ := startChannelNode(t, redis.URL())
	appendAll(t, node, "chat", longOptions, `1`)
	redis.Kill()
	testsupport.WaitFor(t, 5*time.Second, "the node to notice the outage", func() bool { return !node.available() })
	if _, err := node.History().Append(context.Background(), "chat", []byte(`2`), longOptions); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append with Redis down: %v; want ErrUnavailable", err)
	}
	if _, _, err := node.History().Read(context.Background(), "chat", 0, 10, longOptions); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Read with Redis down: %v; want ErrUnavailable", err)
	}
	if counters := node.Counters(); counters.HistoryAppended != 1 || counters.HistoryReadFailures != 1 || counters.PublishFailures != 1 {
		t.Fatalf("counters %+v; want 1 appended, 1 failed append and 1 failed read", counters)
	}
}

func TestAwaitChannelReturnsOnceRedisConfirmedTheChannel(t *testing.T) {
	redis := redistest.Start(t)
	node, receiver := startChannelNode(t, redis.URL())
	testsupport.WaitFor(t, 5*time.Second, "the node's subscription", node.Healthy)
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := node.AwaitChannel(short, "news"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AwaitChannel of a channel without local subscribers: %v; want the context's deadline", err)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- node.AwaitChannel(ctx, "news")
	}()
	receiver.subscribe("news")
	if err := <-done; err != nil || !node.interest.isConfirmed("news") {
		t.Fatalf("AwaitChannel after the first subscriber: %v (confirmed: %v)", err, node.interest.isConfirmed("news"))
	}
	if err := node.AwaitChannel(context.Background(), "news"); err != nil {
		t.Fatalf("AwaitChannel of a confirmed channel: %v", err)
	}
	redis.Kill()
	testsupport.WaitFor(t, 5*time.Second, "the node to notice the outage", func() bool { return !node.available() })
	if err := node.AwaitChannel(context.Background(), "other"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("AwaitChannel with Redis down: %v; want ErrUnavailable at once", err)
	}
	node.interest.confirmedMutex.RLock()
	waiting := len(node.interest.waiters)
	node.interest.confirmedMutex.RUnlock()
	if waiting != 0 {
		t.Fatalf("%d channels still have waiters after every wait ended", waiting)
	}
}
