package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// ErrQueueFull is returned by Send when Options.QueueSize messages already wait.
var ErrQueueFull = errors.New("client: send queue full")

// ErrClosed is returned by Send after Close, and by Run when it stopped because of
// Close.
var ErrClosed = errors.New("client: closed")

// ErrAlreadyStarted is returned by Run when Run was already called on the Client.
var ErrAlreadyStarted = errors.New("client: Run already called")

// Client is a reconnecting connection to a wsgate node. Create it with New, start it
// with Run, stop it with Close or by cancelling Run's context. A Client runs once. Its
// methods are safe for concurrent use.
type Client struct {
	options Options
	queue   *queue
	router  *router
	state   atomic.Int32
	started atomic.Bool
	// done is closed by Close and when Run returns: the Client will not write again.
	done     chan struct{}
	doneOnce sync.Once

	mutex  sync.Mutex
	closed bool
	cancel context.CancelFunc
}

// New checks options, fills in the defaults and returns a Client that is not
// connected yet.
func New(options Options) (*Client, error) {
	options, err := options.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{options: options, queue: newQueue(options.QueueSize), done: make(chan struct{})}
	c.router = newRouter(c)
	return c, nil
}

// State returns the Client's current state.
func (c *Client) State() State { return State(c.state.Load()) }

// Queued returns how many messages wait to be written.
func (c *Client) Queued() int { return c.queue.length() }

// Send encodes value as JSON ([]byte and json.RawMessage are taken as already
// encoded JSON, and copied) and queues it. Queued messages are written in order whenever a
// connection is open; while offline they wait for the next one. Send never blocks on
// the network. It returns ErrQueueFull when Options.QueueSize messages wait, and
// ErrClosed after Close.
func (c *Client) Send(value any) error {
	c.mutex.Lock()
	closed := c.closed
	c.mutex.Unlock()
	if closed {
		return ErrClosed
	}
	data, err := encodeJSON(value)
	if err != nil {
		return err
	}
	if !c.queue.push(&outgoing{data: data}) {
		return ErrQueueFull
	}
	return nil
}

// encodeJSON encodes value as JSON; []byte and json.RawMessage are taken as encoded
// JSON, checked, and copied.
func encodeJSON(value any) ([]byte, error) {
	var data []byte
	switch typed := value.(type) {
	case json.RawMessage:
		data = append([]byte(nil), typed...)
	case []byte:
		data = append([]byte(nil), typed...)
	default:
		return json.Marshal(value)
	}
	if !json.Valid(data) {
		return nil, errors.New("client: not valid JSON")
	}
	return data, nil
}

// isDone reports whether the Client was closed or Run has returned.
func (c *Client) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// finish marks the Client done; later calls do nothing.
func (c *Client) finish() { c.doneOnce.Do(func() { close(c.done) }) }

// Close stops the Client: the open connection gets a 1000 close, no reconnect is made,
// and Run returns ErrClosed. Close does not wait for Run to return. Later calls do
// nothing; it always returns nil.
func (c *Client) Close() error {
	c.mutex.Lock()
	c.closed = true
	cancel := c.cancel
	c.mutex.Unlock()
	c.finish()
	if cancel != nil {
		cancel()
	}
	return nil
}

// Run connects and keeps reconnecting until ctx ends (it returns ctx.Err()), Close is
// called (ErrClosed), or the server closes with a terminal code (*CloseError). Every
// goroutine of the Client has exited when Run returns. Run may be called once.
func (c *Client) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return ErrAlreadyStarted
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.mutex.Lock()
	closed := c.closed
	c.cancel = cancel
	c.mutex.Unlock()
	if closed {
		return ErrClosed
	}
	defer c.finish()
	defer c.state.Store(int32(StateClosed))
	attempt := 0
	needToken := c.options.Token != nil
	token := ""
	for {
		c.state.Store(int32(StateConnecting))
		policy := PolicyBackoff
		if needToken {
			fresh, err := c.options.Token(ctx)
			if err == nil {
				token, needToken = fresh, false
			} else if ctx.Err() == nil {
				c.report(err)
			}
		}
		if !needToken {
			result := c.connect(ctx, token)
			policy = ClosePolicyOf(result.event.Code)
			result.event.WillReconnect = policy != PolicyStop && ctx.Err() == nil
			if c.options.OnClose != nil {
				c.options.OnClose(result.event)
			}
			if ctx.Err() == nil && policy == PolicyStop {
				return &CloseError{Code: result.event.Code, Reason: result.event.Reason}
			}
			if result.openFor >= c.options.StableAfter {
				attempt = 0
			}
		}
		if ctx.Err() != nil {
			return c.stopError(ctx)
		}
		if policy == PolicyRefreshToken {
			needToken = c.options.Token != nil
		}
		attempt++
		delay := c.delay(policy, attempt)
		c.state.Store(int32(StateReconnecting))
		if c.options.OnReconnecting != nil {
			c.options.OnReconnecting(attempt, delay)
		}
		select {
		case <-c.options.Clock.After(delay):
		case <-ctx.Done():
			return c.stopError(ctx)
		}
	}
}

// stopError is Run's result once ctx is done: ErrClosed after Close, else ctx's error.
func (c *Client) stopError(ctx context.Context) error {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	if c.closed {
		return ErrClosed
	}
	return ctx.Err()
}

// delay returns the wait before reconnect attempt after a close with policy.
func (c *Client) delay(policy ClosePolicy, attempt int) time.Duration {
	if policy == PolicyGoingAway {
		return time.Duration(c.options.Rand() * float64(c.options.GoingAwayDelay))
	}
	return backoffDelay(attempt, c.options.BaseDelay, c.options.MaxDelay, c.options.Rand())
}

// report passes err to OnError, if set.
func (c *Client) report(err error) {
	if c.options.OnError != nil {
		c.options.OnError(err)
	}
}

// upgradeRequest returns the URL and headers of a connection attempt: Options.URL
// and Options.Header, with token in an Authorization header or, with TokenInQuery,
// as query parameter "token".
func (c *Client) upgradeRequest(token string) (string, http.Header) {
	if c.options.Token == nil {
		return c.options.URL, c.options.Header
	}
	if !c.options.TokenInQuery {
		header := c.options.Header.Clone()
		if header == nil {
			header = http.Header{}
		}
		header.Set("Authorization", "Bearer "+token)
		return c.options.URL, header
	}
	address, _ := url.Parse(c.options.URL) // validated by New
	query := address.Query()
	query.Set("token", token)
	address.RawQuery = query.Encode()
	return address.String(), c.options.Header
}
