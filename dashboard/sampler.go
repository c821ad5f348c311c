package dashboard

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/wsgate/wsgate/cluster"
	"github.com/wsgate/wsgate/internal/buildinfo"
	"github.com/wsgate/wsgate/session"
)

// clusterTimeout bounds the sampler's query of the cluster's nodes, so that a slow
// Redis delays a second's update by at most this much.
const clusterTimeout = 500 * time.Millisecond

// sampler is the state the sampler goroutine keeps between seconds: the previous
// readings, whose differences are the second's rates and latencies.
type sampler struct {
	counters          session.Counters
	fanout, roundTrip [bucketCount]uint64
}

// update is one second's encoded server-sent event, shared by every viewer.
type update struct {
	second  int64
	payload []byte
	// next is closed when a newer update replaces this one.
	next chan struct{}
}

// sampleEverySecond is the sampler goroutine: it samples at every whole second of
// the clock (so every sample has a second of its own) until Close.
func (d *Dashboard) sampleEverySecond() {
	timer := time.NewTimer(untilNextSecond(time.Now()))
	defer timer.Stop()
	for {
		select {
		case <-d.stop:
			return
		case now := <-timer.C:
			d.sample(now)
			timer.Reset(untilNextSecond(time.Now()))
		}
	}
}

// untilNextSecond returns the time from now to the next whole second.
func untilNextSecond(now time.Time) time.Duration {
	return now.Truncate(time.Second).Add(time.Second).Sub(now)
}

// sample records one second in the history and, while someone watches, encodes the
// second's update and hands it to the viewers. Reading the node costs O(shards +
// reasons + buckets); the update adds the top users (O(shards x TopLimit)), the top
// channels (O(TopLimit)) and, in a cluster, one Redis call.
func (d *Dashboard) sample(now time.Time) {
	second := now.Unix()
	values := d.readSeries()
	d.history.put(second, values[:])
	if d.viewing.Load() == 0 {
		return
	}
	next := &update{second: second, payload: d.encodeUpdate(second, &values), next: make(chan struct{})}
	close(d.latest.Swap(next).next)
}

// readSeries reads the node's counters and latency histograms and returns the
// second's value of every series.
func (d *Dashboard) readSeries() [seriesCount]uint32 {
	var values [seriesCount]uint32
	hub := d.config.Hub
	counters := hub.Counters()
	previous := &d.sampler.counters
	values[seriesConnections] = clamp(uint64(hub.ConnectionCount()))
	values[seriesUsers] = clamp(uint64(hub.UserCount()))
	values[seriesConnects] = clamp(counters.Accepted - previous.Accepted)
	for reason := range counters.Disconnects {
		count := counters.Disconnects[reason] - previous.Disconnects[reason]
		series := reasonSeries[reason]
		values[series] = clamp(uint64(values[series]) + count)
	}
	values[seriesMessagesIn] = clamp(counters.MessagesReceived - previous.MessagesReceived)
	values[seriesMessagesOut] = clamp(counters.MessagesSent - previous.MessagesSent)
	*previous = counters
	latencySeries(&d.config.Latencies.fanout, &d.sampler.fanout, values[seriesFanoutP50:seriesFanoutP99+1])
	latencySeries(&d.config.Latencies.roundTrip, &d.sampler.roundTrip, values[seriesPingP50:seriesPingP99+1])
	return values
}

// reasonSeries maps every close reason to its disconnect series.
var reasonSeries = func() [session.ReasonCount]int {
	var series [session.ReasonCount]int
	for reason := range series {
		series[reason] = seriesOtherDisconnects
	}
	for index, reason := range disconnectReasons {
		series[reason] = seriesDisconnects + index
	}
	return series
}()

// latencySeries sets p50 and p99 (two values) to the quantiles, in microseconds,
// of what histogram counted since previous (then updated), or absent.
func latencySeries(histogram *histogram, previous *[bucketCount]uint64, p50p99 []uint32) {
	var current [bucketCount]uint64
	histogram.read(&current)
	median, high, counted := quantiles(&current, previous)
	*previous = current
	if !counted {
		p50p99[0], p50p99[1] = absent, absent
		return
	}
	p50p99[0], p50p99[1] = clamp(median), clamp(high)
}

// clamp returns value as a uint32 below absent.
func clamp(value uint64) uint32 { return uint32(min(value, absent-1)) }

// appendValue appends one present value of a series to JSON: a count as it is, a
// latency (kept in microseconds) in milliseconds with up to three decimals.
func appendValue(buffer []byte, series int, value uint32) []byte {
	if !isLatency(series) {
		return strconv.AppendUint(buffer, uint64(value), 10)
	}
	buffer = strconv.AppendUint(buffer, uint64(value/1000), 10)
	fraction := value % 1000
	if fraction == 0 {
		return buffer
	}
	digits := []byte{'.', byte('0' + fraction/100), byte('0' + fraction/10%10), byte('0' + fraction%10)}
	for digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	return append(buffer, digits...)
}

// updateDocument is the data of a "sample" event.
type updateDocument struct {
	// Time is the sample's Unix second; Values holds each series' value in it, in
	// the order of the history's series, null where absent.
	Time   int64           `json:"time"`
	Values json.RawMessage `json:"values"`
	Node   nodeDocument    `json:"node"`
	// TopUsers are this node's users with the most connections.
	TopUsers          []userEntry `json:"top_users"`
	TopUsersTruncated bool        `json:"top_users_truncated"`
	// Channels are this node's channels with the most subscribers.
	Channels          []channelEntry `json:"channels"`
	ChannelsTruncated bool           `json:"channels_truncated"`
	// Nodes lists the cluster's nodes, this one first; Cluster says "single" (no
	// cluster), "ok" or "unavailable" (Redis could not be reached: Nodes holds this
	// node alone).
	Nodes   []cluster.NodeStatus `json:"nodes"`
	Cluster string               `json:"cluster"`
}

// nodeDocument describes the node that serves the dashboard.
type nodeDocument struct {
	Version       string  `json:"version"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	// Accepted, Received and Sent are running totals since the node started.
	Accepted uint64 `json:"connections_accepted"`
	Received uint64 `json:"messages_received"`
	Sent     uint64 `json:"messages_sent"`
}

type userEntry struct {
	UserID      string `json:"user_id"`
	Connections int    `json:"connections"`
}

type channelEntry struct {
	Channel     string `json:"channel"`
	Subscribers int    `json:"subscribers"`
	Users       int    `json:"users"`
}

// encodeUpdate returns the "sample" event of second with its values.
func (d *Dashboard) encodeUpdate(second int64, values *[seriesCount]uint32) []byte {
	hub := d.config.Hub
	document := updateDocument{Time: second, Values: appendValues(nil, values), Node: nodeDocument{
		Version:       buildinfo.Get().Version,
		UptimeSeconds: float64(time.Since(hub.Started()).Milliseconds()) / 1000,
		Accepted:      d.sampler.counters.Accepted,
		Received:      d.sampler.counters.MessagesReceived,
		Sent:          d.sampler.counters.MessagesSent,
	}}
	top, truncated := hub.TopUsers(TopLimit)
	document.TopUsers, document.TopUsersTruncated = make([]userEntry, len(top)), truncated
	for index, user := range top {
		document.TopUsers[index] = userEntry{UserID: user.UserID, Connections: user.Connections}
	}
	topChannels, truncated := d.config.Publisher.TopChannels("", TopLimit)
	document.Channels, document.ChannelsTruncated = make([]channelEntry, len(topChannels)), truncated
	for index, channel := range topChannels {
		document.Channels[index] = channelEntry{Channel: channel.Channel, Subscribers: channel.Subscribers, Users: channel.Users}
	}
	document.Nodes, document.Cluster = d.nodes()
	data, err := json.Marshal(document)
	if err != nil {
		// Every field is a plain value: Marshal cannot fail; an empty event keeps
		// the stream going if it ever did.
		data = []byte("{}")
	}
	return serverSentEvent(nil, "sample", data)
}

// nodes returns the cluster's nodes and the cluster's state for an update.
func (d *Dashboard) nodes() ([]cluster.NodeStatus, string) {
	hub := d.config.Hub
	if d.config.Cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
		nodes, err := d.config.Cluster.Nodes(ctx)
		cancel()
		if err == nil {
			return nodes, "ok"
		}
	}
	self := cluster.NodeStatus{Connections: hub.ConnectionCount(),
		Users: hub.UserCount(), State: cluster.NodeUp, Self: true}
	if d.config.Cluster != nil {
		tag := hub.Config().NodeTag
		self.Tag, self.State = hex.EncodeToString(tag[:]), cluster.NodeLate
		return []cluster.NodeStatus{self}, "unavailable"
	}
	return []cluster.NodeStatus{self}, "single"
}

// appendValues appends the JSON array of one second's values.
func appendValues(buffer []byte, values *[seriesCount]uint32) []byte {
	buffer = append(buffer, '[')
	for series, value := range values {
		if series > 0 {
			buffer = append(buffer, ',')
		}
		if value == absent {
			buffer = append(buffer, "null"...)
			continue
		}
		buffer = appendValue(buffer, series, value)
	}
	return append(buffer, ']')
}

// serverSentEvent appends a server-sent event named event with data, which must be
// one line (JSON without newlines, as encoding/json writes it).
func serverSentEvent(buffer []byte, event string, data []byte) []byte {
	buffer = append(buffer, "event: "...)
	buffer = append(buffer, event...)
	buffer = append(buffer, "\ndata: "...)
	buffer = append(buffer, data...)
	return append(buffer, "\n\n"...)
}
