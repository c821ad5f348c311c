package engine

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/lesismal/nbio"
	"github.com/wsgate/wsgate/protocol"
	"github.com/wsgate/wsgate/session"
)

// serveWebSocket upgrades the request and registers the connection with the hub
// before the client sees the 101: a client (or a backend it told) that acts on the
// connection as soon as it is open finds it registered. It runs on the connection's
// own executor, so no message of this connection is handled before the session is
// attached. A connection the hub does not admit (a drain, the connect rate) is
// refused before its credentials are verified: upgraded, then closed with the
// refusal's code, which every client can read. With Config.Connect the 101 is
// written first and the session attached when the decision arrives (connect.go).
func (s *Server) serveWebSocket(writer http.ResponseWriter, request *http.Request) {
	identity, refusal := session.Identity{}, s.transport.Admit()
	if refusal == session.ReasonNone && s.config.Identify != nil {
		identity, refusal = s.config.Identify(request)
	}
	conn, err := s.upgrader.Upgrade(writer, request)
	if errors.Is(err, errOriginNotAllowed) {
		s.transport.CountRefused(session.ReasonOrigin)
		s.logger.Warn("connection refused", "reason", session.ReasonOrigin.String(),
			"origin", request.Header.Get("Origin"), "remote_addr", request.RemoteAddr)
		return
	}
	if err != nil {
		s.logger.Debug("upgrade failed", "error", err.Error(), "remote_addr", request.RemoteAddr)
		return
	}
	switch {
	case refusal != session.ReasonNone:
		// Nothing is asked about a refused connection: what it sent is dropped.
		conn.dropHeld()
		conn.SetSession(s.transport.Refuse(conn, refusal))
	case s.config.Connect != nil:
		if err := s.awaitDecision(conn, request, identity); err != nil {
			s.logger.Debug("upgrade failed", "error", err.Error(), "remote_addr", request.RemoteAddr)
			_ = conn.Close()
		}
		return
	default:
		conn.SetSession(s.transport.Open(conn, identity))
	}
	if err := conn.completeHandshake(); err != nil {
		s.logger.Debug("upgrade failed", "error", err.Error(), "remote_addr", request.RemoteAddr)
		_ = conn.Close()
	}
}

// wsConn is one upgraded WebSocket connection. nbio's poller hands the server the
// socket's bytes (Server.onData), the connection's frame reader turns them into
// messages and control frames (connEvents), and those run on the socket's executor
// (nbio's per-connection FIFO on the handler pool), where the session lives. It
// implements session.Conn for the hub's writes, which arrive already encoded. 48
// bytes per idle connection, the size class below 64 (16 MB at 1M connections):
// the server is not kept, because every path into a connection starts at the
// server (onData, the close callback, the connect decision), and what only an
// opening connection needs sits behind one pointer (opening).
type wsConn struct {
	socket *nbio.Conn
	// session is attached by serveWebSocket on the executor and read there, and by
	// the written-bytes callback on any goroutine.
	session atomic.Pointer[session.Session]
	// writeMutex orders writes against the close frame: once a close frame is
	// written (writeClosed), no other frame may follow it (RFC 6455 §5.5.1). The
	// write under it never blocks: nbio's Write queues what the kernel does not take,
	// under nbio's own connection lock, which serializes writers already.
	writeMutex  sync.Mutex
	writeClosed bool
	// closeAfterHandshake records a Close that came while the 101 was held back.
	closeAfterHandshake bool
	// deflate is set by Upgrade, before the poller reads the socket, when the
	// client negotiated permessage-deflate; never changed. With the two flags
	// around it, it fills the padding before gone's 4 bytes.
	deflate bool
	// gone is set by closeAndClean: a connect decision that arrives later registers
	// nothing. Beside the two flags above it fills their padding instead of adding
	// 8 bytes after a pointer (8 MB at 1M connections).
	gone atomic.Bool
	// opening is what the connection needs only while it opens (the 101 held back,
	// the frames held for the connect decision); nil once open. Set by Upgrade
	// before the poller sees the socket; loaded by the poller (holds), by writers
	// under writeMutex, and cleared by completeHandshake or the decision.
	opening atomic.Pointer[opening]
	// reader holds what the frame reader keeps between two reads of the socket: a
	// frame or fragmented message cut across reads, or the end of reading (done).
	// It is nil at a frame boundary, where an idle connection spends its life: parse
	// then reads with a reader on the poller's stack, and only state that must wait
	// for more bytes moves to the heap. Used by the poller goroutine only.
	reader *frameReader
}

// opening is the state of a connection between its upgrade and the moment it is
// open: allocated per upgrade (16 bytes) and dropped once the 101 is written and the
// connect decision applied, so an open connection pays one pointer for it.
type opening struct {
	// answer holds the 101 answer, and the frames queued behind it, until
	// completeHandshake writes them: frames the hub sends while it registers the
	// connection (a refusal's close frame, "subscribed" answers) must follow the
	// 101. Nil once written. Guarded by wsConn.writeMutex.
	answer *[]byte
	// held keeps the frames that arrive while the connect decision is pending
	// (connect.go); nil without Config.Connect. Set before the poller sees the
	// socket, never changed.
	held *heldFrames
}

// SetSession attaches the hub's session to the connection; called once, on the
// connection's executor, before any of its frames is handled.
func (c *wsConn) SetSession(s *session.Session) { c.session.Store(s) }

// Write implements session.Conn: it writes encoded frames and never blocks. A write
// that starts with a close frame is the connection's last (the hub queues nothing
// after a close); later writes fail with net.ErrClosed.
func (c *wsConn) Write(frames []byte) (int, error) {
	c.writeMutex.Lock()
	defer c.writeMutex.Unlock()
	if c.writeClosed {
		return 0, net.ErrClosed
	}
	if len(frames) > 0 && frames[0]&0x0F == opClose {
		c.writeClosed = true
	}
	if open := c.opening.Load(); open != nil && open.answer != nil {
		*open.answer = append(*open.answer, frames...)
		return len(frames), nil
	}
	return c.socket.Write(frames)
}

// completeHandshake writes the 101 answer and the frames queued behind it, then
// closes the socket if Close was called meanwhile; from then on writes go to the
// socket. The opening state is dropped unless frames are still held for a connect
// decision.
func (c *wsConn) completeHandshake() error {
	c.writeMutex.Lock()
	defer c.writeMutex.Unlock()
	open := c.opening.Load()
	answer := open.answer
	open.answer = nil
	if !open.held.pending() {
		c.opening.Store(nil)
	}
	_, err := c.socket.Write(*answer)
	releaseHandshakeBuffer(answer)
	if c.closeAfterHandshake {
		_ = c.socket.Close()
	}
	return err
}

// Close implements session.Conn: the socket closes at once, or, while the 101 is
// still held back, as soon as completeHandshake has written it and the frames behind
// it (a refusal's close frame among them), so the client reads why it was refused.
func (c *wsConn) Close() error {
	c.writeMutex.Lock()
	if open := c.opening.Load(); open != nil && open.answer != nil {
		c.closeAfterHandshake = true
		c.writeMutex.Unlock()
		return nil
	}
	c.writeMutex.Unlock()
	return c.socket.Close()
}

// AcceptsDeflate implements session.DeflateConn: whether the client negotiated
// permessage-deflate. Set by Upgrade before the connection is registered, never
// changed.
func (c *wsConn) AcceptsDeflate() bool { return c.deflate }

// RemoteAddr implements session.Conn.
func (c *wsConn) RemoteAddr() net.Addr { return c.socket.RemoteAddr() }

// parse reads one read's bytes from the socket; nbio's poller hands them to
// Server.onData, which calls it. A frame that breaks RFC 6455 fails the connection:
// its close frame (1002, 1007 or 1009) is written, and the error returned makes the
// caller close the socket.
func (c *wsConn) parse(server *Server, data []byte) error {
	var onStack frameReader
	reader := c.reader
	if reader == nil {
		onStack.deflate = c.deflate
		reader = &onStack
	}
	failure := feed(reader, data, server.config.MaxMessageSize, connEvents{conn: c, server: server})
	switch {
	case reader.atBoundary():
		c.reader = nil
	case reader == &onStack:
		c.reader = new(frameReader)
		*c.reader = onStack
	}
	if failure != nil {
		_, _ = c.Write(protocol.CloseFrame(failure.code, failure.text))
		return failure
	}
	return nil
}

// parseWebSocket hands a read of an upgraded socket to its connection, on the
// poller goroutine; a frame that fails the connection closes the socket with its
// error, which the close callback turns into a close reason (closeReasonOf). A
// panic of the frame layer, which nbhttp's data handler recovered before wsgate
// took reads over, is logged and closes the socket rather than the process.
func (s *Server) parseWebSocket(conn *wsConn, data []byte) {
	defer func() {
		if recovered := recover(); recovered != nil {
			s.logger.Error("websocket frame reader failed", "panic", fmt.Sprint(recovered), "stack", string(debug.Stack()))
			_ = conn.socket.Close()
		}
	}()
	if err := conn.parse(s, data); err != nil {
		_ = conn.socket.CloseWithError(err)
	}
}

// closeAndClean ends the connection's session once its socket closed: the server's
// close callback calls it on the executor, after every frame handler already queued.
func (c *wsConn) closeAndClean(server *Server, err error) {
	c.gone.Store(true)
	if s := c.session.Load(); s != nil {
		server.transport.Closed(s, closeReasonOf(err))
	}
}

// connEvents is the frameHandler of one read: the connection and its server, passed
// by value (feed is generic over it, so it is never boxed).
type connEvents struct {
	conn   *wsConn
	server *Server
}

// message implements frameHandler: the message goes to the hub on the executor.
func (e connEvents) message(opcode byte, payload []byte) {
	c, transport := e.conn, e.server.transport
	if c.holds(opcode, payload, e.server.config.MaxHeldBytes) {
		return
	}
	// Two closures rather than one that tests the opcode: without the opcode's
	// byte a closure is 48 bytes, not 64.
	if opcode == opText {
		c.socket.Execute(func() {
			if s := c.session.Load(); s != nil {
				transport.HandleText(s, payload)
			}
		})
		return
	}
	c.socket.Execute(func() {
		if s := c.session.Load(); s != nil {
			transport.HandleBinary(s, payload)
		}
	})
}

// ping implements frameHandler: the hub queues the pong behind what it already
// queued for the connection.
func (e connEvents) ping(payload []byte) {
	c, transport := e.conn, e.server.transport
	if c.holds(opPing, payload, e.server.config.MaxHeldBytes) {
		return
	}
	c.socket.Execute(func() {
		if s := c.session.Load(); s != nil {
			transport.HandlePing(s, payload)
		}
	})
}

// pong implements frameHandler; an unsolicited pong only proves the peer alive.
func (e connEvents) pong(payload []byte) {
	c, transport := e.conn, e.server.transport
	if c.holds(opPong, payload, e.server.config.MaxHeldBytes) {
		return
	}
	c.socket.Execute(func() {
		if s := c.session.Load(); s != nil {
			transport.HandlePong(s)
		}
	})
}

// closed implements frameHandler: the client's close is echoed (unless the server
// had sent its own close already) and the socket closes: the closing handshake is
// complete. Its code is valid (the reader refused the others), so the echo never
// carries 1005, 1006 or 1015.
func (e connEvents) closed(code uint16, _ []byte) {
	c, transport := e.conn, e.server.transport
	c.socket.Execute(func() {
		if s := c.session.Load(); s != nil {
			transport.PeerClosed(s, code)
		}
		_ = c.socket.Close()
	})
}

// sessionOfSocket returns the session of an nbio socket, or nil before the upgrade.
func sessionOfSocket(socket *nbio.Conn) *session.Session {
	if conn, ok := socket.Session().(*wsConn); ok {
		return conn.session.Load()
	}
	return nil
}

// closeReasonOf maps the error nbio reports when a socket closes to a close reason.
func closeReasonOf(err error) session.CloseReason {
	var failure *frameError
	switch {
	case errors.As(err, &failure) && failure.code == protocol.CloseTooBig:
		return session.ReasonTooBig
	case errors.Is(err, nbio.ErrOverflow):
		return session.ReasonSlowConsumer
	}
	return session.ReasonError
}
