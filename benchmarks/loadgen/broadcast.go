package main

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/wsgate/wsgate/benchmarks/internal/result"
	"github.com/wsgate/wsgate/benchmarks/internal/stats"
)

// Broadcast phases: receivers drop deliveries of another phase, so a late broadcast
// of one scenario is never counted in the next.
const (
	phaseFanout        = 1
	phaseRate          = 2
	phaseChannelFanout = 3
	phaseChannelRate   = 4
)

// prepareBroadcasts opens the connections a broadcast scenario needs and returns how
// many are open and the trigger that starts broadcasts.
func (b *bench) prepareBroadcasts() (int64, trigger, error) {
	open := b.ensureConnections()
	send, err := b.broadcastTrigger()
	if err != nil {
		return 0, nil, err
	}
	if open == 0 {
		return 0, nil, errors.New("no open connection")
	}
	return open, send, nil
}

// broadcastTrigger returns the trigger, making it on first use.
func (b *bench) broadcastTrigger() (trigger, error) {
	if b.trigger != nil {
		return b.trigger, nil
	}
	if b.options.trigger == "api" {
		b.trigger = newAPITrigger(b.options.base)
		return b.trigger, nil
	}
	made, err := newClientTrigger(b.options.target, b.options.dialTimeout)
	if err != nil {
		return nil, err
	}
	b.trigger = made
	return made, nil
}

// fanout sends -broadcasts broadcasts one at a time: each is sent, awaited on every
// connection (up to -await), then followed by a -gap pause.
func (b *bench) fanout() (*result.Fanout, error) {
	open, send, err := b.prepareBroadcasts()
	if err != nil {
		return nil, err
	}
	// The API delivers its message as it is; the seed's client broadcast arrives
	// wrapped in {"type":"broadcast","content":...}.
	frameBytes := len(broadcastContent(phaseFanout, 0, time.Now().UnixNano(), b.options.payload))
	if b.options.trigger == "client" {
		frameBytes = len(wrap(broadcastContent(phaseFanout, 0, time.Now().UnixNano(), b.options.payload)))
	}
	return b.fanoutRounds(phaseFanout, open, frameBytes, send.send)
}

// fanoutRounds sends -broadcasts contents with send one at a time, each awaited on
// every one of open connections (up to -await) and followed by a -gap pause, and
// summarises the deliveries; frameBytes is the size of the frame each connection
// receives.
func (b *bench) fanoutRounds(phaseNumber int, open int64, frameBytes int, send func(content []byte) error) (*result.Fanout, error) {
	count := b.options.broadcasts
	b.fleet.Begin(phaseNumber, count, 1)
	sentBefore, _ := b.probe.metricValue("wsgate_sent_bytes_total")
	start := b.mark()
	for sequence := range count {
		if err := send(broadcastContent(phaseNumber, sequence, time.Now().UnixNano(), b.options.payload)); err != nil {
			return nil, fmt.Errorf("broadcast %d: %w", sequence, err)
		}
		b.fleet.Await(sequence, b.options.await)
		time.Sleep(b.options.gap)
	}
	cpu := b.since(start)
	sentAfter, _ := b.probe.metricValue("wsgate_sent_bytes_total")
	snapshot := b.fleet.Snapshot()
	var lasts stats.Histogram
	for _, slowest := range snapshot.Slowest {
		if slowest > 0 {
			lasts.Record(time.Duration(slowest))
		}
	}
	received := snapshot.Delivered()
	expected := open * int64(count)
	return &result.Fanout{
		Broadcasts:   count,
		Connections:  int(open),
		PayloadBytes: frameBytes,
		Expected:     expected,
		Received:     received,
		Lost:         max(expected-received, 0),
		Stale:        snapshot.Stale,
		Latency:      result.Summarize(snapshot.Latency),
		Last:         result.Summarize(lasts.Snapshot()),
		Distribution: snapshot.Latency,
		CPU:          cpu,
		WireBytes:    int64(sentAfter - sentBefore),
	}, nil
}

// sustained sends broadcasts at -rate per second for -duration, each at its
// scheduled time (or at once when sending fell behind), then waits up to -drain for
// deliveries in flight.
func (b *bench) sustained() (*result.Rate, error) {
	open, send, err := b.prepareBroadcasts()
	if err != nil {
		return nil, err
	}
	count := max(int(math.Round(b.options.rate*b.options.duration.Seconds())), 1)
	interval := time.Duration(float64(time.Second) / b.options.rate)
	b.fleet.Begin(phaseRate, count, 1)
	start := b.mark()
	first := time.Now()
	for sequence := range count {
		time.Sleep(time.Until(first.Add(time.Duration(sequence) * interval)))
		if err := send.send(broadcastContent(phaseRate, sequence, time.Now().UnixNano(), b.options.payload)); err != nil {
			return nil, fmt.Errorf("broadcast %d: %w", sequence, err)
		}
	}
	sending := time.Since(first)
	b.fleet.AwaitAll(b.options.drain)
	cpu := b.since(start)
	snapshot := b.fleet.Snapshot()
	delivered := snapshot.Delivered()
	expected := open * int64(count)
	rate := &result.Rate{
		Rate:      b.options.rate,
		Duration:  sending.Seconds(),
		Sent:      count,
		Expected:  expected,
		Delivered: delivered,
		Lost:      max(expected-delivered, 0),
		Stale:     snapshot.Stale,
		Latency:   result.Summarize(snapshot.Latency),
		CPU:       cpu,
	}
	if span := time.Duration(snapshot.LastReceipt - first.UnixNano()); span > 0 {
		rate.DeliveredPerSecond = float64(delivered) / span.Seconds()
	}
	if delivered > 0 && cpu.Server != nil {
		perDelivery := *cpu.Server / float64(delivered)
		rate.ServerCPUPerDelivery = &perDelivery
	}
	if delivered > 0 && cpu.ServerWrites != nil {
		perDelivery := float64(*cpu.ServerWrites) / float64(delivered)
		rate.ServerWritesPerDelivery = &perDelivery
	}
	return rate, nil
}
