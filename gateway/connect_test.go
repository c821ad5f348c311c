package gateway_test

import (
	"context"
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
	"github.com/wsgate/wsgate/session"
)

// connectBackend is a Go connect-callback backend: it checks the signature,
// records each call's body and answers through answer.
type connectBackend struct {
	server *httptest.Server
	calls  chan connectCall
}

// connectCall is the body of one connect callback.
type connectCall struct {
	RemoteAddr string            `json:"remote_addr"`
	Headers    map[string]string `json:"headers"`
	Query      string            `json:"query"`
	User       string            `json:"user"`
}

func newConnectBackend(t *testing.T, answer func(call connectCall) (int, string)) *connectBackend {
	backend := &connectBackend{calls: make(chan connectCall, 100)}
	backend.server = httptest.NewServer(http.HandlerFunc(func(writer http.ResponseWriter, request *http.Request) {
		body, _ := io.ReadAll(request.Body)
		if request.Header.Get(callbacks.SignatureHeader) != callbacks.Sign(callbackSecret, body) ||
			request.Header.Get(callbacks.KindHeader) != "connect" {
			http.Error(writer, "bad signature or kind", http.StatusUnauthorized)
			return
		}
		var call connectCall
		_ = json.Unmarshal(body, &call)
		select {
		case backend.calls <- call:
		default: // a test that does not read the calls must not block the backend
		}
		status, text := answer(call)
		writer.WriteHeader(status)
		_, _ = writer.Write([]byte(text))
	}))
	t.Cleanup(backend.server.Close)
	return backend
}

// connectNode starts a node whose connect callback is backend, with client's
// settings (the secret is added).
func connectNode(t *testing.T, backend *connectBackend, client callbacks.Config) *node {
	client.Secret = callbackSecret
	return startNode(t, gateway.Config{InsecureUserID: true,
		Callbacks: gateway.CallbacksConfig{ConnectURL: backend.server.URL, Client: client}})
}

// sessionAnswer accepts the cookie session=s3cret as user 42 and refuses others.
func sessionAnswer(call connectCall) (int, string) {
	if !strings.Contains(call.Headers["Cookie"], "session=s3cret") {
		return 200, `{"error":{"code":"no_session","message":"log in first"}}`
	}
	return 200, `{"result":{"user":"42","channels":["news:42"],"data":{"plan":"pro"}}}`
}

func TestConnectCallbackAcceptsASessionCookieAndHandlesEarlyMessagesInOrder(t *testing.T) {
	release := make(chan struct{})
	backend := newConnectBackend(t, func(call connectCall) (int, string) {
		<-release
		return sessionAnswer(call)
	})
	n := connectNode(t, backend, callbacks.Config{})
	header := http.Header{"Cookie": {"session=s3cret; theme=dark"}, "User-Agent": {"connect-test"},
		"X-Not-Forwarded": {"secret"}}
	conn, _, err := n.dialWith(testsupport.UserQuery("jwt-user"), header)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	// Sent right after the 101, while the backend has not answered: held, then
	// handled in order once the connection is accepted.
	send(t, conn, map[string]any{"type": "hello"})
	sendText(t, conn, `{"type":"ping"}`)
	send(t, conn, map[string]any{"type": "subscribe", "channel": "chat:1"})
	call := <-backend.calls
	if call.Headers["Cookie"] != "session=s3cret; theme=dark" || call.Headers["User-Agent"] != "connect-test" ||
		call.Headers["X-Not-Forwarded"] != "" || call.Query != "user_id=jwt-user" || call.User != "jwt-user" ||
		!strings.HasPrefix(call.RemoteAddr, "127.0.0.1:") {
		t.Errorf("the backend was told %+v", call)
	}
	if count := n.Hub.ConnectionCount(); count != 0 {
		t.Fatalf("%d connections registered before the backend answered", count)
	}
	close(release)
	want := []func(message) bool{
		func(m message) bool { return m["type"] == "subscribed" && m["channel"] == "news:42" },
		func(m message) bool {
			data, _ := m["data"].(map[string]any)
			return m["type"] == "welcome" && m["user_id"] == "42" && data["plan"] == "pro"
		},
		func(m message) bool { return m["type"] == "pong" },
		func(m message) bool { return m["type"] == "subscribed" && m["channel"] == "chat:1" },
	}
	for index, matches := range want {
		if got := readMessage(t, conn, readTimeout); !matches(got) {
			t.Fatalf("message %d is %v", index, got)
		}
	}
	if result := n.Publisher.PublishToChannel(context.Background(), "news:42", []byte(`"extra"`)); result.Err != nil {
		t.Fatalf("publish: %v", result.Err)
	}
	if got := readMessage(t, conn, readTimeout); got["channel"] != "news:42" || got["data"] != "extra" {
		t.Fatalf("a publication to the backend's channel arrived as %v", got)
	}
	if sessions := n.Hub.UserSessions("42"); len(sessions) != 1 {
		t.Fatalf("user 42 holds %d sessions, want 1", len(sessions))
	}
}

func TestConnectCallbackRefusesAndDisconnects(t *testing.T) {
	backend := newConnectBackend(t, func(call connectCall) (int, string) {
		if strings.Contains(call.Query, "banned") {
			return 200, `{"disconnect":{"code":4321,"reason":"banned for a day"}}`
		}
		return sessionAnswer(call)
	})
	n := connectNode(t, backend, callbacks.Config{})
	refused, _, err := n.dialWith(nil, http.Header{"Cookie": {"session=wrong"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if code, text := readClose(t, refused, readTimeout); code != 4401 || text != "unauthorized" {
		t.Errorf("a refused session closed with %d %q, want 4401 unauthorized", code, text)
	}
	banned, _, err := n.dialWith(testsupport.UserQuery("banned"), http.Header{"Cookie": {"session=s3cret"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if code, text := readClose(t, banned, readTimeout); code != 4321 || text != "banned for a day" {
		t.Errorf("a disconnect answer closed with %d %q, want 4321 banned for a day", code, text)
	}
	counters := n.Hub.Counters()
	if counters.Refused[session.ReasonUnauthorized] != 1 || counters.Refused[session.ReasonBackendDisconnect] != 1 ||
		counters.Accepted != 0 {
		t.Errorf("counters: %d unauthorized, %d backend_disconnect, %d accepted; want 1, 1, 0",
			counters.Refused[session.ReasonUnauthorized], counters.Refused[session.ReasonBackendDisconnect], counters.Accepted)
	}
}

func TestConnectCallbackBackendDownClosesWith4003AndTheBreakerClosesAgain(t *testing.T) {
	var healthy atomic.Bool
	backend := newConnectBackend(t, func(call connectCall) (int, string) {
		if !healthy.Load() {
			return 503, "down"
		}
		return sessionAnswer(call)
	})
	n := connectNode(t, backend, callbacks.Config{BreakerThreshold: 2, BreakerCooldown: 100 * time.Millisecond})
	header := http.Header{"Cookie": {"session=s3cret"}}
	for attempt := range 3 {
		conn, _, err := n.dialWith(nil, header)
		if err != nil {
			t.Fatalf("dial %d: %v", attempt, err)
		}
		if code, _ := readClose(t, conn, readTimeout); code != 4003 {
			t.Fatalf("attempt %d with the backend down closed with %d, want 4003", attempt, code)
		}
	}
	if _, metrics := n.getText("/metrics", ""); !strings.Contains(metrics, `wsgate_callback_breaker_open{kind="connect"} 1`) ||
		!strings.Contains(metrics, `wsgate_callback_errors_total{kind="connect",error="circuit_open"} 1`) {
		t.Fatalf("after two failures the connect breaker is not open on /metrics:\n%s", metrics)
	}
	healthy.Store(true)
	testsupport.WaitFor(t, 5*time.Second, "a connect to succeed once the backend is back", func() bool {
		conn, _, err := n.dialWith(nil, header)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		send(t, conn, map[string]any{"type": "hello"})
		_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
		for {
			// "subscribed" to the backend's channel comes before the welcome.
			_, data, err := conn.ReadMessage()
			if err != nil || strings.Contains(string(data), `"welcome"`) {
				return err == nil && strings.Contains(string(data), `"user_id":"42"`)
			}
		}
	})
	if _, metrics := n.getText("/metrics", ""); !strings.Contains(metrics, `wsgate_callback_breaker_open{kind="connect"} 0`) {
		t.Errorf("the connect breaker is still open on /metrics")
	}
}

// TestConnectCallbackSlowBackendDelaysNoBroadcast: while connects wait on a
// backend that does not answer, accepted connections receive broadcasts before any
// of those connects times out; the waiting ones are closed with 4003 after it.
func TestConnectCallbackSlowBackendDelaysNoBroadcast(t *testing.T) {
	var stalled atomic.Bool
	stop := make(chan struct{})
	defer close(stop)
	backend := newConnectBackend(t, func(call connectCall) (int, string) {
		if stalled.Load() {
			<-stop
		}
		return 200, `{"result":{}}`
	})
	n := connectNode(t, backend, callbacks.Config{Timeout: 2 * time.Second, Workers: 4})
	header := http.Header{"Cookie": {"session=s3cret"}}
	var accepted []*websocket.Conn
	for range 10 {
		conn, _, err := n.dialWith(nil, header)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		welcomeOf(t, conn)
		accepted = append(accepted, conn)
	}
	stalled.Store(true)
	var waiting []*websocket.Conn
	for range 4 {
		conn, _, err := n.dialWith(nil, header)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		waiting = append(waiting, conn)
	}
	for range 14 {
		<-backend.calls
	}
	for round := range 5 {
		n.Publisher.Broadcast(context.Background(), []byte(`{"type":"news"}`))
		for index, conn := range accepted {
			if got := readMessage(t, conn, readTimeout); got["type"] != "news" {
				t.Fatalf("round %d, connection %d got %v", round, index, got)
			}
		}
	}
	if count := n.Hub.ConnectionCount(); count != len(accepted) {
		t.Fatalf("%d connections registered while 4 connects wait, want %d", count, len(accepted))
	}
	if refused := n.Hub.Counters().Refused[session.ReasonBackendUnavailable]; refused != 0 {
		t.Fatalf("a waiting connect timed out (%d) before the broadcasts were all read", refused)
	}
	for index, conn := range waiting {
		if code, _ := readClose(t, conn, readTimeout); code != 4003 {
			t.Errorf("waiting connection %d closed with %d, want 4003 after the timeout", index, code)
		}
	}
}

// TestConnectCallbackClientGoneMeanwhileLeaksNothing: a client that closes while
// its connect callback is in flight is never registered, and its session, if the
// answer raced the close, is cleaned up; goleak (TestMain) checks goroutines.
func TestConnectCallbackClientGoneMeanwhileLeaksNothing(t *testing.T) {
	release := make(chan struct{})
	backend := newConnectBackend(t, func(call connectCall) (int, string) {
		<-release
		return sessionAnswer(call)
	})
	n := connectNode(t, backend, callbacks.Config{})
	header := http.Header{"Cookie": {"session=s3cret"}}
	for range 5 {
		conn, _, err := n.dialWith(nil, header)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		send(t, conn, map[string]any{"type": "hello"})
		<-backend.calls
		_ = conn.Close()
	}
	close(release)
	survivor, _, err := n.dialWith(nil, header)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	welcomeOf(t, survivor)
	_ = survivor.Close()
	testsupport.WaitFor(t, readTimeout, "no connection registered", func() bool { return n.Hub.ConnectionCount() == 0 })
	if cut := n.Shutdown(2 * time.Second); cut != 0 {
		t.Errorf("shutdown cut %d sockets: a session outlived its client", cut)
	}
}

func TestConnectCallbackFailsAClientThatSendsTooMuchBeforeAcceptance(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	backend := newConnectBackend(t, func(call connectCall) (int, string) {
		<-release
		return sessionAnswer(call)
	})
	n := connectNode(t, backend, callbacks.Config{})
	conn, _, err := n.dialWith(nil, http.Header{"Cookie": {"session=s3cret"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	large := strings.Repeat("x", 6000)
	for range 3 {
		send(t, conn, map[string]any{"type": "broadcast", "content": large})
	}
	if code, _ := readClose(t, conn, readTimeout); code != websocket.CloseMessageTooBig {
		t.Errorf("closed with %d, want 1009 after more than 16 KiB held", code)
	}
}
