package delivery

import (
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/session"
)

// twoSessions opens two sessions on a hub of their own.
func twoSessions(t *testing.T) (*session.Session, *session.Session) {
	t.Helper()
	hub, err := session.NewHub(session.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PingInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Shutdown(0) })
	publisher, err := NewPublisher(Config{Hub: hub})
	if err != nil {
		t.Fatal(err)
	}
	transport, err := session.NewTransport(hub, publisher)
	if err != nil {
		t.Fatal(err)
	}
	return transport.Open(&testsupport.Conn{}, session.Identity{UserID: "a"}),
		transport.Open(&testsupport.Conn{}, session.Identity{UserID: "b"})
}

// TestRequestChainsKeepAConnectionsOrderBehindACheck: without a check in flight
// a request runs at once; behind one, the connection's requests wait, are
// refused past the limit, and run in order when the check ends, until the next
// check; another connection is never held.
func TestRequestChainsKeepAConnectionsOrderBehindACheck(t *testing.T) {
	first, other := twoSessions(t)
	chains := &requestChains{limit: 2}
	var ran []string
	plain := func(name string) request {
		return func() bool { ran = append(ran, name); return false }
	}
	checking := func(name string, s *session.Session) request {
		return func() bool { ran = append(ran, name); chains.open(s); return true }
	}

	if !chains.handle(first, plain("direct")) || chains.entries.Load() != 0 {
		t.Fatalf("a request without a check: ran %v, %d entries", ran, chains.entries.Load())
	}
	chains.handle(first, checking("check 1", first))
	for _, name := range []string{"waits 1", "waits 2"} {
		if !chains.handle(first, plain(name)) {
			t.Fatalf("%s was refused within the limit", name)
		}
	}
	if chains.handle(first, plain("over the limit")) {
		t.Fatal("a third waiting request was accepted with a limit of 2")
	}
	chains.handle(other, plain("other connection"))
	if want := []string{"direct", "check 1", "other connection"}; !slices.Equal(ran, want) {
		t.Fatalf("ran %v before the check ended, want %v", ran, want)
	}

	chains.resume(first)
	if want := []string{"direct", "check 1", "other connection", "waits 1", "waits 2"}; !slices.Equal(ran, want) ||
		chains.entries.Load() != 0 {
		t.Fatalf("after the first check ran %v with %d entries, want %v and none", ran, chains.entries.Load(), want)
	}

	// Resuming stops at the next request that starts a check of its own.
	ran = nil
	chains.limit = 4
	chains.handle(first, checking("check 2", first))
	chains.handle(first, plain("behind 2"))
	chains.handle(first, checking("check 3", first))
	chains.handle(first, plain("behind 3"))
	chains.resume(first)
	if want := []string{"check 2", "behind 2", "check 3"}; !slices.Equal(ran, want) || chains.entries.Load() != 1 {
		t.Fatalf("after check 2 ran %v with %d entries, want %v and one", ran, chains.entries.Load(), want)
	}
	chains.resume(first)
	if ran[len(ran)-1] != "behind 3" || chains.entries.Load() != 0 {
		t.Fatalf("after check 3 ran %v with %d entries left", ran, chains.entries.Load())
	}
}

// TestRequestChainsForgetACheckThatCouldNotStart: a request that opened its
// entry but could not start its check leaves no entry behind.
func TestRequestChainsForgetACheckThatCouldNotStart(t *testing.T) {
	first, _ := twoSessions(t)
	chains := &requestChains{limit: 4}
	chains.handle(first, func() bool { chains.open(first); return false })
	if chains.entries.Load() != 0 {
		t.Fatalf("%d entries after a check that could not start", chains.entries.Load())
	}
	ran := false
	chains.handle(first, func() bool { ran = true; return false })
	if !ran {
		t.Fatal("the next request waited behind a check that never started")
	}
}
