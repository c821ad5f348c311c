package main

import (
	"strconv"
	"time"

	"github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/wsgate/wsgate/benchmarks/internal/result"
)

// subscriptionPlan is a deterministic assignment of channels to connections:
// connection number i (counted across every process of the fleet from First)
// subscribes to channels (i + k*Channels/PerConnection) mod Channels for k below
// PerConnection, named Prefix followed by the number. When the connection count is
// a multiple of Channels every channel gets the same number of subscribers (15,000
// connections in 10 of 1,000 channels: 150 each), and a connection's channels are
// Channels/PerConnection apart, so a batch of that many consecutive channels
// publishes exactly once to every connection, as one broadcast does.
type subscriptionPlan struct {
	Prefix        string `json:"prefix"`
	Channels      int    `json:"channels"`
	PerConnection int    `json:"per_connection"`
	First         int    `json:"first"`
}

// channel returns the name of the k-th channel of connection number connection.
func (p subscriptionPlan) channel(connection, k int) string {
	return p.name((connection + k*(p.Channels/p.PerConnection)) % p.Channels)
}

// name returns the name of channel number number.
func (p subscriptionPlan) name(number int) string {
	return p.Prefix + strconv.Itoa(number)
}

// SubscribeReport is the outcome of Fleet.Subscribe: subscribes sent, confirmed by
// {"type":"subscribed"} and refused by {"type":"error"}.
type SubscribeReport struct {
	Requested int64   `json:"requested"`
	Confirmed int64   `json:"confirmed"`
	Refused   int64   `json:"refused"`
	Seconds   float64 `json:"seconds"`
}

// merge combines the reports of fleets that subscribed at the same time.
func (s SubscribeReport) merge(other SubscribeReport) SubscribeReport {
	return SubscribeReport{
		Requested: s.Requested + other.Requested,
		Confirmed: s.Confirmed + other.Confirmed,
		Refused:   s.Refused + other.Refused,
		Seconds:   max(s.Seconds, other.Seconds),
	}
}

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
			if conn.WriteMessage(websocket.TextMessage, subscribeMessage(plan.channel(plan.First+index, k))) == nil {
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
