package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsgate/wsgate/benchmarks/internal/result"
)

// How the short-lived connections of the churn scenario end, by sequence number
// modulo 20: one stalls, one vanishes, three drop the socket without a close frame,
// and the other fifteen close properly.
const (
	endClosed   = "closed"
	endDropped  = "dropped"
	endVanished = "vanished"
	endStalled  = "stalled"
)

// churnEnding returns how connection number sequence ends.
func churnEnding(sequence int64) string {
	switch sequence % 20 {
	case 0:
		return endStalled
	case 1:
		return endVanished
	case 2, 3, 4:
		return endDropped
	}
	return endClosed
}

// churnChannels is how many channels ("soak:0" ... ) the churn spreads its
// subscriptions and publications over; the steady connections subscribe to them too.
const churnChannels = 200

// churnChannel returns the name of channel number number of the churn.
func churnChannel(number int) string { return "soak:" + strconv.Itoa(number%churnChannels) }

// Limits of the short-lived connections.
const (
	// maxChurnInFlight bounds the short-lived connections alive at once (stalled and
	// vanished ones included): a server that stops answering makes the churn skip
	// dials instead of piling up sockets.
	maxChurnInFlight = 6000
	// stallHold is how long a stalled connection stays open without reading: well
	// past the soak's heartbeat (ping interval plus timeout), so the server is the one
	// that gives up on it.
	stallHold = 45 * time.Second
	// answerTimeout bounds the wait for the welcome and for a close's answer.
	answerTimeout = 10 * time.Second
)

var (
	helloMessage   = []byte(`{"type":"hello"}`)
	churnEcho      = []byte(`{"type":"message","content":{"soak":"echo"}}`)
	churnBroadcast = []byte(`{"type":"broadcast","content":{"soak":"client broadcast"}}`)
)

// churner runs the short-lived connections of the churn scenario and the API calls
// beside them. Its counters are atomics, its maps guarded by mutex: connection
// goroutines, the API streams and the vanishing cohorts share it.
type churner struct {
	options   options
	sources   []net.IP
	publisher *publisher
	vanish    *vanishing
	dialers   []*websocket.Dialer

	inFlight     atomic.Int64
	attempted    atomic.Int64
	skipped      atomic.Int64
	dialFailures atomic.Int64
	welcomed     atomic.Int64
	subscribed   atomic.Int64
	received     atomic.Int64
	connections  sync.WaitGroup
	replaced     atomic.Int64

	mutex      sync.Mutex
	firstError string
	ended      map[string]int64
	api        map[string]map[string]int64
	// recent holds the ids of recently welcomed connections, most of them still
	// open, for the API calls that name a connection.
	recent     [256]string
	recentNext int
}

// churn runs the churn scenario: the fleet's steady connections, subscribed to two
// of the churn's channels each, stay open while short-lived connections come and go
// at -churn-rate per second for -churn-duration, and the API sends, publishes,
// subscribes and kicks beside them (churnapi.go).
func (b *bench) churn() (*result.Churn, error) {
	grown := b.fleet.Grow(b.options.connections)
	if grown.Connected < b.options.connections {
		return nil, fmt.Errorf("steady connections: %d of %d (%s)", grown.Connected, b.options.connections, grown.FirstError)
	}
	plan := subscriptionPlan{Prefix: "soak:", Channels: churnChannels, PerConnection: 2}
	subscriptions := b.subscribe(plan.Prefix, plan.Channels, plan.PerConnection)
	c := &churner{
		options:   b.options,
		sources:   b.options.sourceAddresses(),
		publisher: newPublisher(b.options.base),
		ended:     map[string]int64{},
		api:       map[string]map[string]int64{},
	}
	// Eight API streams at once: keep a connection per stream instead of net/http's
	// default two idle ones.
	c.publisher.client.Transport = &http.Transport{MaxIdleConnsPerHost: 16}
	defer c.publisher.close()
	c.vanish = newVanishing(b.options.target.Host)
	c.dialers = c.newDialers()
	started := time.Now()
	stop := make(chan struct{})
	apiDone := c.driveAPI(stop)
	progressDone := c.reportProgress(stop, started)
	steadyDone := c.keepSteady(b.fleet, plan, stop)
	c.connectAtRate(started.Add(b.options.churnDuration))
	close(stop)
	apiDone.Wait()
	progressDone.Wait()
	steadyDone.Wait()
	c.connections.Wait()
	c.vanish.close()
	return c.report(b, started, subscriptions), nil
}

// newDialers returns one dialer per source address (the kernel's choice when there
// is none) and one more whose sockets read through a 4 KiB receive buffer, for the
// stalled connections, so the server's queue fills quickly.
func (c *churner) newDialers() []*websocket.Dialer {
	sources := c.sources
	if len(sources) == 0 {
		sources = []net.IP{nil}
	}
	dialers := make([]*websocket.Dialer, 0, len(sources))
	for _, source := range sources {
		network := &net.Dialer{Timeout: c.options.dialTimeout}
		if source != nil {
			network.LocalAddr = &net.TCPAddr{IP: source}
		}
		dialers = append(dialers, &websocket.Dialer{NetDialContext: network.DialContext, HandshakeTimeout: c.options.dialTimeout})
	}
	return dialers
}

// connectAtRate starts one short-lived connection every 1/-churn-rate seconds until
// deadline, on schedule: a late tick starts the connections it owes at once.
func (c *churner) connectAtRate(deadline time.Time) {
	interval := time.Duration(float64(time.Second) / c.options.churnRate)
	started := time.Now()
	sequence := int64(0)
	for now := started; now.Before(deadline); now = time.Now() {
		due := int64(now.Sub(started) / interval)
		for ; sequence <= due; sequence++ {
			if c.inFlight.Load() >= maxChurnInFlight {
				c.skipped.Add(1)
				continue
			}
			c.attempted.Add(1)
			c.inFlight.Add(1)
			c.connections.Add(1)
			go c.live(sequence)
		}
		time.Sleep(time.Until(started.Add(time.Duration(sequence) * interval)))
	}
}

// live is one short-lived connection, from dial to its end.
func (c *churner) live(sequence int64) {
	defer c.connections.Done()
	defer c.inFlight.Add(-1)
	ending := churnEnding(sequence)
	target := *c.options.target
	target.RawQuery = url.Values{"user_id": {"churn-" + strconv.FormatInt(sequence%c.options.churnUsers, 10)}}.Encode()
	dialer := c.dialers[sequence%int64(len(c.dialers))]
	var vanishGroup *cohort
	if ending == endVanished {
		if vanishGroup = c.vanish.current(); vanishGroup == nil {
			ending = endDropped
		} else {
			target.Host = vanishGroup.proxy.Addr()
		}
	}
	if ending == endStalled {
		dialer = stallingDialer(dialer)
	}
	conn, _, err := dialer.Dial(target.String(), nil)
	if err != nil {
		c.dialFailures.Add(1)
		c.noteError(fmt.Errorf("%s connection: %w", ending, err))
		c.count("dial failed (" + ending + ")")
		return
	}
	if ending == endStalled {
		time.Sleep(stallHold)
		_ = conn.UnderlyingConn().Close()
		c.count(ending)
		return
	}
	session := &churnSession{conn: conn, churner: c, answers: make(chan []byte, 16)}
	session.readerDone.Add(1)
	go session.read()
	session.run(sequence)
	if ending == endVanished {
		vanishGroup.keep(conn)
		c.count(ending)
		return
	}
	if ending == endDropped {
		_ = conn.UnderlyingConn().Close()
	} else {
		session.write(websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), websocket.CloseMessage)
	}
	session.awaitEnd(answerTimeout)
	_ = conn.Close()
	c.count(ending)
}

// stallingDialer returns a copy of dialer whose sockets have a 4 KiB receive buffer.
func stallingDialer(dialer *websocket.Dialer) *websocket.Dialer {
	stalling := *dialer
	dial := dialer.NetDialContext
	stalling.NetDialContext = func(ctx context.Context, network, address string) (net.Conn, error) {
		conn, err := dial(ctx, network, address)
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetReadBuffer(4096)
		}
		return conn, err
	}
	return &stalling
}

// churnSession is one short-lived connection after its upgrade: its reader
// goroutine answers the heartbeat and hands the other frames to run.
type churnSession struct {
	conn    *websocket.Conn
	churner *churner
	// writeMutex serialises writes: gorilla allows one writer at a time.
	writeMutex sync.Mutex
	answers    chan []byte
	readerDone sync.WaitGroup
}

// run says hello, waits for the welcome, subscribes to two channels, publishes to
// one, echoes a message (and every 100th connection broadcasts), then lives for
// 1 to 3 seconds (-churn-lifetime is the mean).
func (s *churnSession) run(sequence int64) {
	s.write(helloMessage, websocket.TextMessage)
	if welcome := s.await(`"welcome"`); welcome != nil {
		var answer struct {
			ConnectionID string `json:"connection_id"`
		}
		if json.Unmarshal(welcome, &answer) == nil && answer.ConnectionID != "" {
			s.churner.welcomed.Add(1)
			s.churner.remember(answer.ConnectionID)
		}
	}
	first, second := int(sequence), int(sequence)+churnChannels/2
	for _, channel := range []string{churnChannel(first), churnChannel(second)} {
		s.write([]byte(`{"type":"subscribe","channel":"`+channel+`"}`), websocket.TextMessage)
	}
	s.write([]byte(`{"type":"publish","channel":"`+churnChannel(first)+`","data":{"soak":"client"},"id":`+
		strconv.FormatInt(sequence, 10)+`}`), websocket.TextMessage)
	s.write(churnEcho, websocket.TextMessage)
	if sequence%100 == 50 {
		s.write(churnBroadcast, websocket.TextMessage)
	}
	mean := s.churner.options.churnLifetime
	time.Sleep(mean/2 + rand.N(mean))
}

// read reads every frame until the connection ends: it answers pings, counts
// subscribed answers and passes welcomes to run.
func (s *churnSession) read() {
	defer s.readerDone.Done()
	for {
		_, data, err := s.conn.ReadMessage()
		if err != nil {
			return
		}
		s.churner.received.Add(1)
		switch {
		case bytes.Contains(data, []byte(`"type":"ping"`)):
			s.write([]byte(`{"type":"pong"}`), websocket.TextMessage)
		case bytes.Contains(data, []byte(`"type":"subscribed"`)):
			s.churner.subscribed.Add(1)
		case bytes.Contains(data, []byte(`"type":"welcome"`)):
			select {
			case s.answers <- data:
			default:
			}
		}
	}
}

// await waits up to answerTimeout for a frame containing kind.
func (s *churnSession) await(kind string) []byte {
	timer := time.NewTimer(answerTimeout)
	defer timer.Stop()
	for {
		select {
		case data := <-s.answers:
			if bytes.Contains(data, []byte(kind)) {
				return data
			}
		case <-timer.C:
			return nil
		}
	}
}

// write sends one frame; errors end the connection, which read notices.
func (s *churnSession) write(data []byte, messageType int) {
	s.writeMutex.Lock()
	defer s.writeMutex.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(answerTimeout))
	_ = s.conn.WriteMessage(messageType, data)
}

// awaitEnd waits up to timeout for the reader to see the connection end: the
// server's close answer, or the socket closing.
func (s *churnSession) awaitEnd(timeout time.Duration) {
	_ = s.conn.SetReadDeadline(time.Now().Add(timeout))
	s.readerDone.Wait()
}

// remember keeps id among the recent connection ids.
func (c *churner) remember(id string) {
	c.mutex.Lock()
	c.recent[c.recentNext%len(c.recent)] = id
	c.recentNext++
	c.mutex.Unlock()
}

// recentConnection returns a recently welcomed connection's id, "" before the first.
func (c *churner) recentConnection() string {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	if c.recentNext == 0 {
		return ""
	}
	return c.recent[rand.IntN(min(c.recentNext, len(c.recent)))]
}

// count records how a connection ended.
func (c *churner) count(ending string) {
	c.mutex.Lock()
	c.ended[ending]++
	c.mutex.Unlock()
}

// noteError keeps the first error seen.
func (c *churner) noteError(err error) {
	c.mutex.Lock()
	if c.firstError == "" {
		c.firstError = err.Error()
	}
	c.mutex.Unlock()
}

// steadyCheck is how often keepSteady looks for lost steady connections.
const steadyCheck = 30 * time.Second

// keepSteady replaces the steady connections the server closed (a heartbeat that
// timed out while this machine was starved, say) every steadyCheck until stop is
// closed, so the node serves as many long-lived subscribers throughout: it grows
// the fleet back to -n and subscribes every open connection again (those still
// subscribed are answered already_subscribed). It is the only caller of the fleet's
// methods while the churn runs.
func (c *churner) keepSteady(fleet Fleet, plan subscriptionPlan, stop <-chan struct{}) *sync.WaitGroup {
	return everyTick(steadyCheck, stop, func() {
		open := fleet.Snapshot().Open
		if open >= int64(c.options.connections) {
			return
		}
		grown := fleet.Grow(c.options.connections)
		c.replaced.Add(int64(grown.Connected))
		fleet.Subscribe(plan, c.options.subscribeTimeout)
		fmt.Fprintf(os.Stderr, "loadgen: churn: %d steady connections were open, %d replaced\n", open, grown.Connected)
	})
}

// reportProgress prints a line to stderr every minute until stop is closed.
func (c *churner) reportProgress(stop <-chan struct{}, started time.Time) *sync.WaitGroup {
	return everyTick(time.Minute, stop, func() {
		c.mutex.Lock()
		ended := fmt.Sprint(c.ended)
		c.mutex.Unlock()
		fmt.Fprintf(os.Stderr, "loadgen: churn %s: %d dialed, %d failed, %d skipped, %d alive, ended %s\n",
			time.Since(started).Round(time.Second), c.attempted.Load(), c.dialFailures.Load(), c.skipped.Load(),
			c.inFlight.Load(), ended)
	})
}

// everyTick calls tick every interval, in one goroutine, until stop is closed; the
// returned group is done when that goroutine has returned.
func everyTick(interval time.Duration, stop <-chan struct{}, tick func()) *sync.WaitGroup {
	var done sync.WaitGroup
	done.Go(func() {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ticker.C:
				tick()
			}
		}
	})
	return &done
}

// report returns the scenario's result.
func (c *churner) report(b *bench, started time.Time, subscriptions result.Subscriptions) *result.Churn {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	return &result.Churn{
		Seconds:           time.Since(started).Seconds(),
		Steady:            b.options.connections,
		Subscriptions:     subscriptions,
		ConnectsPerSecond: c.options.churnRate,
		Attempted:         c.attempted.Load(),
		Skipped:           c.skipped.Load(),
		DialFailures:      c.dialFailures.Load(),
		FirstError:        c.firstError,
		Ended:             c.ended,
		Welcomed:          c.welcomed.Load(),
		Subscribed:        c.subscribed.Load(),
		Received:          c.received.Load(),
		API:               c.api,
		SteadyOpen:        b.fleet.Snapshot().Open,
		SteadyReplaced:    c.replaced.Load(),
	}
}

// errChurnOptions is returned for churn options out of range.
var errChurnOptions = errors.New("-churn-rate, -churn-users and -churn-lifetime must be positive")
