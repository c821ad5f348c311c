package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/internal/redistest"
	"github.com/wsgate/wsgate/internal/tcpproxy"
	"github.com/wsgate/wsgate/presence"
)

// startPresenceNode starts a node on url and returns it with its recorder.
func startPresenceNode(t *testing.T, url string) (*Node, *recorder) {
	t.Helper()
	node, receiver := newNode(t, Config{RedisURL: url})
	node.Start(receiver.hub, receiver)
	return node, receiver
}

// report hands node the presence of user in channel on it: connections (0: gone).
func report(node *Node, channel, user string, connections int) {
	node.ReportPresence(presence.Change{Channel: channel, User: user, Connections: connections})
}

// walkPresence reads every page of channel through node with limit, failing the
// test if a user appears twice or a page's totals disagree with stats.
func walkPresence(t *testing.T, node *Node, channel string, limit int) (users map[string]int, pages int, last presence.Page) {
	t.Helper()
	users = make(map[string]int)
	cursor := ""
	for {
		page, err := node.Presence(context.Background(), channel, limit, cursor)
		if err != nil {
			t.Fatalf("Presence(%q, %d, %q): %v", channel, limit, cursor, err)
		}
		if len(page.Users) > limit {
			t.Fatalf("a page of limit %d holds %d users", limit, len(page.Users))
		}
		pages++
		for user, count := range page.Users {
			if _, seen := users[user]; seen {
				t.Fatalf("user %q listed twice", user)
			}
			users[user] = count
		}
		if page.Cursor == "" {
			return users, pages, page
		}
		cursor = page.Cursor
	}
}

// statsAre reports whether channel's stats through node are users and
// connections; an error (Redis too slow on a loaded machine) is reported as a
// mismatch, so that a poll tries again.
func statsAre(t *testing.T, node *Node, channel string, users, connections int) bool {
	t.Helper()
	gotUsers, gotConnections, err := node.PresenceStats(context.Background(), channel)
	if err != nil {
		t.Logf("PresenceStats: %v", err)
		return false
	}
	return gotUsers == users && gotConnections == connections
}

// presenceIs reports whether channel's presence through node (its first page of
// up to 1000 users) is want; an error counts as a mismatch, as in statsAre.
func presenceIs(t *testing.T, node *Node, channel string, want map[string]int) bool {
	t.Helper()
	page, err := node.Presence(context.Background(), channel, presence.MaxPageSize, "")
	if err != nil {
		t.Logf("Presence: %v", err)
		return false
	}
	return maps.Equal(page.Users, want)
}

// sumTransitions adds up the joins and leaves of channel that the recorders received.
func sumTransitions(channel string, receivers ...*recorder) (joins, leaves map[string]int) {
	joins, leaves = make(map[string]int), make(map[string]int)
	for _, receiver := range receivers {
		nodeJoins, nodeLeaves := receiver.transitionsOf(channel)
		for user, count := range nodeJoins {
			joins[user] += count
		}
		for user, count := range nodeLeaves {
			leaves[user] += count
		}
	}
	return joins, leaves
}

func TestPresenceAcrossThreeNodes(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		var nodes [3]*Node
		var receivers [3]*recorder
		for index := range nodes {
			nodes[index], receivers[index] = startPresenceNode(t, url)
		}
		// 300 users: user i is on node i%3 with 1 + i%4 connections, and every fifth
		// user also on the next node with 2, so that totals add across nodes.
		want := make(map[string]int)
		connections := 0
		for index := range 300 {
			user := fmt.Sprintf("user-%03d", index)
			report(nodes[index%3], "room", user, 1+index%4)
			want[user] = 1 + index%4
			if index%5 == 0 {
				report(nodes[(index+1)%3], "room", user, 2)
				want[user] += 2
			}
			connections += want[user]
		}
		report(nodes[0], "other", "user-000", 1)
		waitFor(t, 5*time.Second, "every node's presence to reach Redis", func() bool {
			return statsAre(t, nodes[2], "room", 300, connections)
		})
		for _, node := range nodes {
			listed, pages, last := walkPresence(t, node, "room", 7)
			if !maps.Equal(listed, want) {
				t.Fatalf("pages listed %d users, want %d with their counts summed across nodes", len(listed), len(want))
			}
			if pages != 43 || last.TotalUsers != 300 || last.TotalConnections != connections {
				t.Fatalf("%d pages, totals %d users %d connections; want 43 pages, 300 and %d", pages,
					last.TotalUsers, last.TotalConnections, connections)
			}
		}
		if !statsAre(t, nodes[1], "other", 1, 1) {
			t.Fatal("a second channel's stats are wrong")
		}
		// A node reports the transitions right after Redis answered its script, so
		// they may follow the stats by a moment.
		var joins, leaves map[string]int
		waitFor(t, 5*time.Second, "300 users to join", func() bool {
			joins, leaves = sumTransitions("room", receivers[:]...)
			return len(joins) == 300
		})
		if len(leaves) != 0 {
			t.Fatalf("%d users left; want none", len(leaves))
		}
		for user, count := range joins {
			if count != 1 {
				t.Fatalf("%s joined %d times across the nodes, want once (a user on two nodes joins once)", user, count)
			}
		}

		// user-000 leaves node 0 but stays on node 1; user-001 leaves node 1, its only one.
		report(nodes[0], "room", "user-000", 0)
		report(nodes[1], "room", "user-001", 0)
		connections -= want["user-001"] + 1
		waitFor(t, 5*time.Second, "the leaves to reach Redis", func() bool {
			return statsAre(t, nodes[0], "room", 299, connections)
		})
		waitFor(t, 5*time.Second, "a leave to be reported", func() bool {
			joins, leaves = sumTransitions("room", receivers[:]...)
			return len(leaves) > 0
		})
		if !maps.Equal(leaves, map[string]int{"user-001": 1}) || len(joins) != 300 {
			t.Fatalf("leaves %v; want user-001 once (user-000 is still on another node)", leaves)
		}
		page, err := nodes[2].Presence(context.Background(), "room", 1, "")
		if err != nil || page.Users["user-000"] != 2 {
			t.Fatalf("user-000 on one node: %v, %v; want 2 connections", page.Users, err)
		}
	})
}

func TestPresencePagesAreBoundedAndCursorsChecked(t *testing.T) {
	redis := redistest.Start(t)
	node, _ := startPresenceNode(t, redis.URL())
	for index := range presence.MaxPageSize + 5 {
		report(node, "big", fmt.Sprintf("u%05d", index), 1)
	}
	waitFor(t, 5*time.Second, "the presence to reach Redis", func() bool {
		return statsAre(t, node, "big", presence.MaxPageSize+5, presence.MaxPageSize+5)
	})
	page, err := node.Presence(context.Background(), "big", 5000, "")
	if err != nil || len(page.Users) != presence.MaxPageSize || page.Cursor == "" {
		t.Fatalf("limit 5000: %d users, cursor %q, %v; want %d and a cursor", len(page.Users), page.Cursor, err,
			presence.MaxPageSize)
	}
	page, err = node.Presence(context.Background(), "big", 0, "")
	if err != nil || len(page.Users) != presence.DefaultPageSize {
		t.Fatalf("limit 0: %d users, %v; want %d", len(page.Users), err, presence.DefaultPageSize)
	}
	if _, err := node.Presence(context.Background(), "big", 10, "u00001"); !errors.Is(err, presence.ErrInvalidCursor) {
		t.Fatalf("a made-up cursor: %v; want presence.ErrInvalidCursor", err)
	}
	page, err = node.Presence(context.Background(), "empty", 10, "")
	if err != nil || len(page.Users) != 0 || page.Cursor != "" || page.TotalUsers != 0 {
		t.Fatalf("an empty channel: %+v, %v", page, err)
	}
}

func TestACrashedNodesPresenceLeavesWithinItsLease(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		survivor, atSurvivor := startPresenceNode(t, url)
		doomed, atDoomed := startPresenceNode(t, url)
		report(doomed, "room", "alone", 2)
		report(doomed, "room", "shared", 1)
		report(survivor, "room", "shared", 1)
		report(doomed, "hall", "alone", 1)
		waitFor(t, 5*time.Second, "the presence to reach Redis", func() bool {
			return statsAre(t, survivor, "room", 2, 4) && statsAre(t, survivor, "hall", 1, 1)
		})

		crashed := time.Now()
		crash(doomed)
		waitFor(t, testLease+testLease/3+2*time.Second, "the crashed node's users to leave", func() bool {
			return statsAre(t, survivor, "room", 1, 1) && statsAre(t, survivor, "hall", 0, 0)
		})
		t.Logf("the crashed node's presence left %v after the crash (lease %v, sweep every %v)",
			time.Since(crashed).Round(time.Millisecond), testLease, testLease/3)
		var joins, leaves, hallLeaves map[string]int
		waitFor(t, 5*time.Second, "the survivor to report the leaves", func() bool {
			joins, leaves = sumTransitions("room", atSurvivor, atDoomed)
			_, hallLeaves = atSurvivor.transitionsOf("hall")
			return len(leaves) > 0 && len(hallLeaves) > 0
		})
		if !maps.Equal(leaves, map[string]int{"alone": 1}) || len(joins) != 2 {
			t.Fatalf("room: joins %v, leaves %v; want alone and shared joined, alone left once", joins, leaves)
		}
		if !maps.Equal(hallLeaves, map[string]int{"alone": 1}) {
			t.Fatalf("hall leaves reported by the survivor: %v; want alone", hallLeaves)
		}
		listed, _, _ := walkPresence(t, survivor, "room", 10)
		if !maps.Equal(listed, map[string]int{"shared": 1}) {
			t.Fatalf("room after the crash: %v; want shared with 1", listed)
		}
		client := inspector(t, url)
		waitFor(t, 2*time.Second, "the sweep to drop the dead incarnation", func() bool {
			members, err := client.Do(context.Background(), client.B().Zrange().Key(survivor.keys.presenceIndex()).
				Min("0").Max("-1").Build()).AsStrSlice()
			return err == nil && len(members) == 1 && strings.HasPrefix(members[0], survivor.keys.tag+".")
		})
		if survivor.Counters().PresenceSwept != 3 {
			t.Fatalf("PresenceSwept = %d; want 3 contributions", survivor.Counters().PresenceSwept)
		}
	})
}

func TestCloseTakesTheNodesPresenceAway(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		stays, _ := startPresenceNode(t, url)
		leaves, atLeaves := startPresenceNode(t, url)
		report(leaves, "room", "carol", 1)
		report(stays, "room", "dan", 1)
		waitFor(t, 5*time.Second, "the presence to reach Redis", func() bool { return statsAre(t, stays, "room", 2, 2) })
		leaves.Close()
		if !statsAre(t, stays, "room", 1, 1) {
			t.Fatal("the closed node's user is still present")
		}
		if _, left := atLeaves.transitionsOf("room"); !maps.Equal(left, map[string]int{"carol": 1}) {
			t.Fatalf("the closing node reported leaves %v; want carol", left)
		}
		client := inspector(t, url)
		// One key per EXISTS: the two are in different slots under Redis Cluster.
		for _, key := range []string{leaves.keys.presenceChannels(leaves.presence.incarnation),
			leaves.keys.presenceChannelKeys("room", leaves.presence.incarnation)[0]} {
			exists, err := client.Do(context.Background(), client.B().Exists().Key(key).Build()).AsInt64()
			if err != nil || exists != 0 {
				t.Fatalf("the closed node's %s still exists (%d, %v)", key, exists, err)
			}
		}
	})
}

func TestPresenceIsRewrittenAfterRedisRestartsEmpty(t *testing.T) {
	redis := redistest.Start(t)
	node, receiver := startPresenceNode(t, redis.URL())
	report(node, "room", "erin", 2)
	report(node, "room", "frank", 1)
	report(node, "room", "henry", 1)
	waitFor(t, 5*time.Second, "the presence to reach Redis", func() bool { return statsAre(t, node, "room", 3, 4) })

	redis.Kill()
	waitFor(t, 2*time.Second, "the node to notice Redis is gone", func() bool { return !node.Healthy() })
	// While Redis is down: henry leaves, grace joins, erin goes to 1 and back to 3;
	// frank does not change, so only a rewrite brings him back.
	report(node, "room", "henry", 0)
	report(node, "room", "grace", 1)
	report(node, "room", "erin", 1)
	report(node, "room", "erin", 3)
	if _, err := node.Presence(context.Background(), "room", 10, ""); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Presence with Redis down: %v; want ErrUnavailable", err)
	}
	redis.Restart()
	restarted := time.Now()
	// 0.3 s on a quiet machine; the deadline is generous because what is checked is
	// that the rewrite happens, and under -race on a loaded machine the probe, the
	// renewal and the rewrite took more than 3 s once in five runs.
	waitFor(t, 10*time.Second, "the node's presence to be rewritten into the empty Redis", func() bool {
		return presenceIs(t, node, "room", map[string]int{"erin": 3, "frank": 1, "grace": 1}) && statsAre(t, node, "room", 3, 5)
	})
	t.Logf("presence rewritten %v after Redis came back", time.Since(restarted).Round(time.Millisecond))
	if node.Counters().PresenceRewrites == 0 {
		t.Fatal("the presence came back without a rewrite")
	}
	// What the node wrote under its old incarnation before it found Redis empty
	// is swept: only the new incarnation stays, and the totals stay right.
	client := inspector(t, redis.URL())
	waitFor(t, 3*testLease, "the old incarnation to be swept", func() bool {
		members, err := client.Do(context.Background(), client.B().Zrange().Key(node.keys.presenceIndex()).
			Min("0").Max("-1").Build()).AsStrSlice()
		return err == nil && len(members) == 1 && members[0] != node.keys.tag+".1"
	})
	if !statsAre(t, node, "room", 3, 5) {
		t.Fatal("the sweep of the old incarnation changed the totals")
	}
	waitFor(t, 5*time.Second, "grace's join to be reported after the rewrite", func() bool {
		joins, _ := receiver.transitionsOf("room")
		return joins["grace"] == 1
	})
}

func TestPresenceChangesWaitThroughACutAndArriveAfter(t *testing.T) {
	redis := redistest.Start(t)
	path, err := tcpproxy.Start(redis.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = path.Close() })
	node, receiver := newNode(t, Config{RedisURL: "redis://" + path.Addr() + "/0", Lease: time.Minute})
	node.Start(receiver.hub, receiver)
	observer, _ := startPresenceNode(t, redis.URL())
	report(node, "room", "ivan", 1)
	waitFor(t, 5*time.Second, "the presence to reach Redis", func() bool { return statsAre(t, observer, "room", 1, 1) })

	path.Freeze()
	for index := range 50 {
		report(node, "room", fmt.Sprintf("judy-%02d", index), 1)
		report(node, "room", fmt.Sprintf("judy-%02d", index), 2)
	}
	report(node, "room", "ivan", 0)
	waitFor(t, 5*time.Second, "the node to notice Redis is gone", func() bool { return !node.Healthy() })
	path.Restore()
	waitFor(t, 10*time.Second, "the changes to arrive", func() bool { return statsAre(t, observer, "room", 50, 100) })
	if rewrites := node.Counters().PresenceRewrites; rewrites != 0 {
		t.Fatalf("PresenceRewrites = %d after a cut shorter than the lease; want 0 (the changes are re-sent)", rewrites)
	}
	listed, _, _ := walkPresence(t, observer, "room", 1000)
	if len(listed) != 50 || listed["judy-00"] != 2 {
		t.Fatalf("after the cut: %d users, judy-00 with %d; want 50 with 2 each", len(listed), listed["judy-00"])
	}
}

func TestUsersOnlineCountsEveryLiveNode(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		first, _ := startPresenceNode(t, url)
		second, _ := startPresenceNode(t, url)
		doomed, _ := startPresenceNode(t, url)
		acquire(t, first, "kim", 0)
		acquire(t, first, "kim", 0)
		acquire(t, second, "kim", 3)
		acquire(t, second, "lee", 0)
		acquire(t, doomed, "lee", 0)
		acquire(t, doomed, "max", 0)
		users := []string{"kim", "lee", "max", "nobody"}
		for _, node := range []*Node{first, second, doomed} {
			counts, err := node.UsersOnline(context.Background(), users)
			if err != nil || fmt.Sprint(counts) != "[3 2 1 0]" {
				t.Fatalf("UsersOnline: %v, %v; want [3 2 1 0]", counts, err)
			}
		}
		crash(doomed)
		waitFor(t, testLease+time.Second, "the crashed node's connections to stop counting", func() bool {
			counts, err := first.UsersOnline(context.Background(), users)
			return err == nil && fmt.Sprint(counts) == "[3 1 0 0]"
		})
		second.Release("kim")
		counts, err := second.UsersOnline(context.Background(), users)
		if err != nil || counts[0] != 2 {
			t.Fatalf("after a release on the asking node: %v, %v; want kim with 2 at once", counts, err)
		}
		if _, err := first.UsersOnline(context.Background(), make([]string, maxUsersOnline+1)); !errors.Is(err, ErrTooManyUsers) {
			t.Fatalf("1001 users: %v; want ErrTooManyUsers", err)
		}
	})
}

// A Node is the cluster half of the publisher's presence.
var _ delivery.PresenceCluster = (*Node)(nil)
