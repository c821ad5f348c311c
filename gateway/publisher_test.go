package gateway_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/cluster"
	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/engine"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/redistest"
)

// TestPublisherDeliversAcrossTheClusterWithoutHTTP drives Gateway.Publisher as a Go
// program embedding a node does: broadcast, send to a user and to a connection, kick
// a connection and a user each reach the connections of both nodes, and answer what
// they reached here and on the other node. (Publications to channels across nodes
// through the publisher: the cluster history tests, publishAbove.)
func TestPublisherDeliversAcrossTheClusterWithoutHTTP(t *testing.T) {
	redis, nodes := startCluster(t, 2, 0)
	publisher := nodes[0].Publisher
	here, _ := nodes[0].dialWelcomed("ada")
	there, thereID := nodes[1].dialWelcomed("bob")
	ctx := context.Background()

	result := publisher.Broadcast(ctx, []byte(`{"news":1}`))
	if result != (delivery.Result{Local: 1, Forwarded: true, Nodes: 1}) {
		t.Fatalf("broadcast: %+v, want one local connection and one other node", result)
	}
	receiveExactly(t, here, `{"news":1}`)
	receiveExactly(t, there, `{"news":1}`)

	if result := publisher.SendToUser(ctx, "bob", []byte(`{"to":"bob"}`)); result != (delivery.Result{Forwarded: true, Nodes: 1}) {
		t.Fatalf("send to bob: %+v, want no local connection and one other node", result)
	}
	receiveExactly(t, there, `{"to":"bob"}`)

	id := mustParse(t, thereID)
	if result := publisher.SendToConnection(ctx, id, []byte(`{"to":"conn"}`)); !result.Reached() || result.Local != 0 {
		t.Fatalf("send to bob's connection: %+v, want it reached on the other node", result)
	}
	receiveExactly(t, there, `{"to":"conn"}`)
	if result := publisher.KickConnection(ctx, id, "moved"); !result.Reached() || !result.Forwarded {
		t.Fatalf("kick of bob's connection: %+v, want it reached on the other node", result)
	}
	if code, text := readClose(t, there, readTimeout); code != 4403 || text != "moved" {
		t.Fatalf("kicked connection closed with %d %q, want 4403 \"moved\"", code, text)
	}
	cyd, _ := nodes[1].dialWelcomed("cyd")
	if result := publisher.KickUser(ctx, "cyd", "bye"); result != (delivery.Result{Forwarded: true, Nodes: 1}) {
		t.Fatalf("kick of cyd: %+v, want no local connection and one other node", result)
	}
	if code, text := readClose(t, cyd, readTimeout); code != 4403 || text != "bye" {
		t.Fatalf("cyd's connection closed with %d %q, want 4403 \"bye\"", code, text)
	}
	expectNoDuplicates(t, here)

	redis.Kill()
	waitFor(t, readTimeout, "the node to notice Redis is gone", func() bool { return !nodes[0].Cluster.Healthy() })
	result = publisher.Broadcast(ctx, []byte(`{"news":2}`))
	if result.Local != 1 || !errors.Is(result.Err, cluster.ErrUnavailable) || !result.Reached() {
		t.Fatalf("broadcast without Redis: %+v, want the local connection and ErrUnavailable", result)
	}
	receiveExactly(t, here, `{"news":2}`)
}

// TestClientBroadcastsCrossNodesByteForByte sends client broadcasts whose frames have
// a short, a 16-bit and a 64-bit length: the other node relays each as its JSON,
// without the frame header, and its client receives the same bytes.
func TestClientBroadcastsCrossNodesByteForByte(t *testing.T) {
	redis := redistest.Start(t)
	var nodes [2]*node
	for index := range nodes {
		nodes[index] = startNode(t, gateway.Config{
			Engine:  engine.Config{MaxMessageSize: 128 << 10},
			Cluster: cluster.Config{RedisURL: redis.URL(), Lease: clusterLease, Timeout: 500 * time.Millisecond},
		})
		waitFor(t, readTimeout, "the node to join the cluster", nodes[index].Cluster.Healthy)
	}
	sender, _ := nodes[0].dialWelcomed("")
	receiver, _ := nodes[1].dialWelcomed("")
	for _, size := range []int{3, 300, 70000} {
		message := `{"type":"broadcast","content":"` + strings.Repeat("x", size) + `"}`
		sendText(t, sender, message)
		receiveExactly(t, receiver, message)
	}
	expectNothingPending(t, sender)
}
