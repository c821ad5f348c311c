// Package result defines the JSON document that benchmarks/loadgen writes for one run
// against one server and that benchmarks/suite reads, compares and charts. Durations
// are in seconds, sizes in bytes; a nil pointer means the figure is unknown (for
// example the Go heap of a server that exposes no /metrics).
package result

import (
	"slices"
	"time"

	"github.com/wsgate/wsgate/benchmarks/internal/stats"
)

// Run is the result of one load generator invocation against one server.
type Run struct {
	Command     []string  `json:"command"`
	Date        time.Time `json:"date"`
	Machine     Machine   `json:"machine"`
	Server      Server    `json:"server"`
	Generator   Generator `json:"generator"`
	Connections int       `json:"connections"`
	Idle        *Idle     `json:"idle,omitempty"`
	Connect     *Connect  `json:"connect,omitempty"`
	Fanout      *Fanout   `json:"fanout,omitempty"`
	Rate        *Rate     `json:"rate,omitempty"`
	Echo        *Echo     `json:"echo,omitempty"`
	// ChannelFanout is Fanout with each broadcast a publication to one channel
	// every connection is subscribed to, published through the API.
	ChannelFanout *Fanout             `json:"channel_fanout,omitempty"`
	ChannelRate   *ChannelRate        `json:"channels_rate,omitempty"`
	Subscription  *SubscriptionMemory `json:"subscription_memory,omitempty"`
	Churn         *Churn              `json:"churn,omitempty"`
	Storm         *Storm              `json:"storm,omitempty"`
	Presence      *Presence           `json:"presence,omitempty"`
}

// Server describes the server under test as the load generator saw it.
type Server struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	PID  int    `json:"pid,omitempty"`
	// GOGC and GOMEMLIMIT are read from the server's environment (/proc/PID/environ);
	// "" means unset, that is GOGC=100 and no memory limit.
	GOGC       string `json:"gogc"`
	GOMEMLIMIT string `json:"gomemlimit"`
	// Metrics tells whether the server answered /metrics; GCEndpoint whether a GC could
	// be forced before each memory reading.
	Metrics    bool `json:"metrics"`
	GCEndpoint bool `json:"gc_endpoint"`
}

// Generator describes the load generator's own setup.
type Generator struct {
	Processes int `json:"processes"`
	// WorkerCPUs are the CPUs the worker processes were pinned to, in turn (-cpus);
	// empty when they were not pinned.
	WorkerCPUs  []int  `json:"worker_cpus,omitempty"`
	Sources     int    `json:"sources"`
	Concurrency int    `json:"concurrency"`
	Trigger     string `json:"trigger"`
	GOGC        string `json:"gogc"`
	GOMEMLIMIT  string `json:"gomemlimit"`
}

// CPU is the processor time spent during one scenario, user plus system, in seconds.
// Server is nil when the server's pid is unknown. GeneratorProcesses is the part of
// Generator each worker process spent (in worker order; empty when the generator ran
// in one process) and Wall the scenario's elapsed time, so that a worker that used
// its whole core (the generator's limit, not the server's) shows.
type CPU struct {
	Generator          float64   `json:"generator_s"`
	GeneratorProcesses []float64 `json:"generator_processes_s,omitempty"`
	Server             *float64  `json:"server_s,omitempty"`
	// ServerWrites is how many write system calls (write, writev, sendmsg) the
	// server made (syscw of /proc/PID/io): beside deliveries, how well it coalesces,
	// a count the machine's other load does not inflate as it does CPU time.
	ServerWrites *int64  `json:"server_write_calls,omitempty"`
	Wall         float64 `json:"wall_s"`
}

// BusiestGenerator returns the largest share of the wall time one generator process
// (the only one, or the busiest worker) spent on the processor: near 1 or above, that
// process's core was the limit of the scenario. 0 when the wall time is unknown.
func (c CPU) BusiestGenerator() float64 {
	if c.Wall <= 0 {
		return 0
	}
	if len(c.GeneratorProcesses) == 0 {
		return c.Generator / c.Wall
	}
	return slices.Max(c.GeneratorProcesses) / c.Wall
}

// Sample is one settled reading of the idle scenario. Heap is the lowest Go heap
// read while settling (the closest to the live heap when no GC is forced);
// the kernel figures are machine-wide, so they count both ends of every loopback
// connection and whatever else runs on the machine.
type Sample struct {
	Connections       int     `json:"connections"`
	ServerConnections *int    `json:"server_connections,omitempty"`
	RSS               int64   `json:"rss_bytes"`
	Heap              *int64  `json:"heap_bytes,omitempty"`
	Goroutines        *int    `json:"goroutines,omitempty"`
	Threads           int     `json:"threads"`
	KernelTCPBuffers  int64   `json:"kernel_tcp_buffer_bytes"`
	KernelTCPSockets  *int64  `json:"kernel_tcp_slab_bytes,omitempty"`
	Settle            float64 `json:"settle_s"`
	Stable            bool    `json:"stable"`
}

// Idle is the memory of idle connections with the heartbeat on. The per-connection
// figures are the slope between the last two samples.
type Idle struct {
	Samples              []Sample `json:"samples"`
	RSSPerConnection     float64  `json:"rss_per_connection_bytes"`
	HeapPerConnection    *float64 `json:"heap_per_connection_bytes,omitempty"`
	KernelBuffersPerConn float64  `json:"kernel_tcp_buffer_per_connection_bytes"`
	KernelSocketsPerConn *float64 `json:"kernel_tcp_slab_per_connection_bytes,omitempty"`
	PingsAnswered        int64    `json:"pings_answered"`
	Closed               int64    `json:"closed_by_server"`
	CPU                  CPU      `json:"cpu"`
}

// Connect is how fast the server accepted and upgraded connections from zero to N.
type Connect struct {
	Target    int     `json:"target"`
	Connected int     `json:"connected"`
	Failed    int     `json:"failed"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	CPU       CPU     `json:"cpu"`
}

// Latency summarises a distribution of durations, in seconds.
type Latency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_s"`
	P99   float64 `json:"p99_s"`
	Max   float64 `json:"max_s"`
	Mean  float64 `json:"mean_s"`
}

// Fanout is single broadcasts to every connection, one after the other: Latency per
// delivery (send to receipt), Last the time until the last connection had each
// broadcast. Stale counts deliveries left uncounted so far in the run because they
// belonged to another phase or to no broadcast sent (late ones of an earlier
// scenario); it should be zero.
type Fanout struct {
	Broadcasts   int                `json:"broadcasts"`
	Connections  int                `json:"connections"`
	PayloadBytes int                `json:"payload_bytes"`
	Expected     int64              `json:"expected"`
	Received     int64              `json:"received"`
	Lost         int64              `json:"lost"`
	Stale        int64              `json:"stale"`
	Latency      Latency            `json:"latency"`
	Last         Latency            `json:"last"`
	Distribution stats.Distribution `json:"distribution"`
	CPU          CPU                `json:"cpu"`
	// WireBytes is what the server counted as sent meanwhile (wsgate's
	// wsgate_sent_bytes_total: frames, headers included, compressed where
	// compressed); 0 for a server without that metric.
	WireBytes int64 `json:"wire_bytes,omitempty"`
}

// Rate is broadcasts sent at a fixed rate for a duration: delivered messages per
// second (from the first send to the last receipt), loss and latency. Stale is as in
// Fanout.
type Rate struct {
	Rate               float64 `json:"broadcasts_per_second"`
	Duration           float64 `json:"duration_s"`
	Sent               int     `json:"sent"`
	Expected           int64   `json:"expected"`
	Delivered          int64   `json:"delivered"`
	Lost               int64   `json:"lost"`
	Stale              int64   `json:"stale"`
	DeliveredPerSecond float64 `json:"delivered_per_second"`
	Latency            Latency `json:"latency"`
	CPU                CPU     `json:"cpu"`
	// ServerCPUPerDelivery and ServerWritesPerDelivery divide the server's CPU time
	// (seconds) and write calls by the deliveries; nil when the server is unknown.
	ServerCPUPerDelivery    *float64 `json:"server_cpu_per_delivery_s,omitempty"`
	ServerWritesPerDelivery *float64 `json:"server_writes_per_delivery,omitempty"`
}

// Echo is round trips of {"type":"message"} over many connections, one message in
// flight per connection.
type Echo struct {
	Connections int     `json:"connections"`
	Duration    float64 `json:"duration_s"`
	RoundTrips  uint64  `json:"round_trips"`
	PerSecond   float64 `json:"per_second"`
	Latency     Latency `json:"latency"`
	CPU         CPU     `json:"cpu"`
}

// Summarize turns a distribution into a Latency.
func Summarize(distribution stats.Distribution) Latency {
	return Latency{
		Count: distribution.Count,
		P50:   distribution.Percentile(0.50).Seconds(),
		P99:   distribution.Percentile(0.99).Seconds(),
		Max:   distribution.Max.Seconds(),
		Mean:  distribution.Mean().Seconds(),
	}
}

// Storm is a reconnect storm against a node that serves Steady connections with a
// broadcast every IntervalSeconds: Clients more connect at once and retry with
// full-jitter backoff when refused. Before is the steady connections' delivery
// latency before the storm, During from its start until the last client was in
// (AllInSeconds after the start; In of Clients made it before the timeout).
type Storm struct {
	Steady          int        `json:"steady"`
	Clients         int        `json:"clients"`
	IntervalSeconds float64    `json:"interval_s"`
	In              int        `json:"in"`
	AllInSeconds    float64    `json:"all_in_s"`
	Before          Latency    `json:"before"`
	During          Latency    `json:"during"`
	Refused         []Refusals `json:"refused"`
	DialErrors      int        `json:"dial_errors"`
	FirstDialError  string     `json:"first_dial_error,omitempty"`
	BroadcastErrors int        `json:"broadcast_errors"`
	CPU             CPU        `json:"cpu"`
}

// Refusals counts the connects a server refused with one close code (1006: it
// closed without a close frame).
type Refusals struct {
	Code  int `json:"code"`
	Count int `json:"count"`
}
