package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wsgate/wsgate/client"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/session"
)

func TestEchoAndBroadcastBetweenTwoClients(t *testing.T) {
	node := startGateway(t, "127.0.0.1:0", session.Config{})
	alice := startClient(t, fastOptions(testsupport.WebSocketURL(node.Addr().String(), testsupport.UserQuery("alice"))))
	bob := startClient(t, fastOptions(testsupport.WebSocketURL(node.Addr().String(), testsupport.UserQuery("bob"))))
	waitFor(t, 5*time.Second, "both welcomed", func() bool { return alice.count("welcome") == 1 && bob.count("welcome") == 1 })
	welcome := alice.of("welcome")[0].welcome
	if welcome.UserID != "alice" || welcome.ConnectionID == "" || welcome.PingIntervalMS != pingInterval.Milliseconds() {
		t.Fatalf("welcome %+v", welcome)
	}
	if alice.State() != client.StateOpen {
		t.Fatalf("state %v, want open", alice.State())
	}
	alice.echo(t, "hello")
	if err := alice.Send(json.RawMessage(`{"type":"broadcast","content":"to bob"}`)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	waitFor(t, 5*time.Second, "the broadcast at bob", func() bool { return len(bob.contents(t, "broadcast")) == 1 })
	alice.echo(t, "after")
	if got := alice.contents(t, "broadcast"); len(got) != 0 {
		t.Fatalf("the sender got its broadcast: %v", got)
	}
	if got := bob.contents(t, "broadcast"); !slices.Equal(got, []any{"to bob"}) {
		t.Fatalf("bob got %v", got)
	}
}

func TestSendQueuesUpToQueueSizeAndRefusesAfterClose(t *testing.T) {
	c, err := client.New(client.Options{URL: "ws://127.0.0.1:1/api/v1/ws", QueueSize: 2})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for index := range 2 {
		if err := c.Send(map[string]any{"type": "message", "content": index}); err != nil {
			t.Fatalf("Send %d: %v", index, err)
		}
	}
	if err := c.Send(map[string]any{"type": "message"}); !errors.Is(err, client.ErrQueueFull) {
		t.Fatalf("Send into a full queue: %v, want ErrQueueFull", err)
	}
	if c.Queued() != 2 {
		t.Fatalf("Queued() = %d, want 2", c.Queued())
	}
	if err := c.Send([]byte("{not json")); err == nil {
		t.Fatal("Send of invalid JSON succeeded")
	}
	_ = c.Close()
	if err := c.Send(map[string]any{"type": "message"}); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
	if err := c.Run(context.Background()); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Run after Close: %v, want ErrClosed", err)
	}
	if err := c.Run(context.Background()); !errors.Is(err, client.ErrAlreadyStarted) {
		t.Fatalf("second Run: %v, want ErrAlreadyStarted", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, options := range []client.Options{
		{},
		{URL: "http://127.0.0.1/api/v1/ws"},
		{URL: "ws://127.0.0.1/api/v1/ws", BaseDelay: -time.Second},
		{URL: "ws://127.0.0.1/api/v1/ws", QueueSize: -1},
	} {
		if _, err := client.New(options); err == nil {
			t.Errorf("New(%+v) succeeded", options)
		}
	}
}

func TestCloseStopsEverything(t *testing.T) {
	node := startGateway(t, "127.0.0.1:0", session.Config{})
	ignore := goleak.IgnoreCurrent()

	open := startClient(t, fastOptions(testsupport.WebSocketURL(node.Addr().String(), nil)))
	waitFor(t, 5*time.Second, "welcome", func() bool { return open.count("welcome") == 1 })
	_ = open.Close()
	if err := open.wait(t, 3*time.Second); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Run returned %v, want ErrClosed", err)
	}
	closes := open.of("close")
	if len(closes) != 1 || closes[0].close.Code != client.CodeNormal || closes[0].close.WillReconnect {
		t.Fatalf("close events %+v, want one 1000 without reconnect", closes)
	}
	if open.State() != client.StateClosed {
		t.Fatalf("state %v after Run returned", open.State())
	}

	waiting := startClient(t, client.Options{URL: "ws://127.0.0.1:1/api/v1/ws", BaseDelay: time.Hour})
	waitFor(t, 5*time.Second, "a reconnect scheduled", func() bool { return waiting.State() == client.StateReconnecting })
	_ = waiting.Close()
	if err := waiting.wait(t, 3*time.Second); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Run returned %v, want ErrClosed", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancelled, err := client.New(fastOptions(testsupport.WebSocketURL(node.Addr().String(), nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	result := make(chan error, 1)
	go func() { result <- cancelled.Run(ctx) }()
	waitFor(t, 5*time.Second, "open", func() bool { return cancelled.State() == client.StateOpen })
	cancel()
	select {
	case err := <-result:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v, want context.Canceled", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not return after the context was cancelled")
	}
	goleak.VerifyNone(t, ignore)
}
