package api

import (
	"net/http"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wsgate/wsgate/delivery"
	"github.com/wsgate/wsgate/internal/buildinfo"
)

// Metrics holds the node's timing histograms and implements session.Observer, which
// fills them: set the same *Metrics as the hub's session.Config.Observer and as
// Config.Metrics. Each Metrics keeps its histograms in its own metrics.Set, never
// in the library's process-wide default set, so several nodes in one process (tests,
// embedders) do not share or collide. Safe for concurrent use; an observation is a
// bucket search and one short mutex hold, with no allocation.
type Metrics struct {
	broadcastDuration *histogram
	pingRoundTrip     *histogram
}

// broadcastBuckets are the upper bounds, in seconds, of the fan-out duration
// histogram: from 100 µs (a few hundred connections) to 10 s (far beyond the
// roughly 1 s a broadcast to 1M connections should take).
var broadcastBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// pingBuckets are the upper bounds, in seconds, of the ping round-trip histogram:
// from 1 ms (loopback) to 10 s (the default ping timeout; a slower answer closes
// the connection).
var pingBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// NewMetrics returns a Metrics with empty histograms, for session.Config.Observer
// and Config.Metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		broadcastDuration: newHistogram("wsgate_broadcast_duration_seconds",
			"Time to queue one broadcast to every connection of the node (fan-out), in seconds.", broadcastBuckets),
		pingRoundTrip: newHistogram("wsgate_ping_round_trip_seconds",
			"Time from a heartbeat ping to the next inbound frame of its connection, in seconds.", pingBuckets),
	}
}

// BroadcastDone implements session.Observer: it records one fan-out's duration. The
// number of targets is not recorded here; wsgate_messages_sent_total counts them.
func (m *Metrics) BroadcastDone(_ int, duration time.Duration) {
	m.broadcastDuration.values.Update(duration.Seconds())
}

// PingAnswered implements session.Observer: it records one heartbeat round trip.
func (m *Metrics) PingAnswered(roundTrip time.Duration) {
	m.pingRoundTrip.values.Update(roundTrip.Seconds())
}

// histogram is a Prometheus histogram with fixed buckets and a HELP text. It sits
// alone in its metrics.Set, so the set's output is exactly this histogram's samples.
type histogram struct {
	name   string
	help   string
	set    *metrics.Set
	values *metrics.PrometheusHistogram
}

func newHistogram(name, help string, upperBounds []float64) *histogram {
	set := metrics.NewSet()
	return &histogram{name: name, help: help, set: set, values: set.NewPrometheusHistogramExt(name, upperBounds)}
}

// serveMetrics answers GET /metrics in the Prometheus text format: the node's
// wsgate_ families, then the Go runtime and process families.
func (a *API) serveMetrics(writer http.ResponseWriter, _ *http.Request) {
	var out exposition
	out.buffer.Grow(32 << 10)
	a.writeNodeFamilies(&out)
	for _, set := range a.metricSets {
		set.WritePrometheus(&out.buffer)
	}
	out.processMetrics()
	writer.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	writer.WriteHeader(http.StatusOK)
	_, _ = writer.Write(out.buffer.Bytes())
}

// writeNodeFamilies writes the wsgate_ families. Every value is read from totals
// the hub maintains as events happen (atomic counters, per-shard connection and
// user counts, the wheel's pending count), so it costs O(shards + reasons +
// buckets) whatever the number of connections; no label carries a user id, a
// connection id or any other unbounded value.
func (a *API) writeNodeFamilies(out *exposition) {
	counters := a.hub.Counters()
	build := buildinfo.Get()
	out.info("wsgate_build_info", "Always 1; its labels name the running build: version, commit and Go version.",
		[][2]string{{"version", build.Version}, {"commit", build.Commit}, {"go_version", build.GoVersion}})
	out.gauge("wsgate_connections", "Open WebSocket connections on this node.", float64(a.hub.ConnectionCount()))
	out.gauge("wsgate_users", "Users with at least one open connection on this node (anonymous connections count in wsgate_connections only).",
		float64(a.hub.UserCount()))
	out.gauge("wsgate_max_connections", "Connection cap of this node (-max-connections); 0 means no cap but the open-files limit.",
		float64(max(a.hub.Config().MaxConnections, 0)))
	out.gauge("wsgate_start_time_seconds", "Unix time at which this node started, in seconds.",
		float64(a.hub.Started().UnixMicro())/1e6)
	out.gauge("wsgate_max_connects_per_second", "Connect rate limit of this node (-max-connects-per-second); 0 means no limit.",
		max(a.hub.Config().MaxConnectsPerSecond, 0))
	drain := a.hub.DrainStatus()
	out.gauge("wsgate_draining", "1 from the start of a drain (POST /api/v1/drain, SIGTERM) or shutdown: new connections are refused, open ones closed in batches.",
		boolGauge(a.hub.Draining()))
	out.gauge("wsgate_drain_closed", "Connections the current drain has closed so far; 0 when not draining.", float64(drain.Closed))
	out.counter("wsgate_connections_accepted_total", "Connections that entered the registry.", counters.Accepted)
	if a.cluster != nil {
		out.gauge("wsgate_cluster_healthy", "1 while this node reaches Redis and the other nodes, 0 while cross-node delivery fails.",
			boolGauge(a.cluster.Healthy()))
		a.cluster.EachCounter(func(name, help string, value uint64) {
			out.counter("wsgate_cluster_"+name+"_total", help, value)
		})
		a.cluster.EachGauge(func(name, help string, value float64) {
			out.gauge("wsgate_cluster_"+name, help, value)
		})
	}
	out.countersByReason("wsgate_connections_refused_total",
		"Connections refused, by reason: limit (1008), overload (1013), connect_rate (1013), unauthorized (4401), origin (HTTP 403), handshake_timeout, shutdown (1001, also while draining).",
		&counters.Refused, refusalReasons)
	out.countersByReason("wsgate_disconnects_total",
		"Registered connections that ended, by close reason (docs/protocol.md has the codes).",
		&counters.Disconnects, disconnectReasons)
	out.counter("wsgate_messages_received_total", "Data messages received from clients.", counters.MessagesReceived)
	out.counter("wsgate_received_bytes_total", "Payload bytes of the data messages received from clients.", counters.BytesReceived)
	out.counter("wsgate_messages_dropped_total", "Inbound messages dropped by the per-connection rate limit.", counters.MessagesDropped)
	out.counter("wsgate_messages_sent_total",
		"Frames queued to clients: replies, broadcasts (one per target), pushes and heartbeat pings.", counters.MessagesSent)
	out.counter("wsgate_sent_bytes_total", "Bytes of the frames queued to clients, WebSocket headers included.", counters.BytesSent)
	out.counter("wsgate_broadcasts_total", "Fan-outs to every connection, from clients and from the publish API.", counters.Broadcasts)
	out.histogram(a.metrics.broadcastDuration)
	out.counter("wsgate_pings_sent_total", "Heartbeat pings sent.", counters.PingsSent)
	out.histogram(a.metrics.pingRoundTrip)
	a.writeChannelFamilies(out)
	a.writeHistoryFamilies(out)
	presence := a.publisher.PresenceCountsOf()
	out.counter("wsgate_presence_events_total",
		"join, leave and presence_diff messages this node sent to a channel's subscribers (each counted once, however many received it).",
		presence.EventsSent)
	out.counter("wsgate_presence_queries_total", "Presence and presence stats queries answered, from clients and the API.", presence.Queries)
	out.gauge("wsgate_timers_pending", "Timers pending on the node's timer wheel (heartbeats, close graces, token expiries, handshake timeouts).",
		float64(a.hub.Wheel().Pending()))
}

// boolGauge is a gauge's value for a condition: 1 when true, 0 when false.
func boolGauge(condition bool) float64 {
	if condition {
		return 1
	}
	return 0
}

// publicationSources are the label values of wsgate_publications_received_total.
var publicationSources = []string{"client", "api", "cluster"}

// writeChannelFamilies writes the channel families: the index's counts and the
// publisher's counters, O(index shards); no label carries a channel name.
func (a *API) writeChannelFamilies(out *exposition) {
	stats := a.publisher.ChannelStats()
	out.gauge("wsgate_channels", "Channels with at least one subscriber on this node.", float64(stats.Channels))
	out.gauge("wsgate_subscriptions", "Subscriptions (connection and channel pairs) on this node.", float64(stats.Subscriptions))
	out.countersByLabel("wsgate_publications_received_total",
		"Channel publications this node received, by source: its clients' publish, the backend (API), other nodes.",
		"source", publicationSources, map[string]uint64{"client": stats.PublicationsFromClients,
			"api": stats.PublicationsFromAPI, "cluster": stats.PublicationsFromCluster})
	out.counter("wsgate_publications_delivered_total",
		"Publication frames queued to this node's subscribers (one per subscriber and publication).", stats.PublicationsDelivered)
	out.countersByLabel("wsgate_subscribe_refusals_total",
		"Client subscribes and unsubscribes refused, by wire error code.", "reason", delivery.RefusalCodes[:], stats.SubscribeRefusals)
	out.countersByLabel("wsgate_publish_refusals_total",
		"Client publishes refused, by wire error code.", "reason", delivery.RefusalCodes[:], stats.PublishRefusals)
	out.counter("wsgate_broadcast_refusals_total",
		"Client broadcasts refused with permission_denied (authentication without the broadcast grant).", stats.BroadcastRefusals)
}
