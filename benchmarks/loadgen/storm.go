package main

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/wsgate/wsgate/benchmarks/internal/result"
	"github.com/wsgate/wsgate/benchmarks/internal/stats"
)

// The storm scenario: -n steady connections receive a broadcast every
// -storm-interval (sent through the API, stamped with its send time); after
// -storm-baseline, -storm-clients more clients connect all at once, as after another
// node's crash, and each retries like wsgate's clients (full-jitter exponential
// backoff from -storm-base-delay up to -storm-max-delay) whenever the server refuses
// it (1013 from -max-connects-per-second, 1001, or a failed dial). It measures the
// steady connections' delivery latency before the storm and from its start until
// every storm client is in, and how long that took.

// stormHello asks the server for a welcome: a text message back proves the
// connection was admitted, a close frame that it was refused.
var stormHello = []byte(`{"type":"hello"}`)

// stormClient is one connection's state in the storm, found from its nbio connection
// by both the dialing goroutine and the handlers, whichever comes first.
type stormClient struct {
	steady bool
	// decided receives 0 when the server admitted the connection, else the close
	// code it was refused with (1006 when it closed without one).
	decided chan int
	once    sync.Once
}

func (c *stormClient) decide(code int) {
	c.once.Do(func() { c.decided <- code })
}

// stormRun is the engine and the counters of one storm.
type stormRun struct {
	options  options
	engine   *nbhttp.Engine
	upgrader *websocket.Upgrader
	clients  sync.Map // *websocket.Conn -> *stormClient
	// latency is where the steady connections' deliveries are recorded now.
	latency atomic.Pointer[stats.Histogram]
	// refusals counts storm connects refused by close code; dialErrors the dials
	// that failed before an upgrade.
	refusalsMutex sync.Mutex
	refusals      map[int]int
	dialErrors    atomic.Int64
	firstError    atomic.Pointer[string]
}

func newStormRun(o options) (*stormRun, error) {
	s := &stormRun{options: o, refusals: map[int]int{}}
	s.latency.Store(&stats.Histogram{})
	s.engine = newClientEngine("loadgen-storm")
	s.upgrader = websocket.NewUpgrader()
	s.upgrader.Engine = s.engine
	s.upgrader.OnMessage(func(conn *websocket.Conn, _ websocket.MessageType, data []byte) {
		client := s.clientOf(conn)
		if !client.steady {
			client.decide(0)
			return
		}
		if sent, ok := numberAfter(data, keySent); ok && bytes.Contains(data, []byte(`"storm":1`)) {
			s.latency.Load().Record(time.Duration(time.Now().UnixNano() - sent))
		}
	})
	s.upgrader.SetCloseHandler(func(conn *websocket.Conn, code int, _ string) { s.clientOf(conn).decide(code) })
	s.upgrader.OnClose(func(conn *websocket.Conn, err error) {
		// nbio v1.6.8's client takes 1012-1014 for invalid close codes: it answers 1002
		// without calling the close handler, leaving only this error.
		if errors.Is(err, websocket.ErrInvalidCloseCode) {
			s.clientOf(conn).decide(1013)
			return
		}
		s.clientOf(conn).decide(1006)
	})
	if err := s.engine.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// clientOf returns conn's state, creating a storm client's when it has none yet.
func (s *stormRun) clientOf(conn *websocket.Conn) *stormClient {
	client, _ := s.clients.LoadOrStore(conn, &stormClient{decided: make(chan int, 1)})
	return client.(*stormClient)
}

// connectSteady dials count steady connections, options.concurrency at a time.
func (s *stormRun) connectSteady(count int) error {
	var next atomic.Int64
	var failure atomic.Pointer[error]
	var group sync.WaitGroup
	sources := s.options.sourceAddresses()
	for worker := range s.options.concurrency {
		group.Go(func() {
			d := newDialer(s.engine, s.upgrader, sourceOf(sources, worker), s.options.dialTimeout)
			for next.Add(1) <= int64(count) {
				conn, err := d.dial(s.options.target)
				if err != nil {
					failure.CompareAndSwap(nil, &err)
					return
				}
				client := s.clientOf(conn)
				client.steady = true
			}
		})
	}
	group.Wait()
	if err := failure.Load(); err != nil {
		return fmt.Errorf("steady connections: %w", *err)
	}
	return nil
}

// join is one storm client: it connects until admitted and returns when it was in,
// or the zero time when deadline passed first.
func (s *stormRun) join(worker int, deadline time.Time) time.Time {
	d := newDialer(s.engine, s.upgrader, sourceOf(s.options.sourceAddresses(), worker), s.options.dialTimeout)
	for attempt := 1; time.Now().Before(deadline); attempt++ {
		conn, err := d.dial(s.options.target)
		code := 1006
		if err != nil {
			s.dialErrors.Add(1)
			message := err.Error()
			s.firstError.CompareAndSwap(nil, &message)
		} else {
			client := s.clientOf(conn)
			_ = conn.WriteMessage(websocket.TextMessage, stormHello)
			select {
			case code = <-client.decided:
			case <-time.After(s.options.dialTimeout):
				_ = conn.Close()
			}
			if code == 0 {
				return time.Now()
			}
			s.refusalsMutex.Lock()
			s.refusals[code]++
			s.refusalsMutex.Unlock()
		}
		ceiling := min(s.options.stormMaxDelay, s.options.stormBaseDelay<<min(attempt-1, 30))
		time.Sleep(time.Duration(rand.Int64N(int64(ceiling) + 1)))
	}
	return time.Time{}
}

// storm runs the scenario; the server should have no other clients.
func (b *bench) storm() (*result.Storm, error) {
	o := b.options
	s, err := newStormRun(o)
	if err != nil {
		return nil, err
	}
	defer s.engine.Stop()
	if err := s.connectSteady(o.connections); err != nil {
		return nil, err
	}
	api := newAPITrigger(o.base)
	defer api.close()
	stop := make(chan struct{})
	var broadcastErrors atomic.Int64
	sequence := 0
	broadcaster := everyTick(o.stormInterval, stop, func() {
		content := fmt.Appendf(nil, `{"storm":1,"seq":%d,"sent":%d}`, sequence, time.Now().UnixNano())
		sequence++
		if api.send(content) != nil {
			broadcastErrors.Add(1)
		}
	})
	defer func() {
		close(stop)
		broadcaster.Wait()
	}()
	time.Sleep(o.stormBaseline)
	before := s.latency.Swap(&stats.Histogram{}).Snapshot()

	started := time.Now()
	mark := b.mark()
	deadline := started.Add(o.stormTimeout)
	var joined sync.WaitGroup
	var in atomic.Int64
	var last atomic.Int64
	for worker := range o.stormClients {
		joined.Go(func() {
			if at := s.join(worker, deadline); !at.IsZero() {
				in.Add(1)
				for {
					previous := last.Load()
					if at.UnixNano() <= previous || last.CompareAndSwap(previous, at.UnixNano()) {
						break
					}
				}
			}
		})
	}
	joined.Wait()
	during := s.latency.Swap(&stats.Histogram{}).Snapshot()
	spent := b.since(mark)
	storm := &result.Storm{
		Steady:          o.connections,
		Clients:         o.stormClients,
		IntervalSeconds: o.stormInterval.Seconds(),
		In:              int(in.Load()),
		Before:          result.Summarize(before),
		During:          result.Summarize(during),
		DialErrors:      int(s.dialErrors.Load()),
		BroadcastErrors: int(broadcastErrors.Load()),
		CPU:             spent,
	}
	if message := s.firstError.Load(); message != nil {
		storm.FirstDialError = *message
	}
	if last.Load() > 0 {
		storm.AllInSeconds = time.Unix(0, last.Load()).Sub(started).Seconds()
	}
	s.refusalsMutex.Lock()
	for code, count := range s.refusals {
		storm.Refused = append(storm.Refused, result.Refusals{Code: code, Count: count})
	}
	s.refusalsMutex.Unlock()
	return storm, nil
}
