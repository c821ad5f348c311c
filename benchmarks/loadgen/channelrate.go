package main

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/wsgate/wsgate/benchmarks/internal/result"
)

// channelRatePrefix names the channels of the channels-rate scenario.
const channelRatePrefix = "rate-"

// channelRate subscribes every connection to -channel-subs of -channels channels,
// then publishes through the batch endpoint at -publish-rate publications per second
// for -duration: a round publishes once to every channel, in batches of
// -publish-batch posted at their scheduled times (or at once when posting fell
// behind), and every publication of a round carries the round's number and the
// batch's send time. It then waits up to -drain for deliveries in flight.
func (b *bench) channelRate() (*result.ChannelRate, error) {
	open := b.ensureConnections()
	if open == 0 {
		return nil, errors.New("no open connection")
	}
	channels, perConnection := b.options.channels, b.options.channelSubscriptions
	subscriptions := b.subscribe(channelRatePrefix, channels, perConnection)
	if subscriptions.Confirmed < open*int64(perConnection) {
		return nil, fmt.Errorf("%d of %d subscriptions confirmed, %d refused",
			subscriptions.Confirmed, open*int64(perConnection), subscriptions.Refused)
	}
	plan := subscriptionPlan{Prefix: channelRatePrefix, Channels: channels, PerConnection: perConnection}
	names := make([]string, channels)
	for number := range names {
		names[number] = plan.Name(number)
	}
	batch := min(b.options.publishBatch, channels)
	batchesPerRound := (channels + batch - 1) / batch
	rounds := max(int(math.Round(b.options.publishRate*b.options.duration.Seconds()/float64(channels))), 1)
	interval := time.Duration(float64(time.Second) * float64(batch) / b.options.publishRate)
	publisher := b.channelPublisher()
	b.fleet.Begin(phaseChannelRate, rounds, perConnection)
	start := b.mark()
	first := time.Now()
	published := int64(0)
	for round := range rounds {
		for part := range batchesPerRound {
			time.Sleep(time.Until(first.Add(time.Duration(round*batchesPerRound+part) * interval)))
			chosen := names[part*batch : min((part+1)*batch, channels)]
			if _, err := publisher.publishBatch(chosen, broadcastContent(phaseChannelRate, round, time.Now().UnixNano(), b.options.payload)); err != nil {
				return nil, fmt.Errorf("round %d: %w", round, err)
			}
			published += int64(len(chosen))
		}
	}
	sending := time.Since(first)
	b.fleet.AwaitAll(b.options.drain)
	cpu := b.since(start)
	snapshot := b.fleet.Snapshot()
	delivered := snapshot.Delivered()
	expected := open * int64(perConnection) * int64(rounds)
	rate := &result.ChannelRate{
		Subscriptions:      subscriptions,
		PublicationsPerSec: b.options.publishRate,
		Batch:              batch,
		Rounds:             rounds,
		Published:          published,
		Duration:           sending.Seconds(),
		Expected:           expected,
		Delivered:          delivered,
		Lost:               max(expected-delivered, 0),
		Stale:              snapshot.Stale,
		Latency:            result.Summarize(snapshot.Latency),
		CPU:                cpu,
	}
	if span := time.Duration(snapshot.LastReceipt - first.UnixNano()); span > 0 {
		rate.DeliveredPerSecond = float64(delivered) / span.Seconds()
	}
	if cpu.Server != nil && delivered > 0 {
		perDelivery := *cpu.Server / float64(delivered)
		rate.ServerCPUPerDelivery = &perDelivery
	}
	return rate, nil
}
