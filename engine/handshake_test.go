package engine

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lesismal/nbio"

	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/timerwheel"
)

// The handshake tracker's tests run real sockets through a real nbio engine, wired
// as Server wires it (opened on accept, completed on the first data, forget on
// close), but on a wheel driven by a manual clock: the test decides when the
// timeout passes, so "not before the timeout" needs no sleep and "at the timeout"
// can be raced against completions and closes exactly.

const (
	trackerTick    = 10 * time.Millisecond
	trackerTimeout = 100 * time.Millisecond
)

// manualClock is a clock that moves only when the test advances it. Safe for
// concurrent use.
type manualClock struct {
	mutex sync.Mutex
	now   time.Time
}

func (c *manualClock) Now() time.Time {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	return c.now
}

func (c *manualClock) add(duration time.Duration) time.Time {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	c.now = c.now.Add(duration)
	return c.now
}

// trackedServer is an nbio engine on a free loopback port whose sockets a
// handshakeTracker watches. Every socket echoes what it reads, so a client can prove
// that its socket is still open.
type trackedServer struct {
	address  string
	tracker  *handshakeTracker
	wheel    *timerwheel.Wheel
	clock    *manualClock
	timeouts atomic.Int64
}

// startTrackedServer starts the engine with a tracker of timeout; it is stopped when
// the test ends.
func startTrackedServer(t *testing.T, timeout time.Duration) *trackedServer {
	t.Helper()
	clock := &manualClock{now: time.Unix(1_700_000_000, 0)}
	wheel, err := timerwheel.New(timerwheel.Config{Tick: trackerTick, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	server := &trackedServer{wheel: wheel, clock: clock}
	server.tracker = newHandshakeTracker(wheel, timeout, func() { server.timeouts.Add(1) })
	server.tracker.now = clock.Now
	engine := nbio.NewEngine(nbio.Config{Network: "tcp", Addrs: []string{"127.0.0.1:0"}, NPoller: 1})
	engine.OnOpen(func(conn *nbio.Conn) {
		server.tracker.opened(conn)
		publishToPollers()
	})
	engine.OnData(func(conn *nbio.Conn, data []byte) {
		server.tracker.completed(conn)
		_, _ = conn.Write(data)
	})
	engine.OnClose(func(conn *nbio.Conn, _ error) { server.tracker.forget(conn) })
	observeHandoffs(engine)
	if err := engine.Start(); err != nil {
		t.Fatalf("nbio engine: %v", err)
	}
	started := time.Now()
	t.Cleanup(func() {
		// As Server.Stop does: a poller that enters its loop after the stop signal
		// never ends, so stop only once the pollers are certainly in their loops.
		time.Sleep(time.Until(started.Add(pollerStartup)))
		engine.Stop()
	})
	server.address = engine.Addrs[0]
	return server
}

// advance moves the clock by duration and fires what is due, on the test goroutine
// (the wheel's owner).
func (s *trackedServer) advance(duration time.Duration) {
	s.wheel.Advance(s.clock.add(duration))
}

// dial connects count clients and waits until the tracker watches all of them and
// their timers are on the wheel.
func (s *trackedServer) dial(t *testing.T, count int) []net.Conn {
	t.Helper()
	clients := make([]net.Conn, count)
	for index := range clients {
		client, err := net.Dial("tcp", s.address)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Close() })
		clients[index] = client
	}
	// opened adds a socket to the pending map before it schedules its timer: a test
	// that moved the clock in between would see that timer a tick late.
	testsupport.WaitFor(t, 5*time.Second, "the tracker to watch every socket", func() bool {
		return s.tracker.pendingCount() == count && s.wheel.Pending() == count
	})
	return clients
}

// watched returns the only socket the tracker watches and its entry.
func (s *trackedServer) watched(t *testing.T) (*nbio.Conn, *pendingHandshake) {
	t.Helper()
	s.tracker.mutex.Lock()
	defer s.tracker.mutex.Unlock()
	if len(s.tracker.pending) != 1 {
		t.Fatalf("the tracker watches %d sockets, want 1", len(s.tracker.pending))
	}
	for conn, entry := range s.tracker.pending {
		return conn, entry
	}
	return nil, nil
}

// open reports whether client's socket is still open on the server: a byte written
// comes back (after anything echoed before it). A socket the server closed fails.
func open(t *testing.T, client net.Conn) bool {
	t.Helper()
	if _, err := client.Write([]byte("y")); err != nil {
		return false
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	buffer := make([]byte, 1)
	for {
		if _, err := client.Read(buffer); err != nil {
			if netError, ok := err.(net.Error); ok && netError.Timeout() {
				t.Fatal("the server neither echoed nor closed the socket")
			}
			return false
		}
		if buffer[0] == 'y' {
			return true
		}
	}
}

func TestHandshakeTimeoutCutsASilentSocket(t *testing.T) {
	for name, timeout := range map[string]time.Duration{
		"timeout of ten ticks":          trackerTimeout,
		"timeout shorter than one tick": trackerTick / 2,
	} {
		t.Run(name, func(t *testing.T) {
			server := startTrackedServer(t, timeout)
			client := server.dial(t, 1)[0]
			// Up to the last tick before the timeout the socket is only watched.
			for elapsed := trackerTick; elapsed < timeout; elapsed += trackerTick {
				server.advance(trackerTick)
			}
			if server.timeouts.Load() != 0 || server.tracker.pendingCount() != 1 {
				t.Fatalf("cut before the timeout: %d timeouts, %d pending", server.timeouts.Load(), server.tracker.pendingCount())
			}
			server.advance(trackerTick)
			if server.timeouts.Load() != 1 || server.tracker.pendingCount() != 0 {
				t.Fatalf("at the timeout: %d timeouts, %d pending; want 1, 0", server.timeouts.Load(), server.tracker.pendingCount())
			}
			_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := client.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("client read %v, want EOF from the server's close", err)
			}
			if server.wheel.Pending() != 0 {
				t.Fatalf("%d timers left on the wheel", server.wheel.Pending())
			}
		})
	}
}

func TestCompletedHandshakeIsNotCut(t *testing.T) {
	server := startTrackedServer(t, trackerTimeout)
	client := server.dial(t, 1)[0]
	server.advance(trackerTick) // the first firing, which only clears nbio's deadline
	if !open(t, client) {
		t.Fatal("the socket closed before its timeout")
	}
	testsupport.WaitFor(t, 5*time.Second, "the completed socket to be forgotten", func() bool {
		return server.tracker.pendingCount() == 0
	})
	if server.wheel.Pending() != 0 {
		t.Fatal("completion left the socket's timer armed")
	}
	server.advance(2 * trackerTimeout)
	if server.timeouts.Load() != 0 || !open(t, client) {
		t.Fatalf("a completed socket was cut (%d timeouts)", server.timeouts.Load())
	}
}

// TestTimerOfAForgottenSocketDoesNothing fires the timer of a socket that completed
// after the wheel had collected that timer (so Cancel came too late): the handler
// must see that the socket is no longer watched and leave it alone.
func TestTimerOfAForgottenSocketDoesNothing(t *testing.T) {
	server := startTrackedServer(t, trackerTimeout)
	client := server.dial(t, 1)[0]
	conn, entry := server.watched(t)
	server.tracker.completed(conn)
	entry.expire(server.clock.add(2 * trackerTimeout))
	if server.timeouts.Load() != 0 || !open(t, client) {
		t.Fatalf("the late timer of a completed socket cut it (%d timeouts)", server.timeouts.Load())
	}
}

// TestCompletionRacingTheTimeout sends every client's first bytes while the clock
// reaches the timeout: each socket must end either completed (open, not counted) or
// cut (closed, counted once), never counted and open, nor left watched.
func TestCompletionRacingTheTimeout(t *testing.T) {
	const sockets = 64
	server := startTrackedServer(t, trackerTimeout)
	clients := server.dial(t, sockets)
	server.advance(trackerTimeout - trackerTick)
	var writers sync.WaitGroup
	for _, client := range clients {
		writers.Go(func() { _, _ = client.Write([]byte("x")) })
	}
	server.advance(trackerTick)
	writers.Wait()
	testsupport.WaitFor(t, 5*time.Second, "every socket to be completed or cut", func() bool {
		return server.tracker.pendingCount() == 0
	})
	cut := 0
	for _, client := range clients {
		if !open(t, client) {
			cut++
		}
	}
	if int64(cut) != server.timeouts.Load() {
		t.Fatalf("%d sockets closed but %d counted as handshake timeouts", cut, server.timeouts.Load())
	}
	server.advance(trackerTimeout)
	if server.timeouts.Load() != int64(cut) || server.wheel.Pending() != 0 {
		t.Fatalf("after the race: %d timeouts (want %d), %d timers left", server.timeouts.Load(), cut, server.wheel.Pending())
	}
	t.Logf("%d of %d sockets completed, %d cut", sockets-cut, sockets, cut)
}

// TestForgetRacingTheTimers closes half the clients while the clock passes the
// first firing (which reschedules the timer), the other half while it reaches the
// timeout. A socket forgotten before the timeout is never counted as one, a socket
// is either forgotten or cut, and no timer stays armed.
func TestForgetRacingTheTimers(t *testing.T) {
	const sockets = 64
	server := startTrackedServer(t, trackerTimeout)
	clients := server.dial(t, sockets)
	var closers sync.WaitGroup
	for _, client := range clients[:sockets/2] {
		closers.Go(func() { _ = client.Close() })
	}
	server.advance(trackerTick)
	closers.Wait()
	testsupport.WaitFor(t, 5*time.Second, "the first half to be forgotten", func() bool {
		return server.tracker.pendingCount() == sockets/2
	})
	for _, client := range clients[sockets/2:] {
		closers.Go(func() { _ = client.Close() })
	}
	server.advance(trackerTimeout - trackerTick)
	closers.Wait()
	testsupport.WaitFor(t, 5*time.Second, "every socket to be forgotten or cut", func() bool {
		return server.tracker.pendingCount() == 0
	})
	cutAtTimeout := server.timeouts.Load()
	if cutAtTimeout > sockets/2 {
		t.Fatalf("%d timeouts counted, but only %d sockets were open at the timeout", cutAtTimeout, sockets/2)
	}
	server.advance(trackerTimeout)
	if server.timeouts.Load() != cutAtTimeout || server.wheel.Pending() != 0 {
		t.Fatalf("after every socket was gone: %d more timeouts, %d timers left",
			server.timeouts.Load()-cutAtTimeout, server.wheel.Pending())
	}
	t.Logf("%d of the %d sockets closed at the timeout were cut before their close was seen", cutAtTimeout, sockets/2)
}

func TestForgetAfterTheTimeoutChangesNothing(t *testing.T) {
	server := startTrackedServer(t, trackerTimeout)
	client := server.dial(t, 1)[0]
	conn, _ := server.watched(t)
	server.advance(trackerTimeout)
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read %v, want EOF from the timeout", err)
	}
	// A request parsed or a close reported after the cut (nbio reports the close
	// too) finds nothing to do.
	server.tracker.completed(conn)
	server.tracker.forget(conn)
	server.advance(trackerTimeout)
	if server.timeouts.Load() != 1 || server.tracker.pendingCount() != 0 || server.wheel.Pending() != 0 {
		t.Fatalf("%d timeouts, %d pending, %d timers; want 1, 0, 0",
			server.timeouts.Load(), server.tracker.pendingCount(), server.wheel.Pending())
	}
}
