package engine

import (
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/lesismal/nbio"
)

// TestAcceptsRawWithThisNbio fails when an nbio upgrade moves or retypes the field
// rawListener sets: the server would then accept through Go's net.Listener.
func TestAcceptsRawWithThisNbio(t *testing.T) {
	if !acceptsRaw() {
		t.Fatal("nbio.Conn has no typ field of type nbio.ConnType: rawListener cannot make TCP connections")
	}
}

// TestRawListenerAccepts accepts real TCP connections over IPv4, IPv6 and an IPv4
// client of a dual-stack listener, and checks what nbio gets: a TCP connection,
// the peer written as net.TCPAddr writes it, the listener's address as the local
// one, TCP_NODELAY on and keep-alive off.
func TestRawListenerAccepts(t *testing.T) {
	for _, test := range []struct{ name, network, listen, dial string }{
		{"IPv4", "tcp4", "127.0.0.1:0", "127.0.0.1"},
		{"IPv6", "tcp6", "[::1]:0", "::1"},
		{"IPv4 client of a dual-stack listener", "tcp", "[::]:0", "127.0.0.1"},
	} {
		t.Run(test.name, func(t *testing.T) {
			address, err := net.ResolveTCPAddr(test.network, test.listen)
			if err != nil {
				t.Fatal(err)
			}
			listener, err := net.ListenTCP(test.network, address)
			if err != nil {
				t.Skipf("cannot listen on %s here: %v", test.listen, err)
			}
			accepting, err := newRawListener(listener, false)
			if err != nil {
				t.Fatalf("newRawListener: %v", err)
			}
			defer func() { _ = accepting.Close() }()
			port := accepting.Addr().(*net.TCPAddr).Port
			client, conn := dialAndAccept(t, accepting, net.JoinHostPort(test.dial, strconv.Itoa(port)))
			if !conn.IsTCP() {
				t.Fatalf("nbio connection kind %v, want TCP", conn.Type())
			}
			if got, want := conn.RemoteAddr().String(), client.LocalAddr().String(); got != want {
				t.Errorf("RemoteAddr %q, want the client's address %q", got, want)
			}
			if network := conn.RemoteAddr().Network(); network != "tcp" {
				t.Errorf("RemoteAddr network %q, want tcp", network)
			}
			if conn.LocalAddr() != accepting.Addr() {
				t.Errorf("LocalAddr %v, want the listener's %v", conn.LocalAddr(), accepting.Addr())
			}
			expectSocketOption(t, conn.Hash(), syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
			expectSocketOption(t, conn.Hash(), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 0)
		})
	}
}

// dialAndAccept dials address and returns the client's socket and the nbio
// connection accepting made of it; both are closed when the test ends.
func dialAndAccept(t *testing.T, accepting net.Listener, address string) (net.Conn, *nbio.Conn) {
	t.Helper()
	client, err := net.Dial("tcp", address)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	accepted, err := accepting.Accept()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	conn, isNbio := accepted.(*nbio.Conn)
	if !isNbio {
		t.Fatalf("Accept returned %T, want *nbio.Conn", accepted)
	}
	t.Cleanup(func() { _ = syscall.Close(conn.Hash()) })
	return client, conn
}

// TestRawListenerKeepAlive checks that without the heartbeat accepted sockets get
// Go's keep-alive defaults.
func TestRawListenerKeepAlive(t *testing.T) {
	accepting, err := newRawListener(listenLoopback(t), true)
	if err != nil {
		t.Fatalf("newRawListener: %v", err)
	}
	defer func() { _ = accepting.Close() }()
	_, conn := dialAndAccept(t, accepting, accepting.Addr().String())
	fd := conn.Hash()
	expectSocketOption(t, fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
	expectSocketOption(t, fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, 15)
	expectSocketOption(t, fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, 15)
	expectSocketOption(t, fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, 9)
}

// TestRawListenerCloseEndsAccept checks that Close releases an Accept waiting for a
// connection with net.ErrClosed, and that the port is closed after it.
func TestRawListenerCloseEndsAccept(t *testing.T) {
	accepting, err := newRawListener(listenLoopback(t), false)
	if err != nil {
		t.Fatalf("newRawListener: %v", err)
	}
	result := make(chan error, 1)
	go func() {
		_, err := accepting.Accept()
		result <- err
	}()
	// Closing before Accept waits is fine too: it then fails at once.
	time.Sleep(10 * time.Millisecond)
	if err := accepting.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-result:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close returned %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
	if conn, err := net.DialTimeout("tcp", accepting.Addr().String(), time.Second); err == nil {
		_ = conn.Close()
		t.Fatal("the port still accepts connections after Close")
	}
}

// TestPeerAddressWritesLikeTCPAddr checks the peer addresses the kernel can report
// against net.TCPAddr's own text: IPv4, IPv6, IPv4-mapped IPv6 and a link-local
// IPv6 address with its zone.
func TestPeerAddressWritesLikeTCPAddr(t *testing.T) {
	loopbackIndex := 1
	if iface, err := net.InterfaceByName("lo"); err == nil {
		loopbackIndex = iface.Index
	}
	zone := zoneName(uint32(loopbackIndex))
	for _, test := range []struct {
		name string
		raw  syscall.RawSockaddrAny
		want net.TCPAddr
	}{
		{"IPv4", inet4(t, [4]byte{192, 0, 2, 1}, 4000), net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4000}},
		{"IPv6", inet6(t, net.ParseIP("2001:db8::1"), 65535, 0), net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 65535}},
		{"IPv4-mapped IPv6", inet6(t, net.ParseIP("::ffff:198.51.100.7"), 80, 0), net.TCPAddr{IP: net.ParseIP("198.51.100.7"), Port: 80}},
		{"link-local IPv6 with zone", inet6(t, net.ParseIP("fe80::1"), 1, uint32(loopbackIndex)), net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 1, Zone: zone}},
	} {
		t.Run(test.name, func(t *testing.T) {
			if got, want := peerAddress(&test.raw).String(), test.want.String(); got != want {
				t.Fatalf("peer address %q, want %q", got, want)
			}
		})
	}
}

// inet4 returns the raw IPv4 socket address the kernel writes for ip and port.
func inet4(t *testing.T, ip [4]byte, port uint16) syscall.RawSockaddrAny {
	t.Helper()
	var raw syscall.RawSockaddrAny
	inet := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&raw))
	inet.Family, inet.Addr = syscall.AF_INET, ip
	bytes := (*[2]byte)(unsafe.Pointer(&inet.Port))
	bytes[0], bytes[1] = byte(port>>8), byte(port)
	return raw
}

// inet6 returns the raw IPv6 socket address the kernel writes for ip, port and a
// scope (zone) index.
func inet6(t *testing.T, ip net.IP, port uint16, scope uint32) syscall.RawSockaddrAny {
	t.Helper()
	var raw syscall.RawSockaddrAny
	inet := (*syscall.RawSockaddrInet6)(unsafe.Pointer(&raw))
	inet.Family, inet.Scope_id = syscall.AF_INET6, scope
	copy(inet.Addr[:], ip.To16())
	bytes := (*[2]byte)(unsafe.Pointer(&inet.Port))
	bytes[0], bytes[1] = byte(port>>8), byte(port)
	return raw
}

// expectSocketOption fails t unless option of socket fd has value.
func expectSocketOption(t *testing.T, fd, level, option, value int) {
	t.Helper()
	got, err := syscall.GetsockoptInt(fd, level, option)
	if err != nil {
		t.Fatalf("getsockopt(%d, %d): %v", level, option, err)
	}
	if (got != 0) != (value != 0) || value > 1 && got != value {
		t.Errorf("socket option %d/%d is %d, want %d", level, option, got, value)
	}
}
