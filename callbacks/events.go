package callbacks

import (
	"cmp"
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// The event types.
const (
	EventConnect     = "connect"
	EventDisconnect  = "disconnect"
	EventSubscribe   = "subscribe"
	EventUnsubscribe = "unsubscribe"
)

// Defaults of EventsConfig.
const (
	// DefaultEventsBatchSize is the most events one request carries.
	DefaultEventsBatchSize = 500
	// DefaultEventsBatchDelay is the longest an event waits for others to share its
	// request: a lone event is posted this long after it happened.
	DefaultEventsBatchDelay = 100 * time.Millisecond
	// DefaultEventsQueueSize is the most events waiting to be posted; past it new
	// events are dropped and counted (about 200 bytes each: 20 MB at the limit).
	DefaultEventsQueueSize = 100_000
	// DefaultEventsRetryMin and DefaultEventsRetryMax bound the wait before a failed
	// batch is posted again: it starts at the minimum and doubles, with jitter, up
	// to the maximum.
	DefaultEventsRetryMin = 100 * time.Millisecond
	DefaultEventsRetryMax = 10 * time.Second
)

// EventsConfig configures Events. Zero values mean the documented defaults.
type EventsConfig struct {
	// Endpoint is where batches are posted (its kind names the metrics, usually
	// "events"). Required.
	Endpoint *Endpoint
	// BatchSize is the most events per request. Default DefaultEventsBatchSize.
	BatchSize int
	// BatchDelay is the longest an event waits before its batch is posted. Default
	// DefaultEventsBatchDelay.
	BatchDelay time.Duration
	// QueueSize bounds the events waiting to be posted. Default
	// DefaultEventsQueueSize.
	QueueSize int
	// RetryMin and RetryMax bound the backoff between attempts at a failed batch.
	// Defaults DefaultEventsRetryMin and DefaultEventsRetryMax.
	RetryMin, RetryMax time.Duration
	// Logger receives failed posts and drops, at most one line per kind every 10 s.
	// Default slog.Default().
	Logger *slog.Logger
}

// Event is one connection event. Type is one of the Event... constants; User is ""
// for an anonymous connection; Channel is set for subscribe and unsubscribe;
// Reason for disconnect (the close reason) and unsubscribe (who ended it).
type Event struct {
	Type         string
	ConnectionID string
	User         string
	Channel      string
	Reason       string
}

// stampedEvent is an Event as posted: {"id","type","time","connection_id","user",
// "channel","reason"}, channel and reason left out when empty.
type stampedEvent struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Time         int64  `json:"time"`
	ConnectionID string `json:"connection_id"`
	User         string `json:"user"`
	Channel      string `json:"channel,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

// logEvery is the least time between two log lines about failed posts, or about
// drops.
const logEvery = 10 * time.Second

// Events posts connection events to the backend in batches of at most BatchSize
// events, each batch at most BatchDelay after its first event, one request at a
// time: {"events":[...]}. A batch that fails (transport error, timeout, non-2xx) is
// posted again, the same events with the same ids, after a backoff, until it
// succeeds: delivery is at least once while the node lives, and the backend
// de-duplicates by id. Events wait in a bounded queue meanwhile; an event that
// does not fit is dropped and counted (wsgate_callback_events_dropped_total).
// Safe for concurrent use: Add takes a mutex for an append; one goroutine, started
// by NewEvents and ended by Close, encodes and posts.
type Events struct {
	config   EventsConfig
	idPrefix string
	sequence atomic.Uint64

	mutex        sync.Mutex
	pending      []stampedEvent
	firstAt      time.Time
	closing      bool
	lastDropLog  time.Time
	droppedSince int

	wake     chan struct{}
	closed   chan struct{}
	stopped  chan struct{}
	abandon  context.Context
	giveUp   context.CancelFunc
	inFlight atomic.Int64

	posted, dropped, lost, retries *metrics.Counter
}

// NewEvents returns Events posting to config.Endpoint, its goroutine running.
func NewEvents(config EventsConfig) (*Events, error) {
	if config.Endpoint == nil {
		return nil, errors.New("callbacks: EventsConfig.Endpoint is required")
	}
	if config.BatchSize < 0 || config.BatchDelay < 0 || config.QueueSize < 0 || config.RetryMin < 0 || config.RetryMax < 0 {
		return nil, errors.New("callbacks: EventsConfig values must be zero (the default) or positive")
	}
	config.BatchSize = cmp.Or(config.BatchSize, DefaultEventsBatchSize)
	config.BatchDelay = cmp.Or(config.BatchDelay, DefaultEventsBatchDelay)
	config.QueueSize = cmp.Or(config.QueueSize, DefaultEventsQueueSize)
	config.RetryMin = cmp.Or(config.RetryMin, DefaultEventsRetryMin)
	config.RetryMax = max(cmp.Or(config.RetryMax, DefaultEventsRetryMax), config.RetryMin)
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	var random [8]byte
	_, _ = cryptorand.Read(random[:])
	abandon, giveUp := context.WithCancel(context.Background())
	set := config.Endpoint.client.set
	e := &Events{config: config, idPrefix: hex.EncodeToString(random[:]) + "-",
		wake: make(chan struct{}, 1), closed: make(chan struct{}), stopped: make(chan struct{}),
		abandon: abandon, giveUp: giveUp,
		posted:  set.NewCounter("wsgate_callback_events_posted_total"),
		dropped: set.NewCounter("wsgate_callback_events_dropped_total"),
		lost:    set.NewCounter("wsgate_callback_events_lost_total"),
		retries: set.NewCounter("wsgate_callback_events_retries_total")}
	set.NewGauge("wsgate_callback_events_pending", func() float64 { return float64(e.Pending()) })
	go e.run()
	return e, nil
}

// Add stamps event with a unique id (random per Events, then a sequence number)
// and the time, and queues it; it never blocks on the network. It returns false
// when the event was dropped: the queue is full, or Close was called.
func (e *Events) Add(event Event) bool {
	stamped := stampedEvent{ID: e.idPrefix + strconv.FormatUint(e.sequence.Add(1), 10), Type: event.Type,
		Time: time.Now().UnixMilli(), ConnectionID: event.ConnectionID, User: event.User, Channel: event.Channel,
		Reason: event.Reason}
	e.mutex.Lock()
	if e.closing || len(e.pending) >= e.config.QueueSize {
		e.droppedSince++
		now := time.Now()
		report := now.Sub(e.lastDropLog) >= logEvery
		dropped := e.droppedSince
		if report {
			e.lastDropLog, e.droppedSince = now, 0
		}
		e.mutex.Unlock()
		e.dropped.Inc()
		if report {
			e.config.Logger.Warn("connection events dropped: the queue is full or closed", "dropped", dropped,
				"queue_size", e.config.QueueSize)
		}
		return false
	}
	if len(e.pending) == 0 {
		e.firstAt = time.Now()
	}
	e.pending = append(e.pending, stamped)
	signal := len(e.pending) == 1 || len(e.pending) == e.config.BatchSize
	e.mutex.Unlock()
	if signal {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// Pending returns the number of events queued or in the batch being posted.
func (e *Events) Pending() int {
	e.mutex.Lock()
	queued := len(e.pending)
	e.mutex.Unlock()
	return queued + int(e.inFlight.Load())
}

// Close stops taking events and posts the pending ones, retrying failed batches,
// until they are all delivered or ctx is done; it then stops the goroutine and
// returns how many events were given up (0 when every event was delivered).
func (e *Events) Close(ctx context.Context) int {
	e.mutex.Lock()
	if e.closing {
		e.mutex.Unlock()
		<-e.stopped
		return 0
	}
	e.closing = true
	e.mutex.Unlock()
	close(e.closed)
	select {
	case <-e.stopped:
	case <-ctx.Done():
		e.giveUp()
		<-e.stopped
	}
	e.giveUp()
	e.mutex.Lock()
	lost := len(e.pending)
	e.pending = nil
	e.mutex.Unlock()
	lost += int(e.inFlight.Swap(0))
	e.lost.Add(lost)
	if lost > 0 {
		e.config.Logger.Warn("connection events lost at shutdown: the backend did not take them in time", "lost", lost)
	}
	return lost
}

// run is the poster goroutine: it takes batches and posts them until Close.
func (e *Events) run() {
	defer close(e.stopped)
	for {
		batch := e.next()
		if batch == nil {
			return
		}
		if !e.deliver(batch) {
			return
		}
	}
}

// next waits until a batch is due (BatchSize events, or the first pending event
// is BatchDelay old, or Close was called with events pending) and takes it; nil
// when closing with nothing left or giving up.
func (e *Events) next() []stampedEvent {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		e.mutex.Lock()
		count, closing := len(e.pending), e.closing
		wait := time.Hour
		if count > 0 {
			wait = e.config.BatchDelay - time.Since(e.firstAt)
		}
		if count >= e.config.BatchSize || (count > 0 && (closing || wait <= 0)) {
			taken := min(count, e.config.BatchSize)
			batch := make([]stampedEvent, taken)
			copy(batch, e.pending)
			// Taken from the front without moving the rest: append reallocates
			// (copying only the waiting events) when the tail runs out of room.
			clear(e.pending[:taken])
			e.pending = e.pending[taken:]
			e.firstAt = time.Now()
			e.inFlight.Store(int64(taken))
			e.mutex.Unlock()
			return batch
		}
		e.mutex.Unlock()
		if closing {
			return nil
		}
		timer.Reset(wait)
		select {
		case <-e.wake:
		case <-timer.C:
		case <-e.closed:
		case <-e.abandon.Done():
			return nil
		}
	}
}

// deliver posts batch until it succeeds (true) or Close gives up (false). A batch
// whose body is over the client's MaxRequestSize is posted in halves; a single
// event that large (it cannot be posted at all) is dropped, counted as lost.
func (e *Events) deliver(batch []stampedEvent) bool {
	body, _ := json.Marshal(struct {
		Events []stampedEvent `json:"events"`
	}{batch})
	if len(body) > e.config.Endpoint.client.config.MaxRequestSize {
		if len(batch) == 1 {
			e.inFlight.Add(-1)
			e.lost.Inc()
			e.config.Logger.Warn("connection event dropped: larger than the callbacks' request limit", "bytes", len(body))
			return true
		}
		half := len(batch) / 2
		return e.deliver(batch[:half]) && e.deliver(batch[half:])
	}
	backoff := e.config.RetryMin
	var lastLog time.Time
	for {
		err := e.config.Endpoint.Post(e.abandon, body)
		if err == nil {
			e.inFlight.Add(-int64(len(batch)))
			e.posted.Add(len(batch))
			return true
		}
		if e.abandon.Err() != nil {
			return false
		}
		e.retries.Inc()
		if time.Since(lastLog) >= logEvery {
			lastLog = time.Now()
			e.config.Logger.Warn("posting connection events failed; retrying", "events", len(batch), "error", err.Error(),
				"retry_in", backoff.String())
		}
		// Full jitter in [backoff/2, backoff): nodes that failed together do not
		// retry together.
		pause := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-time.After(pause):
		case <-e.abandon.Done():
			return false
		}
		backoff = min(backoff*2, e.config.RetryMax)
	}
}
