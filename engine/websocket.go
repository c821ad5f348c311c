package engine

import (
	"errors"
	"net/http"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/wsgate/wsgate/session"
)

// newUpgrader configures nbio's upgrader: no keepalive runtime timer (liveness is the
// hub's heartbeat on the timer wheel, about 185 bytes per connection saved), a
// message size limit, and handlers that forward frames to the hub's transport side.
func (s *Server) newUpgrader() *websocket.Upgrader {
	upgrader := websocket.NewUpgrader()
	upgrader.Engine = s.engine
	upgrader.KeepaliveTime = 0
	upgrader.MessageLengthLimit = s.config.MaxMessageSize
	upgrader.CheckOrigin = s.config.CheckOrigin // nil: nbio's same-origin check
	upgrader.Subprotocols = []string{Subprotocol}
	upgrader.OnMessage(func(conn *websocket.Conn, messageType websocket.MessageType, data []byte) {
		connection := sessionOf(conn)
		if connection == nil {
			return
		}
		if messageType == websocket.TextMessage {
			s.transport.HandleText(connection, data)
			return
		}
		s.transport.HandleBinary(connection, data)
	})
	upgrader.SetPingHandler(func(conn *websocket.Conn, data string) {
		if connection := sessionOf(conn); connection != nil {
			s.transport.HandlePing(connection, []byte(data))
		}
	})
	upgrader.SetPongHandler(func(conn *websocket.Conn, _ string) {
		if connection := sessionOf(conn); connection != nil {
			s.transport.HandlePong(connection)
		}
	})
	upgrader.SetCloseHandler(func(conn *websocket.Conn, code int, _ string) {
		connection := sessionOf(conn)
		if connection == nil {
			return
		}
		echo := uint16(code)
		if code == 1005 {
			echo = 0
		}
		s.transport.PeerClosed(connection, echo)
	})
	upgrader.OnClose(func(conn *websocket.Conn, err error) {
		if connection := sessionOf(conn); connection != nil {
			s.transport.Closed(connection, closeReasonOf(err))
		}
	})
	return upgrader
}

// serveWebSocket upgrades the request and registers the connection with the hub.
// It runs on the connection's own executor, so no message of this connection is
// handled before the session is attached.
func (s *Server) serveWebSocket(writer http.ResponseWriter, request *http.Request) {
	identity, refusal := session.Identity{}, session.ReasonNone
	if s.config.Identify != nil {
		identity, refusal = s.config.Identify(request)
	}
	conn, err := s.upgrader.Upgrade(writer, request, nil)
	if errors.Is(err, websocket.ErrUpgradeOriginNotAllowed) {
		s.transport.CountRefused(session.ReasonOrigin)
		s.logger.Warn("connection refused", "reason", session.ReasonOrigin.String(),
			"origin", request.Header.Get("Origin"), "remote_addr", request.RemoteAddr)
		return
	}
	if err != nil {
		s.logger.Debug("upgrade failed", "error", err.Error(), "remote_addr", request.RemoteAddr)
		return
	}
	if refusal != session.ReasonNone {
		conn.SetSession(s.transport.Refuse(socket{conn}, refusal))
		return
	}
	conn.SetSession(s.transport.Open(socket{conn}, identity))
}

// socket adapts an nbio WebSocket connection to session.Conn. Frames arrive
// already encoded, so they go straight to the socket: nbio's own Write on a
// WebSocket connection refuses raw bytes. Being one pointer, it is stored in the
// interface without an allocation.
type socket struct{ *websocket.Conn }

// Write writes encoded frames to the socket; nbio queues what the kernel does not
// take at once, up to the engine's write buffer bound.
func (t socket) Write(frame []byte) (int, error) { return t.UnderlayerConn().Write(frame) }

func sessionOf(conn *websocket.Conn) *session.Session {
	connection, _ := conn.Session().(*session.Session)
	return connection
}

// closeReasonOf maps the error nbio reports when a socket closes to a close reason.
func closeReasonOf(err error) session.CloseReason {
	switch {
	case errors.Is(err, websocket.ErrMessageTooLarge), errors.Is(err, nbhttp.ErrTooLong):
		return session.ReasonTooBig
	case errors.Is(err, nbio.ErrOverflow):
		return session.ReasonSlowConsumer
	}
	return session.ReasonError
}
