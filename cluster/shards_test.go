package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/redistest"
)

func TestSlotOfAgreesWithRedisCluster(t *testing.T) {
	redis := redistest.StartCluster(t, 3)
	for _, key := range []string{"foo", "wsgate:broadcast", "wsgate:ch:{news}", "wsgate:ch:{a}b}", "{}x", "x{}y{z}",
		"wsgate:{nodes}:leases", "wsgate:history:{news}:meta", "ünïcødé", ""} {
		output, err := redis.Command(redis.Masters[0], "CLUSTER", "KEYSLOT", key)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := strconv.Atoi(strings.TrimSpace(output)); int(slotOf(key)) != want {
			t.Errorf("slotOf(%q) = %d; Redis says %d", key, slotOf(key), want)
		}
	}
}

// traffic publishes numbered payloads to one channel from one node until stopped,
// recording each publication's outcome.
type traffic struct {
	mutex     sync.Mutex
	delivered map[string]bool  // payload → Redis reported a receiver
	failed    map[string]error // payload → why its publication failed
	stop      chan struct{}
	done      sync.WaitGroup
}

func startTraffic(n *Node, channel string) *traffic {
	traffic := &traffic{delivered: make(map[string]bool), failed: make(map[string]error), stop: make(chan struct{})}
	traffic.done.Go(func() {
		for index := 0; ; index++ {
			select {
			case <-traffic.stop:
				return
			default:
			}
			payload := fmt.Sprintf(`{"n":%d}`, index)
			receivers, err := n.PublishToChannel(context.Background(), channel, []byte(payload))
			traffic.mutex.Lock()
			switch {
			case err != nil:
				traffic.failed[payload] = err
			case receivers > 0:
				traffic.delivered[payload] = true
			}
			traffic.mutex.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	})
	return traffic
}

// counts returns how many publications were delivered and how many failed so far.
func (traffic *traffic) counts() (delivered, failed int) {
	traffic.mutex.Lock()
	defer traffic.mutex.Unlock()
	return len(traffic.delivered), len(traffic.failed)
}

func (traffic *traffic) finish() {
	close(traffic.stop)
	traffic.done.Wait()
}

// check requires that received holds every delivered publication once, in
// publication order, and no failed one unless it failed by its timeout (Redis may
// have run it before the answer came late: PublishToChannel says so).
func (traffic *traffic) check(t *testing.T, channel string, received []string) {
	t.Helper()
	seen := make(map[string]bool, len(received))
	last := -1
	for _, payload := range received {
		if seen[payload] {
			t.Fatalf("%s: %s was delivered twice", channel, payload)
		}
		seen[payload] = true
		if err := traffic.failed[payload]; err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: %s was delivered although its publication failed with %v", channel, payload, err)
		}
		var index int
		if _, err := fmt.Sscanf(payload, `{"n":%d}`, &index); err != nil || index <= last {
			t.Fatalf("%s: %s arrived after {\"n\":%d}", channel, payload, last)
		}
		last = index
	}
	for payload := range traffic.delivered {
		if !seen[payload] {
			t.Fatalf("%s: %s was published to a subscriber but never arrived", channel, payload)
		}
	}
}

// TestAMasterDownFailsOnlyItsSlotsAndNothingIsDeliveredTwice kills the master of a
// channel's and a user's slots during traffic and checks docs/cluster.md's promise:
// operations on its slots fail (publications with ErrUnavailable, connects fall
// back to the local limit), every other slot keeps working, the master's channels
// are subscribed again once it is back, the counts it lost are rewritten, and no
// publication arrives twice or out of order.
func TestAMasterDownFailsOnlyItsSlotsAndNothingIsDeliveredTwice(t *testing.T) {
	redis := redistest.StartCluster(t, 3)
	url := redis.URL()
	probe, _ := startChannelNode(t, url)
	doomed := redis.Masters[0]
	for _, candidate := range redis.Masters {
		if candidate != redis.MasterOf(probe.keys.broadcast) && candidate != redis.MasterOf(probe.keys.nodes) {
			doomed = candidate
			break
		}
	}
	// Two nodes whose own channels (to:<tag>) are not on the doomed master.
	var nodes []*Node
	var receivers []*recorder
	for len(nodes) < 2 {
		node, receiver := startChannelNode(t, url)
		if redis.MasterOf(node.keys.inbox) == doomed {
			node.Close()
			continue
		}
		nodes, receivers = append(nodes, node), append(receivers, receiver)
	}
	a, b, atB := nodes[0], nodes[1], receivers[1]
	name := func(base string, onDoomed bool) string {
		for index := 0; ; index++ {
			candidate := base + strconv.Itoa(index)
			if (redis.MasterOf(a.keys.channel(candidate)) == doomed) == onDoomed &&
				(redis.MasterOf(a.keys.user(candidate)) == doomed) == onDoomed {
				return candidate
			}
		}
	}
	down, up := name("down-", true), name("up-", false)
	atB.subscribe(down)
	atB.subscribe(up)
	waitFor(t, 3*time.Second, "B to receive both channels", func() bool {
		return b.interest.isConfirmed(down) && b.interest.isConfirmed(up)
	})
	for _, user := range []string{down, up} {
		if !acquire(t, a, user, 0) {
			t.Fatalf("%s's connection was refused", user)
		}
	}
	toDown, toUp := startTraffic(a, down), startTraffic(a, up)
	waitFor(t, 3*time.Second, "traffic on both channels", func() bool {
		downDelivered, _ := toDown.counts()
		upDelivered, _ := toUp.counts()
		return downDelivered >= 10 && upDelivered >= 10
	})

	doomed.Kill()
	killed := time.Now()
	upBefore, _ := toUp.counts()
	waitFor(t, 5*time.Second, "publications to the dead master's channel to fail while the others go on", func() bool {
		_, downFailed := toDown.counts()
		upDelivered, _ := toUp.counts()
		return downFailed >= 3 && upDelivered >= upBefore+50
	})
	if _, err := a.Acquire(down, 0); err == nil {
		t.Fatal("a connect of a user on the dead master's slots reached Redis")
	}
	if !acquire(t, a, up, 0) {
		t.Fatal("a connect of a user on a live master was refused")
	}
	if count, _, _, err := b.Totals(context.Background()); err != nil || count != 3 {
		t.Fatalf("Totals while a master is down: %d nodes, %v; want 3 (the nodes index is on a live master)", count, err)
	}
	if _, err := a.PublishToChannel(context.Background(), down, []byte(`{}`)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a publication to the dead master's channel: %v; want ErrUnavailable", err)
	}
	if !a.Healthy() || !b.Healthy() {
		t.Fatal("a node whose own channels are on live masters reports unhealthy")
	}

	doomed.Restart()
	redis.WaitReady()
	_, failedBefore := toDown.counts()
	downBefore, _ := toDown.counts()
	waitFor(t, 10*time.Second, "the dead master's channel to be received again", func() bool {
		downDelivered, _ := toDown.counts()
		return downDelivered >= downBefore+10
	})
	t.Logf("the channel on the killed master was received again %v after the kill (%d publications failed meanwhile)",
		time.Since(killed).Round(time.Millisecond), failedBefore)
	toDown.finish()
	toUp.finish()

	client := inspector(t, url)
	waitFor(t, 5*testLease, "the counts lost with the master to be rewritten", func() bool {
		return fieldOf(t, client, a, down) == 2 && fieldOf(t, client, a, up) == 2
	})
	for channel, published := range map[string]*traffic{down: toDown, up: toUp} {
		deliveredCount, _ := published.counts()
		waitFor(t, 3*time.Second, "every delivered publication to arrive", func() bool {
			return len(atB.received(channel)) >= deliveredCount
		})
		published.check(t, channel, atB.received(channel))
	}
}
