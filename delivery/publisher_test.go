package delivery_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wsgate/wsgate/cluster"
	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/internal/redistest"
	"github.com/wsgate/wsgate/session"
)

// TestMain fails the package if a hub or a cluster node leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent(), redistest.IgnoreDelayedRefresh)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newHub(t *testing.T) *session.Hub {
	t.Helper()
	hub, err := session.NewHub(session.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Shutdown(0) })
	return hub
}

func TestPublisherNeedsAHub(t *testing.T) {
	if _, err := delivery.NewPublisher(delivery.Config{}); err == nil {
		t.Fatal("NewPublisher without a hub succeeded")
	}
}

// TestSingleNodeResultsCountThisNodeOnly: without a forwarder nothing is forwarded,
// and a connection or user that is not here is simply not reached.
func TestSingleNodeResultsCountThisNodeOnly(t *testing.T) {
	publisher, err := delivery.NewPublisher(delivery.Config{Hub: newHub(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	unknown := session.NewConnectionID()
	for name, result := range map[string]delivery.Result{
		"broadcast":          publisher.Broadcast(ctx, []byte(`{}`)),
		"send to user":       publisher.SendToUser(ctx, "nobody", []byte(`{}`)),
		"send to connection": publisher.SendToConnection(ctx, unknown, []byte(`{}`)),
		"kick connection":    publisher.KickConnection(ctx, unknown, "bye"),
		"kick user":          publisher.KickUser(ctx, "nobody", "bye"),
	} {
		if result != (delivery.Result{}) || result.Reached() {
			t.Errorf("%s on an empty single node: %+v, want nothing reached and nothing forwarded", name, result)
		}
	}
}

// TestClusterOutageDegradesToThisNode uses a real cluster node whose Redis does not
// answer: every delivery is still made here and reports the outage.
func TestClusterOutageDegradesToThisNode(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := listener.Addr().String()
	_ = listener.Close() // nothing listens there any more
	node, err := cluster.New(cluster.Config{RedisURL: "redis://" + address, Timeout: 100 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	hub := newHub(t)
	publisher, err := delivery.NewPublisher(delivery.Config{Hub: hub, Forwarder: node, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	elsewhere := session.NewTaggedConnectionID(session.NodeTag{1, 2, 3, 4, 5, 6})
	for name, result := range map[string]delivery.Result{
		"broadcast":          publisher.Broadcast(ctx, []byte(`{}`)),
		"send to user":       publisher.SendToUser(ctx, "ada", []byte(`{}`)),
		"send to connection": publisher.SendToConnection(ctx, elsewhere, []byte(`{}`)),
		"kick connection":    publisher.KickConnection(ctx, elsewhere, "bye"),
		"kick user":          publisher.KickUser(ctx, "ada", "bye"),
	} {
		if !result.Forwarded || !errors.Is(result.Err, cluster.ErrUnavailable) || result.Reached() {
			t.Errorf("%s without Redis: %+v, want it forwarded and failed with ErrUnavailable", name, result)
		}
	}
	mine := session.NewTaggedConnectionID(node.Tag())
	if result := publisher.SendToConnection(ctx, mine, []byte(`{}`)); result != (delivery.Result{}) {
		t.Errorf("send to a connection id of this node: %+v, want it looked up here only", result)
	}
}
