package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/rueidis"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/cluster"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/redistest"
	"github.com/wsgate/wsgate/internal/tcpproxy"
)

// startChannelCluster starts count nodes joined through the Redis at redisURL, where clients may
// publish to the "chat" namespace's channels they subscribe to, and returns them
// with a Redis client for looking into the subscriptions.
func startChannelCluster(t *testing.T, redisURL string, count int) ([]*node, rueidis.Client) {
	t.Helper()
	nodes := make([]*node, count)
	for index := range nodes {
		nodes[index] = startClusterNodeWith(t, redisURL, gateway.Config{
			Namespaces: []channels.NamespaceOptions{{Name: "chat", Publish: channels.PublishSubscribers}},
		})
	}
	return nodes, redisClient(t, redisURL)
}

// receivingNodes returns how many nodes Redis sends channel's publications to: the
// subscribers of its Redis shard channel (cluster.DefaultPrefix + "ch:{" + channel +
// "}").
func receivingNodes(t *testing.T, inspector rueidis.Client, channel string) int64 {
	t.Helper()
	redisChannel := cluster.DefaultPrefix + "ch:{" + channel + "}"
	counts, err := inspector.Do(context.Background(), inspector.B().PubsubShardnumsub().Channel(redisChannel).Build()).AsIntMap()
	if err != nil {
		// rueidis does not retry PUBSUB SHARDNUMSUB on a connection broken by a Redis
		// restart, as it does NUMSUB: the caller polls again.
		t.Logf("PUBSUB SHARDNUMSUB %s: %v", redisChannel, err)
		return -1
	}
	return counts[redisChannel]
}

// waitForReceivingNodes polls until Redis sends channel to want nodes and each node
// in confirmed has Redis's confirmation of as many channels as given, so that the
// publishing node's count of the other nodes is exact (docs/cluster.md).
func waitForReceivingNodes(t *testing.T, inspector rueidis.Client, channel string, want int64, confirmed map[*node]uint64) {
	t.Helper()
	waitFor(t, readTimeout, fmt.Sprintf("Redis to send %q to %d nodes", channel, want), func() bool {
		return receivingNodes(t, inspector, channel) == want
	})
	for n, channels := range confirmed {
		waitFor(t, readTimeout, fmt.Sprintf("a node to hold %d confirmed channels", channels), func() bool {
			return n.Cluster.Counters().ChannelSubscriptions == channels
		})
	}
}

// publishThrough publishes data (raw JSON) to channel through n's API and requires
// 200 with queued and nodes as given.
func (n *node) publishThrough(channel, data string, queued, nodes int) {
	n.t.Helper()
	status, body := n.apiCall("POST", "/api/v1/channels/"+url.PathEscape(channel)+"/publish", "", `{"data":`+data+`}`)
	if status != http.StatusOK || body["queued"] != float64(queued) || body["nodes"] != float64(nodes) || len(body) != 2 {
		n.t.Fatalf("publish to %q: status %d, body %v, want 200 {queued:%d, nodes:%d}", channel, status, body, queued, nodes)
	}
}

// publication is the exact frame a subscriber of channel receives for data.
func publication(channel, data string) string {
	return `{"type":"publication","channel":"` + channel + `","data":` + data + `}`
}

// expectChannelAnswer requires the next message on conn to be kind ("subscribed",
// "unsubscribed", "published") for channel, with reason (nil: none) and nothing else.
func expectChannelAnswer(t *testing.T, conn *websocket.Conn, kind, channel string, reason any) {
	t.Helper()
	got := readMessage(t, conn, readTimeout)
	want := 2
	if reason != nil {
		want = 3
	}
	if got["type"] != kind || got["channel"] != channel || got["reason"] != reason || len(got) != want {
		t.Fatalf("got %v, want %s for %q with reason %v", got, kind, channel, reason)
	}
}

// subscribeOnEachNode connects user <prefix><index> to each node and subscribes it
// to channel; it returns the connections in node order.
func subscribeOnEachNode(t *testing.T, nodes []*node, prefix, channel string) []*websocket.Conn {
	t.Helper()
	conns := make([]*websocket.Conn, 0, len(nodes))
	for index, n := range nodes {
		conn, _ := n.dialWelcomed(fmt.Sprintf("%s%d", prefix, index))
		subscribeTo(t, conn, channel)
		conns = append(conns, conn)
	}
	return conns
}

func TestClusterChannelPublicationsReachEverySubscriberOnce(t *testing.T) {
	redistest.Each(t, func(t *testing.T, url string) {
		nodes, inspector := startChannelCluster(t, url, 3)
		readers := subscribeOnEachNode(t, nodes, "reader", "news")
		bystander, _ := nodes[1].dialWelcomed("bystander")
		waitForReceivingNodes(t, inspector, "news", 3, map[*node]uint64{nodes[0]: 1, nodes[1]: 1, nodes[2]: 1})

		nodes[0].publishThrough("news", `{"score": "2-1"}`, 1, 2)
		for _, reader := range readers {
			receiveExactly(t, reader, publication("news", `{"score": "2-1"}`))
		}
		status, body := nodes[2].apiCall("POST", "/api/v1/publish", "", `{"publications":[
			{"channel":"news","data":1},{"channel":"nobody","data":2}]}`)
		if results, _ := body["results"].([]any); status != http.StatusOK || len(results) != 2 ||
			fmt.Sprint(results[0]) != "map[nodes:2 queued:1]" || fmt.Sprint(results[1]) != "map[nodes:0 queued:0]" {
			t.Fatalf("batch through the third node: status %d, body %v, want [{queued:1,nodes:2},{queued:0,nodes:0}]", status, body)
		}
		for _, reader := range readers {
			receiveExactly(t, reader, publication("news", "1"))
		}

		// A client's publication on the second node reaches the others once, and its
		// publisher not at all (publisher_receives is off).
		chatters := subscribeOnEachNode(t, nodes, "chatter", "chat:lobby")
		publisher, _ := nodes[1].dialWelcomed("publisher")
		subscribeTo(t, publisher, "chat:lobby")
		waitForReceivingNodes(t, inspector, "chat:lobby", 3, map[*node]uint64{nodes[0]: 2, nodes[1]: 2, nodes[2]: 2})
		received := nodes[0].Cluster.Counters().ChannelReceived
		send(t, publisher, map[string]any{"type": "publish", "channel": "chat:lobby", "data": "hi", "id": 7})
		if got := readMessage(t, publisher, readTimeout); got["type"] != "published" || got["channel"] != "chat:lobby" || got["id"] != float64(7) {
			t.Fatalf("publisher got %v, want published with its id", got)
		}
		for _, chatter := range chatters {
			receiveExactly(t, chatter, publication("chat:lobby", `"hi"`))
		}
		expectNoDuplicates(t, append(append(readers, chatters...), publisher, bystander)...)
		if got := nodes[0].Cluster.Counters().ChannelReceived - received; got != 1 {
			t.Fatalf("the first node received %d publications from Redis for the client's publish, want 1", got)
		}
	})
}

func TestClusterNodeReceivesOnlyTheChannelsItsClientsSubscribe(t *testing.T) {
	redis := redistest.Start(t)
	nodes, inspector := startChannelCluster(t, redis.URL(), 3)
	reader, _ := nodes[0].dialWelcomed("reader")
	subscribeTo(t, reader, "quiet")
	idle, _ := nodes[2].dialWelcomed("idle")
	waitForReceivingNodes(t, inspector, "quiet", 1, map[*node]uint64{nodes[0]: 1})

	received := nodes[2].Cluster.Counters().Received
	nodes[1].publishThrough("quiet", `"only A"`, 0, 1)
	receiveExactly(t, reader, publication("quiet", `"only A"`))
	expectNoDuplicates(t, reader, idle)
	if got := nodes[2].Cluster.Counters().Received; got != received {
		t.Fatalf("the node without subscribers of the channel received %d messages from Redis, want none", got-received)
	}

	subscribeTo(t, idle, "quiet")
	waitForReceivingNodes(t, inspector, "quiet", 2, map[*node]uint64{nodes[0]: 1, nodes[2]: 1})
	var counted map[string]any
	if status := getJSON(t, nodes[1].httpURL("/api/v1/channels/quiet?scope=cluster"), &counted); status != http.StatusOK ||
		counted["nodes"] != float64(3) || counted["scope"] != "cluster" || counted["subscribers"] != float64(2) {
		t.Fatalf("cluster scope of the channel through a node without subscribers: status %d, body %v, want 2 subscribers on 3 nodes",
			status, counted)
	}
	if got := request(t, idle, map[string]any{"type": "unsubscribe", "channel": "quiet"}); got["type"] != "unsubscribed" {
		t.Fatalf("unsubscribe: got %v", got)
	}
	waitForReceivingNodes(t, inspector, "quiet", 1, map[*node]uint64{nodes[0]: 1, nodes[2]: 0})
	_ = reader.Close() // the last subscriber leaves by disconnecting
	waitForReceivingNodes(t, inspector, "quiet", 0, map[*node]uint64{nodes[0]: 0})
	nodes[1].publishThrough("quiet", `"nobody"`, 0, 0)
	expectNothingPending(t, idle)
}

func TestClusterServerSideSubscriptionsReachEveryNode(t *testing.T) {
	redis := redistest.Start(t)
	nodes, inspector := startChannelCluster(t, redis.URL(), 3)
	aliceOnB, _ := nodes[1].dialWelcomed("alice")
	aliceOnC, aliceOnCID := nodes[2].dialWelcomed("alice")
	bob, _ := nodes[1].dialWelcomed("bob")

	status, body := nodes[0].apiCall("POST", "/api/v1/users/alice/subscribe", "", `{"channel":"team:1"}`)
	if status != http.StatusOK || body["connections"] != float64(0) || body["nodes"] != float64(2) {
		t.Fatalf("subscribe alice through a node without her: status %d, body %v, want 200 {connections:0, nodes:2}", status, body)
	}
	expectChannelAnswer(t, aliceOnB, "subscribed", "team:1", nil)
	expectChannelAnswer(t, aliceOnC, "subscribed", "team:1", nil)
	waitForReceivingNodes(t, inspector, "team:1", 2, map[*node]uint64{nodes[1]: 1, nodes[2]: 1})
	nodes[0].publishThrough("team:1", `{"goal":1}`, 0, 2)
	receiveExactly(t, aliceOnB, publication("team:1", `{"goal":1}`))
	receiveExactly(t, aliceOnC, publication("team:1", `{"goal":1}`))

	status, body = nodes[0].apiCall("POST", "/api/v1/users/alice/unsubscribe", "", `{"channel":"team:1","reason":"left the team"}`)
	if status != http.StatusOK || body["connections"] != float64(0) || body["nodes"] != float64(2) {
		t.Fatalf("unsubscribe alice: status %d, body %v, want 200 {connections:0, nodes:2}", status, body)
	}
	expectChannelAnswer(t, aliceOnB, "unsubscribed", "team:1", "left the team")
	expectChannelAnswer(t, aliceOnC, "unsubscribed", "team:1", "left the team")
	waitForReceivingNodes(t, inspector, "team:1", 0, map[*node]uint64{nodes[1]: 0, nodes[2]: 0})

	path := "/api/v1/connections/" + aliceOnCID
	status, body = nodes[0].apiCall("POST", path+"/subscribe", "", `{"channel":"team:2"}`)
	if status != http.StatusOK || body["connections"] != float64(0) || body["nodes"] != float64(1) {
		t.Fatalf("subscribe a connection of the third node: status %d, body %v, want 200 {connections:0, nodes:1}", status, body)
	}
	expectChannelAnswer(t, aliceOnC, "subscribed", "team:2", nil)
	waitForReceivingNodes(t, inspector, "team:2", 1, map[*node]uint64{nodes[2]: 1})
	nodes[1].publishThrough("team:2", `2`, 0, 1)
	receiveExactly(t, aliceOnC, publication("team:2", `2`))
	status, body = nodes[0].apiCall("POST", path+"/unsubscribe", "", `{"channel":"team:2","reason":"moved"}`)
	if status != http.StatusOK || body["nodes"] != float64(1) {
		t.Fatalf("unsubscribe a connection of the third node: status %d, body %v", status, body)
	}
	expectChannelAnswer(t, aliceOnC, "unsubscribed", "team:2", "moved")
	expectNoDuplicates(t, aliceOnB, aliceOnC, bob)
}

func TestClusterChannelsDuringARedisOutage(t *testing.T) {
	redis := redistest.Start(t)
	nodes, inspector := startChannelCluster(t, redis.URL(), 2)
	first, _ := nodes[0].dialWelcomed("first")
	second, _ := nodes[0].dialWelcomed("second")
	remote, _ := nodes[1].dialWelcomed("remote")
	for _, conn := range []*websocket.Conn{first, second, remote} {
		subscribeTo(t, conn, "chat:live")
	}
	waitForReceivingNodes(t, inspector, "chat:live", 2, map[*node]uint64{nodes[0]: 1, nodes[1]: 1})

	redis.Kill()
	waitForReadiness(t, nodes, readTimeout, map[string]string{"status": "degraded"})
	status, body := nodes[0].apiCall("POST", "/api/v1/channels/chat%3Alive/publish", "", `{"data":"outage"}`)
	if status != http.StatusServiceUnavailable || body["error"] != "cluster_unavailable" || body["cluster"] != "unavailable" ||
		body["queued"] != float64(2) {
		t.Fatalf("publish during the outage: status %d, body %v, want 503 cluster_unavailable with queued 2", status, body)
	}
	receiveExactly(t, first, publication("chat:live", `"outage"`))
	receiveExactly(t, second, publication("chat:live", `"outage"`))
	status, body = nodes[0].apiCall("POST", "/api/v1/publish", "", `{"publications":[{"channel":"chat:live","data":"batch"}]}`)
	if results, _ := body["results"].([]any); status != http.StatusOK || len(results) != 1 ||
		results[0].(map[string]any)["error"] != "cluster_unavailable" || results[0].(map[string]any)["queued"] != float64(2) {
		t.Fatalf("batch during the outage: status %d, body %v, want its item to carry cluster_unavailable with queued 2", status, body)
	}
	receiveExactly(t, first, publication("chat:live", `"batch"`))
	var counted map[string]any
	if status := getJSON(t, nodes[0].httpURL("/api/v1/channels/chat%3Alive?scope=cluster"), &counted); status != http.StatusServiceUnavailable ||
		counted["error"] != "cluster_unavailable" || counted["scope"] != "node" || counted["subscribers"] != float64(2) {
		t.Fatalf("cluster scope of a channel during the outage: status %d, body %v, want 503 with this node's 2 subscribers", status, counted)
	}
	if status := getJSON(t, nodes[0].httpURL("/api/v1/channels?scope=cluster"), &counted); status != http.StatusServiceUnavailable ||
		counted["error"] != "cluster_unavailable" || counted["scope"] != "node" || counted["nodes"] != nil ||
		fmt.Sprint(counted["channels"]) != "[map[channel:chat:live subscribers:2]]" {
		t.Fatalf("cluster listing during the outage: status %d, body %v, want 503 with this node's chat:live of 2", status, counted)
	}
	receiveExactly(t, second, publication("chat:live", `"batch"`))
	send(t, first, map[string]any{"type": "publish", "channel": "chat:live", "data": "local"})
	receiveExactly(t, second, publication("chat:live", `"local"`))
	late, _ := nodes[1].dialWelcomed("late")
	subscribeTo(t, late, "chat:later") // subscribing needs no Redis

	redis.Restart()
	waitForReadiness(t, nodes, readTimeout, map[string]string{"status": "ready"})
	waitForReceivingNodes(t, inspector, "chat:live", 2, map[*node]uint64{nodes[0]: 1, nodes[1]: 2})
	waitForReceivingNodes(t, inspector, "chat:later", 1, nil)
	nodes[0].publishThrough("chat:live", `"back"`, 2, 1)
	nodes[0].publishThrough("chat:later", `"later"`, 0, 1)
	for _, conn := range []*websocket.Conn{first, second, remote} {
		receiveExactly(t, conn, publication("chat:live", `"back"`))
	}
	receiveExactly(t, late, publication("chat:later", `"later"`))
	expectNoDuplicates(t, first, second, remote, late)
}

// channelCounts returns n's GET /api/v1/channels{path}'s status and body.
func (n *node) channelCounts(path string) (int, map[string]any) {
	n.t.Helper()
	var body map[string]any
	status := getJSON(n.t, n.httpURL("/api/v1/channels"+path), &body)
	return status, body
}

func TestClusterChannelCountsSumEveryNode(t *testing.T) {
	redis := redistest.Start(t)
	nodes, _ := startChannelCluster(t, redis.URL(), 3)
	subscriptions := []struct {
		node     int
		user     string
		channels []string
	}{
		{0, "alice", []string{"chat:a"}}, {0, "alice", []string{"chat:a"}}, {0, "bob", []string{"chat:b"}},
		{1, "carol", []string{"chat:a", "chat:b"}},
		{2, "alice", []string{"chat:a"}}, {2, "dave", []string{"chat:c"}},
	}
	for _, subscription := range subscriptions {
		conn, _ := nodes[subscription.node].dialWelcomed(subscription.user)
		for _, channel := range subscription.channels {
			subscribeTo(t, conn, channel)
		}
	}
	for index, n := range nodes {
		status, body := n.channelCounts("/chat%3Aa?scope=cluster")
		// alice has connections on two nodes: users are summed per node.
		if status != http.StatusOK || fmt.Sprint(body) != "map[channel:chat:a nodes:3 scope:cluster subscribers:4 users:3]" {
			t.Fatalf("chat:a through node %d: status %d, body %v, want 4 subscribers and 3 users on 3 nodes", index, status, body)
		}
	}
	if status, body := nodes[1].channelCounts("/nobody?scope=cluster"); status != http.StatusOK ||
		fmt.Sprint(body) != "map[channel:nobody nodes:3 scope:cluster subscribers:0 users:0]" {
		t.Fatalf("a channel without subscribers: status %d, body %v", status, body)
	}
	status, body := nodes[2].channelCounts("?prefix=chat:&scope=cluster")
	if status != http.StatusOK || fmt.Sprint(body) !=
		"map[channels:[map[channel:chat:a subscribers:4] map[channel:chat:b subscribers:2] map[channel:chat:c subscribers:1]] "+
			"nodes:3 scope:cluster truncated:false]" {
		t.Fatalf("listing: status %d, body %v, want chat:a 4, chat:b 2, chat:c 1 from 3 nodes", status, body)
	}
	status, body = nodes[1].channelCounts("?prefix=chat:b&scope=cluster")
	if status != http.StatusOK || fmt.Sprint(body) != "map[channels:[map[channel:chat:b subscribers:2]] nodes:3 scope:cluster truncated:false]" {
		t.Fatalf("listing of prefix chat:b: status %d, body %v, want chat:b 2 from 3 nodes", status, body)
	}
	// Every node's top 2 holds chat:a; only the merged list exceeds the limit.
	status, body = nodes[0].channelCounts("?limit=2&scope=cluster")
	if status != http.StatusOK || fmt.Sprint(body) !=
		"map[channels:[map[channel:chat:a subscribers:4] map[channel:chat:b subscribers:2]] nodes:3 scope:cluster truncated:true]" {
		t.Fatalf("listing with limit 2: status %d, body %v, want chat:a 4, chat:b 2, truncated", status, body)
	}
}

func TestClusterChannelCountsArePartialWithoutADeadNode(t *testing.T) {
	redis := redistest.Start(t)
	proxy, err := tcpproxy.Start(redis.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	nodes, _ := startChannelCluster(t, redis.URL(), 2)
	doomed := startClusterNodeWith(t, "redis://"+proxy.Addr()+"/0", gateway.Config{})
	for _, n := range append(nodes, doomed) {
		conn, _ := n.dialWelcomed("")
		subscribeTo(t, conn, "chat:a")
	}
	if status, body := nodes[0].channelCounts("/chat%3Aa?scope=cluster"); status != http.StatusOK ||
		body["subscribers"] != float64(3) || body["nodes"] != float64(3) || body["partial"] != nil {
		t.Fatalf("before the crash: status %d, body %v, want 3 subscribers on 3 nodes", status, body)
	}

	_ = proxy.Close() // the doomed node loses Redis for good; its lease lives on for up to clusterLease
	var status int
	var body map[string]any
	waitFor(t, readTimeout, "an answer missing the crashed node", func() bool {
		status, body = nodes[1].channelCounts("/chat%3Aa?scope=cluster")
		return body["partial"] == true
	})
	if status != http.StatusOK || fmt.Sprint(body) != "map[channel:chat:a missing:1 nodes:2 partial:true scope:cluster subscribers:2 users:0]" {
		t.Fatalf("after the crash: status %d, body %v, want 2 subscribers from 2 nodes, 1 missing", status, body)
	}
	waitFor(t, readTimeout, "a listing missing the crashed node", func() bool {
		status, body = nodes[0].channelCounts("?scope=cluster")
		return body["partial"] == true
	})
	if status != http.StatusOK || fmt.Sprint(body) !=
		"map[channels:[map[channel:chat:a subscribers:2]] missing:1 nodes:2 partial:true scope:cluster truncated:false]" {
		t.Fatalf("listing after the crash: status %d, body %v, want chat:a 2 from 2 nodes, 1 missing", status, body)
	}
	waitFor(t, clusterLease+2*time.Second, "the crashed node's lease to expire", func() bool {
		status, body = nodes[0].channelCounts("/chat%3Aa?scope=cluster")
		return body["partial"] == nil
	})
	if status != http.StatusOK || body["nodes"] != float64(2) || body["subscribers"] != float64(2) {
		t.Fatalf("after the lease expired: status %d, body %v, want 2 subscribers on 2 nodes, complete", status, body)
	}
}
