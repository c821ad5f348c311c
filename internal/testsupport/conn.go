package testsupport

import (
	"net"
	"sync"
	"sync/atomic"
)

// Conn is an in-memory session.Conn, for tests and benchmarks of the hub that need
// connections without sockets (behaviour over real sockets is tested in gateway).
// By default it keeps a copy of every frame written; with Discard it keeps none, for
// hubs of thousands of connections. Write never fails and never blocks. The zero
// value is ready to use; its methods are safe for concurrent use.
type Conn struct {
	// Discard drops written frames instead of keeping copies (Writes then returns
	// nil); Write then takes no lock.
	Discard bool
	// Traffic, when not nil, counts this connection's writes, together with every
	// Conn that shares it.
	Traffic *Traffic

	mutex  sync.Mutex
	writes [][]byte
	closed bool
}

// Traffic counts the writes and bytes of the Conns that share it, such as every
// connection of a fan-out benchmark. Safe for concurrent use.
type Traffic struct {
	Writes atomic.Int64
	Bytes  atomic.Int64
}

// remoteAddress is every Conn's peer: 192.0.2.1 is TEST-NET-1 (RFC 5737), an
// address no real peer has.
var remoteAddress = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4000}

// Write records frame (a copy: the caller may reuse it) unless Discard is set,
// counts it in Traffic, and reports it all written.
func (c *Conn) Write(frame []byte) (int, error) {
	if c.Traffic != nil {
		c.Traffic.Writes.Add(1)
		c.Traffic.Bytes.Add(int64(len(frame)))
	}
	if c.Discard {
		return len(frame), nil
	}
	c.mutex.Lock()
	defer c.mutex.Unlock()
	c.writes = append(c.writes, append([]byte(nil), frame...))
	return len(frame), nil
}

// Close marks the connection closed; a transport would report the close to the hub
// afterwards, which this one leaves to the test.
func (c *Conn) Close() error {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	c.closed = true
	return nil
}

// RemoteAddr returns 192.0.2.1:4000. The caller must not modify it.
func (c *Conn) RemoteAddr() net.Addr { return remoteAddress }

// Writes returns the frames written so far, in order.
func (c *Conn) Writes() [][]byte {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	return append([][]byte(nil), c.writes...)
}

// Closed reports whether Close was called.
func (c *Conn) Closed() bool {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	return c.closed
}
