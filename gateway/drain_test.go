package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/session"
)

// closeEvent is how one client's connection ended, as the client saw it.
type closeEvent struct {
	code int
	text string
	at   time.Time
}

// watchCloses reads every connection of conns until it ends, in one goroutine each,
// and delivers how each ended on the returned channel.
func watchCloses(conns []*websocket.Conn, timeout time.Duration) <-chan closeEvent {
	events := make(chan closeEvent, len(conns))
	for _, conn := range conns {
		go func() {
			_ = conn.SetReadDeadline(time.Now().Add(timeout))
			for {
				_, _, err := conn.ReadMessage()
				if err == nil {
					continue
				}
				event := closeEvent{code: -1, text: err.Error(), at: time.Now()}
				if closeError, ok := errors.AsType[*websocket.CloseError](err); ok {
					event.code, event.text = closeError.Code, closeError.Text
				}
				events <- event
				return
			}
		}()
	}
	return events
}

// dialMany connects count anonymous clients to n and waits until all are registered.
func (n *node) dialMany(count int) []*websocket.Conn {
	n.t.Helper()
	conns := make([]*websocket.Conn, count)
	for index := range conns {
		conns[index] = n.dial("")
	}
	waitFor(n.t, readTimeout, fmt.Sprintf("%d connections", count), func() bool { return n.Hub.ConnectionCount() == count })
	return conns
}

func TestDrainClosesConnectionsInBatchesSpreadOverItsDuration(t *testing.T) {
	const clients, duration = 60, 2 * time.Second
	n := startNode(t, gateway.Config{})
	conns := n.dialMany(clients)
	closes := watchCloses(conns, duration+readTimeout)

	requested := time.Now()
	status, body := n.apiCall("POST", "/api/v1/drain?duration="+duration.String(), "", nil)
	if status != http.StatusAccepted || body["started"] != true || body["status"] != "draining" ||
		body["connections_at_start"] != float64(clients) || body["duration_seconds"] != duration.Seconds() {
		t.Fatalf("POST /api/v1/drain: status %d, body %v; want 202, started, %d connections over %v", status, body, clients, duration)
	}
	if status, body := n.readiness(); status != http.StatusServiceUnavailable || body["status"] != "draining" {
		t.Fatalf("/readyz right after the drain started: %d %v, want 503 draining", status, body)
	}
	if code, text := readClose(t, n.dial(""), readTimeout); code != websocket.CloseGoingAway || text != "server shutting down" {
		t.Fatalf("a new connection during the drain got %d %q, want 1001 \"server shutting down\"", code, text)
	}
	waitFor(t, duration+readTimeout, "the drain to have closed some connections but not all", func() bool {
		closed := n.Hub.DrainStatus().Closed
		if closed == clients {
			t.Fatalf("the drain closed all %d connections between two looks 5 ms apart: not in batches", clients)
		}
		return closed > 0
	})
	var last time.Time
	for range clients {
		event := <-closes
		if event.code != websocket.CloseGoingAway || event.text != "server shutting down" {
			t.Fatalf("a connection ended with %d %q, want 1001 \"server shutting down\"", event.code, event.text)
		}
		if event.at.After(last) {
			last = event.at
		}
	}
	// The last batch is due at the drain's start plus its duration, never earlier.
	if spread := last.Sub(requested); spread < duration {
		t.Fatalf("the last connection was closed %v after the drain was asked for, before its duration %v", spread, duration)
	}
	waitFor(t, readTimeout, "the drain to be done", func() bool { return n.Hub.DrainStatus().Done })
	if drained := n.Hub.DrainStatus(); drained.Closed != clients || n.Hub.ConnectionCount() != 0 {
		t.Fatalf("drain status %+v with %d connections left, want %d closed and none left", drained, n.Hub.ConnectionCount(), clients)
	}
	var document struct {
		Draining        bool              `json:"draining"`
		Drain           map[string]any    `json:"drain"`
		RefusedByReason map[string]uint64 `json:"refused_by_reason"`
	}
	getJSON(t, n.httpURL("/api/v1/ws/stats"), &document)
	if !document.Draining || document.Drain["closed"] != float64(clients) || document.Drain["done"] != true ||
		document.RefusedByReason["shutdown"] != 1 {
		t.Fatalf("stats %+v, want draining, %d closed, done, and one connection refused with shutdown", document, clients)
	}
	_, metrics := n.getText("/metrics", "")
	for _, line := range []string{"wsgate_draining 1\n", fmt.Sprintf("wsgate_drain_closed %d\n", clients)} {
		if !strings.Contains(metrics, line) {
			t.Fatalf("/metrics lacks %q", line)
		}
	}
}

func TestDrainEndpointAnswersEveryRequest(t *testing.T) {
	n := startNode(t, gateway.Config{APIKey: testAPIKey})
	if status, body := n.apiCall("POST", "/api/v1/drain", "", nil); status != http.StatusUnauthorized || body["error"] != "unauthorized" {
		t.Fatalf("drain without the API key: %d %v, want 401", status, body)
	}
	for _, bad := range []string{"soon", "-1s", "2h", "30"} {
		if status, body := n.apiCall("POST", "/api/v1/drain?duration="+bad, testAPIKey, nil); status != http.StatusBadRequest ||
			body["error"] != "invalid_duration" {
			t.Fatalf("drain with duration %q: %d %v, want 400 invalid_duration", bad, status, body)
		}
	}
	if n.Hub.Draining() {
		t.Fatal("a refused drain request started a drain")
	}
	if status, _ := n.readiness(); status != http.StatusOK {
		t.Fatalf("/readyz before the drain: %d", status)
	}
	status, body := n.apiCall("POST", "/api/v1/drain", testAPIKey, nil)
	if status != http.StatusAccepted || body["duration_seconds"] != session.DefaultDrainDuration.Seconds() {
		t.Fatalf("drain: %d %v, want 202 over the default %v", status, body, session.DefaultDrainDuration)
	}
	status, body = n.apiCall("POST", "/api/v1/drain?duration=1s", testAPIKey, nil)
	if status != http.StatusOK || body["started"] != false || body["duration_seconds"] != session.DefaultDrainDuration.Seconds() {
		t.Fatalf("second drain: %d %v, want 200, not started, the first drain's duration", status, body)
	}
}

func TestDrainAndShutdownEndsAsSoonAsTheLastBatchIsClosed(t *testing.T) {
	const duration = 500 * time.Millisecond
	n := startNode(t, gateway.Config{})
	conns := n.dialMany(10)
	closes := watchCloses(conns, readTimeout)
	started := time.Now()
	if cut := n.DrainAndShutdown(duration, readTimeout); cut != 0 {
		t.Fatalf("%d sockets cut, want every client to complete its close handshake", cut)
	}
	took := time.Since(started)
	for range conns {
		if event := <-closes; event.code != websocket.CloseGoingAway {
			t.Fatalf("a connection ended with %d %q, want 1001", event.code, event.text)
		}
	}
	if took < duration {
		t.Fatalf("DrainAndShutdown returned after %v, before the drain's %v", took, duration)
	}
	if _, err := http.Get(n.httpURL("/healthz")); err == nil {
		t.Fatal("the node still answers HTTP after DrainAndShutdown")
	}
}

// refusal connects to n without credentials and returns the close code and text
// the server refused the connection with, as "1013 too many connects".
func refusal(t *testing.T, n *node) string {
	t.Helper()
	conn, _, err := n.dialWith(nil, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	code, text := readClose(t, conn, readTimeout)
	return fmt.Sprintf("%d %s", code, text)
}

func TestConnectsOverTheRateAreRefusedWith1013BeforeTheirToken(t *testing.T) {
	const rate, attempts = 5, 25
	n := startNode(t, gateway.Config{
		JWT:     auth.Config{Secret: []byte(testJWTSecret)},
		Session: session.Config{MaxConnectsPerSecond: rate},
	})
	// Without a token: a connect the rate lets through is refused as unauthorized
	// (4401), one over the rate with 1013, which shows its token was never looked at.
	outcomes := map[string]int{}
	started := time.Now()
	for range attempts {
		outcomes[refusal(t, n)]++
	}
	elapsed := time.Since(started)
	unauthorized, overRate := outcomes["4401 unauthorized"], outcomes["1013 too many connects"]
	if unauthorized+overRate != attempts {
		t.Fatalf("outcomes %v, want only 4401 unauthorized and 1013 too many connects", outcomes)
	}
	// The bucket starts with one second's worth and refills at the rate.
	if most := rate + int(elapsed.Seconds()*rate) + 1; unauthorized < rate || unauthorized > most {
		t.Fatalf("%d of %d connects got through in %v, want %d to %d", unauthorized, attempts, elapsed, rate, most)
	}
	var document struct {
		RefusedByReason map[string]uint64 `json:"refused_by_reason"`
	}
	getJSON(t, n.httpURL("/api/v1/ws/stats"), &document)
	if document.RefusedByReason["connect_rate"] != uint64(overRate) || document.RefusedByReason["unauthorized"] != uint64(unauthorized) {
		t.Fatalf("refused_by_reason %v, want connect_rate %d and unauthorized %d", document.RefusedByReason, overRate, unauthorized)
	}
	_, metrics := n.getText("/metrics", "")
	for _, line := range []string{
		fmt.Sprintf("wsgate_connections_refused_total{reason=\"connect_rate\"} %d\n", overRate),
		fmt.Sprintf("wsgate_max_connects_per_second %d\n", rate),
	} {
		if !strings.Contains(metrics, line) {
			t.Fatalf("/metrics lacks %q", line)
		}
	}
}

func TestConnectsUnderTheRateAreAllAdmitted(t *testing.T) {
	const clients = 40
	n := startNode(t, gateway.Config{Session: session.Config{MaxConnectsPerSecond: 2 * clients}})
	outcomes := make(chan string, clients)
	var group sync.WaitGroup
	for range clients {
		group.Go(func() {
			conn, _, err := n.dialWith(nil, nil)
			if err != nil {
				outcomes <- err.Error()
				return
			}
			_ = conn.WriteJSON(map[string]string{"type": "hello"})
			_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
			_, data, err := conn.ReadMessage()
			if err != nil {
				outcomes <- err.Error()
				return
			}
			outcomes <- string(data)
		})
	}
	group.Wait()
	close(outcomes)
	for outcome := range outcomes {
		if !strings.Contains(outcome, `"welcome"`) {
			t.Fatalf("a connect under the rate got %s, want a welcome", outcome)
		}
	}
	if refused := n.Hub.Counters().Refused[session.ReasonConnectRate]; refused != 0 {
		t.Fatalf("%d connects refused for the rate, want none", refused)
	}
}

// TestDrainingClusterNodeGivesItsUsersCountsBack: in a cluster, every connection a
// drain closes releases its user's count in Redis, so the user can connect to the
// other nodes up to the limit at once.
func TestDrainingClusterNodeGivesItsUsersCountsBack(t *testing.T) {
	redis, nodes := startCluster(t, 2, 2)
	nodes[0].dialWelcomed("amy")
	nodes[0].dialWelcomed("amy")
	if nodes[1].admitted("amy") {
		t.Fatal("amy got a third connection with limit 2 before the drain")
	}
	if !nodes[0].Drain(300 * time.Millisecond) {
		t.Fatal("Drain did not start")
	}
	inspector := redisClient(t, redis.URL())
	waitFor(t, readTimeout, "amy's counts to leave Redis", func() bool {
		fields, err := inspector.Do(context.Background(), inspector.B().Hlen().Key("wsgate:user:amy").Build()).AsInt64()
		return err == nil && fields == 0
	})
	nodes[1].dialWelcomed("amy")
	nodes[1].dialWelcomed("amy")
	if nodes[1].admitted("amy") {
		t.Fatal("amy got a third connection with limit 2 after moving")
	}
	waitFor(t, 2*clusterLease, "the cluster totals to show amy's two connections on the other node only", func() bool {
		status, body := nodes[1].clusterStats()
		return status == http.StatusOK && body["nodes"] == float64(2) && body["total_connections"] == float64(2)
	})
}
