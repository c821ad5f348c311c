package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/callbacks"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/testsupport"
)

// callbackSecret signs the callbacks of these tests.
var callbackSecret = []byte("the secret wsgate and the backend share")

// rpcBackend is a Go RPC backend: it checks the signature, records each call and
// answers through answer.
type rpcBackend struct {
	server *httptest.Server
	calls  chan map[string]any
}

func newRPCBackend(t *testing.T, answer func(call map[string]any) (int, string)) *rpcBackend {
	backend := &rpcBackend{calls: make(chan map[string]any, 100)}
	backend.server = httptest.NewServer(http.HandlerFunc(func(writer http.ResponseWriter, request *http.Request) {
		body, _ := io.ReadAll(request.Body)
		if request.Header.Get(callbacks.SignatureHeader) != callbacks.Sign(callbackSecret, body) {
			http.Error(writer, "bad signature", http.StatusUnauthorized)
			return
		}
		var call map[string]any
		_ = json.Unmarshal(body, &call)
		backend.calls <- call
		status, text := answer(call)
		writer.WriteHeader(status)
		_, _ = writer.Write([]byte(text))
	}))
	t.Cleanup(backend.server.Close)
	return backend
}

// welcomeOf says hello on conn and returns the welcome (a round trip: the
// connection is registered after it).
func welcomeOf(t *testing.T, conn *websocket.Conn) message {
	send(t, conn, map[string]any{"type": "hello"})
	return readMessage(t, conn, readTimeout)
}

func TestRPCAnswersComeBackByIDInAnyOrder(t *testing.T) {
	release := make(chan struct{})
	backend := newRPCBackend(t, func(call map[string]any) (int, string) {
		switch call["method"] {
		case "slow":
			<-release
			return 200, `{"result":{"data":"slow done"}}`
		case "refuse":
			return 200, `{"error":{"code":"not_allowed","message":"no"}}`
		}
		data, _ := json.Marshal(call["data"])
		return 200, `{"result":{"data":{"echo":` + string(data) + `}}}`
	})
	n := startNode(t, gateway.Config{InsecureUserID: true, Callbacks: gateway.CallbacksConfig{RPCURL: backend.server.URL,
		Client: callbacks.Config{Secret: callbackSecret}}})
	conn := n.dial("ada")
	welcome := welcomeOf(t, conn)
	send(t, conn, map[string]any{"type": "rpc", "id": 1, "method": "slow"})
	<-backend.calls
	send(t, conn, map[string]any{"type": "rpc", "id": "two", "method": "sum", "data": []int{1, 2}})
	call := <-backend.calls
	if call["user"] != "ada" || call["connection_id"] != welcome["connection_id"] || call["method"] != "sum" {
		t.Errorf("the backend got %v", call)
	}
	if answer := readMessage(t, conn, readTimeout); answer["type"] != "rpc_result" || answer["id"] != "two" ||
		answer["data"].(map[string]any)["echo"].([]any)[1] != 2.0 {
		t.Fatalf("first answer %v; want rpc two's result, before rpc 1's", answer)
	}
	close(release)
	if answer := readMessage(t, conn, readTimeout); answer["type"] != "rpc_result" || answer["id"] != 1.0 || answer["data"] != "slow done" {
		t.Fatalf("second answer %v; want rpc 1's result", answer)
	}
	send(t, conn, map[string]any{"type": "rpc", "id": 3, "method": "refuse"})
	if answer := readMessage(t, conn, readTimeout); answer["type"] != "rpc_error" || answer["id"] != 3.0 ||
		answer["code"] != "not_allowed" || answer["message"] != "no" {
		t.Fatalf("a refusal came back as %v", answer)
	}

	// An rpc as large as the largest message (64 KiB) still fits the call's body.
	large := strings.Repeat("x", 65000)
	send(t, conn, map[string]any{"type": "rpc", "id": 5, "method": "echo", "data": large})
	if answer := readMessage(t, conn, readTimeout); answer["type"] != "rpc_result" ||
		answer["data"].(map[string]any)["echo"] != large {
		t.Fatalf("a 65,000-byte rpc came back as %.200v", answer)
	}

	plain := startNode(t, gateway.Config{})
	other := plain.dial("")
	send(t, other, map[string]any{"type": "rpc", "id": 4, "method": "sum"})
	if answer := readMessage(t, other, readTimeout); answer["type"] != "rpc_error" || answer["code"] != "rpc_not_configured" {
		t.Fatalf("without -rpc-url: %v", answer)
	}
}

func TestRPCsInFlightPerConnectionAreBounded(t *testing.T) {
	release := make(chan struct{})
	backend := newRPCBackend(t, func(map[string]any) (int, string) {
		<-release
		return 200, `{"result":{"data":1}}`
	})
	n := startNode(t, gateway.Config{Callbacks: gateway.CallbacksConfig{RPCURL: backend.server.URL, MaxRPCsPerConnection: 2,
		Client: callbacks.Config{Secret: callbackSecret}}})
	defer close(release)
	conn := n.dial("")
	for id := range 3 {
		send(t, conn, map[string]any{"type": "rpc", "id": id, "method": "m"})
	}
	if answer := readMessage(t, conn, readTimeout); answer["type"] != "rpc_error" || answer["id"] != 2.0 || answer["code"] != "too_many_rpcs" {
		t.Fatalf("the third rpc in flight got %v", answer)
	}
	other := n.dial("")
	send(t, other, map[string]any{"type": "rpc", "id": 9, "method": "m"})
	<-backend.calls
	<-backend.calls
	<-backend.calls
}

func TestBackendDownAnswersBackendUnavailableAndTheBreakerClosesAgain(t *testing.T) {
	var healthy atomic.Bool
	backend := newRPCBackend(t, func(map[string]any) (int, string) {
		if !healthy.Load() {
			return 503, "down"
		}
		return 200, `{"result":{"data":"up"}}`
	})
	n := startNode(t, gateway.Config{Callbacks: gateway.CallbacksConfig{RPCURL: backend.server.URL,
		Client: callbacks.Config{Secret: callbackSecret, BreakerThreshold: 2, BreakerCooldown: 100 * time.Millisecond}}})
	conn := n.dial("")
	for id := range 3 {
		send(t, conn, map[string]any{"type": "rpc", "id": id, "method": "m"})
		if answer := readMessage(t, conn, readTimeout); answer["type"] != "rpc_error" || answer["code"] != "backend_unavailable" {
			t.Fatalf("rpc %d with the backend down: %v", id, answer)
		}
	}
	if _, metrics := n.getText("/metrics", ""); !strings.Contains(metrics, `wsgate_callback_breaker_open{kind="rpc"} 1`) ||
		!strings.Contains(metrics, `wsgate_callback_errors_total{kind="rpc",error="circuit_open"} 1`) {
		t.Fatalf("after two failures the breaker is not open on /metrics:\n%s", metrics)
	}
	healthy.Store(true)
	id := 10
	testsupport.WaitFor(t, 5*time.Second, "an rpc to succeed once the backend is back", func() bool {
		id++
		send(t, conn, map[string]any{"type": "rpc", "id": id, "method": "m"})
		return readMessage(t, conn, readTimeout)["type"] == "rpc_result"
	})
	if _, metrics := n.getText("/metrics", ""); !strings.Contains(metrics, `wsgate_callback_breaker_open{kind="rpc"} 0`) {
		t.Errorf("the breaker is still open on /metrics")
	}
}

// TestASlowBackendDelaysNothingElse: while rpcs wait on a backend that never
// answers, the same connection's echo and other connections' broadcasts arrive
// before any rpc times out.
func TestASlowBackendDelaysNothingElse(t *testing.T) {
	release := make(chan struct{})
	backend := newRPCBackend(t, func(map[string]any) (int, string) {
		<-release
		return 200, `{"result":{"data":1}}`
	})
	defer close(release)
	timeout := 3 * time.Second
	n := startNode(t, gateway.Config{Callbacks: gateway.CallbacksConfig{RPCURL: backend.server.URL,
		MaxRPCsPerConnection: -1, Client: callbacks.Config{Secret: callbackSecret, Timeout: timeout, Workers: 4}}})
	listeners := make([]*websocket.Conn, 20)
	for index := range listeners {
		listeners[index] = n.dial("")
		welcomeOf(t, listeners[index])
	}
	caller := n.dial("")
	started := time.Now()
	for id := range 50 {
		send(t, caller, map[string]any{"type": "rpc", "id": id, "method": "m"})
	}
	send(t, caller, map[string]any{"type": "message", "content": "echo"})
	n.Publisher.Broadcast(t.Context(), []byte(`{"type":"news"}`))
	for _, listener := range listeners {
		if got := readMessage(t, listener, timeout); got["type"] != "news" {
			t.Fatalf("a listener got %v", got)
		}
	}
	// With 4 workers busy and 46 rpcs queued, the echo is the caller's first answer.
	if got := readMessage(t, caller, timeout); got["type"] != "message" && got["type"] != "news" {
		t.Fatalf("the caller's first answer is %v", got)
	}
	if elapsed := time.Since(started); elapsed >= timeout {
		t.Errorf("the broadcast and the echo took %v, the rpc timeout", elapsed)
	}
}

// startEventsBackend starts an events backend that takes only requests signed with
// callbackSecret and fails its first failures.
func startEventsBackend(t *testing.T, failures int64) *testsupport.EventsBackend {
	return testsupport.StartEventsBackend(t, failures, func(request *http.Request, body []byte) bool {
		return request.Header.Get(callbacks.SignatureHeader) == callbacks.Sign(callbackSecret, body)
	})
}

// countEvents returns how many events of eventType backend took, with their distinct ids.
func countEvents(backend *testsupport.EventsBackend, eventType string) (events int, ids map[string]bool) {
	ids = map[string]bool{}
	for _, event := range backend.Events() {
		ids[event["id"].(string)] = true
		if event["type"] == eventType {
			events++
		}
	}
	return events, ids
}

func TestConnectionEventsAreBatchedRetriedAndUnique(t *testing.T) {
	backend := startEventsBackend(t, 2)
	n := startNode(t, gateway.Config{InsecureUserID: true, Callbacks: gateway.CallbacksConfig{EventsURL: backend.Server.URL,
		Client: callbacks.Config{Secret: callbackSecret},
		Events: callbacks.EventsConfig{RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond}}})
	const connections = 1000
	conns := make([]*websocket.Conn, connections)
	for index := range conns {
		conns[index] = n.dial("")
	}
	testsupport.WaitFor(t, 20*time.Second, "1,000 connect events", func() bool {
		connects, _ := countEvents(backend, "connect")
		return connects == connections
	})
	requests := backend.Requests.Load()
	if requests > 40 {
		t.Errorf("1,000 connects took %d requests (2 of them failed); want a few", requests)
	}
	t.Logf("1,000 connect events in %d requests, 2 of them refused with 500", requests)
	for _, conn := range conns {
		_ = conn.Close()
	}
	testsupport.WaitFor(t, 20*time.Second, "1,000 disconnect events", func() bool {
		disconnects, _ := countEvents(backend, "disconnect")
		return disconnects == connections
	})

	ada := n.dial("ada")
	send(t, ada, map[string]any{"type": "subscribe", "channel": "news"})
	readMessage(t, ada, readTimeout)
	n.Publisher.ChangeUserSubscription(t.Context(), "ada", "news", false, "")
	readMessage(t, ada, readTimeout)
	testsupport.WaitFor(t, 10*time.Second, "ada's subscribe and unsubscribe", func() bool {
		subscribes, _ := countEvents(backend, "subscribe")
		unsubscribes, _ := countEvents(backend, "unsubscribe")
		return subscribes == 1 && unsubscribes == 1
	})
	ids := map[string]bool{}
	for _, event := range backend.Events() {
		if ids[event["id"].(string)] {
			t.Errorf("id %v arrived twice", event["id"])
		}
		ids[event["id"].(string)] = true
		if event["type"] == "unsubscribe" && (event["user"] != "ada" || event["channel"] != "news" || event["reason"] != "server") {
			t.Errorf("the unsubscribe arrived as %v", event)
		}
		// The clients vanished without a close frame: the close reason is "error".
		if event["type"] == "disconnect" && event["reason"] != "error" {
			t.Errorf("a disconnect arrived as %v", event)
		}
	}
}

func TestShutdownFlushesPendingEvents(t *testing.T) {
	backend := startEventsBackend(t, 0)
	n := startNode(t, gateway.Config{Callbacks: gateway.CallbacksConfig{EventsURL: backend.Server.URL,
		Client: callbacks.Config{Secret: callbackSecret}, Events: callbacks.EventsConfig{BatchDelay: time.Hour}}})
	for range 3 {
		welcomeOf(t, n.dial(""))
	}
	if connects, _ := countEvents(backend, "connect"); connects != 0 {
		t.Fatalf("%d events posted before their batch was due", connects)
	}
	n.Shutdown(5 * time.Second)
	connects, _ := countEvents(backend, "connect")
	disconnects, _ := countEvents(backend, "disconnect")
	if connects != 3 || disconnects != 3 {
		t.Fatalf("after the shutdown the backend has %d connects and %d disconnects, want 3 and 3", connects, disconnects)
	}
}
