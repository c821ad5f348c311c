package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/callbacks"
	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/gateway"
)

// The subscribe and publish checks (docs/integration.md, "Subscribe and publish
// checks"), with a real HTTP backend and real WebSocket clients.

// checkedNamespaces are the namespaces of these tests: "room" checks subscribes,
// "chat" checks publications, "feed" checks subscribes and keeps history.
func checkedNamespaces() []channels.NamespaceOptions {
	return []channels.NamespaceOptions{
		{Name: "room", Subscribe: channels.SubscribeAnyone, SubscribeCheck: true},
		{Name: "chat", Subscribe: channels.SubscribeAnyone, Publish: channels.PublishSubscribers, PublishCheck: true},
		{Name: "feed", Subscribe: channels.SubscribeAnyone, SubscribeCheck: true, HistorySize: 10},
	}
}

// startCheckedNode starts a node with checkedNamespaces whose checks are
// answered by backend.
func startCheckedNode(t *testing.T, backend *rpcBackend) *node {
	return startNode(t, gateway.Config{InsecureUserID: true, Namespaces: checkedNamespaces(),
		Callbacks: gateway.CallbacksConfig{SubscribeURL: backend.server.URL + "/subscribe", PublishURL: backend.server.URL + "/publish",
			Client: callbacks.Config{Secret: callbackSecret}}})
}

// expectError reads the next message of conn and fails unless it is an error with
// code for channel.
func expectError(t *testing.T, conn *websocket.Conn, code, channel string) message {
	t.Helper()
	got := readMessage(t, conn, readTimeout)
	if got["type"] != "error" || got["code"] != code || got["channel"] != channel {
		t.Fatalf("got %v, want an error %s for %s", got, code, channel)
	}
	return got
}

// stillOpen fails unless conn answers a hello.
func stillOpen(t *testing.T, conn *websocket.Conn) {
	t.Helper()
	if welcome := welcomeOf(t, conn); welcome["type"] != "welcome" {
		t.Fatalf("after the refusal the connection answered %v, want a welcome", welcome)
	}
}

func TestSubscribeCheckAcceptsRefusesAndDisconnects(t *testing.T) {
	backend := newRPCBackend(t, func(call map[string]any) (int, string) {
		switch call["channel"] {
		case "room:closed":
			return 200, `{"error":{"code":"not_a_member","message":"ask the owner"}}`
		case "room:banned":
			return 200, `{"disconnect":{"code":4321,"reason":"banned from rooms"}}`
		}
		return 200, `{"result":{}}`
	})
	n := startCheckedNode(t, backend)
	ada := n.dial("ada")
	welcome := welcomeOf(t, ada)

	send(t, ada, map[string]any{"type": "subscribe", "channel": "room:open", "id": 1, "data": map[string]any{"invite": "x"},
		"token": "opaque"})
	if got := readMessage(t, ada, readTimeout); got["type"] != "subscribed" || got["channel"] != "room:open" || got["id"] != 1.0 {
		t.Fatalf("an accepted subscribe got %v", got)
	}
	call := <-backend.calls
	if call["user"] != "ada" || call["connection_id"] != welcome["connection_id"] || call["channel"] != "room:open" ||
		call["data"].(map[string]any)["invite"] != "x" || call["token"] != "opaque" {
		t.Errorf("the backend got %v", call)
	}
	n.Publisher.PublishToChannel(t.Context(), "room:open", []byte(`"hello room"`))
	if got := readMessage(t, ada, readTimeout); got["type"] != "publication" || got["data"] != "hello room" {
		t.Fatalf("the accepted subscriber got %v, want the room's publication", got)
	}

	send(t, ada, map[string]any{"type": "subscribe", "channel": "room:closed", "id": 2})
	if refusal := expectError(t, ada, "not_a_member", "room:closed"); refusal["message"] != "ask the owner" || refusal["id"] != 2.0 {
		t.Errorf("the refusal is %v, want the backend's message and the id", refusal)
	}
	<-backend.calls
	stillOpen(t, ada)
	if counts, _ := n.Publisher.ChannelCounts("room:closed"); counts.Subscribers != 0 {
		t.Errorf("room:closed has %d subscribers after the refusal", counts.Subscribers)
	}

	// Server-side subscriptions are the backend's own word: not checked.
	n.Publisher.ChangeUserSubscription(t.Context(), "ada", "room:server", true, "")
	if got := readMessage(t, ada, readTimeout); got["type"] != "subscribed" || got["channel"] != "room:server" {
		t.Fatalf("a server-side subscribe got %v", got)
	}

	send(t, ada, map[string]any{"type": "subscribe", "channel": "room:banned"})
	<-backend.calls
	if code, text := readClose(t, ada, readTimeout); code != 4321 || text != "banned from rooms" {
		t.Errorf("a disconnect answer closed with %d %q, want 4321 banned from rooms", code, text)
	}
	select {
	case extra := <-backend.calls:
		t.Errorf("the server-side subscribe was checked: %v", extra)
	default:
	}
	if _, metrics := n.getText("/metrics", ""); !strings.Contains(metrics, `wsgate_callback_calls_total{kind="subscribe"} 3`) {
		t.Errorf("/metrics does not count 3 subscribe checks")
	}
}

// TestSubscribeCheckKeepsHistoryRecovery: a checked subscribe to a history
// channel recovers what the client missed, as an unchecked one does.
func TestSubscribeCheckKeepsHistoryRecovery(t *testing.T) {
	backend := newRPCBackend(t, func(map[string]any) (int, string) { return 200, `{"result":{}}` })
	n := startCheckedNode(t, backend)
	conn := n.dial("ada")
	_, at := subscribeAt(t, conn, "feed:1", nil)
	send(t, conn, map[string]any{"type": "unsubscribe", "channel": "feed:1"})
	if got := readMessage(t, conn, readTimeout); got["type"] != "unsubscribed" {
		t.Fatalf("unsubscribe got %v", got)
	}
	for _, data := range []string{`"one"`, `"two"`} {
		n.Publisher.PublishToChannel(t.Context(), "feed:1", []byte(data))
	}
	answer, _ := subscribeAt(t, conn, "feed:1", &at)
	if answer["recovered"] != true {
		t.Fatalf("the checked resubscribe answered %v, want recovered", answer)
	}
	for _, want := range []string{"one", "two"} {
		if got := readMessage(t, conn, readTimeout); got["type"] != "publication" || got["data"] != want {
			t.Fatalf("recovered %v, want publication %q", got, want)
		}
	}
	if len(backend.calls) != 2 {
		t.Errorf("the backend got %d checks, want 2 (one per subscribe)", len(backend.calls))
	}
}

func TestPublishCheckAcceptsReplacesAndRefuses(t *testing.T) {
	backend := newRPCBackend(t, func(call map[string]any) (int, string) {
		if call["channel"] != nil && strings.HasPrefix(call["channel"].(string), "chat:") {
			switch call["data"] {
			case "rewrite me":
				return 200, `{"result":{"data":{"text":"rewritten","by":"backend"}}}`
			case "spam":
				return 200, `{"error":{"code":"publish_not_allowed","message":"no spam here"}}`
			}
		}
		return 200, `{"result":{}}`
	})
	n := startCheckedNode(t, backend)
	publisher, alice, bob := n.dial("ada"), n.dial("alice"), n.dial("bob")
	for _, conn := range []*websocket.Conn{publisher, alice, bob} {
		send(t, conn, map[string]any{"type": "subscribe", "channel": "chat:1"})
		if got := readMessage(t, conn, readTimeout); got["type"] != "subscribed" {
			t.Fatalf("subscribe got %v", got)
		}
	}
	subscribers := []*websocket.Conn{alice, bob}
	expectPublication := func(want string) {
		t.Helper()
		for _, conn := range subscribers {
			got := readMessage(t, conn, readTimeout)
			data, _ := json.Marshal(got["data"])
			if got["type"] != "publication" || string(data) != want {
				t.Fatalf("a subscriber got %v, want the publication %s", got, want)
			}
		}
	}

	send(t, publisher, map[string]any{"type": "publish", "channel": "chat:1", "data": "as sent", "id": 1})
	if got := readMessage(t, publisher, readTimeout); got["type"] != "published" || got["id"] != 1.0 {
		t.Fatalf("an accepted publish got %v", got)
	}
	expectPublication(`"as sent"`)
	call := <-backend.calls
	if call["user"] != "ada" || call["channel"] != "chat:1" || call["data"] != "as sent" {
		t.Errorf("the publish check got %v", call)
	}

	send(t, publisher, map[string]any{"type": "publish", "channel": "chat:1", "data": "rewrite me", "id": 2})
	readMessage(t, publisher, readTimeout)
	expectPublication(`{"by":"backend","text":"rewritten"}`)

	send(t, publisher, map[string]any{"type": "publish", "channel": "chat:1", "data": "spam", "id": 3})
	if refusal := expectError(t, publisher, "publish_not_allowed", "chat:1"); refusal["message"] != "no spam here" {
		t.Errorf("the refusal is %v", refusal)
	}
	// Nothing of the refused publication was delivered: the next one is the
	// subscribers' next message.
	send(t, publisher, map[string]any{"type": "publish", "channel": "chat:1", "data": "after"})
	expectPublication(`"after"`)
	stillOpen(t, publisher)
	stats := n.Publisher.ChannelStats()
	if stats.PublicationsFromClients != 3 || stats.PublishRefusals[channels.CodePublishNotAllowed] != 1 {
		t.Errorf("stats: %d client publications, %d refused; want 3 and 1", stats.PublicationsFromClients,
			stats.PublishRefusals[channels.CodePublishNotAllowed])
	}
	if _, metrics := n.getText("/metrics", ""); !strings.Contains(metrics, `wsgate_callback_calls_total{kind="publish"} 4`) {
		t.Errorf("/metrics does not count 4 publish checks")
	}
}

// TestChecksWithTheBackendDown: a check that cannot be made answers
// backend_unavailable, subscribes nothing, delivers nothing, and the connection
// stays open.
func TestChecksWithTheBackendDown(t *testing.T) {
	backend := newRPCBackend(t, func(map[string]any) (int, string) { return 200, `{"result":{}}` })
	n := startCheckedNode(t, backend)
	publisher, reader := n.dial("ada"), n.dial("bob")
	for _, conn := range []*websocket.Conn{publisher, reader} {
		send(t, conn, map[string]any{"type": "subscribe", "channel": "chat:1"})
		readMessage(t, conn, readTimeout)
	}
	backend.server.Close()
	send(t, reader, map[string]any{"type": "subscribe", "channel": "room:1", "id": "r"})
	if refusal := expectError(t, reader, "backend_unavailable", "room:1"); refusal["id"] != "r" {
		t.Errorf("the refusal is %v", refusal)
	}
	send(t, publisher, map[string]any{"type": "publish", "channel": "chat:1", "data": "lost"})
	expectError(t, publisher, "backend_unavailable", "chat:1")
	stillOpen(t, reader)
	stillOpen(t, publisher)
	n.Publisher.PublishToChannel(t.Context(), "chat:1", []byte(`"from the api"`))
	if got := readMessage(t, reader, readTimeout); got["data"] != "from the api" {
		t.Fatalf("the reader got %v, want the API's publication, not the unchecked one", got)
	}
	if counts, _ := n.Publisher.ChannelCounts("room:1"); counts.Subscribers != 0 {
		t.Errorf("room:1 has %d subscribers with the backend down", counts.Subscribers)
	}
}

// TestRequestsWaitBehindACheckInOrder: while a publish check is in flight, the
// same connection's next publish and its unsubscribe wait behind it, so the
// subscribers receive the publications in the order sent, and the unsubscribe
// comes after both; the connection's other messages do not wait.
func TestRequestsWaitBehindACheckInOrder(t *testing.T) {
	release := make(chan struct{})
	backend := newRPCBackend(t, func(call map[string]any) (int, string) {
		if call["data"] == "first" {
			<-release
		}
		return 200, `{"result":{}}`
	})
	n := startCheckedNode(t, backend)
	publisher, reader := n.dial("ada"), n.dial("bob")
	for _, conn := range []*websocket.Conn{publisher, reader} {
		send(t, conn, map[string]any{"type": "subscribe", "channel": "chat:1"})
		readMessage(t, conn, readTimeout)
	}
	send(t, publisher, map[string]any{"type": "publish", "channel": "chat:1", "data": "first"})
	<-backend.calls
	send(t, publisher, map[string]any{"type": "publish", "channel": "chat:1", "data": "second"})
	send(t, publisher, map[string]any{"type": "unsubscribe", "channel": "chat:1"})
	send(t, publisher, map[string]any{"type": "message", "content": "not held"})
	if got := readMessage(t, publisher, readTimeout); got["type"] != "message" {
		t.Fatalf("the echo behind a check in flight came back as %v, want it at once", got)
	}
	select {
	case call := <-backend.calls:
		t.Fatalf("the second publish was checked before the first was answered: %v", call)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	for _, want := range []string{"first", "second"} {
		if got := readMessage(t, reader, readTimeout); got["data"] != want {
			t.Fatalf("the reader got %v, want %q", got, want)
		}
	}
	if got := readMessage(t, publisher, readTimeout); got["type"] != "unsubscribed" {
		t.Fatalf("the unsubscribe got %v", got)
	}
}

// TestRPCDisconnectClosesWithTheBackendsCode: an rpc answered with
// {"disconnect"} closes with the backend's code and reason, as the connect
// callback's does.
func TestRPCDisconnectClosesWithTheBackendsCode(t *testing.T) {
	backend := newRPCBackend(t, func(map[string]any) (int, string) {
		return 200, `{"disconnect":{"code":4150,"reason":"session replaced"}}`
	})
	n := startNode(t, gateway.Config{Callbacks: gateway.CallbacksConfig{RPCURL: backend.server.URL,
		Client: callbacks.Config{Secret: callbackSecret}}})
	conn := n.dial("")
	send(t, conn, map[string]any{"type": "rpc", "id": 1, "method": "m"})
	if code, text := readClose(t, conn, readTimeout); code != 4150 || text != "session replaced" {
		t.Errorf("closed with %d %q, want 4150 session replaced", code, text)
	}
}

// TestACheckWithoutItsURLIsRefused: a namespace that asks for a check needs
// the check's URL.
func TestACheckWithoutItsURLIsRefused(t *testing.T) {
	for _, config := range []gateway.Config{
		{Namespaces: []channels.NamespaceOptions{{Name: "room", SubscribeCheck: true}}},
		{Namespaces: []channels.NamespaceOptions{{Name: "chat", PublishCheck: true}},
			Callbacks: gateway.CallbacksConfig{SubscribeURL: "http://127.0.0.1:1/subscribe"}},
	} {
		if _, err := gateway.New(config); err == nil || !strings.Contains(err.Error(), "URL") {
			t.Errorf("gateway.New(%+v) = %v, want an error naming the missing URL", config.Namespaces, err)
		}
	}
}
