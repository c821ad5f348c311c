package client_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/client"
)

// fakeClock is a client.Clock whose time moves only when the test says so; every
// After call is handed to the test, which checks its duration and fires it.
type fakeClock struct {
	mutex sync.Mutex
	now   time.Time
	waits chan fakeWait
}

// fakeWait is one pending After call.
type fakeWait struct {
	delay time.Duration
	fire  chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1_700_000_000, 0), waits: make(chan fakeWait, 64)}
}

func (c *fakeClock) Now() time.Time {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	return c.now
}

func (c *fakeClock) After(delay time.Duration) <-chan time.Time {
	wait := fakeWait{delay: delay, fire: make(chan time.Time, 1)}
	c.waits <- wait
	return wait.fire
}

// advance moves the clock forward by duration.
func (c *fakeClock) advance(duration time.Duration) {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	c.now = c.now.Add(duration)
}

// nextWait returns the client's next After call, failing after five seconds.
func (c *fakeClock) nextWait(t *testing.T) fakeWait {
	t.Helper()
	select {
	case wait := <-c.waits:
		return wait
	case <-time.After(5 * time.Second):
		t.Fatal("the client scheduled no reconnect")
		return fakeWait{}
	}
}

// fireAfter advances the clock by the wait's delay and fires it.
func (c *fakeClock) fireAfter(wait fakeWait) {
	c.advance(wait.delay)
	wait.fire <- c.Now()
}

// plannedServer runs, for each connection in order, the next plan sent on the
// returned channel.
func plannedServer(t *testing.T) (*localServer, chan<- func(*websocket.Conn)) {
	t.Helper()
	plans := make(chan func(*websocket.Conn), 32)
	stop := make(chan struct{})
	server := startLocalServer(t, func(conn *websocket.Conn, _ *http.Request, _ int) {
		select {
		case plan := <-plans:
			plan(conn)
		case <-stop:
		}
	})
	t.Cleanup(func() { close(stop) })
	return server, plans
}

func closeAtOnce(conn *websocket.Conn) { closeWith(conn, client.CodeInternal, "internal error") }

func TestBackoffDelaysDoubleFromTheBaseToTheCapOnTheInjectedClock(t *testing.T) {
	server, plans := plannedServer(t)
	clock := newFakeClock()
	want := []time.Duration{500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000}
	for range want {
		plans <- closeAtOnce
	}
	c := startClient(t, client.Options{URL: server.url(), Clock: clock, Rand: almostOne})
	for index, ceiling := range want {
		wait := clock.nextWait(t)
		if got := wait.delay.Round(time.Millisecond); got != ceiling*time.Millisecond {
			t.Fatalf("attempt %d: delay %v, want %v", index+1, got, ceiling*time.Millisecond)
		}
		if index < len(want)-1 {
			clock.fireAfter(wait)
		}
	}
	reconnects := c.of("reconnecting")
	if len(reconnects) != len(want) || reconnects[len(want)-1].attempt != len(want) {
		t.Fatalf("reconnecting events %+v, want attempts 1 to %d", reconnects, len(want))
	}
	if c.State() != client.StateReconnecting {
		t.Fatalf("state %v while waiting, want reconnecting", c.State())
	}
}

func TestJitterIsTheRandomFractionOfTheCeiling(t *testing.T) {
	server, plans := plannedServer(t)
	clock := newFakeClock()
	fractions := make(chan float64, 4)
	for _, fraction := range []float64{0, 0.25, 0.5, 0.75} {
		fractions <- fraction
		plans <- closeAtOnce
	}
	startClient(t, client.Options{URL: server.url(), Clock: clock, Rand: func() float64 { return <-fractions }})
	for index, want := range []time.Duration{0, 250 * time.Millisecond, time.Second, 3 * time.Second} {
		wait := clock.nextWait(t)
		if wait.delay != want {
			t.Fatalf("attempt %d: delay %v, want %v", index+1, wait.delay, want)
		}
		if index < 3 {
			clock.fireAfter(wait)
		}
	}
}

func TestAttemptsResetOnlyAfterAConnectionStayedOpenForStableAfter(t *testing.T) {
	server, plans := plannedServer(t)
	clock := newFakeClock()
	const stableAfter = 5 * time.Second
	holdUntil := func(release chan struct{}) func(*websocket.Conn) {
		return func(conn *websocket.Conn) {
			<-release
			closeAtOnce(conn)
		}
	}
	plans <- closeAtOnce
	plans <- closeAtOnce
	c := startClient(t, client.Options{URL: server.url(), Clock: clock, Rand: almostOne, StableAfter: stableAfter})
	clock.fireAfter(clock.nextWait(t))
	third := clock.nextWait(t)
	if third.delay.Round(time.Millisecond) != time.Second {
		t.Fatalf("second delay %v, want 1s", third.delay)
	}

	shortLived := make(chan struct{})
	plans <- holdUntil(shortLived)
	clock.fireAfter(third)
	waitFor(t, 5*time.Second, "the third connection open", func() bool { return c.count("open") == 3 })
	clock.advance(stableAfter - time.Millisecond)
	close(shortLived)
	notReset := clock.nextWait(t)
	if notReset.delay.Round(time.Millisecond) != 2*time.Second {
		t.Fatalf("after a connection open for less than StableAfter: delay %v, want 2s (attempt 3)", notReset.delay)
	}

	stable := make(chan struct{})
	plans <- holdUntil(stable)
	clock.fireAfter(notReset)
	waitFor(t, 5*time.Second, "the fourth connection open", func() bool { return c.count("open") == 4 })
	clock.advance(stableAfter)
	close(stable)
	reset := clock.nextWait(t)
	if reset.delay.Round(time.Millisecond) != 500*time.Millisecond {
		t.Fatalf("after a stable connection: delay %v, want 500ms (attempt 1)", reset.delay)
	}
	if last := c.of("reconnecting"); last[len(last)-1].attempt != 1 {
		t.Fatalf("attempt %d after a stable connection, want 1", last[len(last)-1].attempt)
	}
}

func TestGoingAwayWaitsARandomPartOfGoingAwayDelay(t *testing.T) {
	server, plans := plannedServer(t)
	clock := newFakeClock()
	plans <- func(conn *websocket.Conn) { closeWith(conn, client.CodeGoingAway, "server shutting down") }
	startClient(t, client.Options{URL: server.url(), Clock: clock, Rand: func() float64 { return 0.5 }, GoingAwayDelay: 3 * time.Second})
	if wait := clock.nextWait(t); wait.delay != 1500*time.Millisecond {
		t.Fatalf("delay after 1001 %v, want 1.5s", wait.delay)
	}
}
