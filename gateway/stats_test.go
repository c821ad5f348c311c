package gateway_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/session"
)

func TestStatsListsTopUsersAndTruncates(t *testing.T) {
	n := startNode(t, gateway.Config{InsecureUserID: true, Session: session.Config{MaxConnectionsPerUser: 0}})
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
