// Package testnode starts wsgate nodes for tests: on a free loopback port, quiet and
// without a heartbeat unless the test asks, shut down when the test ends. It is apart
// from testsupport because it imports gateway, which session's own tests cannot.
package testnode

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wsgate/wsgate/gateway"
)

// shutdownTimeout bounds a node's shutdown when its test ends.
const shutdownTimeout = 5 * time.Second

// Start starts a gateway with config and shuts it down when the test ends. Zero
// fields that a test rarely wants at their production default are set for tests:
// Engine.Addr "127.0.0.1:0" (a free loopback port; see Gateway.Addr), no heartbeat
// (a ping could come between a test's request and the answer it reads: the first
// ping of each connection comes at a random phase within the interval, however
// long), and a Logger that discards. It fails t if the node does not start.
func Start(t testing.TB, config gateway.Config) *gateway.Gateway {
	t.Helper()
	if config.Engine.Addr == "" {
		config.Engine.Addr = "127.0.0.1:0"
	}
	if config.Session.PingInterval == 0 {
		config.Session.PingInterval = -1 // negative: no heartbeat
	}
	if config.Logger == nil {
		config.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	node, err := gateway.New(config)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	if err := node.Start(); err != nil {
		t.Fatalf("gateway Start: %v", err)
	}
	t.Cleanup(func() { node.Shutdown(shutdownTimeout) })
	return node
}
