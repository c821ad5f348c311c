package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/redistest"
)

func TestNodesListsEveryNodeWithItsStateUntilItIsSwept(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		self, other := startNode(t, url), startNode(t, url)
		// A node reports itself late while it is not yet Healthy (right after its start).
		waitFor(t, 3*testLease, "both nodes healthy", func() bool { return self.Healthy() && other.Healthy() })
		if _, err := other.Acquire("erin", 0); err != nil {
			t.Fatal(err)
		}
		nodes, err := self.Nodes(context.Background())
		if err != nil {
			t.Fatalf("Nodes: %v", err)
		}
		if len(nodes) != 2 || !nodes[0].Self || nodes[0].ID != self.ID() || nodes[0].State != NodeUp ||
			nodes[1].Self || nodes[1].ID != other.ID() || nodes[1].Tag != other.keys.tag || nodes[1].State != NodeUp {
			t.Fatalf("Nodes = %+v; want this node first, then the other, both up", nodes)
		}
		if nodes[1].LeaseLeftSeconds <= 0 || nodes[1].LeaseLeftSeconds > testLease.Seconds() {
			t.Fatalf("the other node's lease has %v s left; want within (0, %v]", nodes[1].LeaseLeftSeconds, testLease.Seconds())
		}
		crash(other)
		var states []NodeState
		waitFor(t, 3*testLease, "the crashed node to be late, then down or swept", func() bool {
			nodes, err := self.Nodes(context.Background())
			if err != nil {
				t.Fatalf("Nodes: %v", err)
			}
			if len(nodes) == 1 {
				return true
			}
			if len(states) == 0 || states[len(states)-1] != nodes[1].State {
				states = append(states, nodes[1].State)
			}
			return false
		})
		if len(states) == 0 || states[len(states)-1] == NodeUp {
			t.Fatalf("the crashed node went through %v before it was swept; want late or down at the end", states)
		}
		t.Logf("states of the crashed node until its sweep: %v (lease %v)", states, testLease)
	})
}

func TestNodesFailsAtOnceWhileRedisIsDown(t *testing.T) {
	redis := redistest.Start(t)
	node := startNode(t, redis.URL())
	redis.Kill()
	waitFor(t, 5*time.Second, "the node to notice the outage", func() bool { return !node.available() })
	if _, err := node.Nodes(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Nodes while Redis was down: %v; want ErrUnavailable", err)
	}
}
