package callbacks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// The errors a call fails with before it runs; Go returns them at once.
var (
	// ErrQueueFull: Config.QueueSize calls are already waiting for a worker.
	ErrQueueFull = errors.New("callbacks: queue full, the backend is not keeping up")
	// ErrCircuitOpen: the endpoint's breaker is open after consecutive failures.
	ErrCircuitOpen = errors.New("callbacks: circuit breaker open, the backend failed repeatedly")
	// ErrClosed: the Client is closed (also given to the completion of a call that
	// was queued or in flight when Close was called).
	ErrClosed = errors.New("callbacks: client closed")
	// ErrRequestTooLarge: the body is over Config.MaxRequestSize.
	ErrRequestTooLarge = errors.New("callbacks: request body too large")
)

// CallError is the error of a call that ran and failed: Failure is one of the
// Failure... kinds (timeout, transport, status, malformed), Status the HTTP status
// when there was one, Err the cause.
type CallError struct {
	Kind    string
	Failure string
	Status  int
	Err     error
}

// Error returns e.g. `callbacks: rpc: status: backend answered 503`.
func (e *CallError) Error() string {
	return fmt.Sprintf("callbacks: %s: %s: %v", e.Kind, e.Failure, e.Err)
}

// Unwrap returns the cause.
func (e *CallError) Unwrap() error { return e.Err }

// IsUnavailable reports whether err means that the backend could not answer (so
// trying later may succeed): a full queue, an open breaker, a closed client, a
// timeout, a transport failure or a 5xx status. A malformed answer or a 4xx status
// is the backend's mistake, not its absence.
func IsUnavailable(err error) bool {
	if errors.Is(err, ErrQueueFull) || errors.Is(err, ErrCircuitOpen) || errors.Is(err, ErrClosed) {
		return true
	}
	var callError *CallError
	if !errors.As(err, &callError) {
		return false
	}
	switch callError.Failure {
	case FailureTimeout, FailureTransport:
		return true
	case FailureStatus:
		return callError.Status >= 500
	}
	return false
}

// Client owns the pool of workers, the queue of calls and the keep-alive
// connections to the backend, shared by its Endpoints. Safe for concurrent use.
type Client struct {
	config Config
	http   *http.Client
	set    *metrics.Set
	// base is canceled by Close, which cuts the calls in flight.
	base   context.Context
	cancel context.CancelFunc

	// queueMutex orders Go's sends before Close's close of the queue: Go holds it
	// for reading around one non-blocking send.
	queueMutex sync.RWMutex
	queue      chan call
	closed     atomic.Bool
	workers    sync.WaitGroup

	kindsMutex sync.Mutex
	kinds      map[string]bool
}

// call is one queued call.
type call struct {
	endpoint *Endpoint
	body     []byte
	done     func(Answer, error)
}

// New returns a Client with config's workers running; Close stops them.
func New(config Config) (*Client, error) {
	if err := config.Validate(); err != nil {
		return nil, err
	}
	config = config.withDefaults()
	dialer := &net.Dialer{Timeout: config.Timeout, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		// Backends are reached directly: an HTTP_PROXY meant for the outside world
		// must not catch them.
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		MaxIdleConns:        config.Workers,
		MaxIdleConnsPerHost: config.Workers,
		MaxConnsPerHost:     config.Workers,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	base, cancel := context.WithCancel(context.Background())
	c := &Client{config: config, http: &http.Client{Transport: transport}, set: metrics.NewSet(), base: base,
		cancel: cancel, queue: make(chan call, config.QueueSize), kinds: map[string]bool{}}
	c.workers.Add(config.Workers)
	for range config.Workers {
		go c.work()
	}
	return c, nil
}

// Config returns the Client's configuration with the defaults filled in.
func (c *Client) Config() Config { return c.config }

// Metrics returns the set holding every Endpoint's metrics, for /metrics.
func (c *Client) Metrics() *metrics.Set { return c.set }

// Endpoint returns the Endpoint that posts calls of kind (a short name such as
// "rpc", used in metrics and the X-Wsgate-Kind header) to address, an http:// or
// https:// URL. Each kind may be created once per Client.
func (c *Client) Endpoint(kind, address string) (*Endpoint, error) {
	parsed, err := url.Parse(address)
	if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
		return nil, fmt.Errorf("callbacks: %s URL %q: must be an http:// or https:// URL", kind, address)
	}
	c.kindsMutex.Lock()
	defer c.kindsMutex.Unlock()
	if c.kinds[kind] {
		return nil, fmt.Errorf("callbacks: endpoint kind %q created twice", kind)
	}
	c.kinds[kind] = true
	e := &Endpoint{client: c, kind: kind, url: parsed.String(), metrics: newEndpointMetrics(c.set, kind)}
	e.breaker = breaker{threshold: c.config.BreakerThreshold, cooldown: c.config.BreakerCooldown,
		onChange: e.breakerChanged}
	return e, nil
}

// Close fails the queued calls with ErrClosed, cuts the calls in flight (their
// completions get ErrClosed), waits for the workers to return and closes the idle
// connections. Go fails with ErrClosed afterwards. Only the first call has an
// effect.
func (c *Client) Close() {
	c.queueMutex.Lock()
	if c.closed.Swap(true) {
		c.queueMutex.Unlock()
		return
	}
	close(c.queue)
	c.queueMutex.Unlock()
	c.cancel()
	c.workers.Wait()
	c.http.CloseIdleConnections()
}

// enqueue puts work on the queue without blocking.
func (c *Client) enqueue(work call) error {
	c.queueMutex.RLock()
	defer c.queueMutex.RUnlock()
	if c.closed.Load() {
		return ErrClosed
	}
	select {
	case c.queue <- work:
		return nil
	default:
		return ErrQueueFull
	}
}

// work is one worker: it runs queued calls until Close.
func (c *Client) work() {
	defer c.workers.Done()
	for work := range c.queue {
		if c.closed.Load() {
			work.done(Answer{}, ErrClosed)
			continue
		}
		answer, err := work.endpoint.run(work.body)
		if err != nil && c.closed.Load() {
			err = ErrClosed
		}
		work.done(answer, err)
	}
}
