package gateway_test

import (
	"bytes"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/session"
)

const readTimeout = 5 * time.Second

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestSeedWebsocketConnection is the seed's test_websocket_connection, unchanged in
// steps and assertions: send a message, the next message received is of type message.
func TestSeedWebsocketConnection(t *testing.T) {
	n := startNode(t, gateway.Config{})
	conn := n.dial("")
	send(t, conn, map[string]any{"type": "message", "content": "Hello"})
	data := readMessage(t, conn, readTimeout)
	if data["type"] != "message" {
		t.Fatalf("type = %v, want message", data["type"])
	}
}

// TestSeedWebsocketPingPong is the seed's test_websocket_ping_pong: wait for the
// server's ping and answer it with a pong. With a short interval the first message
// must be that ping, and the connection must stay usable after the pong.
func TestSeedWebsocketPingPong(t *testing.T) {
	n := startNode(t, gateway.Config{Session: session.Config{PingInterval: 200 * time.Millisecond, TimerTick: 10 * time.Millisecond}})
	conn := n.dial("")
	data := readMessage(t, conn, readTimeout)
	if data["type"] != "ping" {
		t.Fatalf("first message %v, want a ping", data)
	}
	send(t, conn, map[string]any{"type": "pong"})
	send(t, conn, map[string]any{"type": "message", "content": "still here"})
	for {
		reply := readMessage(t, conn, readTimeout)
		if reply["type"] == "ping" {
			continue
		}
		if reply["type"] != "message" || reply["content"] != "still here" {
			t.Fatalf("reply %v, want the echo", reply)
		}
		return
	}
}

func TestEchoKeepsContentByteForByte(t *testing.T) {
	n := startNode(t, gateway.Config{})
	conn := n.dial("")
	for _, content := range []string{
		`"Hello"`,
		`{"nested": [1, 2.50, {"deep":true}],  "text":"caf\u00e9 \ud83d\ude00"}`,
		`12345678901234567890`,
		`null`,
	} {
		sendText(t, conn, `{"type":"message","content":`+content+`}`)
		got := readRaw(t, conn, readTimeout)
		want := `{"type":"message","content":` + content + `}`
		if string(got) != want {
			t.Fatalf("echo = %s, want %s", got, want)
		}
	}
	sendText(t, conn, `{"type":"message"}`)
	if got := readRaw(t, conn, readTimeout); string(got) != `{"type":"message","content":null}` {
		t.Fatalf("echo without content = %s", got)
	}
}

func TestBroadcastReachesOthersButNotSender(t *testing.T) {
	n := startNode(t, gateway.Config{})
	sender, first, second := n.dial(""), n.dial(""), n.dial("")
	waitFor(t, readTimeout, "three connections", func() bool { return n.Hub.ConnectionCount() == 3 })
	sendText(t, sender, `{"type":"broadcast","content":{"a": 1}}`)
	for _, receiver := range []*websocket.Conn{first, second} {
		if got := readRaw(t, receiver, readTimeout); string(got) != `{"type":"broadcast","content":{"a": 1}}` {
			t.Fatalf("broadcast = %s", got)
		}
	}
	// The sender's next message is the echo it asks for, not its own broadcast.
	send(t, sender, map[string]any{"type": "message", "content": "after"})
	if got := readMessage(t, sender, readTimeout); got["type"] != "message" {
		t.Fatalf("sender received %v, want only its echo", got)
	}
}

func TestPingAndPong(t *testing.T) {
	n := startNode(t, gateway.Config{})
	conn := n.dial("")
	send(t, conn, map[string]any{"type": "pong"})
	send(t, conn, map[string]any{"type": "ping"})
	if got := readRaw(t, conn, readTimeout); string(got) != `{"type":"pong"}` {
		t.Fatalf("ping answered with %s; a pong must get no answer", got)
	}
}

func TestHelloReturnsWelcome(t *testing.T) {
	n := startNode(t, gateway.Config{
		InsecureUserID: true,
		// Long enough that no ping (first sent at a random phase within the
		// interval) comes before the welcome.
		Session: session.Config{PingInterval: 15 * time.Minute, PingTimeout: 5 * time.Second},
	})
	conn := n.dial("alice")
	send(t, conn, map[string]any{"type": "hello"})
	welcome := readMessage(t, conn, readTimeout)
	if welcome["type"] != "welcome" || welcome["user_id"] != "alice" ||
		welcome["ping_interval_ms"] != 900000.0 || welcome["ping_timeout_ms"] != 5000.0 {
		t.Fatalf("welcome = %v", welcome)
	}
	id, _ := welcome["connection_id"].(string)
	if !uuidPattern.MatchString(id) {
		t.Fatalf("connection_id %q is not a random UUID", id)
	}
	if ids := n.stats("?user_id=alice").ConnectionIDs; len(ids) != 1 || ids[0] != id {
		t.Fatalf("stats ids %v, want [%s]", ids, id)
	}
}

func TestUserIDIgnoredWithoutInsecureFlag(t *testing.T) {
	n := startNode(t, gateway.Config{})
	conn := n.dial("mallory")
	send(t, conn, map[string]any{"type": "hello"})
	if welcome := readMessage(t, conn, readTimeout); welcome["user_id"] != nil {
		t.Fatalf("anonymous connection got user_id %v", welcome["user_id"])
	}
	if document := n.stats(""); document.TotalConnections != 1 || document.TotalUsers != 0 {
		t.Fatalf("stats %+v, want one anonymous connection", document)
	}
}

func TestMalformedInputGetsErrorAndConnectionStays(t *testing.T) {
	n := startNode(t, gateway.Config{})
	conn := n.dial("")
	cases := []struct{ input, code string }{
		{`{"type":`, protocol.ErrorInvalidJSON},
		{`not json`, protocol.ErrorInvalidJSON},
		{`[1,2]`, protocol.ErrorNotObject},
		{`"message"`, protocol.ErrorNotObject},
		{`{"content":"x"}`, protocol.ErrorMissingType},
		{`{"type":"teleport"}`, protocol.ErrorUnknownType},
		{`{"type":7}`, protocol.ErrorInvalidFormat},
		{`{"type":"message","content":}`, protocol.ErrorInvalidJSON},
	}
	for _, test := range cases {
		sendText(t, conn, test.input)
		reply := readMessage(t, conn, readTimeout)
		if reply["type"] != "error" || reply["code"] != test.code || reply["message"] == "" {
			t.Fatalf("input %q: reply %v, want error %s", test.input, reply, test.code)
		}
	}
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if reply := readMessage(t, conn, readTimeout); reply["code"] != protocol.ErrorBinaryFrame {
		t.Fatalf("binary frame: reply %v", reply)
	}
	send(t, conn, map[string]any{"type": "message", "content": "alive"})
	if reply := readMessage(t, conn, readTimeout); reply["content"] != "alive" {
		t.Fatalf("connection unusable after bad input: %v", reply)
	}
}

func TestOversizedMessageClosesWith1009(t *testing.T) {
	n := startNode(t, gateway.Config{Engine: engineConfig(1024)})
	conn := n.dial("")
	sendText(t, conn, `{"type":"message","content":"`+strings.Repeat("x", 2000)+`"}`)
	if code, text := readClose(t, conn, readTimeout); code != websocket.CloseMessageTooBig || text != session.ReasonTooBig.Text() {
		t.Fatalf("closed with %d %q, want 1009 %q (docs/protocol.md)", code, text, session.ReasonTooBig.Text())
	}
	waitFor(t, readTimeout, "registry empty", func() bool { return n.Hub.ConnectionCount() == 0 })
	if got := n.Hub.Counters().Disconnects[session.ReasonTooBig]; got != 1 {
		t.Fatalf("too_big disconnects = %d, want 1", got)
	}
}

// TestNegativeFrameLengthIsRefused: nbio v1.6.8 reads a 64-bit frame length with the
// top bit set as negative, which skips the message size check; the engine's small
// read limit must still end such a connection without buffering megabytes.
func TestNegativeFrameLengthIsRefused(t *testing.T) {
	n := startNode(t, gateway.Config{Engine: engineConfig(1024)})
	raw, err := net.Dial("tcp", n.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	request := "GET /api/v1/ws HTTP/1.1\r\nHost: " + n.Addr().String() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := raw.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, readTimeout, "upgrade", func() bool { return n.Hub.ConnectionCount() == 1 })
	header := []byte{0x81, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0x10, 0, 1, 2, 3, 4}
	_ = raw.SetWriteDeadline(time.Now().Add(readTimeout))
	if _, err := raw.Write(header); err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{'a'}, 16<<10)
	for range 64 { // up to 1 MiB: far past the read limit, far below nbio's 64 MiB default
		if _, err := raw.Write(chunk); err != nil {
			break
		}
	}
	waitFor(t, readTimeout, "connection dropped", func() bool { return n.Hub.ConnectionCount() == 0 })
	if reason := n.Hub.Counters().Disconnects; reason[session.ReasonTooBig]+reason[session.ReasonError] != 1 {
		t.Fatalf("disconnects %v, want one too_big or error", reason)
	}
}
