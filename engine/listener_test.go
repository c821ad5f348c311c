package engine

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/testsupport"
)

// acceptLoop runs Accept the way nbhttp's accept loop does: it retries after every
// error until the engine has set its shutdown flag (stopping), so a listener that
// kept failing after StopAccepting would make it spin. It closes what it accepts.
type acceptLoop struct {
	stopping atomic.Bool
	accepted atomic.Int64
	mutex    sync.Mutex
	errors   []error
	done     chan struct{}
}

func startAcceptLoop(listener net.Listener) *acceptLoop {
	loop := &acceptLoop{done: make(chan struct{})}
	go func() {
		defer close(loop.done)
		for {
			conn, err := listener.Accept()
			if err == nil {
				loop.accepted.Add(1)
				_ = conn.Close()
				continue
			}
			loop.mutex.Lock()
			loop.errors = append(loop.errors, err)
			loop.mutex.Unlock()
			if loop.stopping.Load() {
				return
			}
		}
	}()
	return loop
}

// errorsSeen returns the errors Accept returned so far.
func (loop *acceptLoop) errorsSeen() []error {
	loop.mutex.Lock()
	defer loop.mutex.Unlock()
	return append([]error(nil), loop.errors...)
}

// stop sets the shutdown flag, closes listener as the engine does, and waits for
// the loop to end; it fails t if the loop does not end or saw any error other than
// one net.ErrClosed.
func (loop *acceptLoop) stop(t *testing.T, listener *gatedListener) {
	t.Helper()
	loop.stopping.Store(true)
	if err := listener.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-loop.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the accept loop did not end after Close")
	}
	if seen := loop.errorsSeen(); len(seen) != 1 || !errors.Is(seen[0], net.ErrClosed) {
		t.Fatalf("Accept returned %v, want exactly one net.ErrClosed", seen)
	}
}

// listenLoopback returns a TCP listener on a free loopback port.
func listenLoopback(t *testing.T) *net.TCPListener {
	t.Helper()
	listener, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = listener.Close() })
	return listener
}

func TestGatedListenerAcceptsWhileOpen(t *testing.T) {
	listener := newGatedListener(listenLoopback(t))
	client, err := net.Dial("tcp", listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn, err := listener.Accept()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	defer conn.Close()
	if conn.RemoteAddr().String() != client.LocalAddr().String() {
		t.Fatalf("accepted %v, want the client at %v", conn.RemoteAddr(), client.LocalAddr())
	}
	if err := listener.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestGatedListenerPassesErrorsThroughWhileOpen(t *testing.T) {
	tcp := listenLoopback(t)
	listener := newGatedListener(tcp)
	defer listener.Close()
	// An expired deadline makes the real Accept fail with a timeout, which nbhttp
	// retries: while the gate is open it must reach nbhttp unchanged.
	if err := tcp.SetDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err := listener.Accept()
	var netError net.Error
	if !errors.As(err, &netError) || !netError.Timeout() || errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept = %v, want the listener's own timeout error", err)
	}
}

func TestShutRefusesClientsAndParksAcceptUntilClose(t *testing.T) {
	listener := newGatedListener(listenLoopback(t))
	address := listener.Addr().String()
	loop := startAcceptLoop(listener)
	client, err := net.Dial("tcp", address)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	testsupport.WaitFor(t, 5*time.Second, "the first client to be accepted", func() bool { return loop.accepted.Load() == 1 })

	listener.shut()
	if refused, err := net.Dial("tcp", address); err == nil {
		_ = refused.Close()
		t.Fatal("a client connected after shut")
	}
	testsupport.WaitFor(t, 5*time.Second, "Accept to park after shut", func() bool {
		return parkedIn("(*gatedListener).Accept")
	})
	if seen := loop.errorsSeen(); len(seen) != 0 {
		t.Fatalf("Accept returned %v between shut and Close: nbhttp's loop would spin", seen)
	}
	loop.stop(t, listener)
	if err := listener.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	listener.shut()
}

func TestAcceptCalledAfterShutParksUntilClose(t *testing.T) {
	listener := newGatedListener(listenLoopback(t))
	listener.shut()
	var closing atomic.Bool
	result := make(chan bool, 1)
	go func() {
		_, err := listener.Accept()
		result <- errors.Is(err, net.ErrClosed) && closing.Load()
	}()
	testsupport.WaitFor(t, 5*time.Second, "Accept to park", func() bool { return parkedIn("(*gatedListener).Accept") })
	closing.Store(true)
	_ = listener.Close()
	select {
	case ok := <-result:
		if !ok {
			t.Fatal("Accept after shut returned before Close or without net.ErrClosed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
}

// TestCloseRacingAcceptAndShut runs the engine's shutdown against busy clients many
// times: StopAccepting (shut) and the engine's Close race each other and an Accept
// loop that keeps accepting. Every round must end the loop with one net.ErrClosed,
// whichever call wins.
func TestCloseRacingAcceptAndShut(t *testing.T) {
	const (
		rounds = 20
		// dialsPerClient bounds the sockets a round leaves in TIME_WAIT.
		dialsPerClient = 5
	)
	for range rounds {
		listener := newGatedListener(listenLoopback(t))
		address := listener.Addr().String()
		loop := startAcceptLoop(listener)
		var clients sync.WaitGroup
		for range 4 {
			clients.Go(func() {
				for range dialsPerClient {
					conn, err := net.Dial("tcp", address)
					if err != nil {
						return // refused: the listener is shut
					}
					_ = conn.Close()
				}
			})
		}
		testsupport.WaitFor(t, 5*time.Second, "a client to be accepted", func() bool { return loop.accepted.Load() > 0 })
		shutDone := make(chan struct{})
		go func() {
			listener.shut()
			close(shutDone)
		}()
		loop.stop(t, listener)
		<-shutDone
		clients.Wait()
	}
}

// TestKeepAliveOnlyWithoutHeartbeat checks an accepted socket's SO_KEEPALIVE: off
// when the heartbeat watches the connection, Go's default (on) when nothing else
// does.
func TestKeepAliveOnlyWithoutHeartbeat(t *testing.T) {
	for _, heartbeat := range []bool{true, false} {
		settings := listenConfig(heartbeat)
		listener, err := settings.Listen(t.Context(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		client, err := net.Dial("tcp", listener.Addr().String())
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		accepted, err := listener.Accept()
		if err != nil {
			t.Fatalf("accept: %v", err)
		}
		raw, err := accepted.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatalf("SyscallConn: %v", err)
		}
		var keepAlive int
		var optionError error
		if err := raw.Control(func(fd uintptr) {
			keepAlive, optionError = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
		}); err != nil || optionError != nil {
			t.Fatalf("getsockopt: %v, %v", err, optionError)
		}
		if want := !heartbeat; (keepAlive != 0) != want {
			t.Errorf("heartbeat %v: SO_KEEPALIVE %d, want on=%v", heartbeat, keepAlive, want)
		}
		_ = client.Close()
		_ = accepted.Close()
		_ = listener.Close()
	}
}
