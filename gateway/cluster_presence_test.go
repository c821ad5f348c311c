package gateway_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wsgate/wsgate/cluster"
	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/redistest"
)

// TestPresenceAcrossTwoNodes: a user joins once however many nodes hold her
// connections, and leaves when the last one goes; every node's stats, pages and
// user counts are the cluster's.
func TestPresenceAcrossTwoNodes(t *testing.T) {
	redis := redistest.Start(t)
	config := gateway.Config{InsecureUserID: true, Namespaces: presenceNamespaces,
		Cluster: cluster.Config{RedisURL: redis.URL(), Lease: clusterLease, Timeout: 500 * time.Millisecond}}
	first, second := startNode(t, config), startNode(t, config)
	for _, n := range []*node{first, second} {
		waitFor(t, readTimeout, "the node to join the cluster", n.Cluster.Healthy)
	}
	watcher := first.dial("watcher")
	subscribeAndJoin(t, watcher, "room:1", "watcher")
	// Joins travel as channel publications: the first node must receive the
	// channel from Redis before the second publishes alice's.
	waitFor(t, readTimeout, "the first node to receive room:1", func() bool {
		return first.Cluster.Counters().ChannelSubscriptions == 1
	})

	onSecond := second.dial("alice")
	subscribeAndJoin(t, onSecond, "room:1", "alice")
	expectEvent(t, watcher, "join", "room:1", "alice")
	onFirst := first.dial("alice")
	subscribeTo(t, onFirst, "room:1")
	first.waitPresence("room:1", 2, 3)
	second.waitPresence("room:1", 2, 3)
	expectNothingPending(t, watcher)
	page, err := second.Publisher.Presence(context.Background(), "room:1", 10, "")
	if err != nil || page.Users["alice"] != 2 || page.Users["watcher"] != 1 || page.TotalUsers != 2 {
		t.Fatalf("page from the second node: %+v, %v", page, err)
	}
	if _, err := first.Publisher.Presence(context.Background(), "room:1", 10, "made-up"); !errors.Is(err, delivery.ErrInvalidCursor) {
		t.Fatalf("a made-up cursor: %v; want delivery.ErrInvalidCursor", err)
	}
	counts, err := first.Publisher.UsersOnline(context.Background(), []string{"alice", "watcher", "nobody"})
	if err != nil || counts[0] != 2 || counts[1] != 1 || counts[2] != 0 {
		t.Fatalf("users online: %v, %v; want [2 1 0]", counts, err)
	}

	// The client's own queries, answered from Redis on a worker: both users with
	// their connections on either node.
	send(t, watcher, map[string]any{"type": "presence", "channel": "room:1", "id": 7})
	answer := readMessage(t, watcher, readTimeout)
	users, _ := answer["users"].(map[string]any)
	if answer["type"] != "presence" || answer["id"] != float64(7) || users["alice"] != float64(2) ||
		users["watcher"] != float64(1) || answer["total_connections"] != float64(3) {
		t.Fatalf("presence asked by a client: %v; want alice 2, watcher 1, 3 connections, id 7", answer)
	}
	send(t, watcher, map[string]any{"type": "presence_stats", "channel": "room:1", "id": 8})
	answer = readMessage(t, watcher, readTimeout)
	if answer["type"] != "presence_stats" || answer["id"] != float64(8) || answer["users"] != float64(2) ||
		answer["connections"] != float64(3) {
		t.Fatalf("presence_stats asked by a client: %v; want 2 users, 3 connections, id 8", answer)
	}

	_ = onSecond.Close()
	first.waitPresence("room:1", 2, 2)
	expectNothingPending(t, watcher)
	_ = onFirst.Close()
	expectEvent(t, watcher, "leave", "room:1", "alice")
	second.waitPresence("room:1", 1, 1)
}
