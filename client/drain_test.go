package client_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/wsgate/wsgate/client"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/internal/testsupport/testnode"
	"github.com/wsgate/wsgate/session"
)

// startQuietGateway starts a node on a free port without a heartbeat: these tests
// count every close a client sees, and on a busy machine the other tests' 300 ms
// ping timeout can add one.
func startQuietGateway(t *testing.T, sessionConfig session.Config) *gateway.Gateway {
	t.Helper()
	return testnode.Start(t, gateway.Config{Session: sessionConfig})
}

// TestClientsMoveToAnotherNodeWhenTheirNodeDrains: clients behind a load balancer
// (a proxy that forwards new connections to the node whose /readyz is 200) follow a
// drain of their node: each gets 1001, waits a random part of GoingAwayDelay and
// reconnects, through the balancer, to the other node.
func TestClientsMoveToAnotherNodeWhenTheirNodeDrains(t *testing.T) {
	const clients, drain = 12, 600 * time.Millisecond
	draining := startQuietGateway(t, session.Config{})
	other := startQuietGateway(t, session.Config{})
	balancer := startProxy(t, draining.Addr().String())
	options := fastOptions(testsupport.WebSocketURL(balancer.Addr(), nil))
	running := make([]*running, clients)
	for index := range running {
		running[index] = startClient(t, options)
	}
	waitFor(t, 5*time.Second, "every client on the first node", func() bool { return draining.Hub.ConnectionCount() == clients })

	started := time.Now()
	if !draining.Drain(drain) {
		t.Fatal("Drain did not start")
	}
	response, err := http.Get("http://" + draining.Addr().String() + "/readyz")
	if err != nil {
		t.Fatalf("/readyz: %v", err)
	}
	_ = response.Body.Close()
	if response.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz of the draining node: %d, want 503", response.StatusCode)
	}
	balancer.SetTarget(other.Addr().String()) // what the balancer does on the 503

	waitFor(t, drain+5*time.Second, "every client welcomed on the other node", func() bool {
		for _, c := range running {
			if c.count("welcome") != 2 {
				return false
			}
		}
		return other.Hub.ConnectionCount() == clients && draining.Hub.ConnectionCount() == 0
	})
	var first, last time.Time
	for _, c := range running {
		closes := c.of("close")
		if len(closes) != 1 || closes[0].close.Code != client.CodeGoingAway || !closes[0].close.WillReconnect {
			t.Fatalf("closes %+v, want one 1001 with reconnect", closes)
		}
		if delay := c.of("reconnecting")[0].delay; delay > options.GoingAwayDelay {
			t.Fatalf("reconnect delay after 1001 %v, want at most GoingAwayDelay %v", delay, options.GoingAwayDelay)
		}
		at := closes[0].at
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	// The last batch is due at the end of the drain, never earlier.
	if last.Sub(started) < drain {
		t.Fatalf("the last client was closed %v after the drain started, before its %v", last.Sub(started), drain)
	}
	t.Logf("closes spread from %v to %v after the drain started", first.Sub(started).Round(time.Millisecond),
		last.Sub(started).Round(time.Millisecond))
}

// TestConnectRateRefusalIsRetriedWithBackoff: a node over its connect rate closes
// with 1013; the client backs off (not the short 1001 delay) and gets in once the
// bucket has a token again.
func TestConnectRateRefusalIsRetriedWithBackoff(t *testing.T) {
	// One token every 5 s, a bucket of one: the first client takes it, the second is
	// refused until the bucket refills.
	node := startQuietGateway(t, session.Config{MaxConnectsPerSecond: 0.2})
	address := testsupport.WebSocketURL(node.Addr().String(), nil)
	startClient(t, fastOptions(address))
	waitFor(t, 5*time.Second, "the first connection", func() bool { return node.Hub.ConnectionCount() == 1 })

	options := fastOptions(address)
	options.Rand = almostOne
	late := startClient(t, options)
	waitFor(t, 10*time.Second, "the second client to get in", func() bool { return late.count("welcome") == 1 })
	closes := late.of("close")
	if len(closes) == 0 || closes[0].close.Code != client.CodeTryAgainLater || closes[0].close.Reason != "too many connects" ||
		!closes[0].close.WillReconnect {
		t.Fatalf("closes %+v, want 1013 too many connects with reconnect first", closes)
	}
	// Backoff: attempt k waits up to BaseDelay x 2^(k-1), here the top of it.
	for index, reconnect := range late.of("reconnecting") {
		if want := min(options.BaseDelay<<index, options.MaxDelay); reconnect.delay < want*9/10 {
			t.Fatalf("reconnect %d waited %v, want the backoff's %v", index+1, reconnect.delay, want)
		}
	}
	if refused := node.Hub.Counters().Refused[session.ReasonConnectRate]; refused != uint64(len(closes)) {
		t.Fatalf("%d connects refused for the rate, want %d (one per close the client saw)", refused, len(closes))
	}
}
