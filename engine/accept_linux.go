package engine

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/lesismal/nbio"
)

// rawListener accepts TCP connections with accept4(2) on the listening socket itself
// and hands nbhttp an nbio connection, instead of going through Go's net.Listener.
//
// Through Go's Accept every connection first becomes a *net.TCPConn that nbio only
// copies and closes (nbio.dupStdConn): a netFD registered in Go's netpoller and
// removed again (two epoll_ctl calls), getsockname, TCP_NODELAY, and two net.TCPAddr
// with the syscall.SockaddrInet4 behind each, which nbio's connection keeps for its
// whole life (160 bytes per idle connection, more than wsgate's own connection
// object). Here the listening socket still waits for readiness in Go's poller, but
// each accepted socket costs accept4, TCP_NODELAY, and one compact remote address
// (8 bytes for IPv4); every connection shares the listener's address as its local
// address. A net.TCPListener's own RawConn cannot wait (its Read is EINVAL), so the
// listener holds the listening socket as an *os.File, whose RawConn can.
//
// nbio derives a connection's kind from the concrete type it copies (only a
// *net.TCPConn makes a TCP connection: any other type reads nothing, writes
// nothing and leaks its descriptor on close), and it has no exported way to make a
// TCP connection from a descriptor. So Accept builds the nbio connection itself
// (nbio.NBConn, which nbhttp passes through unchanged) and sets its kind, an
// unexported field, at the offset reflection finds for it; acceptsRaw reports
// whether that field is where and what this nbio version had (v1.6.12), and Start
// uses Go's Accept otherwise. Accept checks the result with nbio's own IsTCP.
// Linux only (accept4, F_DUPFD_CLOEXEC, the keep-alive options): elsewhere Start
// uses Go's Accept (accept_other.go).
type rawListener struct {
	file *os.File
	raw  syscall.RawConn
	addr net.Addr
	// keepAlive turns on TCP keep-alive on accepted sockets with Go's defaults
	// (probes after 15 s idle, every 15 s, 9 of them): what Go's Accept does when
	// the listen configuration does not turn it off (listenConfig).
	keepAlive bool
	// closed is set by Close: a failed wait is then the close, reported as
	// net.ErrClosed as Go's Accept reports it (os reports "use of closed file").
	closed atomic.Bool
	// Accept's scratch state, reused by every call (Accept is called from one
	// goroutine at a time), so that a connection allocates nothing on its way in
	// but its peer address and nbio's connection. tryAccept is accept4 bound once.
	tryAccept func(listenerFD uintptr) bool
	accepted  int
	acceptErr error
	peer      syscall.RawSockaddrAny
	socket    acceptedSocket
}

// connTypeOffset is the offset of nbio.Conn's unexported typ field (its ConnType),
// and connTypeFound whether reflection found it there with that type.
var connTypeOffset, connTypeFound = func() (uintptr, bool) {
	field, found := reflect.TypeFor[nbio.Conn]().FieldByName("typ")
	if !found || field.Type != reflect.TypeFor[nbio.ConnType]() {
		return 0, false
	}
	return field.Offset, true
}()

// acceptsRaw reports whether rawListener can make nbio connections with this nbio.
func acceptsRaw() bool { return connTypeFound }

// newRawListener takes over listener's socket: listener is closed, the socket stays
// open under a duplicate descriptor. It fails, leaving listener open, when this nbio
// has no connection kind field where rawListener sets it.
func newRawListener(listener *net.TCPListener, keepAlive bool) (net.Listener, error) {
	if !acceptsRaw() {
		return nil, errors.New("engine: nbio.Conn has no typ field of type nbio.ConnType in this nbio version")
	}
	control, err := listener.SyscallConn()
	if err != nil {
		return nil, err
	}
	duplicate, dupErr := -1, error(nil)
	if err := control.Control(func(fd uintptr) {
		// F_DUPFD_CLOEXEC: no window in which an exec could inherit the copy.
		copied, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		duplicate = int(copied)
		if errno != 0 {
			dupErr = os.NewSyscallError("fcntl", errno)
		}
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, dupErr
	}
	addr := listener.Addr()
	_ = listener.Close()
	// The copy shares the socket's non-blocking mode, so os.NewFile registers it in
	// Go's poller.
	file := os.NewFile(uintptr(duplicate), "listener")
	raw, err := file.SyscallConn()
	if err != nil {
		_ = file.Close()
		return nil, err
	}
	accepting := &rawListener{file: file, raw: raw, addr: addr, keepAlive: keepAlive}
	accepting.tryAccept = accepting.accept4
	return accepting, nil
}

// Accept waits for the next connection and returns it as an *nbio.Conn. It must
// not be called concurrently (nbhttp runs one accept goroutine per listener);
// Close may be called from any goroutine.
func (l *rawListener) Accept() (net.Conn, error) {
	err := l.raw.Read(l.tryAccept)
	switch {
	case err != nil && l.closed.Load():
		err = net.ErrClosed
	case err == nil && l.acceptErr != nil:
		err = os.NewSyscallError("accept4", l.acceptErr)
	}
	if err != nil {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: err}
	}
	fd := l.accepted
	if err := l.configure(fd); err != nil {
		_ = syscall.Close(fd)
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: err}
	}
	// nbio copies the descriptor and the addresses, then closes the socket; it
	// keeps no reference to it.
	l.socket = acceptedSocket{control: socketControl{fd: fd}, local: l.addr, remote: peerAddress(&l.peer)}
	conn, err := nbio.NBConn(&l.socket)
	if err != nil {
		_ = syscall.Close(fd)
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: err}
	}
	*(*nbio.ConnType)(unsafe.Add(unsafe.Pointer(conn), connTypeOffset)) = nbio.ConnTypeTCP
	if !conn.IsTCP() {
		_ = syscall.Close(conn.Hash())
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: errors.New("nbio connection kind not set")}
	}
	return conn, nil
}

// accept4 accepts one pending connection into l.accepted, its peer into l.peer, or
// sets l.acceptErr; it returns false when none is pending (the poller then waits).
func (l *rawListener) accept4(listenerFD uintptr) bool {
	for {
		length := uint32(syscall.SizeofSockaddrAny)
		fd, _, errno := syscall.Syscall6(syscall.SYS_ACCEPT4, listenerFD, uintptr(unsafe.Pointer(&l.peer)),
			uintptr(unsafe.Pointer(&length)), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
		switch errno {
		case 0:
			l.accepted, l.acceptErr = int(fd), nil
			return true
		case syscall.EINTR, syscall.ECONNABORTED:
			// A signal, or a client that reset before it was accepted: Go's Accept
			// retries both.
			continue
		case syscall.EAGAIN:
			return false
		}
		l.acceptErr = errno
		return true
	}
}

// configure sets what Go's Accept sets on an accepted TCP socket: TCP_NODELAY, and
// keep-alive unless the heartbeat replaces it.
func (l *rawListener) configure(fd int) error {
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	if !l.keepAlive {
		return nil
	}
	for _, option := range [...]struct{ level, name, value int }{
		{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, int(keepAliveIdle / time.Second)},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, int(keepAliveInterval / time.Second)},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, keepAliveCount},
	} {
		if err := syscall.SetsockoptInt(fd, option.level, option.name, option.value); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	return nil
}

// Go's TCP keep-alive defaults (net.KeepAliveConfig), which Go's Accept applies.
const (
	keepAliveIdle     = 15 * time.Second
	keepAliveInterval = 15 * time.Second
	keepAliveCount    = 9
)

// Close closes the listening socket; a waiting Accept returns net.ErrClosed.
func (l *rawListener) Close() error {
	l.closed.Store(true)
	return l.file.Close()
}

// Addr returns the listening address.
func (l *rawListener) Addr() net.Addr { return l.addr }

// acceptedSocket is an accepted descriptor on its way into nbio: nbio.NBConn copies
// its descriptor (SyscallConn), keeps its two addresses and closes it. It is never
// read or written.
type acceptedSocket struct {
	control       socketControl
	local, remote net.Addr
}

func (s *acceptedSocket) SyscallConn() (syscall.RawConn, error) { return &s.control, nil }
func (s *acceptedSocket) LocalAddr() net.Addr                   { return s.local }
func (s *acceptedSocket) RemoteAddr() net.Addr                  { return s.remote }
func (s *acceptedSocket) Close() error                          { return syscall.Close(s.control.fd) }
func (*acceptedSocket) Read([]byte) (int, error)                { return 0, errors.ErrUnsupported }
func (*acceptedSocket) Write([]byte) (int, error)               { return 0, errors.ErrUnsupported }
func (*acceptedSocket) SetDeadline(time.Time) error             { return errors.ErrUnsupported }
func (*acceptedSocket) SetReadDeadline(time.Time) error         { return errors.ErrUnsupported }
func (*acceptedSocket) SetWriteDeadline(time.Time) error        { return errors.ErrUnsupported }

// socketControl is the syscall.RawConn of an acceptedSocket: Control only.
type socketControl struct{ fd int }

func (c *socketControl) Control(f func(fd uintptr)) error { f(uintptr(c.fd)); return nil }
func (*socketControl) Read(func(fd uintptr) bool) error   { return errors.ErrUnsupported }
func (*socketControl) Write(func(fd uintptr) bool) error  { return errors.ErrUnsupported }

// peerAddress returns a compact net.Addr for an accepted socket's peer, written as
// net.TCPAddr writes it ("192.0.2.1:4000", "[2001:db8::1]:4000", an IPv4 client of
// a dual-stack listener as IPv4).
func peerAddress(peer *syscall.RawSockaddrAny) net.Addr {
	switch peer.Addr.Family {
	case syscall.AF_INET:
		inet4 := (*syscall.RawSockaddrInet4)(unsafe.Pointer(peer))
		return &peerAddr4{ip: inet4.Addr, port: networkOrder(inet4.Port)}
	case syscall.AF_INET6:
		inet6 := (*syscall.RawSockaddrInet6)(unsafe.Pointer(peer))
		ip, port := netip.AddrFrom16(inet6.Addr), networkOrder(inet6.Port)
		if ip.Is4In6() {
			return &peerAddr4{ip: ip.Unmap().As4(), port: port}
		}
		if inet6.Scope_id != 0 {
			ip = ip.WithZone(zoneName(inet6.Scope_id))
		}
		return &peerAddr6{netip.AddrPortFrom(ip, port)}
	}
	return &net.TCPAddr{}
}

// networkOrder reads a port as the kernel stores it in a socket address: big-endian.
func networkOrder(port uint16) uint16 {
	bytes := (*[2]byte)(unsafe.Pointer(&port))
	return uint16(bytes[0])<<8 | uint16(bytes[1])
}

// zoneName returns the name of the interface with index (a link-local peer's
// zone), or the index in decimal, as net.TCPAddr names it.
func zoneName(index uint32) string {
	if iface, err := net.InterfaceByIndex(int(index)); err == nil {
		return iface.Name
	}
	return strconv.FormatUint(uint64(index), 10)
}

// peerAddr4 is an IPv4 peer's address: 8 bytes on the heap.
type peerAddr4 struct {
	ip   [4]byte
	port uint16
}

func (*peerAddr4) Network() string { return "tcp" }
func (a *peerAddr4) String() string {
	return netip.AddrPortFrom(netip.AddrFrom4(a.ip), a.port).String()
}

// peerAddr6 is an IPv6 peer's address.
type peerAddr6 struct{ address netip.AddrPort }

func (*peerAddr6) Network() string  { return "tcp" }
func (a *peerAddr6) String() string { return a.address.String() }
