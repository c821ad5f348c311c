package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/session"
)

// startTimeout bounds a Start or Stop in these tests; both take milliseconds, the
// margin is for a loaded machine.
const startTimeout = 5 * time.Second

// newTransport returns the transport side of hub, with the publisher as its
// message handler, as the gateway wires them.
func newTransport(t testing.TB, hub *session.Hub) *session.Transport {
	t.Helper()
	publisher, err := delivery.NewPublisher(delivery.Config{Hub: hub})
	if err != nil {
		t.Fatalf("NewPublisher: %v", err)
	}
	transport, err := session.NewTransport(hub, publisher)
	if err != nil {
		t.Fatalf("NewTransport: %v", err)
	}
	return transport
}

// newServer returns a Server on addr for a fresh hub, both stopped when the test ends.
func newServer(t *testing.T, addr string) *Server {
	t.Helper()
	hub, err := session.NewHub(session.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	t.Cleanup(func() { hub.Shutdown(0) })
	server, err := New(Config{Addr: addr, Pollers: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, newTransport(t, hub))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return server
}

// startServer starts a Server with config for hub's transport and stops both when
// the test ends; a Start or Stop that hangs fails the test.
func startServer(t testing.TB, hub *session.Hub, config Config) *Server {
	t.Helper()
	server, err := New(config, newTransport(t, hub))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := within(t, "Start", server.Start); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		hub.Shutdown(0)
		_, _ = within(t, "Stop", func() error { return server.Stop(t.Context()) })
	})
	return server
}

// within runs action in a goroutine and fails the test when it has not returned
// within startTimeout: a Start or Stop that hangs must fail the test, not hold it
// until the package timeout.
func within(t testing.TB, what string, action func() error) (time.Duration, error) {
	t.Helper()
	started := time.Now()
	result := make(chan error, 1)
	go func() { result <- action() }()
	select {
	case err := <-result:
		return time.Since(started), err
	case <-time.After(startTimeout):
		t.Fatalf("%s did not return within %v", what, startTimeout)
		return 0, nil
	}
}

// TestStartOnAPortInUseFailsAtOnce: a listen error returns from Start before nbio's
// event loop starts, every time. Before the listener was bound ahead of the event
// loop, nbio's stop after the error raced with its pollers and most runs hung,
// spinning, in Start.
func TestStartOnAPortInUseFailsAtOnce(t *testing.T) {
	occupant, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer occupant.Close()
	var slowest time.Duration
	for range 20 {
		server := newServer(t, occupant.Addr().String())
		took, err := within(t, "Start on a port in use", server.Start)
		if !errors.Is(err, syscall.EADDRINUSE) || !strings.HasPrefix(err.Error(), "engine: ") {
			t.Fatalf("Start on a port in use: %v, want an engine error wrapping EADDRINUSE", err)
		}
		if server.Addr() != nil {
			t.Fatalf("Addr is %v after a failed Start, want nil", server.Addr())
		}
		if _, err := within(t, "Stop after a failed Start", func() error { return server.Stop(context.Background()) }); err != nil {
			t.Fatalf("Stop after a failed Start: %v", err)
		}
		slowest = max(slowest, took)
	}
	t.Logf("slowest failed Start: %v", slowest)
}

func TestAddrThatIsNotHostPortIsRefusedByNew(t *testing.T) {
	hub, err := session.NewHub(session.Config{})
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	defer hub.Shutdown(0)
	for _, addr := range []string{"8080", "bogus", "127.0.0.1"} {
		if _, err := New(Config{Addr: addr}, newTransport(t, hub)); err == nil || !strings.Contains(err.Error(), `"`+addr+`" is not host:port`) {
			t.Errorf("New with Addr %q: %v, want an error naming the address", addr, err)
		}
	}
}

// TestStartThenStopAtOnce: a server stopped right after it started stops, every
// time, and a second Start is refused without touching the running one.
func TestStartThenStopAtOnce(t *testing.T) {
	var slowest time.Duration
	for range 5 {
		server := newServer(t, "127.0.0.1:0")
		if _, err := within(t, "Start", server.Start); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if err := server.Start(); err == nil {
			t.Fatal("a second Start succeeded")
		}
		took, err := within(t, "Stop right after Start", func() error { return server.Stop(context.Background()) })
		if err != nil {
			t.Fatalf("Stop: %v", err)
		}
		slowest = max(slowest, took)
	}
	t.Logf("slowest Stop right after Start: %v", slowest)
}

// TestStopWithAnExpiredContextStopsTheEngineOnce: a Stop whose context is already
// done, with connections open, returns the context's error and still stops the
// event loop, exactly once (goleak in TestMain fails the package on a loop left
// running; stopping nbio twice panics on a negative WaitGroup counter).
func TestStopWithAnExpiredContextStopsTheEngineOnce(t *testing.T) {
	server := newServer(t, "127.0.0.1:0")
	if _, err := within(t, "Start", server.Start); err != nil {
		t.Fatalf("Start: %v", err)
	}
	for range 3 {
		dialRaw(t, server.Addr().String())
	}
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := within(t, "Stop", func() error { return server.Stop(expired) }); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop: %v, want nil or context.Canceled", err)
	}
	if err := server.Stop(context.Background()); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("a second Stop: %v, want the first one's result", err)
	}
}
