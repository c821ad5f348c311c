package client_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// channelServer is a small WebSocket server that speaks wsgate's channel protocol
// (docs/protocol.md, "Channels") for the client's tests until the tests against a real
// node run (channels_gateway_test.go): subscribe, unsubscribe and publish with ids
// echoed, errors with channel and id, subscriptions the server makes by itself, and
// closes with any code. Its methods are safe for concurrent use.
type channelServer struct {
	*localServer
	config channelServerConfig

	mutex       sync.Mutex
	connections []*fakeConnection
}

// channelServerConfig decides what a channelServer answers; every field is optional.
type channelServerConfig struct {
	// subscribe returns "" to accept a subscribe, or the error code to refuse it
	// with. Default: accept.
	subscribe func(channel, token string) string
	// publish returns "" to accept a publish (it goes to every other subscriber of the
	// channel), or the error code. Default: "publish_not_allowed".
	publish func(channel string) string
	// subscribed returns the fields added to the subscribed answer to an accepted
	// subscribe (message): a position, recovered. Default none.
	subscribed func(message map[string]any) map[string]any
	// ack answers an accepted publish that has an id with {"type":"published"}.
	ack bool
	// onHello runs after the welcome, e.g. to subscribe the connection.
	onHello func(server *channelServer, connection *fakeConnection)
	// beforeUnsubscribe runs when an unsubscribe arrives, before it is carried out:
	// what it sends reaches the client before the answer, like a publication that
	// crossed the unsubscribe on the wire.
	beforeUnsubscribe func(server *channelServer, connection *fakeConnection, channel string)
}

// fakeConnection is one client connection of a channelServer.
type fakeConnection struct {
	index      int
	conn       *websocket.Conn
	writeMutex sync.Mutex
	// Guarded by the server's mutex.
	channels map[string]bool
	received []map[string]any
}

func startChannelServer(t *testing.T, config channelServerConfig) *channelServer {
	t.Helper()
	if config.subscribe == nil {
		config.subscribe = func(string, string) string { return "" }
	}
	if config.publish == nil {
		config.publish = func(string) string { return "publish_not_allowed" }
	}
	server := &channelServer{config: config}
	server.localServer = startLocalServer(t, func(conn *websocket.Conn, _ *http.Request, index int) {
		connection := &fakeConnection{index: index, conn: conn, channels: map[string]bool{}}
		server.mutex.Lock()
		server.connections = append(server.connections, connection)
		server.mutex.Unlock()
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			decoder := json.NewDecoder(bytes.NewReader(data))
			decoder.UseNumber()
			var message map[string]any
			if decoder.Decode(&message) != nil {
				continue
			}
			server.mutex.Lock()
			connection.received = append(connection.received, message)
			server.mutex.Unlock()
			server.answer(connection, message)
		}
	})
	return server
}

// answer handles one client message.
func (s *channelServer) answer(connection *fakeConnection, message map[string]any) {
	channel, _ := message["channel"].(string)
	withID := func(answer map[string]any) map[string]any {
		if id, ok := message["id"]; ok {
			answer["id"] = id
		}
		return answer
	}
	refuse := func(code string) {
		s.send(connection, withID(map[string]any{"type": "error", "code": code, "message": "refused: " + code, "channel": channel}))
	}
	switch message["type"] {
	case "hello":
		s.send(connection, map[string]any{"type": "welcome", "connection_id": "c", "user_id": nil, "ping_interval_ms": 0, "ping_timeout_ms": 0})
		if s.config.onHello != nil {
			s.config.onHello(s, connection)
		}
	case "subscribe":
		token, _ := message["token"].(string)
		s.mutex.Lock()
		already := connection.channels[channel]
		s.mutex.Unlock()
		if already {
			refuse("already_subscribed")
			return
		}
		if code := s.config.subscribe(channel, token); code != "" {
			refuse(code)
			return
		}
		s.mutex.Lock()
		connection.channels[channel] = true
		s.mutex.Unlock()
		answer := withID(map[string]any{"type": "subscribed", "channel": channel})
		if s.config.subscribed != nil {
			maps.Copy(answer, s.config.subscribed(message))
		}
		s.send(connection, answer)
	case "unsubscribe":
		if s.config.beforeUnsubscribe != nil {
			s.config.beforeUnsubscribe(s, connection, channel)
		}
		s.mutex.Lock()
		held := connection.channels[channel]
		delete(connection.channels, channel)
		s.mutex.Unlock()
		if !held {
			refuse("not_subscribed")
			return
		}
		s.send(connection, withID(map[string]any{"type": "unsubscribed", "channel": channel}))
	case "publish":
		if code := s.config.publish(channel); code != "" {
			refuse(code)
			return
		}
		for _, other := range s.subscribers(channel) {
			if other != connection {
				s.send(other, map[string]any{"type": "publication", "channel": channel, "data": message["data"]})
			}
		}
		if _, ok := message["id"]; ok && s.config.ack {
			s.send(connection, withID(map[string]any{"type": "published", "channel": channel}))
		}
	case "message":
		s.send(connection, message)
	}
}

// send writes message to connection, whatever it is subscribed to.
func (s *channelServer) send(connection *fakeConnection, message any) {
	data, _ := json.Marshal(message)
	connection.writeMutex.Lock()
	defer connection.writeMutex.Unlock()
	_ = connection.conn.WriteMessage(websocket.TextMessage, data)
}

// subscribers returns the connections subscribed to channel.
func (s *channelServer) subscribers(channel string) []*fakeConnection {
	s.mutex.Lock()
	defer s.mutex.Unlock()
	var subscribed []*fakeConnection
	for _, connection := range s.connections {
		if connection.channels[channel] {
			subscribed = append(subscribed, connection)
		}
	}
	return subscribed
}

// publish sends a publication to every connection subscribed to channel and returns
// how many got it.
func (s *channelServer) publish(channel string, data any) int {
	subscribed := s.subscribers(channel)
	for _, connection := range subscribed {
		s.send(connection, map[string]any{"type": "publication", "channel": channel, "data": data})
	}
	return len(subscribed)
}

// subscribe subscribes connection to channel by the server's own decision; extra
// fields go into the subscribed message.
func (s *channelServer) subscribe(connection *fakeConnection, channel string, extra map[string]any) {
	s.mutex.Lock()
	connection.channels[channel] = true
	s.mutex.Unlock()
	message := map[string]any{"type": "subscribed", "channel": channel}
	for key, value := range extra {
		message[key] = value
	}
	s.send(connection, message)
}

// unsubscribe ends connection's subscription to channel by the server's decision.
func (s *channelServer) unsubscribe(connection *fakeConnection, channel, reason string) {
	s.mutex.Lock()
	delete(connection.channels, channel)
	s.mutex.Unlock()
	s.send(connection, map[string]any{"type": "unsubscribed", "channel": channel, "reason": reason})
}

// subscribed reports whether connection is subscribed to channel.
func (s *channelServer) subscribed(connection *fakeConnection, channel string) bool {
	s.mutex.Lock()
	defer s.mutex.Unlock()
	return connection.channels[channel]
}

// latest returns the newest connection, nil before the first.
func (s *channelServer) latest() *fakeConnection {
	s.mutex.Lock()
	defer s.mutex.Unlock()
	if len(s.connections) == 0 {
		return nil
	}
	return s.connections[len(s.connections)-1]
}

// request is a client message of a channelServer with the index of its connection.
type request struct {
	connection int
	message    map[string]any
}

// requests returns the client's messages of kind on every connection, in order.
func (s *channelServer) requests(kind string) []request {
	s.mutex.Lock()
	defer s.mutex.Unlock()
	var found []request
	for _, connection := range s.connections {
		for _, message := range connection.received {
			if message["type"] == kind {
				found = append(found, request{connection: connection.index, message: message})
			}
		}
	}
	return found
}

// closeAll sends a close frame with code and reason on every connection; each
// connection's handler ends when the client answers.
func (s *channelServer) closeAll(code int, reason string) {
	s.mutex.Lock()
	connections := append([]*fakeConnection(nil), s.connections...)
	s.mutex.Unlock()
	for _, connection := range connections {
		connection.writeMutex.Lock()
		_ = connection.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
		connection.writeMutex.Unlock()
	}
}
