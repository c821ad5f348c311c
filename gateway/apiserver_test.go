package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/testsupport"
)

// call sends method path with body (may be empty) and the API key to address and
// returns the status and the decoded JSON answer.
func call(t *testing.T, address, method, path, body string) (int, map[string]any) {
	t.Helper()
	if method == "POST" {
		return post(t, address, path, body)
	}
	var decoded map[string]any
	status := getJSON(t, "http://"+address+path, &decoded)
	return status, decoded
}

// TestAPIAddrSplitsTheRoutes: with APIAddr, the public port serves the WebSocket,
// the seed's stats, health and readiness, and answers every other API route 404,
// metrics and the profiler included (with a body, before reading it); the API's
// listener serves the whole API but not the WebSocket.
func TestAPIAddrSplitsTheRoutes(t *testing.T) {
	n := startNode(t, gateway.Config{InsecureUserID: true, APIAddr: "127.0.0.1:0"})
	public, private := n.Addr().String(), n.APIAddr().String()
	if public == private {
		t.Fatalf("the API listens on the public address %s", public)
	}
	conn := n.dial("alice")
	if got := request(t, conn, map[string]any{"type": "hello"}); got["type"] != "welcome" {
		t.Fatalf("hello on the public port: %v", got)
	}
	routes := []struct {
		method, path, body string
		public             bool
	}{
		{"GET", "/api/v1/ws/stats", "", true},
		{"GET", "/healthz", "", true},
		{"GET", "/readyz", "", true},
		{"GET", "/api/v1/channels", "", false},
		{"POST", "/api/v1/users/alice/send", `{"message":{"n":1}}`, false},
		{"POST", "/api/v1/publish", `{"publications":[{"channel":"news","data":1}]}`, false},
	}
	for _, route := range routes {
		status, body := call(t, private, route.method, route.path, route.body)
		if status != http.StatusOK {
			t.Fatalf("%s %s on the API listener: %d %v, want 200", route.method, route.path, status, body)
		}
		status, body = call(t, public, route.method, route.path, route.body)
		switch {
		case route.public && status != http.StatusOK:
			t.Fatalf("%s %s on the public port: %d %v, want 200", route.method, route.path, status, body)
		case !route.public && (status != http.StatusNotFound || body["error"] != "not_found"):
			t.Fatalf("%s %s on the public port: %d %v, want 404 not_found", route.method, route.path, status, body)
		}
	}
	if got := readMessage(t, conn, readTimeout); got["n"] != float64(1) {
		t.Fatalf("alice got %v, want the message sent through the API listener only once", got)
	}
	expectNothingPending(t, conn)
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline"} {
		if status := getJSON(t, "http://"+private+path, nil); status != http.StatusOK {
			t.Fatalf("%s on the API listener: %d", path, status)
		}
		if status := getJSON(t, "http://"+public+path, nil); status != http.StatusNotFound {
			t.Fatalf("%s on the public port: %d, want 404", path, status)
		}
	}
	_, response, err := websocket.DefaultDialer.Dial(testsupport.WebSocketURL(private, nil), nil)
	if err == nil || response == nil || response.StatusCode != http.StatusNotFound {
		t.Fatalf("WebSocket on the API listener: %v, want a 404", err)
	}
	_ = response.Body.Close()
}

// TestAPIListenerKeepsTheAccessRule: the API key guards the API's own listener as
// it does the shared port.
func TestAPIListenerKeepsTheAccessRule(t *testing.T) {
	n := apiListenerNode(t)
	request, err := http.NewRequest("POST", "http://"+n.APIAddr().String()+"/api/v1/broadcast",
		strings.NewReader(`{"message":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	request.Header.Set("Authorization", "Bearer wrong")
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatal(err)
	}
	_ = response.Body.Close()
	if response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong key on the API listener: %d, want 401", response.StatusCode)
	}
	if status, body := post(t, n.APIAddr().String(), "/api/v1/broadcast", `{"message":{}}`); status != http.StatusOK {
		t.Fatalf("the right key on the API listener: %d %v", status, body)
	}
}
