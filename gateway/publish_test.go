package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/api"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/session"
)

// pushedMessage is sent with unusual spacing and key order: clients must receive
// exactly these bytes.
const pushedMessage = `{"type":"notification",  "z":1,"a":{"nested":[1, 2.50, "é"]}}`

// connectionID returns conn's connection id from its welcome.
func connectionID(t *testing.T, conn *websocket.Conn) string {
	t.Helper()
	return welcome(t, conn)["connection_id"].(string)
}

func TestSendToUserReachesAllTheirConnectionsAndNobodyElse(t *testing.T) {
	n := jwtNode(t)
	alice := []*websocket.Conn{n.dialToken(validToken(t, "alice")), n.dialToken(validToken(t, "alice"))}
	bob := n.dialToken(validToken(t, "bob"))
	for _, conn := range append(alice, bob) {
		welcome(t, conn)
	}
	status, body := n.apiCall("POST", "/api/v1/users/alice/send", testAPIKey, `{"message":`+pushedMessage+`}`)
	if status != http.StatusOK || body["queued"] != float64(2) {
		t.Fatalf("send to alice: status %d, body %v, want 200 {\"queued\":2}", status, body)
	}
	for index, conn := range alice {
		if got := string(readRaw(t, conn, 2*time.Second)); got != pushedMessage {
			t.Fatalf("alice's connection %d got %q, want %q byte for byte", index, got, pushedMessage)
		}
	}
	expectNothingPending(t, bob)
	status, body = n.apiCall("POST", "/api/v1/users/nobody/send", testAPIKey, `{"message":{}}`)
	if status != http.StatusOK || body["queued"] != float64(0) {
		t.Fatalf("send to a user without connections: status %d, body %v, want 200 {\"queued\":0}", status, body)
	}
}

func TestBroadcastReachesEveryoneButTheExcluded(t *testing.T) {
	n := jwtNode(t)
	conns := []*websocket.Conn{n.dialToken(validToken(t, "a")), n.dialToken(validToken(t, "b")), n.dialToken(validToken(t, "c"))}
	excluded := connectionID(t, conns[2])
	for _, conn := range conns[:2] {
		welcome(t, conn)
	}
	status, body := n.apiCall("POST", "/api/v1/broadcast", testAPIKey, `{"message":`+pushedMessage+`,"exclude":["`+excluded+`"]}`)
	if status != http.StatusOK || body["queued"] != float64(2) {
		t.Fatalf("broadcast: status %d, body %v, want 200 {\"queued\":2}", status, body)
	}
	for _, conn := range conns[:2] {
		if got := string(readRaw(t, conn, 2*time.Second)); got != pushedMessage {
			t.Fatalf("got %q, want %q", got, pushedMessage)
		}
	}
	expectNothingPending(t, conns[2])
}

func TestSendToConnection(t *testing.T) {
	n := jwtNode(t)
	target := n.dialToken(validToken(t, "alice"))
	sibling := n.dialToken(validToken(t, "alice"))
	id := connectionID(t, target)
	welcome(t, sibling)
	status, body := n.apiCall("POST", "/api/v1/connections/"+id+"/send", testAPIKey, `{"message":`+pushedMessage+`}`)
	if status != http.StatusOK || body["queued"] != float64(1) {
		t.Fatalf("send: status %d, body %v, want 200 {\"queued\":1}", status, body)
	}
	if got := string(readRaw(t, target, 2*time.Second)); got != pushedMessage {
		t.Fatalf("got %q, want %q", got, pushedMessage)
	}
	expectNothingPending(t, sibling)
	for _, unknown := range []string{session.NewConnectionID().String(), "not-a-connection-id"} {
		status, body = n.apiCall("POST", "/api/v1/connections/"+unknown+"/send", testAPIKey, `{"message":{}}`)
		if status != http.StatusNotFound || body["error"] != "connection_not_found" || body["message"] == "" {
			t.Fatalf("send to %s: status %d, body %v, want 404 connection_not_found", unknown, status, body)
		}
	}
}

func TestKickClosesWithTheKickedCode(t *testing.T) {
	n := jwtNode(t)
	single := n.dialToken(validToken(t, "alice"))
	carol := []*websocket.Conn{n.dialToken(validToken(t, "carol")), n.dialToken(validToken(t, "carol"))}
	bystander := n.dialToken(validToken(t, "bob"))
	id := connectionID(t, single)
	for _, conn := range append(carol, bystander) {
		welcome(t, conn)
	}

	status, body := n.apiCall("DELETE", "/api/v1/connections/"+id+"?reason=account+suspended", testAPIKey, nil)
	if status != http.StatusOK || body["closed"] != float64(1) {
		t.Fatalf("kick connection: status %d, body %v, want 200 {\"closed\":1}", status, body)
	}
	if code, text := readClose(t, single, 3*time.Second); code != 4403 || text != "account suspended" {
		t.Fatalf("closed with %d %q, want 4403 \"account suspended\"", code, text)
	}

	status, body = n.apiCall("DELETE", "/api/v1/users/carol/connections", testAPIKey, map[string]string{"reason": "logged out"})
	if status != http.StatusOK || body["closed"] != float64(2) {
		t.Fatalf("kick user: status %d, body %v, want 200 {\"closed\":2}", status, body)
	}
	for _, conn := range carol {
		if code, text := readClose(t, conn, 3*time.Second); code != 4403 || text != "logged out" {
			t.Fatalf("closed with %d %q, want 4403 \"logged out\"", code, text)
		}
	}
	expectNothingPending(t, bystander)
	if got := n.Hub.Counters().Disconnects[session.ReasonKicked]; got != 3 {
		t.Fatalf("Disconnects[kicked] = %d, want 3", got)
	}

	plain := n.dialToken(validToken(t, "dave"))
	// The client sees the upgrade answer a moment before the hub registers it.
	waitFor(t, readTimeout, "dave registered", func() bool { return len(n.Hub.UserSessions("dave")) == 1 })
	if status, _ := n.apiCall("DELETE", "/api/v1/users/dave/connections", testAPIKey, nil); status != http.StatusOK {
		t.Fatalf("kick without reason: status %d", status)
	}
	if code, text := readClose(t, plain, 3*time.Second); code != 4403 || text != "kicked" {
		t.Fatalf("closed with %d %q, want 4403 \"kicked\"", code, text)
	}

	status, body = n.apiCall("DELETE", "/api/v1/connections/"+session.NewConnectionID().String(), testAPIKey, nil)
	if status != http.StatusNotFound || body["error"] != "connection_not_found" {
		t.Fatalf("kick an unknown connection: status %d, body %v, want 404", status, body)
	}
	status, body = n.apiCall("DELETE", "/api/v1/users/bob/connections?reason="+strings.Repeat("x", 124), testAPIKey, nil)
	if status != http.StatusBadRequest || body["error"] != "invalid_reason" {
		t.Fatalf("kick with a 124-byte reason: status %d, body %v, want 400 invalid_reason", status, body)
	}
	expectNothingPending(t, bystander)
}

func TestPublishRefusesBadRequestsWithJSONErrors(t *testing.T) {
	n := jwtNode(t)
	oversized := `{"message":{"data":"` + strings.Repeat("x", api.DefaultMaxBodySize) + `"}}`
	tests := []struct {
		name   string
		path   string
		body   string
		status int
		code   string
	}{
		{"malformed JSON", "/api/v1/broadcast", `{"message":`, http.StatusBadRequest, "invalid_json"},
		{"body not an object", "/api/v1/users/alice/send", `[1,2]`, http.StatusBadRequest, "invalid_json"},
		{"empty body", "/api/v1/users/alice/send", ``, http.StatusBadRequest, "invalid_json"},
		{"missing message", "/api/v1/users/alice/send", `{"msg":{}}`, http.StatusBadRequest, "missing_message"},
		{"null message", "/api/v1/broadcast", `{"message":null}`, http.StatusBadRequest, "missing_message"},
		{"message is a string", "/api/v1/broadcast", `{"message":"hi"}`, http.StatusBadRequest, "message_not_object"},
		{"message is an array", "/api/v1/users/alice/send", `{"message":[{}]}`, http.StatusBadRequest, "message_not_object"},
		{"exclude is not ids", "/api/v1/broadcast", `{"message":{},"exclude":["x"]}`, http.StatusBadRequest, "invalid_exclude"},
		{"oversized body", "/api/v1/broadcast", oversized, http.StatusRequestEntityTooLarge, "body_too_large"},
		{"unknown route", "/api/v1/nothing", `{}`, http.StatusNotFound, "not_found"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			status, body := n.apiCall("POST", test.path, testAPIKey, test.body)
			if status != test.status || body["error"] != test.code {
				t.Fatalf("status %d, body %v, want %d with error %q", status, body, test.status, test.code)
			}
			if message, _ := body["message"].(string); message == "" || len(body) != 2 {
				t.Fatalf("body %v is not {\"error\":...,\"message\":...}", body)
			}
		})
	}
	if n.Hub.Counters().Broadcasts != 0 {
		t.Fatal("a refused request broadcast anyway")
	}
}

func TestAPIKeyGuardsPublishAndStatsButNotHealth(t *testing.T) {
	n := jwtNode(t)
	requests := []struct{ method, path, body string }{
		{"POST", "/api/v1/broadcast", `{"message":{}}`},
		{"POST", "/api/v1/users/alice/send", `{"message":{}}`},
		{"POST", "/api/v1/connections/" + session.NewConnectionID().String() + "/send", `{"message":{}}`},
		{"DELETE", "/api/v1/connections/" + session.NewConnectionID().String(), ``},
		{"DELETE", "/api/v1/users/alice/connections", ``},
		{"GET", "/api/v1/ws/stats", ``},
	}
	for _, request := range requests {
		for _, key := range []string{"", "wrong", testAPIKey + "x", strings.ToUpper(testAPIKey)} {
			status, body := n.apiCall(request.method, request.path, key, request.body)
			if status != http.StatusUnauthorized || body["error"] != "unauthorized" {
				t.Fatalf("%s %s with key %q: status %d, body %v, want 401 unauthorized",
					request.method, request.path, key, status, body)
			}
		}
		if status, body := n.apiCall(request.method, request.path, testAPIKey, request.body); status == http.StatusUnauthorized {
			t.Fatalf("%s %s with the right key: status %d, body %v", request.method, request.path, status, body)
		}
	}
	if status, body := n.apiCall("GET", "/healthz", "", nil); status != http.StatusOK || body["status"] != "ok" {
		t.Fatalf("healthz without a key: status %d, body %v", status, body)
	}
	if n.Hub.Counters().Broadcasts != 1 {
		t.Fatalf("broadcasts = %d, want only the authorized one", n.Hub.Counters().Broadcasts)
	}
}

// TestWithoutAPIKeyLoopbackIsServed checks the keyless rule from the loopback side.
// The refusal of non-loopback clients is tested in api/access_test.go with a
// synthetic peer address: reaching this node from a non-loopback address would mean
// sending test traffic to the machine's network address, which tests here never do.
func TestWithoutAPIKeyLoopbackIsServed(t *testing.T) {
	n := startNode(t, gateway.Config{InsecureUserID: true})
	conn := n.dial("alice")
	status, body := n.apiCall("POST", "/api/v1/users/alice/send", "", `{"message":`+pushedMessage+`}`)
	if status != http.StatusOK || body["queued"] != float64(1) {
		t.Fatalf("send from loopback without a key: status %d, body %v", status, body)
	}
	if got := string(readRaw(t, conn, 2*time.Second)); got != pushedMessage {
		t.Fatalf("got %q, want %q", got, pushedMessage)
	}
}

// TestBodyAtTheLimitPassesTheTransport checks that the engine buffers a request with
// the API's largest body plus headers, so the API itself decides with 413.
func TestBodyAtTheLimitPassesTheTransport(t *testing.T) {
	n := jwtNode(t)
	conn := n.dialToken(validToken(t, "alice"))
	welcome(t, conn)
	prefix, suffix := `{"message":{"data":"`, `"}}`
	body := prefix + strings.Repeat("x", api.DefaultMaxBodySize-len(prefix)-len(suffix)) + suffix
	if status, answer := n.apiCall("POST", "/api/v1/users/alice/send", testAPIKey, body); status != http.StatusOK {
		t.Fatalf("body of exactly %d bytes: status %d, body %v", len(body), status, answer)
	}
	if got := readRaw(t, conn, 3*time.Second); len(got) != len(body)-len(`{"message":}`) {
		t.Fatalf("received %d bytes, want the whole message", len(got))
	}
	if status, _ := n.apiCall("POST", "/api/v1/users/alice/send", testAPIKey, body+" "); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("body one byte over the limit: status %d, want 413", status)
	}
}
