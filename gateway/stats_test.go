package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/session"
)

func TestStatsListsTopUsersAndTruncates(t *testing.T) {
	n := startNode(t, gateway.Config{InsecureUserID: true, Session: session.Config{MaxConnectionsPerUser: session.Unlimited}})
	// user-k holds k connections, k = 1..6, plus two anonymous connections.
	for users := 1; users <= 6; users++ {
		for range users {
			n.dial(fmt.Sprintf("user-%d", users))
		}
	}
	n.dial("")
	n.dial("")
	waitFor(t, readTimeout, "23 connections", func() bool { return n.Hub.ConnectionCount() == 23 })

	full := n.stats("")
	if full.TotalConnections != 23 || full.TotalUsers != 6 || full.Truncated || len(full.ConnectionsByUser) != 6 {
		t.Fatalf("stats %+v", full)
	}
	for users := 1; users <= 6; users++ {
		if got := full.ConnectionsByUser[fmt.Sprintf("user-%d", users)]; got != users {
			t.Fatalf("user-%d has %d connections in stats", users, got)
		}
	}
	top := n.stats("?limit=2")
	if !top.Truncated || len(top.ConnectionsByUser) != 2 || top.ConnectionsByUser["user-6"] != 6 || top.ConnectionsByUser["user-5"] != 5 {
		t.Fatalf("top 2 = %+v, want user-6 and user-5, truncated", top)
	}
	one := n.stats("?user_id=user-3")
	if one.UserID != "user-3" || one.ConnectionsByUser["user-3"] != 3 || len(one.ConnectionIDs) != 3 {
		t.Fatalf("user stats = %+v", one)
	}
	if none := n.stats("?user_id=nobody"); none.ConnectionsByUser["nobody"] != 0 || len(none.ConnectionIDs) != 0 {
		t.Fatalf("unknown user stats = %+v", none)
	}
	var problem map[string]string
	if status := getJSON(t, n.httpURL("/api/v1/ws/stats?limit=-1"), &problem); status != http.StatusBadRequest || problem["error"] != "invalid_limit" {
		t.Fatalf("bad limit: %d %v", status, problem)
	}
}

func TestHealthz(t *testing.T) {
	n := startNode(t, gateway.Config{})
	var body map[string]string
	if status := getJSON(t, n.httpURL("/healthz"), &body); status != http.StatusOK || body["status"] != "ok" {
		t.Fatalf("healthz %d %v", status, body)
	}
	if status := getJSON(t, n.httpURL("/nope"), &body); status != http.StatusNotFound || body["error"] != "not_found" {
		t.Fatalf("unknown route %d %v", status, body)
	}
}

// nodeTotals is the node part of the stats document.
type nodeTotals struct {
	UptimeSeconds       float64           `json:"uptime_seconds"`
	ConnectionsAccepted uint64            `json:"connections_accepted"`
	ConnectionsRefused  uint64            `json:"connections_refused"`
	RefusedByReason     map[string]uint64 `json:"refused_by_reason"`
	DisconnectsByReason map[string]uint64 `json:"disconnects_by_reason"`
	MessagesReceived    uint64            `json:"messages_received"`
	MessagesSent        uint64            `json:"messages_sent"`
}

func (n *node) totals(query string) nodeTotals {
	n.t.Helper()
	var totals nodeTotals
	if status := getJSON(n.t, n.httpURL("/api/v1/ws/stats"+query), &totals); status != http.StatusOK {
		n.t.Fatalf("stats status %d", status)
	}
	return totals
}

func TestStatsReportNodeTotals(t *testing.T) {
	n := startNode(t, gateway.Config{InsecureUserID: true, Session: session.Config{MaxConnectionsPerUser: 1}})
	var document map[string]any
	getJSON(t, n.httpURL("/api/v1/ws/stats"), &document)
	for _, field := range []string{"total_connections", "total_users", "connections_by_user", "uptime_seconds",
		"connections_accepted", "connections_refused", "refused_by_reason", "disconnects_by_reason",
		"messages_received", "messages_sent"} {
		if _, found := document[field]; !found {
			t.Fatalf("stats lack %q: %v", field, document)
		}
	}
	before := n.totals("")

	alice := n.dial("alice")
	// The client sees the upgrade answer a moment before the hub registers it.
	waitFor(t, readTimeout, "alice registered", func() bool { return len(n.Hub.UserSessions("alice")) == 1 })
	if code, _ := readClose(t, n.dial("alice"), readTimeout); code != 1008 {
		t.Fatalf("second connection of alice: close %d, want 1008", code)
	}
	send(t, alice, map[string]any{"type": "message", "content": 1})
	readMessage(t, alice, readTimeout)
	leaving := n.dial("bob")
	if err := leaving.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")); err != nil {
		t.Fatal(err)
	}
	readClose(t, leaving, readTimeout)
	var after nodeTotals
	waitFor(t, readTimeout, "the client close in the stats", func() bool {
		after = n.totals("")
		return after.DisconnectsByReason["client_close"] == 1 && after.UptimeSeconds > before.UptimeSeconds
	})
	for name, moved := range map[string][2]uint64{
		"connections_accepted":  {after.ConnectionsAccepted - before.ConnectionsAccepted, 2},
		"connections_refused":   {after.ConnectionsRefused - before.ConnectionsRefused, 1},
		"refused limit":         {after.RefusedByReason["limit"] - before.RefusedByReason["limit"], 1},
		"refused overload":      {after.RefusedByReason["overload"], 0},
		"disconnects kicked":    {after.DisconnectsByReason["kicked"], 0},
		"messages_received":     {after.MessagesReceived - before.MessagesReceived, 1},
		"messages_sent":         {after.MessagesSent - before.MessagesSent, 1},
		"refusal reasons shown": {uint64(len(after.RefusedByReason)), 9},
	} {
		if moved[0] != moved[1] {
			t.Errorf("%s: %d, want %d", name, moved[0], moved[1])
		}
	}
	if one := n.totals("?user_id=alice"); one.ConnectionsAccepted != 2 || one.MessagesSent != 1 {
		t.Errorf("the per-user stats lack the node totals: %+v", one)
	}
}

func TestProfilerIsServedToLoopback(t *testing.T) {
	n := startNode(t, gateway.Config{})
	response, err := http.Get(n.httpURL("/debug/pprof/heap?gc=1&debug=1"))
	if err != nil {
		t.Fatal(err)
	}
	defer response.Body.Close()
	body, _ := io.ReadAll(response.Body)
	if response.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("heap profile")) {
		t.Fatalf("pprof heap: %d %.80q", response.StatusCode, body)
	}
}

func TestProfilerCanBeTurnedOff(t *testing.T) {
	n := startNode(t, gateway.Config{DisableProfiling: true})
	if status, body := n.getText("/debug/pprof/heap?gc=1&debug=1", ""); status != http.StatusNotFound {
		t.Fatalf("pprof heap with profiling off: %d %.80q, want 404", status, body)
	}
}
