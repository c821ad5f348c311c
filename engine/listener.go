package engine

import (
	"net"
	"sync"
)

// gatedListener lets the server stop accepting before the nbhttp engine stops.
// nbhttp's accept loop retries forever on any error other than shutdown, so closing
// the real listener early would make it spin; instead Accept, once the gate is shut,
// closes the socket (new clients are refused by the kernel) and blocks until the
// engine itself closes the listener.
type gatedListener struct {
	net.Listener
	gateOnce  sync.Once
	gate      chan struct{}
	closeOnce sync.Once
	closed    chan struct{}
	// parked is closed when an Accept parks behind the shut gate: every socket
	// accepted before has been handed to the engine by then (nbhttp's accept loop
	// adds a socket before it accepts the next).
	parkOnce sync.Once
	parked   chan struct{}
}

func newGatedListener(listener net.Listener) *gatedListener {
	return &gatedListener{Listener: listener, gate: make(chan struct{}), closed: make(chan struct{}), parked: make(chan struct{})}
}

// Accept returns the next connection while the gate is open.
func (l *gatedListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err == nil {
		return conn, nil
	}
	select {
	case <-l.gate:
		l.parkOnce.Do(func() { close(l.parked) })
		<-l.closed
		return nil, net.ErrClosed
	case <-l.closed:
		return nil, net.ErrClosed
	default:
		return nil, err
	}
}

// shut stops accepting: the listening socket closes and pending Accepts park.
func (l *gatedListener) shut() {
	l.gateOnce.Do(func() {
		close(l.gate)
		_ = l.Listener.Close()
	})
}

// Close is called by the engine when it stops; it releases a parked Accept.
func (l *gatedListener) Close() error {
	l.shut()
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}
