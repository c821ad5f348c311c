package session

import "net"

// Conn is what the registry needs from a transport connection. The engine package
// implements it over nbio; session never imports the transport.
//
// Implementations must be safe for concurrent use: broadcasts, the heartbeat and the
// connection's own message handler call Write at the same time.
type Conn interface {
	// Write queues one or more complete, encoded WebSocket frames (all of frame, or
	// an error) and never blocks:
	// what the socket does not take at once is copied into the transport's own
	// buffer, so frame may be shared by many connections and reused after Write
	// returns. An error means the connection is gone or over its write buffer; the
	// engine then reports the close through Transport.Closed.
	Write(frame []byte) (int, error)
	// Close closes the socket at once, dropping anything still queued. The engine
	// reports the close through Transport.Closed afterwards.
	Close() error
	// RemoteAddr returns the peer's address, for logs.
	RemoteAddr() net.Addr
}
