package main

import (
	"bytes"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/wsgate/wsgate/benchmarks/internal/stats"
)

// localConfig configures a localFleet.
type localConfig struct {
	target      *url.URL
	sources     []net.IP
	concurrency int
	dialTimeout time.Duration
	// users gives each dial its ?user_id= (users.go); nil: anonymous.
	users *userIDs
	// compression offers permessage-deflate (see dialer.dial).
	compression bool
}

// localFleet is a Fleet of connections in this process, served by one nbio client
// engine whose pollers run the message handlers inline: a fixed number of goroutines
// and about 1 KB per connection, whatever the count.
type localFleet struct {
	config  localConfig
	engine  *nbhttp.Engine
	options *websocket.Upgrader

	mutex       sync.Mutex
	connections []*websocket.Conn

	open   atomic.Int64
	closed atomic.Int64
	pings  atomic.Int64
	stale  atomic.Int64
	// subscribed and refused count the server's answers to subscribes:
	// {"type":"subscribed"} and {"type":"error"}.
	subscribed atomic.Int64
	refused    atomic.Int64
	phase      atomic.Pointer[phase]
	echo       atomic.Pointer[echoRun]
}

// newLocalFleet starts a client engine; connections come with Grow.
func newLocalFleet(config localConfig) (*localFleet, error) {
	fleet := &localFleet{config: config}
	fleet.engine = newClientEngine("loadgen")
	fleet.options = websocket.NewUpgrader()
	// Lets a connection read compressed frames; dial offers compression, and only a
	// server that accepts it sends them.
	fleet.options.EnableCompression(config.compression)
	fleet.options.Engine = fleet.engine
	fleet.options.OnMessage(fleet.onMessage)
	fleet.options.OnClose(func(*websocket.Conn, error) {
		fleet.open.Add(-1)
		fleet.closed.Add(1)
	})
	fleet.phase.Store(newPhase(0, 0, 1))
	fleet.echo.Store(&echoRun{})
	if err := fleet.engine.Start(); err != nil {
		return nil, err
	}
	return fleet, nil
}

// Grow dials the missing connections with config.concurrency goroutines, each with
// its own dialer on one of the source addresses in turn.
func (f *localFleet) Grow(target int) GrowReport {
	need := int64(target) - f.open.Load()
	if need <= 0 {
		return GrowReport{}
	}
	var next, connected, failed atomic.Int64
	var firstError atomic.Pointer[string]
	started := time.Now()
	var group sync.WaitGroup
	for worker := range int(min(int64(f.config.concurrency), need)) {
		d := newDialer(f.engine, f.options, sourceOf(f.config.sources, worker), f.config.dialTimeout)
		d.compression = f.config.compression
		group.Go(func() {
			for next.Add(1) <= need {
				conn, err := d.dial(f.config.users.next(f.config.target))
				if err != nil {
					failed.Add(1)
					message := err.Error()
					firstError.CompareAndSwap(nil, &message)
					continue
				}
				f.open.Add(1)
				f.mutex.Lock()
				f.connections = append(f.connections, conn)
				f.mutex.Unlock()
				connected.Add(1)
			}
		})
	}
	group.Wait()
	report := GrowReport{Connected: int(connected.Load()), Failed: int(failed.Load()), Seconds: time.Since(started).Seconds()}
	if message := firstError.Load(); message != nil {
		report.FirstError = *message
	}
	return report
}

// Begin replaces the phase counters.
func (f *localFleet) Begin(phaseNumber, sequences, copies int) {
	f.phase.Store(newPhase(phaseNumber, sequences, copies))
}

// Await polls the sequence's delivery count every millisecond.
func (f *localFleet) Await(sequence int, timeout time.Duration) int64 {
	current := f.phase.Load()
	if sequence < 0 || sequence >= len(current.received) {
		return 0
	}
	deadline := time.Now().Add(timeout)
	for {
		received := current.received[sequence].Load()
		if received >= f.open.Load()*current.copies || time.Now().After(deadline) {
			return received
		}
		time.Sleep(time.Millisecond)
	}
}

// AwaitAll polls the phase's delivery count every 10 milliseconds.
func (f *localFleet) AwaitAll(timeout time.Duration) int64 {
	current := f.phase.Load()
	deadline := time.Now().Add(timeout)
	for {
		delivered := current.delivered.Load()
		if delivered >= f.open.Load()*current.copies*int64(len(current.received)) || time.Now().After(deadline) {
			return delivered
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Echo starts one message on each chosen connection; onMessage sends the next
// whenever an answer arrives, until the run stops.
func (f *localFleet) Echo(connections int, duration time.Duration) {
	f.mutex.Lock()
	chosen := append([]*websocket.Conn(nil), f.connections[:min(connections, len(f.connections))]...)
	f.mutex.Unlock()
	run := &echoRun{}
	run.running.Store(true)
	f.echo.Store(run)
	for _, conn := range chosen {
		run.inFlight.Add(1)
		if conn.WriteMessage(websocket.TextMessage, echoMessage(time.Now().UnixNano())) != nil {
			run.inFlight.Add(-1)
		}
	}
	time.Sleep(duration)
	run.running.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for run.inFlight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// Snapshot reads the counters.
func (f *localFleet) Snapshot() Snapshot {
	current := f.phase.Load()
	run := f.echo.Load()
	snapshot := Snapshot{
		Open:        f.open.Load(),
		Closed:      f.closed.Load(),
		Pings:       f.pings.Load(),
		Stale:       f.stale.Load(),
		Subscribed:  f.subscribed.Load(),
		Refused:     f.refused.Load(),
		Received:    make([]int64, len(current.received)),
		Slowest:     make([]int64, len(current.slowest)),
		LastReceipt: current.lastReceipt.Load(),
		Latency:     current.latency.Snapshot(),
		RoundTrips:  run.roundTrips.Load(),
		EchoLatency: run.latency.Snapshot(),
	}
	for sequence := range current.received {
		snapshot.Received[sequence] = current.received[sequence].Load()
		snapshot.Slowest[sequence] = current.slowest[sequence].Load()
	}
	return snapshot
}

// Close closes the connections and stops the engine.
func (f *localFleet) Close() {
	f.mutex.Lock()
	connections := f.connections
	f.connections = nil
	f.mutex.Unlock()
	for _, conn := range connections {
		_ = conn.Close()
	}
	f.engine.Stop()
}

// send writes message on the fleet's first connection (the trigger's only one).
func (f *localFleet) send(message []byte) error {
	f.mutex.Lock()
	defer f.mutex.Unlock()
	if len(f.connections) == 0 {
		return errNoConnection
	}
	return f.connections[0].WriteMessage(websocket.TextMessage, message)
}

// onMessage answers the heartbeat, counts answers to subscribes and broadcasts and keeps echoes going. It runs
// on a poller goroutine, so it only does byte searches and atomic additions.
func (f *localFleet) onMessage(conn *websocket.Conn, _ websocket.MessageType, data []byte) {
	now := time.Now().UnixNano()
	if bytes.Contains(data, typePing) {
		f.pings.Add(1)
		_ = conn.WriteMessage(websocket.TextMessage, pong)
		return
	}
	if sent, ok := numberAfter(data, keyEcho); ok {
		run := f.echo.Load()
		run.latency.Record(time.Duration(now - sent))
		if run.running.Load() {
			run.roundTrips.Add(1)
			if conn.WriteMessage(websocket.TextMessage, echoMessage(time.Now().UnixNano())) == nil {
				return
			}
		}
		run.inFlight.Add(-1)
		return
	}
	if bytes.Contains(data, typeSubscribed) {
		f.subscribed.Add(1)
		return
	}
	if bytes.Contains(data, typeError) {
		f.refused.Add(1)
		return
	}
	sequence, ok := numberAfter(data, keySeq)
	if !ok {
		return
	}
	phaseNumber, _ := numberAfter(data, keyPhase)
	sent, _ := numberAfter(data, keySent)
	if !f.phase.Load().receive(int(phaseNumber), int(sequence), sent, now) {
		f.stale.Add(1)
	}
}

// echoRun is the state of one Echo.
type echoRun struct {
	running    atomic.Bool
	inFlight   atomic.Int64
	roundTrips atomic.Uint64
	latency    stats.Histogram
}

// phase counts the deliveries of one broadcast phase; each broadcast reaches every
// connection copies times.
type phase struct {
	number      int
	copies      int64
	received    []atomic.Int64
	slowest     []atomic.Int64
	delivered   atomic.Int64
	lastReceipt atomic.Int64
	latency     stats.Histogram
}

func newPhase(number, sequences, copies int) *phase {
	return &phase{number: number, copies: int64(copies), received: make([]atomic.Int64, sequences), slowest: make([]atomic.Int64, sequences)}
}

// receive counts one delivery; it reports false for a broadcast of another phase.
func (p *phase) receive(number, sequence int, sent, now int64) bool {
	if number != p.number || sequence < 0 || sequence >= len(p.received) {
		return false
	}
	latency := now - sent
	p.received[sequence].Add(1)
	p.delivered.Add(1)
	p.latency.Record(time.Duration(latency))
	for {
		current := p.slowest[sequence].Load()
		if latency <= current || p.slowest[sequence].CompareAndSwap(current, latency) {
			break
		}
	}
	for {
		current := p.lastReceipt.Load()
		if now <= current || p.lastReceipt.CompareAndSwap(current, now) {
			return true
		}
	}
}
