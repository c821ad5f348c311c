package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/wsgate/wsgate/benchmarks/internal/result"
	"github.com/wsgate/wsgate/benchmarks/internal/stats"
)

// The presence scenario measures issue 18's presence against a wsgate started with
// -insecure-user-id and three namespaces: "room" (presence and join_leave),
// "quiet" (presence only) and "plain" (neither). It holds -n connections in this
// process, each its own user (?user_id=), and measures in turn:
//   - the join storm: -presence-watchers users subscribed to a fresh channel, then
//     -presence-joiners more subscribe spread evenly over -presence-window; the
//     watchers' presence messages are counted for -presence-observe from the start.
//     The same storm into a "quiet" channel (no join/leave messages) is the
//     baseline; rounds alternate room, quiet, -presence-rounds times.
//   - memory: every connection subscribes to a fresh "plain" then "quiet" channel
//     (alternating, -presence-rounds times); the server's heap and RSS per
//     subscriber (after a forced GC) differ by the cost of a present user.
//   - queries: every connection subscribed to one "quiet" channel, -presence-queries
//     queries of each kind (ping as the baseline, presence_stats, a page of 100, a
//     page of 1000) one after the other, each from the next subscriber, rounds
//     alternating kinds.

// presenceNamespaces are the channel namespaces the server must configure.
const (
	presenceJoinLeave = "room"
	presenceOnly      = "quiet"
	presenceNone      = "plain"
)

// presenceSettle is how long the watchers' own joins are left to settle before a
// storm: their burst coalesces the channel's events, and a period without events
// (-presence-diff-period, 1 s by default) ends that, so each storm starts from a
// channel that sends joins one by one, the worst case for the bound.
const presenceSettle = 2500 * time.Millisecond

// presenceClient is one connection's state, found from its nbio connection.
type presenceClient struct {
	// recording is set on the watchers during a storm's observation.
	recording atomic.Bool
	mutex     sync.Mutex
	// received are the arrival times of the presence messages while recording.
	received []time.Time
	// answers receives the size of each presence or presence_stats answer, or -1
	// for an error.
	answers chan int
}

// presenceRun is the engine, the connections and the counters of the scenario.
type presenceRun struct {
	engine       *nbhttp.Engine
	upgrader     *websocket.Upgrader
	clients      sync.Map // *websocket.Conn -> *presenceClient
	conns        []*websocket.Conn
	subscribed   atomic.Int64
	unsubscribed atomic.Int64
	refused      atomic.Int64
	presence     atomic.Int64
	firstError   atomic.Pointer[string]
}

var (
	typePong          = []byte(`"type":"pong"`)
	typeUnsubscribed  = []byte(`"type":"unsubscribed"`)
	typeJoin          = []byte(`"type":"join"`)
	typeLeave         = []byte(`"type":"leave"`)
	typeDiff          = []byte(`"type":"presence_diff"`)
	typePresence      = []byte(`"type":"presence"`)
	typePresenceStats = []byte(`"type":"presence_stats"`)
)

func newPresenceRun() (*presenceRun, error) {
	p := &presenceRun{}
	p.engine = newClientEngine("loadgen-presence")
	p.upgrader = websocket.NewUpgrader()
	p.upgrader.Engine = p.engine
	p.upgrader.OnMessage(func(conn *websocket.Conn, _ websocket.MessageType, data []byte) {
		client := p.clientOf(conn)
		switch {
		case bytes.Contains(data, typePing):
			_ = conn.WriteMessage(websocket.TextMessage, pong)
		case bytes.Contains(data, typePong):
			client.answer(len(data))
		case bytes.Contains(data, typeSubscribed):
			p.subscribed.Add(1)
		case bytes.Contains(data, typeUnsubscribed):
			p.unsubscribed.Add(1)
		case bytes.Contains(data, typeJoin), bytes.Contains(data, typeLeave), bytes.Contains(data, typeDiff):
			p.presence.Add(1)
			if client.recording.Load() {
				client.mutex.Lock()
				client.received = append(client.received, time.Now())
				client.mutex.Unlock()
			}
		case bytes.Contains(data, typePresence), bytes.Contains(data, typePresenceStats):
			client.answer(len(data))
		case bytes.Contains(data, typeError):
			p.refused.Add(1)
			text := string(data)
			p.firstError.CompareAndSwap(nil, &text)
			client.answer(-1)
		}
	})
	if err := p.engine.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

// answer hands an answer's size to a waiting query; one nobody waits for is dropped.
func (c *presenceClient) answer(size int) {
	select {
	case c.answers <- size:
	default:
	}
}

func (p *presenceRun) clientOf(conn *websocket.Conn) *presenceClient {
	client, _ := p.clients.LoadOrStore(conn, &presenceClient{answers: make(chan int, 1)})
	return client.(*presenceClient)
}

// connect dials count connections, user i with ?user_id=<prefix>i, concurrency at a time.
func (p *presenceRun) connect(o options, count int) error {
	p.conns = make([]*websocket.Conn, count)
	prefix := "p" + strconv.Itoa(os.Getpid()) + "-"
	var next atomic.Int64
	var failure atomic.Pointer[error]
	var group sync.WaitGroup
	sources := o.sourceAddresses()
	for worker := range o.concurrency {
		group.Go(func() {
			d := newDialer(p.engine, p.upgrader, sourceOf(sources, worker), o.dialTimeout)
			for index := int(next.Add(1) - 1); index < count; index = int(next.Add(1) - 1) {
				target := *o.target
				query := target.Query()
				query.Set("user_id", prefix+strconv.Itoa(index))
				target.RawQuery = query.Encode()
				conn, err := d.dial(&target)
				if err != nil {
					failure.CompareAndSwap(nil, &err)
					return
				}
				p.clientOf(conn)
				p.conns[index] = conn
			}
		})
	}
	group.Wait()
	if err := failure.Load(); err != nil {
		return fmt.Errorf("connect: %w", *err)
	}
	return nil
}

// awaitCounter waits until counter reaches target or timeout passes, and returns
// how long it took and whether it got there.
func awaitCounter(counter *atomic.Int64, target int64, timeout time.Duration, started time.Time) (time.Duration, bool) {
	deadline := started.Add(timeout)
	for counter.Load() < target {
		if time.Now().After(deadline) {
			return time.Since(started), false
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(started), true
}

// subscribeAll subscribes conns to channel at once and waits for the answers.
func (p *presenceRun) subscribeAll(conns []*websocket.Conn, channel string, timeout time.Duration) error {
	target := p.subscribed.Load() + int64(len(conns))
	for _, conn := range conns {
		_ = conn.WriteMessage(websocket.TextMessage, subscribeMessage(channel))
	}
	if _, ok := awaitCounter(&p.subscribed, target, timeout, time.Now()); !ok {
		return p.failed(fmt.Sprintf("%d of %d subscribes to %s confirmed", len(conns)-int(target-p.subscribed.Load()), len(conns), channel))
	}
	return nil
}

// unsubscribeAll unsubscribes conns from channel and waits for the answers.
func (p *presenceRun) unsubscribeAll(conns []*websocket.Conn, channel string, timeout time.Duration) error {
	target := p.unsubscribed.Load() + int64(len(conns))
	message := []byte(`{"type":"unsubscribe","channel":"` + channel + `"}`)
	for _, conn := range conns {
		_ = conn.WriteMessage(websocket.TextMessage, message)
	}
	if _, ok := awaitCounter(&p.unsubscribed, target, timeout, time.Now()); !ok {
		return p.failed(fmt.Sprintf("unsubscribes from %s not all confirmed", channel))
	}
	return nil
}

// failed returns an error saying what, with the first error the server answered.
func (p *presenceRun) failed(what string) error {
	if text := p.firstError.Load(); text != nil {
		return fmt.Errorf("%s (first error: %s)", what, *text)
	}
	return errors.New(what)
}

// presenceScenario runs the scenario; the server should have no other clients.
func (b *bench) presenceScenario() (*result.Presence, error) {
	o := b.options
	if o.connections < o.presenceWatchers+o.presenceJoiners {
		return nil, fmt.Errorf("-n %d: fewer than -presence-watchers + -presence-joiners", o.connections)
	}
	p, err := newPresenceRun()
	if err != nil {
		return nil, err
	}
	defer p.engine.Stop()
	if err := p.connect(o, o.connections); err != nil {
		return nil, err
	}
	outcome := &result.Presence{Watchers: o.presenceWatchers, Joiners: o.presenceJoiners,
		WindowS: o.presenceWindow.Seconds(), ObserveS: o.presenceObserve.Seconds()}
	for round := range o.presenceRounds {
		for _, namespace := range []string{presenceJoinLeave, presenceOnly} {
			storm, err := b.presenceStorm(p, fmt.Sprintf("%s:storm-%d", namespace, round))
			if err != nil {
				return nil, err
			}
			if namespace == presenceJoinLeave {
				outcome.StormOn = append(outcome.StormOn, storm)
			} else {
				outcome.StormOff = append(outcome.StormOff, storm)
			}
		}
	}
	for round := range o.presenceRounds {
		for _, namespace := range []string{presenceNone, presenceOnly} {
			memory, err := b.presenceMemory(p, fmt.Sprintf("%s:memory-%d", namespace, round))
			if err != nil {
				return nil, err
			}
			memory.Presence = namespace == presenceOnly
			outcome.Memory = append(outcome.Memory, memory)
		}
	}
	channel := presenceOnly + ":query"
	if err := p.subscribeAll(p.conns, channel, o.subscribeTimeout); err != nil {
		return nil, err
	}
	kinds := []string{"ping", "presence_stats", "presence:100", "presence:1000"}
	for range o.presenceRounds {
		for _, kind := range kinds {
			outcome.Queries = append(outcome.Queries, b.presenceQueries(p, channel, kind))
		}
	}
	return outcome, nil
}

// presenceStorm runs one storm into channel and unsubscribes everyone afterwards.
func (b *bench) presenceStorm(p *presenceRun, channel string) (result.PresenceStorm, error) {
	o := b.options
	storm := result.PresenceStorm{Channel: channel}
	watchers := p.conns[:o.presenceWatchers]
	joiners := p.conns[o.presenceWatchers : o.presenceWatchers+o.presenceJoiners]
	if err := p.subscribeAll(watchers, channel, o.subscribeTimeout); err != nil {
		return storm, err
	}
	time.Sleep(presenceSettle)
	for _, conn := range watchers {
		client := p.clientOf(conn)
		client.mutex.Lock()
		client.received = client.received[:0]
		client.mutex.Unlock()
		client.recording.Store(true)
	}
	sentBefore, _ := b.probe.metricValue("wsgate_messages_sent_total")
	mark := b.mark()
	confirmedBefore := p.subscribed.Load()
	started := time.Now()
	message := subscribeMessage(channel)
	for index, conn := range joiners {
		if index%100 == 0 {
			time.Sleep(time.Until(started.Add(o.presenceWindow * time.Duration(index) / time.Duration(len(joiners)))))
		}
		_ = conn.WriteMessage(websocket.TextMessage, message)
	}
	took, _ := awaitCounter(&p.subscribed, confirmedBefore+int64(len(joiners)), o.subscribeTimeout, started)
	storm.SubscribedS = took.Seconds()
	storm.Confirmed = p.subscribed.Load() - confirmedBefore
	time.Sleep(time.Until(started.Add(o.presenceObserve)))
	storm.CPU = b.since(mark)
	sentAfter, _ := b.probe.metricValue("wsgate_messages_sent_total")
	storm.FramesSent = sentAfter - sentBefore
	total := 0
	for _, conn := range watchers {
		client := p.clientOf(conn)
		client.recording.Store(false)
		client.mutex.Lock()
		total += len(client.received)
		storm.PerWatcherMaxSecond = max(storm.PerWatcherMaxSecond, mostWithinSecond(client.received))
		client.mutex.Unlock()
	}
	storm.PresenceMessagesSeen = int64(total)
	storm.PerWatcherMean = float64(total) / float64(len(watchers))
	if storm.Confirmed < int64(len(joiners)) {
		return storm, p.failed(fmt.Sprintf("storm %s: %d of %d joiners subscribed", channel, storm.Confirmed, len(joiners)))
	}
	if err := p.unsubscribeAll(p.conns[:o.presenceWatchers+o.presenceJoiners], channel, o.subscribeTimeout); err != nil {
		return storm, err
	}
	return storm, nil
}

// mostWithinSecond returns the most of times (in order) within any one second.
func mostWithinSecond(times []time.Time) int {
	most, first := 0, 0
	for last := range times {
		for times[last].Sub(times[first]) >= time.Second {
			first++
		}
		most = max(most, last-first+1)
	}
	return most
}

// presenceMemory reads the server, subscribes every connection to channel, reads
// it again and unsubscribes them.
func (b *bench) presenceMemory(p *presenceRun, channel string) (result.PresenceMemory, error) {
	memory := result.PresenceMemory{Channel: channel, Subscribers: int64(len(p.conns))}
	before := b.probe.read()
	if err := p.subscribeAll(p.conns, channel, b.options.subscribeTimeout); err != nil {
		return memory, err
	}
	after := b.probe.read()
	memory.RSSPerUser = float64(after.rss-before.rss) / float64(len(p.conns))
	if before.heap != nil && after.heap != nil {
		memory.HeapPerUser = float64(*after.heap-*before.heap) / float64(len(p.conns))
	}
	return memory, p.unsubscribeAll(p.conns, channel, b.options.subscribeTimeout)
}

// presenceQueries sends -presence-queries queries of kind ("presence_stats",
// "presence:<limit>", or "ping", answered by the transport before any channel code:
// the round trip and the server's background CPU that every kind pays) to channel
// one after the other, each from the next subscriber.
func (b *bench) presenceQueries(p *presenceRun, channel, kind string) result.PresenceQuery {
	query := result.PresenceQuery{Kind: kind, Subscribers: len(p.conns), Count: b.options.presenceQueries}
	message := []byte(`{"type":"presence_stats","channel":"` + channel + `"}`)
	if kind == "ping" {
		message = []byte(`{"type":"ping"}`)
	}
	if limit, found := strings.CutPrefix(kind, "presence:"); found {
		message = []byte(`{"type":"presence","channel":"` + channel + `","limit":` + limit + `}`)
	}
	var roundTrips stats.Histogram
	var sizes []int
	mark := b.mark()
	for index := range query.Count {
		conn := p.conns[(index*7919)%len(p.conns)]
		client := p.clientOf(conn)
		sent := time.Now()
		if err := conn.WriteMessage(websocket.TextMessage, message); err != nil {
			queryFailed(&query, "write: "+err.Error())
			continue
		}
		select {
		case size := <-client.answers:
			if size < 0 {
				queryFailed(&query, "the server answered an error")
				continue
			}
			roundTrips.Record(time.Since(sent))
			sizes = append(sizes, size)
		case <-time.After(b.options.dialTimeout):
			queryFailed(&query, "no answer within -dial-timeout")
		}
	}
	spent := b.since(mark)
	query.RoundTrip = result.Summarize(roundTrips.Snapshot())
	if spent.Server != nil && query.Count > 0 {
		query.ServerCPUPerQuery = *spent.Server / float64(query.Count)
	}
	if len(sizes) > 0 {
		slices.Sort(sizes)
		query.AnswerBytes = sizes[len(sizes)/2]
	}
	return query
}

// queryFailed counts a query that got no answer, keeping the first reason.
func queryFailed(query *result.PresenceQuery, reason string) {
	query.Errors++
	if query.FirstError == "" {
		query.FirstError = reason
	}
}
