package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/wsgate/wsgate/api"
	"github.com/wsgate/wsgate/dashboard"
	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/session"
)

// newAPIWithDashboard returns an API with a dashboard over a fresh hub.
func newAPIWithDashboard(t *testing.T, apiKey string) *api.API {
	t.Helper()
	hub, err := session.NewHub(session.Config{})
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	publisher, err := delivery.NewPublisher(delivery.Config{Hub: hub})
	if err != nil {
		t.Fatal(err)
	}
	board, err := dashboard.New(dashboard.Config{Hub: hub, Publisher: publisher})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		board.Close()
		hub.Shutdown(time.Second)
	})
	handler, err := api.New(api.Config{Hub: hub, Publisher: publisher, APIKey: apiKey, Dashboard: board})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	return handler
}

func TestDashboardFollowsTheAccessRuleOfStats(t *testing.T) {
	const key = "a-key-for-the-dashboard"
	pages := []string{"/dashboard", "/dashboard/assets/dashboard.js"}
	data := []string{"/dashboard/api/search?q=alice", "/dashboard/api/events"}
	remote := "192.0.2.10:5000"

	withoutKey := newAPIWithDashboard(t, "")
	for _, path := range append(pages, data...) {
		if got := serve(withoutKey, "GET", path, remote, "", ""); got.Code != http.StatusForbidden {
			t.Errorf("GET %s from %s without a key configured: %d; want 403", path, remote, got.Code)
		}
	}
	for _, path := range pages {
		if got := serve(withoutKey, "GET", path, "127.0.0.1:5000", "", ""); got.Code != http.StatusOK {
			t.Errorf("GET %s from loopback without a key configured: %d; want 200", path, got.Code)
		}
	}

	withKey := newAPIWithDashboard(t, key)
	for _, path := range pages {
		if got := serve(withKey, "GET", path, remote, "", ""); got.Code != http.StatusOK {
			t.Errorf("GET %s from %s with a key configured: %d; want 200 (the page asks for the key)", path, remote, got.Code)
		}
	}
	for _, path := range data {
		if got := serve(withKey, "GET", path, remote, "Bearer wrong", ""); got.Code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong key: %d; want 401", path, got.Code)
		}
	}
	if got := serve(withKey, "GET", "/dashboard/api/search?q=alice", remote, "Bearer "+key, ""); got.Code != http.StatusOK {
		t.Errorf("search with the key: %d %s", got.Code, got.Body)
	}
	if got := serve(withKey, "POST", "/dashboard", remote, "", ""); got.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /dashboard: %d; want 405", got.Code)
	}
	if got := serve(newAPI(t, ""), "GET", "/dashboard", "127.0.0.1:5000", "", ""); got.Code != http.StatusNotFound {
		t.Errorf("GET /dashboard of an API without a dashboard: %d; want 404", got.Code)
	}
}
