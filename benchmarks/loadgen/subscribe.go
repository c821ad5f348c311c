package main

import (
	"time"

	"github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/wsgate/wsgate/benchmarks/internal/result"
)

// Subscribe sends every subscribe of the plan at once (PerConnection messages per
// connection, within the server's default message burst) and polls for the answers
// every millisecond.
func (f *localFleet) Subscribe(plan subscriptionPlan, timeout time.Duration) SubscribeReport {
	f.mutex.Lock()
	connections := append([]*websocket.Conn(nil), f.connections...)
	f.mutex.Unlock()
	confirmedBefore, refusedBefore := f.subscribed.Load(), f.refused.Load()
	started := time.Now()
	report := SubscribeReport{}
	for index, conn := range connections {
		for k := range plan.PerConnection {
			if conn.WriteMessage(websocket.TextMessage, subscribeMessage(plan.Channel(plan.First+index, k))) == nil {
				report.Requested++
			}
		}
	}
	deadline := started.Add(timeout)
	for {
		report.Confirmed = f.subscribed.Load() - confirmedBefore
		report.Refused = f.refused.Load() - refusedBefore
		if report.Confirmed+report.Refused >= report.Requested || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	report.Seconds = time.Since(started).Seconds()
	return report
}

// subscribe subscribes the fleet's connections to PerConnection of channels channels
// named prefix followed by a number.
func (b *bench) subscribe(prefix string, channels, perConnection int) result.Subscriptions {
	plan := subscriptionPlan{Prefix: prefix, Channels: channels, PerConnection: perConnection}
	report := b.fleet.Subscribe(plan, b.options.subscribeTimeout)
	return result.Subscriptions{
		Channels:      channels,
		PerConnection: perConnection,
		Requested:     report.Requested,
		Confirmed:     report.Confirmed,
		Refused:       report.Refused,
		Seconds:       report.Seconds,
	}
}
