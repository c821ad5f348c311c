package client_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// localServer is a tiny WebSocket server for close codes that wsgate sends only with
// authentication or a backend (4100, 4401, 4403), and for connections whose end the
// test decides. behave runs for each connection, in order; index counts from 0. When
// the test ends, the server waits for every behave to return.
type localServer struct {
	*httptest.Server
	mutex    sync.Mutex
	requests []string
	// authorizations holds each connection's Authorization header, "" for none.
	authorizations []string
}

func startLocalServer(t *testing.T, behave func(conn *websocket.Conn, request *http.Request, index int)) *localServer {
	t.Helper()
	server := &localServer{}
	var handlers sync.WaitGroup
	upgrader := websocket.Upgrader{}
	server.Server = httptest.NewServer(http.HandlerFunc(func(writer http.ResponseWriter, request *http.Request) {
		conn, err := upgrader.Upgrade(writer, request, nil)
		if err != nil {
			return
		}
		handlers.Add(1)
		defer handlers.Done()
		defer conn.Close()
		server.mutex.Lock()
		server.requests = append(server.requests, request.URL.RequestURI())
		server.authorizations = append(server.authorizations, request.Header.Get("Authorization"))
		index := len(server.requests) - 1
		server.mutex.Unlock()
		behave(conn, request, index)
	}))
	t.Cleanup(func() {
		server.Close()
		handlers.Wait()
	})
	return server
}

// url returns the server's WebSocket endpoint.
func (s *localServer) url() string {
	return "ws" + strings.TrimPrefix(s.Server.URL, "http") + "/api/v1/ws"
}

// authorizationHeaders returns the Authorization header of every connection so far.
func (s *localServer) authorizationHeaders() []string {
	s.mutex.Lock()
	defer s.mutex.Unlock()
	return append([]string(nil), s.authorizations...)
}

// requestURIs returns the path and query of every connection so far.
func (s *localServer) requestURIs() []string {
	s.mutex.Lock()
	defer s.mutex.Unlock()
	return append([]string(nil), s.requests...)
}

// closeWith sends a close frame with code and reason and waits (at most a second)
// for the client's answer.
func closeWith(conn *websocket.Conn, code int, reason string) {
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			return
		}
	}
}

// echoUntilClosed answers every message with itself until the connection ends.
func echoUntilClosed(conn *websocket.Conn) {
	for {
		kind, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if err := conn.WriteMessage(kind, data); err != nil {
			return
		}
	}
}
