package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/wsgate/wsgate/engine"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/redistest"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/internal/testsupport/testnode"
)

// TestMain fails the package if any goroutine outlives the tests: every node is shut
// down by its test, and nbio's event loop must leave nothing behind. The goroutines
// alive before the tests (nbio's package-level default engine) are not counted.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent(), redistest.IgnoreClusterRefresh, redistest.IgnoreDelayedRefresh)
}

// node is a running gateway on a free loopback port.
type node struct {
	*gateway.Gateway
	t *testing.T
}

// startNode starts a gateway with config on a free loopback port, without a
// heartbeat unless config sets one (testnode.Start), and shuts it down when the test
// ends.
func startNode(t *testing.T, config gateway.Config) *node {
	t.Helper()
	return &node{Gateway: testnode.Start(t, config), t: t}
}

// wsURL returns the WebSocket endpoint with query parameters.
func (n *node) wsURL(query url.Values) string {
	return testsupport.WebSocketURL(n.Addr().String(), query)
}

// httpURL returns an HTTP URL on the node.
func (n *node) httpURL(path string) string {
	return "http://" + n.Addr().String() + path
}

// dial connects a gorilla/websocket client, optionally as userID.
func (n *node) dial(userID string) *websocket.Conn {
	n.t.Helper()
	conn, response, err := websocket.DefaultDialer.Dial(n.wsURL(testsupport.UserQuery(userID)), nil)
	if err != nil {
		n.t.Fatalf("dial: %v", err)
	}
	_ = response.Body.Close()
	n.t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// message is a decoded server message.
type message map[string]any

// readMessage reads the next text message (failing after timeout) and decodes it.
func readMessage(t *testing.T, conn *websocket.Conn, timeout time.Duration) message {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	kind, data, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if kind != websocket.TextMessage {
		t.Fatalf("got message type %d, want text", kind)
	}
	var decoded message
	if err := json.Unmarshal(data, &decoded); err != nil {
		t.Fatalf("server sent invalid JSON %q: %v", data, err)
	}
	return decoded
}

// readRaw reads the next message's bytes.
func readRaw(t *testing.T, conn *websocket.Conn, timeout time.Duration) []byte {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	_, data, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return data
}

// readClose reads until the server closes the connection and returns the close
// frame's code and text.
func readClose(t *testing.T, conn *websocket.Conn, timeout time.Duration) (int, string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	for {
		_, _, err := conn.ReadMessage()
		if err == nil {
			continue
		}
		closeError, ok := err.(*websocket.CloseError)
		if !ok {
			t.Fatalf("connection ended without a close frame: %v", err)
		}
		return closeError.Code, closeError.Text
	}
}

// send writes value as a JSON text message.
func send(t *testing.T, conn *websocket.Conn, value any) {
	t.Helper()
	if err := conn.WriteJSON(value); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// sendText writes raw text.
func sendText(t *testing.T, conn *websocket.Conn, text string) {
	t.Helper()
	if err := conn.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// waitFor polls condition until it holds or timeout passes (see testsupport.WaitFor).
var waitFor = testsupport.WaitFor

// getJSON fetches path and decodes the JSON body into target; it returns the status.
func getJSON(t *testing.T, address string, target any) int {
	t.Helper()
	response, err := http.Get(address)
	if err != nil {
		t.Fatalf("GET %s: %v", address, err)
	}
	defer response.Body.Close()
	body, _ := io.ReadAll(response.Body)
	if target != nil {
		if err := json.Unmarshal(body, target); err != nil {
			t.Fatalf("GET %s: invalid JSON %q: %v", address, body, err)
		}
	}
	return response.StatusCode
}

// stats is the decoded /api/v1/ws/stats document.
type stats struct {
	TotalConnections  int            `json:"total_connections"`
	TotalUsers        int            `json:"total_users"`
	ConnectionsByUser map[string]int `json:"connections_by_user"`
	Truncated         bool           `json:"truncated"`
	Limit             int            `json:"limit"`
	UserID            string         `json:"user_id"`
	ConnectionIDs     []string       `json:"connection_ids"`
}

func (n *node) stats(query string) stats {
	n.t.Helper()
	var document stats
	if status := getJSON(n.t, n.httpURL("/api/v1/ws/stats"+query), &document); status != http.StatusOK {
		n.t.Fatalf("stats status %d", status)
	}
	return document
}

// engineConfig returns an engine configuration with a small message size limit.
func engineConfig(maxMessageSize int) engine.Config {
	return engine.Config{MaxMessageSize: maxMessageSize}
}

// dialWith connects a client with query and extra request headers (Sec-WebSocket-
// Protocol offers subprotocols). It returns the upgrade response with the error of a
// refused upgrade; the connection is closed when the test ends.
func (n *node) dialWith(query url.Values, header http.Header) (*websocket.Conn, *http.Response, error) {
	n.t.Helper()
	dialer := *websocket.DefaultDialer
	if offered := header.Get("Sec-WebSocket-Protocol"); offered != "" {
		header = header.Clone()
		header.Del("Sec-WebSocket-Protocol")
		dialer.Subprotocols = strings.Split(offered, ", ")
	}
	conn, response, err := dialer.Dial(n.wsURL(query), header)
	if response != nil {
		_ = response.Body.Close()
	}
	if conn != nil {
		n.t.Cleanup(func() { _ = conn.Close() })
	}
	return conn, response, err
}

// apiCall sends method path with body (nil: none; a string: sent as is; anything
// else: JSON-encoded) and, unless key is empty, "Authorization: Bearer <key>". It
// returns the status and the decoded JSON body.
func (n *node) apiCall(method, path, key string, body any) (int, map[string]any) {
	n.t.Helper()
	var reader io.Reader
	switch typed := body.(type) {
	case nil:
	case string:
		reader = strings.NewReader(typed)
	default:
		encoded, err := json.Marshal(typed)
		if err != nil {
			n.t.Fatalf("encode: %v", err)
		}
		reader = bytes.NewReader(encoded)
	}
	status, data := n.request(method, path, key, reader)
	var decoded map[string]any
	if err := json.Unmarshal(data, &decoded); err != nil {
		n.t.Fatalf("%s %s: status %d, body %q is not JSON: %v", method, path, status, data, err)
	}
	return status, decoded
}

// getText sends GET path with "Authorization: Bearer <key>" unless key is empty and
// returns the status and body.
func (n *node) getText(path, key string) (int, string) {
	n.t.Helper()
	status, data := n.request("GET", path, key, nil)
	return status, string(data)
}

// request sends method path with body and, unless key is empty, "Authorization:
// Bearer <key>"; it returns the status and the body's bytes.
func (n *node) request(method, path, key string, body io.Reader) (int, []byte) {
	n.t.Helper()
	request, err := http.NewRequest(method, n.httpURL(path), body)
	if err != nil {
		n.t.Fatalf("request: %v", err)
	}
	if key != "" {
		request.Header.Set("Authorization", "Bearer "+key)
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer response.Body.Close()
	data, err := io.ReadAll(response.Body)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	return response.StatusCode, data
}

// expectNothingPending proves that nothing reached conn before now: it sends a ping
// and requires the pong to be the very next message.
func expectNothingPending(t *testing.T, conn *websocket.Conn) {
	t.Helper()
	send(t, conn, map[string]string{"type": "ping"})
	if got := readMessage(t, conn, 2*time.Second); got["type"] != "pong" {
		t.Fatalf("expected nothing before the pong, got %v", got)
	}
}
