package dashboard_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/internal/testsupport"
)

// get asks node for target with the given Authorization header (none when empty).
func get(t *testing.T, address, method, target, authorization string) (int, http.Header, string) {
	t.Helper()
	request, err := http.NewRequest(method, "http://"+address+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		request.Header.Set("Authorization", authorization)
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer response.Body.Close()
	body, _ := io.ReadAll(response.Body)
	return response.StatusCode, response.Header, string(body)
}

func TestWithAKeyThePageIsOpenAndItsDataNeedsTheKeyInTheHeaderOnly(t *testing.T) {
	const key = "dashboard-test-key-0123456789"
	logs := &testsupport.SyncBuffer{}
	node := startNode(t, key, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	address := node.Addr().String()

	status, header, page := get(t, address, "GET", "/dashboard", "")
	if status != http.StatusOK || header.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(header.Get("Content-Security-Policy"), "default-src 'none'") || !strings.Contains(page, "key-form") {
		t.Fatalf("GET /dashboard without a key: %d %v", status, header)
	}
	for _, file := range []string{"dashboard.js", "dashboard.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"} {
		if status, _, body := get(t, address, "GET", "/dashboard/assets/"+file, ""); status != http.StatusOK || len(body) == 0 {
			t.Fatalf("GET /dashboard/assets/%s: %d", file, status)
		}
	}
	if status, _, _ := get(t, address, "GET", "/dashboard/assets/missing.js", ""); status != http.StatusNotFound {
		t.Fatalf("a missing asset answered %d", status)
	}
	for _, target := range []string{"/dashboard/api/events", "/dashboard/api/search?q=alice"} {
		for _, authorization := range []string{"", "Bearer wrong-key", "Basic " + key} {
			if status, _, body := get(t, address, "GET", target, authorization); status != http.StatusUnauthorized || strings.Contains(body, key) {
				t.Fatalf("GET %s with %q: %d %s; want 401", target, authorization, status, body)
			}
		}
		// A key in the URL is no key: URLs end up in logs, histories and referrers.
		separator := map[bool]string{true: "&", false: "?"}[strings.Contains(target, "?")]
		for _, name := range []string{"key", "api_key", "access_token", "token"} {
			if status, _, _ := get(t, address, "GET", target+separator+name+"="+key, ""); status != http.StatusUnauthorized {
				t.Fatalf("GET %s with the key as ?%s=: %d; want 401", target, name, status)
			}
		}
	}
	if status, _, body := get(t, address, "GET", "/dashboard/api/search?q=alice", "Bearer "+key); status != http.StatusOK ||
		!strings.Contains(body, `"connections":[]`) {
		t.Fatalf("search with the key: %d %s", status, body)
	}
	events := openStream(t, node, "/dashboard/api/events", http.Header{"Authorization": {"Bearer " + key}})
	events.readHistory()
	events.sampleWhere("any", func(sample) bool { return true })
	if strings.Contains(logs.String(), key) || strings.Contains(logs.String(), "wrong-key") {
		t.Fatalf("a key reached the log:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "dashboard viewer connected") {
		t.Fatalf("the debug log shows no viewer; the check above would prove nothing:\n%s", logs)
	}
}

func TestWithoutAKeyTheDashboardAnswersLoopback(t *testing.T) {
	node := startNode(t, "", nil)
	for _, target := range []string{"/dashboard", "/dashboard/assets/dashboard.js", "/dashboard/api/search?q=x"} {
		if status, _, _ := get(t, node.Addr().String(), "GET", target, ""); status != http.StatusOK {
			t.Fatalf("GET %s from loopback without a key: %d", target, status)
		}
	}
	if status, _, body := get(t, node.Addr().String(), "GET", "/dashboard/api/search", ""); status != http.StatusBadRequest ||
		!strings.Contains(body, "invalid_query") {
		t.Fatalf("search without a query: %d %s", status, body)
	}
}

func TestSearchFindsConnectionsAndTheAPIKicksOne(t *testing.T) {
	const key = "dashboard-kick-key-0123456789"
	node := startNode(t, key, nil)
	address := node.Addr().String()
	kept, _ := dial(t, node, "alice")
	kicked, kickedID := dial(t, node, "alice")
	dial(t, node, "bob")

	search := func(query string) []map[string]any {
		t.Helper()
		status, _, body := get(t, address, "GET", "/dashboard/api/search?q="+query, "Bearer "+key)
		var answer struct {
			Connections []map[string]any `json:"connections"`
		}
		if status != http.StatusOK || json.Unmarshal([]byte(body), &answer) != nil {
			t.Fatalf("search %q: %d %s", query, status, body)
		}
		return answer.Connections
	}
	found := search("alice")
	if len(found) != 2 || found[0]["user_id"] != "alice" || found[0]["local"] != true || found[0]["remote_addr"] == "" {
		t.Fatalf("search alice found %v", found)
	}
	if byID := search(kickedID); len(byID) != 1 || byID[0]["id"] != kickedID || byID[0]["user_id"] != "alice" {
		t.Fatalf("search by connection id found %v", byID)
	}
	// The page kicks with the API's DELETE and the same key.
	if status, _, body := get(t, address, "DELETE", "/api/v1/connections/"+kickedID, "Bearer "+key); status != http.StatusOK {
		t.Fatalf("kick: %d %s", status, body)
	}
	_ = kicked.SetReadDeadline(time.Now().Add(readTimeout))
	for {
		_, _, err := kicked.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, 4403) {
			t.Fatalf("the kicked client read %v; want close 4403", err)
		}
		break
	}
	var left []map[string]any
	testsupport.WaitFor(t, readTimeout, "the kicked connection to leave the search", func() bool {
		left = search("alice")
		return len(left) == 1
	})
	if left[0]["id"] == kickedID {
		t.Fatalf("after the kick, search alice found %v", left)
	}
	if err := kept.WriteJSON(map[string]string{"type": "ping"}); err != nil {
		t.Fatalf("the other connection of alice was closed too: %v", err)
	}
}
