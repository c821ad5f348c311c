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

// connection is one open WebSocket: a reader goroutine reads it and hands the
// messages to Run's goroutine, which calls the callbacks; a writer goroutine writes
// the channel requests and the queue to it.
type connection struct {
	client     *Client
	conn       *websocket.Conn
	writeMutex sync.Mutex
	// readerDone is closed when reading has ended; writerDone when the writer exited.
	readerDone chan struct{}
	writerDone chan struct{}
	// inbound carries what the reader read to Run's goroutine; closed when reading
	// ends, with the reason in closed.
	inbound chan inboundMessage
	closed  CloseEvent
	// ctx ends with the connection; the router's token fetches and retries, counted
	// in workers, stop with it. tasks carries their callbacks to Run's goroutine.
	ctx     context.Context
	cancel  context.CancelFunc
	workers sync.WaitGroup
	tasks   chan func()
	// control holds channel requests for this connection only, written before the
	// queue; controlReady wakes the writer for them.
	controlMutex sync.Mutex
	control      [][]byte
	controlReady chan struct{}
}

// inboundMessage is a server message other than ping, or a report of a frame that is
// not a message.
type inboundMessage struct {
	kind string
	data []byte
	err  error
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
	// Compression, when negotiated, is for what the server sends (fan-outs it
	// compresses once); the client's own messages are small (pongs, subscribes) and
	// go uncompressed, which spares a compressor per write.
	conn.EnableWriteCompression(false)
	openedAt := c.options.Clock.Now()
	link := &connection{
		client: c, conn: conn, readerDone: make(chan struct{}), writerDone: make(chan struct{}),
		inbound: make(chan inboundMessage), tasks: make(chan func()), controlReady: make(chan struct{}, 1),
	}
	link.ctx, link.cancel = context.WithCancel(ctx)
	event := link.serve(ctx)
	return connectionResult{event: event, openFor: c.options.Clock.Now().Sub(openedAt)}
}

// serve says hello, renews the subscriptions, starts the writer and the reader,
// dispatches until the connection ends, and returns once the socket is closed and
// every goroutine of the connection has exited.
func (l *connection) serve(ctx context.Context) CloseEvent {
	defer l.cancel()
	if err := l.write(helloFrame); err != nil {
		_ = l.conn.Close()
		return CloseEvent{Code: CodeAbnormal, Reason: "hello: " + err.Error(), Err: err}
	}
	router := l.client.router
	router.opened(l)
	go l.writeLoop(ctx)
	go l.readLoop()
	l.client.state.Store(int32(StateOpen))
	if l.client.options.OnOpen != nil {
		l.client.options.OnOpen()
	}
	l.dispatch()
	router.closed()
	l.cancel()
	l.workers.Wait()
	close(l.readerDone)
	_ = l.conn.Close()
	<-l.writerDone
	return l.closed
}

// dispatch calls the callbacks of what the reader hands over and of the router's
// tasks, on Run's goroutine, until reading ends.
func (l *connection) dispatch() {
	options := l.client.options
	for {
		select {
		case task := <-l.tasks:
			task()
		case message, ok := <-l.inbound:
			if !ok {
				return
			}
			switch {
			case message.err != nil:
				l.client.report(message.err)
			case message.kind == "welcome":
				if options.OnWelcome != nil {
					var welcome Welcome
					_ = json.Unmarshal(message.data, &welcome)
					options.OnWelcome(welcome)
				}
			case l.client.router.handle(l, message.kind, message.data):
			case options.OnMessage != nil:
				options.OnMessage(Message{Type: message.kind, Data: message.data})
			}
		}
	}
}

// post runs task on Run's goroutine, unless the connection ends first.
func (l *connection) post(task func()) {
	select {
	case l.tasks <- task:
	case <-l.ctx.Done():
	}
}

// pushControl queues a channel request for this connection.
func (l *connection) pushControl(frame []byte) {
	l.controlMutex.Lock()
	l.control = append(l.control, frame)
	l.controlMutex.Unlock()
	select {
	case l.controlReady <- struct{}{}:
	default:
	}
}

// readLoop reads messages until the connection ends, answers pings, and hands the rest
// to Run's goroutine; a silence longer than the heartbeat window ends it with 4000.
func (l *connection) readLoop() {
	defer close(l.inbound)
	window := l.client.options.heartbeatWindow()
	for {
		deadline := time.Time{}
		if window > 0 {
			deadline = time.Now().Add(window)
		}
		_ = l.conn.SetReadDeadline(deadline)
		kind, data, err := l.conn.ReadMessage()
		if err != nil {
			l.closed = l.closeEvent(err)
			return
		}
		var envelope struct {
			Type string `json:"type"`
		}
		if kind != websocket.TextMessage || json.Unmarshal(data, &envelope) != nil || envelope.Type == "" {
			l.inbound <- inboundMessage{err: fmt.Errorf("client: server message is not a JSON object with a type: %.200q", data)}
			continue
		}
		switch envelope.Type {
		case "ping":
			// After the close frame of Close went out a pong cannot follow; the
			// server's answer to the close ends the loop with its code.
			if err := l.write(pongFrame); err != nil && !errors.Is(err, websocket.ErrCloseSent) {
				l.closed = CloseEvent{Code: CodeAbnormal, Reason: "pong: " + err.Error(), Err: err}
				return
			}
		case "welcome":
			var welcome Welcome
			_ = json.Unmarshal(data, &welcome)
			window = 0
			if welcome.PingIntervalMS > 0 {
				window = time.Duration(welcome.PingIntervalMS+welcome.PingTimeoutMS) * time.Millisecond
			}
			l.inbound <- inboundMessage{kind: envelope.Type, data: data}
		default:
			l.inbound <- inboundMessage{kind: envelope.Type, data: data}
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

// writeLoop writes this connection's channel requests and the queued messages in
// order until the connection ends; when ctx ends it makes the close handshake. A
// message whose write fails goes back to the front of the queue and the connection is
// dropped.
func (l *connection) writeLoop(ctx context.Context) {
	defer close(l.writerDone)
	queue := l.client.queue
	for {
		for {
			if err := l.writeControl(); err != nil {
				_ = l.conn.Close()
				return
			}
			item, ok := queue.pop()
			if !ok {
				break
			}
			if !item.claim() {
				continue
			}
			if err := l.write(item.data); err != nil {
				queue.pushFront(item)
				_ = l.conn.Close()
				return
			}
			if item.written != nil {
				close(item.written)
			}
		}
		select {
		case <-queue.ready:
		case <-l.controlReady:
		case <-l.readerDone:
			return
		case <-ctx.Done():
			l.closeHandshake()
			return
		}
	}
}

// writeControl writes the channel requests waiting for this connection.
func (l *connection) writeControl() error {
	l.controlMutex.Lock()
	frames := l.control
	l.control = nil
	l.controlMutex.Unlock()
	for _, frame := range frames {
		if err := l.write(frame); err != nil {
			return err
		}
	}
	return nil
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
