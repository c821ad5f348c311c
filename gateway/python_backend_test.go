package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/callbacks"
	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/testsupport"
)

// startPythonBackend runs docs/examples/callbacks_backend.py with the test's
// secret on a free port and returns its base URL; the process is killed when the
// test ends. The test is skipped when python3 is missing.
func startPythonBackend(t *testing.T) string {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the Python callbacks backend cannot run")
	}
	ctx, cancel := context.WithCancel(context.Background())
	command := exec.CommandContext(ctx, python, "../docs/examples/callbacks_backend.py", "--port", "0")
	command.Env = append(command.Environ(), "WSGATE_CALLBACK_SECRET="+string(callbackSecret))
	output, err := command.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := command.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = command.Wait()
	})
	line, err := bufio.NewReader(output).ReadString('\n')
	port, found := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !found {
		t.Fatalf("the Python backend said %q, %v", line, err)
	}
	return "http://127.0.0.1:" + port
}

// TestThePythonBackendVerifiesSignaturesAnswersRPCsAndTakesEvents runs the
// standard-library example backend behind a node.
func TestThePythonBackendVerifiesSignaturesAnswersRPCsAndTakesEvents(t *testing.T) {
	backend := startPythonBackend(t)
	n := startNode(t, gateway.Config{InsecureUserID: true, Callbacks: gateway.CallbacksConfig{RPCURL: backend + "/rpc",
		EventsURL: backend + "/events", Client: callbacks.Config{Secret: callbackSecret},
		Events: callbacks.EventsConfig{BatchDelay: 10 * time.Millisecond}}})
	conn := n.dial("ada")
	welcome := welcomeOf(t, conn)
	send(t, conn, map[string]any{"type": "rpc", "id": 1, "method": "whoami"})
	answer := readMessage(t, conn, readTimeout)
	data, _ := answer["data"].(map[string]any)
	if answer["type"] != "rpc_result" || data["user"] != "ada" || data["connection_id"] != welcome["connection_id"] {
		t.Fatalf("whoami answered %v", answer)
	}
	send(t, conn, map[string]any{"type": "rpc", "id": 2, "method": "nope"})
	if answer := readMessage(t, conn, readTimeout); answer["type"] != "rpc_error" || answer["code"] != "unknown_method" {
		t.Fatalf("an unknown method answered %v", answer)
	}
	testsupport.WaitFor(t, 10*time.Second, "ada's connect event at the Python backend", func() bool {
		response, err := http.Get(backend + "/events")
		if err != nil {
			t.Fatal(err)
		}
		defer response.Body.Close()
		var listing struct {
			Events []map[string]any `json:"events"`
		}
		_ = json.NewDecoder(response.Body).Decode(&listing)
		return len(listing.Events) == 1 && listing.Events[0]["type"] == "connect" && listing.Events[0]["user"] == "ada"
	})

	// The same call signed with another secret is refused by the backend, which
	// wsgate reports as backend_error (a 4xx is not an outage).
	forger := startNode(t, gateway.Config{Callbacks: gateway.CallbacksConfig{RPCURL: backend + "/rpc",
		Client: callbacks.Config{Secret: []byte("not the backend's secret")}}})
	other := forger.dial("")
	send(t, other, map[string]any{"type": "rpc", "id": 3, "method": "echo"})
	if answer := readMessage(t, other, readTimeout); answer["type"] != "rpc_error" || answer["code"] != "backend_error" ||
		!strings.Contains(answer["message"].(string), "401") {
		t.Fatalf("a call with a wrong signature answered %v", answer)
	}
}

// TestThePythonBackendAuthenticatesConnectionsBySessionCookie: the example's
// connect endpoint accepts its session cookie as that session's user, with its
// channel and welcome data, closes a banned session with 4403 and refuses a
// connection without a session with 4401.
func TestThePythonBackendAuthenticatesConnectionsBySessionCookie(t *testing.T) {
	backend := startPythonBackend(t)
	n := startNode(t, gateway.Config{Callbacks: gateway.CallbacksConfig{ConnectURL: backend + "/connect",
		Client: callbacks.Config{Secret: callbackSecret}}})
	conn, _, err := n.dialWith(nil, http.Header{"Cookie": {"theme=dark; session=s3cret-ada"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	send(t, conn, map[string]any{"type": "hello"})
	if got := readMessage(t, conn, readTimeout); got["type"] != "subscribed" || got["channel"] != "user:42" {
		t.Fatalf("first message %v, want subscribed to user:42", got)
	}
	welcome := readMessage(t, conn, readTimeout)
	data, _ := welcome["data"].(map[string]any)
	if welcome["type"] != "welcome" || welcome["user_id"] != "42" || data["name"] != "Ada" {
		t.Fatalf("welcome %v, want user 42 with data {name: Ada}", welcome)
	}
	for cookie, want := range map[string]int{"session=s3cret-eve": 4403, "session=forged": 4401, "": 4401} {
		refused, _, err := n.dialWith(nil, http.Header{"Cookie": {cookie}})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		if code, _ := readClose(t, refused, readTimeout); code != want {
			t.Errorf("cookie %q closed with %d, want %d", cookie, code, want)
		}
	}
}

// TestThePythonBackendAnswersSubscribeAndPublishChecks: the example's checks let
// a room's members subscribe and refuse others, and replace a publication's data
// (masked, stamped with its author) or refuse it.
func TestThePythonBackendAnswersSubscribeAndPublishChecks(t *testing.T) {
	backend := startPythonBackend(t)
	n := startNode(t, gateway.Config{InsecureUserID: true,
		Namespaces: []channels.NamespaceOptions{{Name: "room", Subscribe: channels.SubscribeAuthenticated,
			Publish: channels.PublishSubscribers, SubscribeCheck: true, PublishCheck: true}},
		Callbacks: gateway.CallbacksConfig{SubscribeURL: backend + "/subscribe", PublishURL: backend + "/publish",
			Client: callbacks.Config{Secret: callbackSecret}}})
	ada, bob, eve := n.dial("ada"), n.dial("bob"), n.dial("eve")
	for _, conn := range []*websocket.Conn{ada, bob} {
		send(t, conn, map[string]any{"type": "subscribe", "channel": "room:lobby"})
		if got := readMessage(t, conn, readTimeout); got["type"] != "subscribed" {
			t.Fatalf("a member's subscribe got %v", got)
		}
	}
	send(t, eve, map[string]any{"type": "subscribe", "channel": "room:lobby"})
	expectError(t, eve, "permission_denied", "room:lobby")

	send(t, ada, map[string]any{"type": "publish", "channel": "room:lobby", "data": map[string]any{"text": "darn it works"}})
	got := readMessage(t, bob, readTimeout)
	data, _ := got["data"].(map[string]any)
	if got["type"] != "publication" || data["text"] != "**** it works" || data["user"] != "ada" {
		t.Fatalf("bob got %v, want the backend's masked text stamped with ada", got)
	}
	send(t, ada, map[string]any{"type": "publish", "channel": "room:lobby", "data": map[string]any{"text": "buy spam"}})
	expectError(t, ada, "publish_not_allowed", "room:lobby")
	send(t, ada, map[string]any{"type": "publish", "channel": "room:lobby", "data": "not an object"})
	expectError(t, ada, "publish_not_allowed", "room:lobby")
	send(t, bob, map[string]any{"type": "publish", "channel": "room:lobby", "data": map[string]any{"text": "hi"}})
	if got := readMessage(t, ada, readTimeout); got["type"] != "publication" || got["data"].(map[string]any)["user"] != "bob" {
		t.Fatalf("ada got %v, want bob's publication (nothing of the refused ones)", got)
	}
}
