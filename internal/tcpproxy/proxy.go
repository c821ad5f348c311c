// Package tcpproxy is a TCP proxy for tests of real outages: it forwards between
// clients and a target, and can cut every connection, freeze forwarding in both
// directions without closing anything (a half-open network), and restore.
package tcpproxy

import (
	"net"
	"sync"
)

// Proxy forwards connections accepted on its listener to Target. Its methods are
// safe for concurrent use.
type Proxy struct {
	listener net.Listener
	target   string

	mutex  sync.Mutex
	frozen bool
	thawed chan struct{} // closed when not frozen
	pairs  map[*pair]struct{}
	closed bool
	group  sync.WaitGroup
}

type pair struct {
	client, server net.Conn
}

// Start listens on a free loopback port and forwards to target ("host:port").
func Start(target string) (*Proxy, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	thawed := make(chan struct{})
	close(thawed)
	proxy := &Proxy{listener: listener, target: target, thawed: thawed, pairs: map[*pair]struct{}{}}
	proxy.group.Add(1)
	go proxy.accept()
	return proxy, nil
}

// Addr returns the proxy's listening address, to dial instead of the target.
func (p *Proxy) Addr() string { return p.listener.Addr().String() }

// SetTarget changes where new connections are forwarded (e.g. after a restart on a
// new port).
func (p *Proxy) SetTarget(target string) {
	p.mutex.Lock()
	p.target = target
	p.mutex.Unlock()
}

func (p *Proxy) accept() {
	defer p.group.Done()
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		p.mutex.Lock()
		target := p.target
		p.mutex.Unlock()
		server, err := net.Dial("tcp", target)
		if err != nil {
			_ = client.Close()
			continue
		}
		connection := &pair{client: client, server: server}
		p.mutex.Lock()
		if p.closed {
			p.mutex.Unlock()
			_ = client.Close()
			_ = server.Close()
			return
		}
		p.pairs[connection] = struct{}{}
		p.mutex.Unlock()
		p.group.Add(2)
		go p.forward(connection, client, server)
		go p.forward(connection, server, client)
	}
}

// forward copies from source to destination, waiting while the proxy is frozen.
func (p *Proxy) forward(connection *pair, source, destination net.Conn) {
	defer p.group.Done()
	defer p.drop(connection)
	buffer := make([]byte, 32<<10)
	for {
		count, err := source.Read(buffer)
		if count > 0 {
			p.mutex.Lock()
			thawed := p.thawed
			p.mutex.Unlock()
			<-thawed
			if _, writeErr := destination.Write(buffer[:count]); writeErr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) drop(connection *pair) {
	p.mutex.Lock()
	delete(p.pairs, connection)
	p.mutex.Unlock()
	_ = connection.client.Close()
	_ = connection.server.Close()
}

// Freeze stops forwarding in both directions; sockets stay open, so neither side
// sees an error: bytes read meanwhile wait in the proxy until Restore.
func (p *Proxy) Freeze() {
	p.mutex.Lock()
	defer p.mutex.Unlock()
	if !p.frozen {
		p.frozen = true
		p.thawed = make(chan struct{})
	}
}

// Restore resumes forwarding after Freeze.
func (p *Proxy) Restore() {
	p.mutex.Lock()
	defer p.mutex.Unlock()
	if p.frozen {
		p.frozen = false
		close(p.thawed)
	}
}

// Cut closes every forwarded connection at once (both sides see the socket close);
// new connections are still accepted.
func (p *Proxy) Cut() {
	p.mutex.Lock()
	pairs := make([]*pair, 0, len(p.pairs))
	for connection := range p.pairs {
		pairs = append(pairs, connection)
	}
	p.mutex.Unlock()
	for _, connection := range pairs {
		_ = connection.client.Close()
		_ = connection.server.Close()
	}
}

// Close stops listening, cuts every connection and waits for the proxy's goroutines.
func (p *Proxy) Close() error {
	p.mutex.Lock()
	p.closed = true
	p.mutex.Unlock()
	err := p.listener.Close()
	p.Restore()
	p.Cut()
	p.group.Wait()
	return err
}
