package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

var (
	helloFrame = []byte(`{"type":"hello"}`)
	pongFrame  = []byte(`{"type":"pong"}`)
)

// closeWait bounds the close handshake when the Client stops, and the close frame
// written to a server found silent.
const closeWait = time.Second

// connectionResult is how one connection attempt ended.
type connectionResult struct {
	event CloseEvent
	// openFor is how long the connection was open; 0 when it never opened.
	openFor time.Duration
}

// connection is one open WebSocket: Run's goroutine reads it, a writer goroutine
// writes the queue to it.
type connection struct {
	client     *Client
	conn       *websocket.Conn
	writeMutex sync.Mutex
	// readerDone is closed when reading has ended; writerDone when the writer exited.
	readerDone chan struct{}
	writerDone chan struct{}
}

// connect dials one connection and serves it until it ends.
func (c *Client) connect(ctx context.Context, token string) connectionResult {
	dialContext, cancel := context.WithTimeout(ctx, c.options.ConnectTimeout)
	address, header := c.upgradeRequest(token)
	conn, response, err := c.options.Dialer.DialContext(dialContext, address, header)
	cancel()
	if response != nil && response.Body != nil {
		_ = response.Body.Close()
	}
	if err != nil {
		return connectionResult{event: CloseEvent{Code: CodeAbnormal, Reason: "dial: " + err.Error(), Err: err}}
	}
	openedAt := c.options.Clock.Now()
	link := &connection{client: c, conn: conn, readerDone: make(chan struct{}), writerDone: make(chan struct{})}
	event := link.serve(ctx)
	return connectionResult{event: event, openFor: c.options.Clock.Now().Sub(openedAt)}
}

// serve says hello, starts the writer, reads until the connection ends, and returns
// once the socket is closed and the writer has exited.
func (l *connection) serve(ctx context.Context) CloseEvent {
	if err := l.write(helloFrame); err != nil {
		_ = l.conn.Close()
		return CloseEvent{Code: CodeAbnormal, Reason: "hello: " + err.Error(), Err: err}
	}
	go l.writeLoop(ctx)
	l.client.state.Store(int32(StateOpen))
	if l.client.options.OnOpen != nil {
		l.client.options.OnOpen()
	}
	event := l.readLoop()
	close(l.readerDone)
	_ = l.conn.Close()
	<-l.writerDone
	return event
}

// readLoop reads and dispatches messages until the connection ends; a silence longer
// than the heartbeat window ends it with 4000.
func (l *connection) readLoop() CloseEvent {
	options := l.client.options
	window := options.heartbeatWindow()
	for {
		deadline := time.Time{}
		if window > 0 {
			deadline = time.Now().Add(window)
		}
		_ = l.conn.SetReadDeadline(deadline)
		kind, data, err := l.conn.ReadMessage()
		if err != nil {
			return l.closeEvent(err)
		}
		var envelope struct {
			Type string `json:"type"`
		}
		if kind != websocket.TextMessage || json.Unmarshal(data, &envelope) != nil || envelope.Type == "" {
			l.client.report(fmt.Errorf("client: server message is not a JSON object with a type: %.200q", data))
			continue
		}
		switch envelope.Type {
		case "ping":
			if err := l.write(pongFrame); err != nil {
				return CloseEvent{Code: CodeAbnormal, Reason: "pong: " + err.Error(), Err: err}
			}
		case "welcome":
			var welcome Welcome
			_ = json.Unmarshal(data, &welcome)
			window = 0
			if welcome.PingIntervalMS > 0 {
				window = time.Duration(welcome.PingIntervalMS+welcome.PingTimeoutMS) * time.Millisecond
			}
			if options.OnWelcome != nil {
				options.OnWelcome(welcome)
			}
		default:
			if options.OnMessage != nil {
				options.OnMessage(Message{Type: envelope.Type, Data: data})
			}
		}
	}
}

// closeEvent describes the read error that ended the connection.
func (l *connection) closeEvent(err error) CloseEvent {
	var closeError *websocket.CloseError
	var networkError net.Error
	switch {
	case errors.As(err, &closeError):
		return CloseEvent{Code: closeError.Code, Reason: closeError.Text}
	case errors.As(err, &networkError) && networkError.Timeout():
		message := websocket.FormatCloseMessage(CodeHeartbeatTimeout, "heartbeat timeout")
		_ = l.conn.WriteControl(websocket.CloseMessage, message, time.Now().Add(closeWait))
		return CloseEvent{Code: CodeHeartbeatTimeout, Reason: "heartbeat timeout", Err: err}
	default:
		return CloseEvent{Code: CodeAbnormal, Reason: err.Error(), Err: err}
	}
}

// writeLoop writes queued messages in order until the connection ends; when ctx ends
// it makes the close handshake. A message whose write fails goes back to the front of
// the queue and the connection is dropped.
func (l *connection) writeLoop(ctx context.Context) {
	defer close(l.writerDone)
	queue := l.client.queue
	for {
		for {
			item, ok := queue.pop()
			if !ok {
				break
			}
			if err := l.write(item); err != nil {
				queue.pushFront(item)
				_ = l.conn.Close()
				return
			}
		}
		select {
		case <-queue.ready:
		case <-l.readerDone:
			return
		case <-ctx.Done():
			l.closeHandshake()
			return
		}
	}
}

// closeHandshake sends a 1000 close and waits (at most closeWait) for the reader to
// see the server's answer; then it closes the socket.
func (l *connection) closeHandshake() {
	message := websocket.FormatCloseMessage(CodeNormal, "client closed")
	_ = l.conn.WriteControl(websocket.CloseMessage, message, time.Now().Add(closeWait))
	timer := time.NewTimer(closeWait)
	defer timer.Stop()
	select {
	case <-l.readerDone:
	case <-timer.C:
		_ = l.conn.Close()
	}
}

// write sends one text message within the write timeout.
func (l *connection) write(data []byte) error {
	l.writeMutex.Lock()
	defer l.writeMutex.Unlock()
	_ = l.conn.SetWriteDeadline(time.Now().Add(l.client.options.WriteTimeout))
	return l.conn.WriteMessage(websocket.TextMessage, data)
}
