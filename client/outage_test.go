package client_test

import (
	"slices"
	"testing"
	"time"

	"github.com/wsgate/wsgate/client"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/session"
)

// reservedAddress returns a loopback address nothing listens on: a node started and
// shut down at once.
func reservedAddress(t *testing.T) string {
	t.Helper()
	node := startGateway(t, "127.0.0.1:0", session.Config{})
	address := node.Addr().String()
	node.Shutdown(time.Second)
	return address
}

func TestKilledServerClientReconnectsAndFlushesTheQueueInOrder(t *testing.T) {
	node := startGateway(t, "127.0.0.1:0", session.Config{})
	proxy := startProxy(t, node.Addr().String())
	c := startClient(t, fastOptions(testsupport.WebSocketURL(proxy.Addr(), nil)))
	waitFor(t, 5*time.Second, "welcome", func() bool { return c.count("welcome") == 1 })

	// A kill as the client sees it: every connection drops without a close frame and
	// nothing answers at the old address any more.
	proxy.SetTarget(reservedAddress(t))
	proxy.Cut()
	node.Shutdown(time.Second)
	waitFor(t, 5*time.Second, "three failed attempts", func() bool { return c.count("reconnecting") >= 3 })
	if first := c.of("close")[0].close; first.Code != client.CodeAbnormal || !first.WillReconnect {
		t.Fatalf("first close %+v, want 1006 with reconnect", first)
	}
	var attempts []int
	for _, e := range c.of("reconnecting") {
		attempts = append(attempts, e.attempt)
	}
	if !slices.Equal(attempts[:3], []int{1, 2, 3}) {
		t.Fatalf("attempts %v, want them to count up while the server is down", attempts)
	}
	for _, content := range []string{"one", "two", "three"} {
		if err := c.Send(map[string]any{"type": "message", "content": content}); err != nil {
			t.Fatalf("Send while offline: %v", err)
		}
	}

	restarted := startGateway(t, "127.0.0.1:0", session.Config{})
	proxy.SetTarget(restarted.Addr().String())
	waitFor(t, 10*time.Second, "the queued echoes", func() bool { return len(c.contents(t, "message")) == 3 })
	if got := c.contents(t, "message"); !slices.Equal(got, []any{"one", "two", "three"}) {
		t.Fatalf("echoes %v, want one two three in order", got)
	}
	c.echo(t, "works again")
}

func TestGracefulRestartOnTheSamePortReconnectsAfterAShortRandomDelay(t *testing.T) {
	node := startGateway(t, "127.0.0.1:0", session.Config{})
	address := node.Addr().String()
	options := fastOptions(testsupport.WebSocketURL(address, nil))
	options.Rand = almostOne
	c := startClient(t, options)
	waitFor(t, 5*time.Second, "welcome", func() bool { return c.count("welcome") == 1 })

	node.Shutdown(5 * time.Second)
	waitFor(t, 5*time.Second, "the going-away close", func() bool { return c.count("close") >= 1 })
	first := c.of("close")[0].close
	if first.Code != client.CodeGoingAway || first.Reason != "server shutting down" || !first.WillReconnect {
		t.Fatalf("close %+v, want 1001 server shutting down with reconnect", first)
	}
	if delay := c.of("reconnecting")[0].delay; delay > options.GoingAwayDelay {
		t.Fatalf("delay after 1001 was %v, want at most %v", delay, options.GoingAwayDelay)
	}

	startGateway(t, address, session.Config{})
	waitFor(t, 10*time.Second, "welcome from the restarted node", func() bool { return c.count("welcome") == 2 })
	c.echo(t, "after restart")
}

func TestFrozenNetworkIsDetectedWithinIntervalPlusTimeoutAndRecoversAfterRestore(t *testing.T) {
	node := startGateway(t, "127.0.0.1:0", session.Config{})
	proxy := startProxy(t, node.Addr().String())
	c := startClient(t, fastOptions(testsupport.WebSocketURL(proxy.Addr(), nil)))
	waitFor(t, 5*time.Second, "welcome", func() bool { return c.count("welcome") == 1 })

	frozenAt := time.Now()
	proxy.Freeze()
	waitFor(t, 5*time.Second, "the dead connection noticed", func() bool { return c.count("close") == 1 })
	noticed := c.of("close")[0]
	if noticed.close.Code != client.CodeHeartbeatTimeout || !noticed.close.WillReconnect {
		t.Fatalf("close %+v, want 4000 with reconnect", noticed.close)
	}
	const slack = 300 * time.Millisecond
	if after := noticed.at.Sub(frozenAt); after > pingInterval+pingTimeout+slack {
		t.Fatalf("noticed %v after the freeze, want within %v", after, pingInterval+pingTimeout+slack)
	}
	waitFor(t, 5*time.Second, "a reconnect attempt", func() bool { return c.count("reconnecting") >= 1 })
	if c.State() == client.StateOpen {
		t.Fatal("a connection opened through a frozen network")
	}

	proxy.Restore()
	waitFor(t, 10*time.Second, "welcome after restore", func() bool { return c.count("welcome") >= 2 })
	c.echo(t, "thawed")
}

func TestCutConnectionsReconnect(t *testing.T) {
	node := startGateway(t, "127.0.0.1:0", session.Config{})
	proxy := startProxy(t, node.Addr().String())
	c := startClient(t, fastOptions(testsupport.WebSocketURL(proxy.Addr(), nil)))
	waitFor(t, 5*time.Second, "welcome", func() bool { return c.count("welcome") == 1 })
	proxy.Cut()
	waitFor(t, 5*time.Second, "reopened", func() bool { return c.count("open") == 2 })
	if code := c.of("close")[0].close.Code; code != client.CodeAbnormal {
		t.Fatalf("close code %d after a cut, want 1006", code)
	}
	c.echo(t, "after the cut")
}
