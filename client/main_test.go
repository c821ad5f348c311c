package client_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wsgate/wsgate/client"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/tcpproxy"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/internal/testsupport/testnode"
	"github.com/wsgate/wsgate/session"
)

// TestMain fails the package if any goroutine outlives the tests: every client's Run
// has returned and every node and proxy is shut down by its test. The goroutines
// alive before the tests (nbio's package-level default engine) are not counted.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// The heartbeat of every test node.
const (
	pingInterval = 300 * time.Millisecond
	pingTimeout  = 300 * time.Millisecond
)

// almostOne makes every jittered delay the top of its range.
func almostOne() float64 { return 1 - 1e-12 }

// startGateway starts a node on address ("127.0.0.1:0" for a free port) with a fast
// heartbeat and trusted ?user_id=, and shuts it down when the test ends.
func startGateway(t *testing.T, address string, sessionConfig session.Config) *gateway.Gateway {
	t.Helper()
	sessionConfig.PingInterval = pingInterval
	sessionConfig.PingTimeout = pingTimeout
	sessionConfig.TimerTick = 10 * time.Millisecond
	config := gateway.Config{Session: sessionConfig, InsecureUserID: true}
	config.Engine.Addr = address
	return testnode.Start(t, config)
}

// startProxy starts a tcpproxy in front of target and closes it when the test ends.
func startProxy(t *testing.T, target string) *tcpproxy.Proxy {
	t.Helper()
	proxy, err := tcpproxy.Start(target)
	if err != nil {
		t.Fatalf("tcpproxy.Start: %v", err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	return proxy
}

// fastOptions are options with short delays for tests against a real node.
func fastOptions(address string) client.Options {
	return client.Options{
		URL:            address,
		BaseDelay:      50 * time.Millisecond,
		MaxDelay:       400 * time.Millisecond,
		GoingAwayDelay: 100 * time.Millisecond,
		StableAfter:    time.Second,
		ConnectTimeout: time.Second,
	}
}

// event is one callback a recorder saw.
type event struct {
	kind    string // "open", "welcome", "close", "reconnecting" or "error"
	close   client.CloseEvent
	attempt int
	delay   time.Duration
	welcome client.Welcome
	err     error
	at      time.Time
}

// recorder keeps every message and event of a client. Its methods are safe for
// concurrent use.
type recorder struct {
	mutex    sync.Mutex
	messages []client.Message
	events   []event
}

func (r *recorder) add(e event) {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	e.at = time.Now()
	r.events = append(r.events, e)
}

// wire sets the callbacks of options to record into r. An OnClose options already
// has runs first, before the close is recorded, so a test that waits for the
// recorded close finds what it saw.
func (r *recorder) wire(options client.Options) client.Options {
	options.OnOpen = func() { r.add(event{kind: "open"}) }
	options.OnWelcome = func(welcome client.Welcome) { r.add(event{kind: "welcome", welcome: welcome}) }
	onClose := options.OnClose
	options.OnClose = func(close client.CloseEvent) {
		if onClose != nil {
			onClose(close)
		}
		r.add(event{kind: "close", close: close})
	}
	options.OnReconnecting = func(attempt int, delay time.Duration) {
		r.add(event{kind: "reconnecting", attempt: attempt, delay: delay})
	}
	options.OnError = func(err error) { r.add(event{kind: "error", err: err}) }
	options.OnMessage = func(message client.Message) {
		r.mutex.Lock()
		defer r.mutex.Unlock()
		r.messages = append(r.messages, message)
	}
	return options
}

// of returns the events of kind, in order.
func (r *recorder) of(kind string) []event {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	var matching []event
	for _, e := range r.events {
		if e.kind == kind {
			matching = append(matching, e)
		}
	}
	return matching
}

// count returns how many events of kind arrived.
func (r *recorder) count(kind string) int { return len(r.of(kind)) }

// messageCount returns how many messages OnMessage got.
func (r *recorder) messageCount() int {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	return len(r.messages)
}

// contents returns the "content" of every message of type kind, in order.
func (r *recorder) contents(t *testing.T, kind string) []any {
	t.Helper()
	r.mutex.Lock()
	defer r.mutex.Unlock()
	var contents []any
	for _, message := range r.messages {
		var decoded struct {
			Content any `json:"content"`
		}
		if err := json.Unmarshal(message.Data, &decoded); err != nil {
			t.Fatalf("message %s: %v", message.Data, err)
		}
		if message.Type == kind {
			contents = append(contents, decoded.Content)
		}
	}
	return contents
}

// running is a client whose Run is going on in a goroutine.
type running struct {
	*client.Client
	*recorder
	result chan error
}

// startClient creates a client with options, records its callbacks and runs it; when
// the test ends it is closed and Run must have returned.
func startClient(t *testing.T, options client.Options) *running {
	t.Helper()
	recorder := &recorder{}
	c, err := client.New(recorder.wire(options))
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	r := &running{Client: c, recorder: recorder, result: make(chan error, 1)}
	go func() { r.result <- c.Run(context.Background()) }()
	t.Cleanup(func() {
		_ = c.Close()
		r.wait(t, 5*time.Second)
	})
	return r
}

// wait returns Run's result, failing the test if Run has not returned within timeout.
// Later calls return the same result.
func (r *running) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-r.result:
		r.result <- err
		return err
	case <-time.After(timeout):
		t.Fatalf("Run did not return within %v", timeout)
		return nil
	}
}

// waitFor polls condition until it holds or timeout passes (see testsupport.WaitFor).
var waitFor = testsupport.WaitFor

// echo sends a message with content and waits for its echo.
func (r *running) echo(t *testing.T, content string) {
	t.Helper()
	if err := r.Send(map[string]any{"type": "message", "content": content}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	waitFor(t, 5*time.Second, "echo of "+content, func() bool {
		return slices.Contains(r.contents(t, "message"), any(content))
	})
}
