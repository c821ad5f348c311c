package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wsgate/wsgate/benchmarks/internal/result"
)

// report is every figure of a run, written as results.json; table renders it.
type report struct {
	Command      []string          `json:"command"`
	Date         time.Time         `json:"date"`
	Machine      result.Machine    `json:"machine"`
	Wsgate       string            `json:"wsgate_version"`
	RedisMode    string            `json:"redis_mode"`
	RedisURL     string            `json:"redis_url"`
	RedisServers int               `json:"redis_servers"`
	Nodes        int               `json:"nodes"`
	Target       int               `json:"target_connections"`
	OpenFiles    uint64            `json:"open_files_per_process"`
	PortRange    [2]int            `json:"ephemeral_port_range"`
	Sources      int               `json:"source_addresses_per_worker"`
	PingTimeout  string            `json:"ping_timeout"`
	PingInterval string            `json:"ping_interval"`
	GOGC         string            `json:"gogc"`
	GOMEMLIMIT   string            `json:"gomemlimit"`
	Pinned       bool              `json:"pinned"`
	Connect      []connectStep     `json:"connect"`
	Memory       []memoryStep      `json:"memory"`
	MemorySlope  *memorySlope      `json:"memory_slope"`
	Held         int               `json:"held"`
	HeldPerNode  []int             `json:"held_per_node"`
	ClusterNodes int               `json:"cluster_nodes"`
	StatsTotals  []int             `json:"cluster_stats_totals"`
	StatsQuery   summary           `json:"cluster_stats_query_ms"`
	Broadcast    *fanoutResult     `json:"broadcast"`
	Subscribe    *subscribeResult  `json:"subscribe"`
	Channel      *fanoutResult     `json:"channel"`
	Bursts       []*burstResult    `json:"bursts"`
	Burst        *burstResult      `json:"burst_median"`
	Saturation   *saturationResult `json:"redis_saturation"`
	Disconnects  map[string]int64  `json:"disconnects_by_reason"`
	// ClosedAtClients is the connections the workers saw closed.
	ClosedAtClients int64 `json:"closed_at_clients"`
	// LoadStart and LoadEnd are the machine's one-minute load average.
	LoadStart float64 `json:"load_average_start"`
	LoadEnd   float64 `json:"load_average_end"`
}

// connectStep is one Grow of the workers.
type connectStep struct {
	Target     int     `json:"target"`
	Connected  int     `json:"connected"`
	Failed     int     `json:"failed"`
	Seconds    float64 `json:"seconds"`
	FirstError string  `json:"first_error,omitempty"`
}

// memoryStep is the memory at one connection count: each node's RSS (bytes) and
// the kernel's machine-wide figures.
type memoryStep struct {
	Connections int          `json:"connections"`
	RSS         []int64      `json:"rss_bytes_per_node"`
	Heap        []int64      `json:"go_heap_bytes_per_node"`
	Kernel      kernelMemory `json:"kernel"`
}

// memorySlope is memory per connection between the two steps: each node's RSS
// slope, their median, and the kernel's growth per connection (both ends of a
// loopback connection are on this machine, so a server socket's share is about
// half).
type memorySlope struct {
	RSSPerConnection        []float64 `json:"rss_bytes_per_connection_per_node"`
	RSSPerConnectionMedian  float64   `json:"rss_bytes_per_connection_median"`
	HeapPerConnection       []float64 `json:"go_heap_bytes_per_connection_per_node"`
	HeapPerConnectionMedian float64   `json:"go_heap_bytes_per_connection_median"`
	KernelBothEnds          float64   `json:"kernel_slab_and_buffers_bytes_per_connection_both_ends"`
	TCPSlabBothEnds         float64   `json:"kernel_tcp_slab_bytes_per_connection_both_ends"`
	SlabBothEnds            float64   `json:"kernel_slab_bytes_per_connection_both_ends"`
	BuffersBothEnds         float64   `json:"kernel_tcp_buffer_bytes_per_connection_both_ends"`
	// SocketsAdded is the growth of the machine's TCP sockets (other processes'
	// included), and the per-socket figures divide by it, so that sockets others
	// opened or closed meanwhile count as what they are.
	SocketsAdded          int64              `json:"tcp_sockets_added"`
	SocketCachesPerSocket map[string]float64 `json:"socket_slab_caches_bytes_per_socket"`
	KernelPerSocket       float64            `json:"socket_slab_caches_bytes_per_socket_total"`
}

// summary is the median and maximum of repeated measurements.
type summary struct {
	Values []float64 `json:"values"`
	Median float64   `json:"median"`
	Max    float64   `json:"max"`
}

func summarize(values []float64) summary {
	return summary{Values: values, Median: median(values), Max: slices.Max(values)}
}

// fanoutRound is one broadcast or publication to every connection.
type fanoutRound struct {
	Open              int64     `json:"open_connections"`
	Delivered         int64     `json:"delivered"`
	LastMs            float64   `json:"last_delivery_ms"`
	LastPerNodeMs     []float64 `json:"last_delivery_ms_per_node"`
	NodesCPUSeconds   float64   `json:"nodes_cpu_s"`
	WorkersCPUSeconds float64   `json:"workers_cpu_s"`
	// OthersCPUSeconds is what every other process of the machine used meanwhile.
	OthersCPUSeconds float64          `json:"others_cpu_s"`
	LoadAverage      float64          `json:"load_average"`
	RedisCPUSeconds  float64          `json:"redis_cpu_s"`
	RedisCommands    map[string]int64 `json:"redis_commands"`
}

// fanoutResult is the rounds of one kind of fan-out and their medians.
type fanoutResult struct {
	Rounds              []fanoutRound `json:"rounds"`
	LastMs              summary       `json:"last_delivery_ms"`
	LastPerNodeMsMedian []float64     `json:"last_delivery_ms_per_node_median"`
	Lost                int64         `json:"lost"`
	NodesCPUPerDelivery float64       `json:"nodes_cpu_us_per_delivery_median"`
	RedisCommands       float64       `json:"redis_commands_per_round_median"`
	RedisPublishes      float64       `json:"redis_publishes_per_round_median"`
	OthersCPUSeconds    float64       `json:"others_cpu_s_median"`
	RedisCPUUs          float64       `json:"redis_cpu_us_per_round_median"`
}

func (f *fanoutResult) summarize(nodes int) {
	var last, cpu, commands, publishes, redisCPU, others []float64
	perNode := make([][]float64, nodes)
	for _, round := range f.Rounds {
		last = append(last, round.LastMs)
		cpu = append(cpu, round.NodesCPUSeconds/float64(max(round.Delivered, 1))*1e6)
		redisCPU = append(redisCPU, round.RedisCPUSeconds*1e6)
		others = append(others, round.OthersCPUSeconds)
		total := int64(0)
		for _, count := range round.RedisCommands {
			total += count
		}
		commands = append(commands, float64(total))
		publishes = append(publishes, float64(round.RedisCommands["publish"]+round.RedisCommands["spublish"]))
		f.Lost += max(round.Open-round.Delivered, 0)
		for index, value := range round.LastPerNodeMs {
			perNode[index] = append(perNode[index], value)
		}
	}
	f.LastMs = summarize(last)
	for _, values := range perNode {
		f.LastPerNodeMsMedian = append(f.LastPerNodeMsMedian, median(values))
	}
	f.NodesCPUPerDelivery, f.RedisCommands, f.RedisCPUUs = median(cpu), median(commands), median(redisCPU)
	f.RedisPublishes, f.OthersCPUSeconds = median(publishes), median(others)
}

// subscribeResult is every connection subscribing to one channel.
type subscribeResult struct {
	Open                      int64            `json:"open_connections"`
	Confirmed                 int64            `json:"confirmed"`
	Refused                   int64            `json:"refused"`
	Seconds                   float64          `json:"seconds"`
	RedisCommands             map[string]int64 `json:"redis_commands"`
	RedisCPUSeconds           float64          `json:"redis_cpu_s"`
	RedisCommandsPerSubscribe float64          `json:"redis_commands_per_subscribe"`
}

// burstResult is the publication burst to one subscriber per node.
type burstResult struct {
	Publications                  int64            `json:"publications"`
	Seconds                       float64          `json:"seconds"`
	PerSecond                     float64          `json:"publications_per_second"`
	Subscribers                   int              `json:"subscribers"`
	Delivered                     int64            `json:"delivered"`
	Expected                      int64            `json:"expected"`
	RedisCPUSeconds               float64          `json:"redis_cpu_s"`
	RedisCommands                 map[string]int64 `json:"redis_commands"`
	RedisCPUPerPublicationUs      float64          `json:"redis_cpu_us_per_publication"`
	RedisCommandsPerPublication   float64          `json:"redis_commands_per_publication"`
	RedisCPUShare                 float64          `json:"redis_cpu_share_of_one_core"`
	NodesCPUPerPublicationUs      float64          `json:"nodes_cpu_us_per_publication"`
	SaturationPublicationsPerCore float64          `json:"redis_saturation_publications_per_second_extrapolated"`
}

// summarizeBursts keeps the burst of median Redis CPU per publication as Burst.
func (r *report) summarizeBursts() {
	sorted := slices.Clone(r.Bursts)
	slices.SortFunc(sorted, func(a, b *burstResult) int {
		return cmp.Compare(a.RedisCPUPerPublicationUs, b.RedisCPUPerPublicationUs)
	})
	r.Burst = sorted[len(sorted)/2]
}

func newReport(parsed options, redis *redisSet, openFiles uint64, ports [2]int) *report {
	mode := parsed.redis
	if parsed.redisURL != "" {
		mode = "given"
	}
	return &report{
		Command: os.Args, Date: time.Now().UTC().Truncate(time.Second), Machine: result.ThisMachine(),
		RedisMode: mode, RedisURL: redis.url, RedisServers: len(redis.addresses), Nodes: parsed.nodes,
		Target: parsed.connections, OpenFiles: openFiles, PortRange: ports, Sources: parsed.sources,
		PingInterval: parsed.pingInterval.String(), PingTimeout: parsed.pingTimeout.String(), GOGC: os.Getenv("GOGC"), GOMEMLIMIT: os.Getenv("GOMEMLIMIT"),
		Pinned: parsed.pin, LoadStart: loadAverage(), Wsgate: binaryVersion(parsed.wsgate),
	}
}

// binaryVersion returns what `binary -version` prints, on one line.
func binaryVersion(binary string) string {
	output, err := exec.Command(binary, "-version").Output()
	if err != nil {
		return "version unknown"
	}
	return strings.Join(strings.Fields(string(output)), " ")
}

// summarizeMemory takes the slopes between the two memory steps.
func (r *report) summarizeMemory() {
	if len(r.Memory) < 2 {
		return
	}
	from, to := r.Memory[len(r.Memory)-2], r.Memory[len(r.Memory)-1]
	added := float64(to.Connections - from.Connections)
	slope := &memorySlope{}
	for index := range to.RSS {
		perNode := added / float64(len(to.RSS))
		slope.RSSPerConnection = append(slope.RSSPerConnection, float64(to.RSS[index]-from.RSS[index])/perNode)
		slope.HeapPerConnection = append(slope.HeapPerConnection, float64(to.Heap[index]-from.Heap[index])/perNode)
	}
	slope.RSSPerConnectionMedian = median(slope.RSSPerConnection)
	slope.HeapPerConnectionMedian = median(slope.HeapPerConnection)
	slope.TCPSlabBothEnds = float64(to.Kernel.TCPSlab-from.Kernel.TCPSlab) / added
	slope.SlabBothEnds = float64(to.Kernel.Slab-from.Kernel.Slab) / added
	slope.BuffersBothEnds = float64(to.Kernel.TCPBuffers-from.Kernel.TCPBuffers) / added
	slope.KernelBothEnds = slope.SlabBothEnds + slope.BuffersBothEnds
	slope.SocketsAdded = to.Kernel.Sockets - from.Kernel.Sockets
	if slope.SocketsAdded > 0 {
		slope.SocketCachesPerSocket = map[string]float64{}
		for name, bytes := range to.Kernel.SocketCaches {
			perSocket := float64(bytes-from.Kernel.SocketCaches[name]) / float64(slope.SocketsAdded)
			slope.SocketCachesPerSocket[name] = perSocket
			slope.KernelPerSocket += perSocket
		}
	}
	r.MemorySlope = slope
}

// write stores results.json and table.md in directory.
func (r *report) write(directory string) error {
	if err := os.MkdirAll(directory, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(directory, "results.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(directory, "table.md"), []byte(r.table()), 0o644)
}

// table renders the figures as a Markdown table.
func (r *report) table() string {
	var text strings.Builder
	fmt.Fprintf(&text, "%s: %d wsgate nodes (%s), Redis %s (%d servers), %s, %d CPUs, %s, load average %.1f at the start and %.1f at the end\n\n",
		r.Date.Format("2006-01-02 15:04 UTC"), r.Nodes, r.Wsgate, r.RedisMode, r.RedisServers, r.Machine.Model, r.Machine.CPUs,
		r.Machine.Kernel, r.LoadStart, r.LoadEnd)
	text.WriteString("| figure | value |\n|---|---:|\n")
	row := func(name, format string, arguments ...any) {
		fmt.Fprintf(&text, "| %s | "+format+" |\n", append([]any{name}, arguments...)...)
	}
	row("connections held (cluster stats)", "%s", thousands(float64(r.Held)))
	row("connections per node", "%s", joinInts(r.HeldPerNode))
	if len(r.Connect) > 0 {
		last := r.Connect[len(r.Connect)-1]
		row("connect rate, last step (/s)", "%s", thousands(float64(last.Connected)/last.Seconds))
	}
	if len(r.Memory) > 0 {
		last := r.Memory[len(r.Memory)-1]
		var rss []string
		for _, bytes := range last.RSS {
			rss = append(rss, fmt.Sprintf("%.1f", float64(bytes)/(1<<20)))
		}
		row("RSS per node at full count (MiB)", "%s", strings.Join(rss, ", "))
	}
	if slope := r.MemorySlope; slope != nil {
		row("RSS per connection, median of nodes (B)", "%s", thousands(slope.RSSPerConnectionMedian))
		row("RSS per connection per node (B)", "%s", joinFloats(slope.RSSPerConnection))
		row("Go heap per connection, median of nodes (B)", "%s", thousands(slope.HeapPerConnectionMedian))
		row("kernel slab + TCP buffers per connection, both ends (B)", "%s", thousands(slope.KernelBothEnds))
		row("of which TCP slab caches, both ends (B)", "%s", thousands(slope.TCPSlabBothEnds))
		if slope.SocketsAdded > 0 {
			row(fmt.Sprintf("kernel per TCP socket: socket slab caches / %s sockets added machine-wide (B)", thousands(float64(slope.SocketsAdded))),
				"%s (TCP %s)", thousands(slope.KernelPerSocket), thousands(slope.SocketCachesPerSocket["TCP"]))
		}
	}
	row("cluster stats query, median / max (ms)", "%.2f / %.2f", r.StatsQuery.Median, r.StatsQuery.Max)
	if len(r.StatsTotals) > 0 {
		row("connections the cluster stats answered, lowest / highest", "%s / %s", thousands(float64(slices.Min(r.StatsTotals))),
			thousands(float64(slices.Max(r.StatsTotals))))
	}
	for _, fanout := range []struct {
		name   string
		result *fanoutResult
	}{{"API broadcast", r.Broadcast}, {"channel publication", r.Channel}} {
		if fanout.result == nil {
			continue
		}
		row(fanout.name+": last delivery overall, median / max (ms)", "%.0f / %.0f", fanout.result.LastMs.Median, fanout.result.LastMs.Max)
		row(fanout.name+": last delivery per node, median (ms)", "%s", joinFloats(fanout.result.LastPerNodeMsMedian))
		row(fanout.name+": lost (open connections not reached)", "%d", fanout.result.Lost)
		row(fanout.name+": nodes' CPU per delivery (µs)", "%.2f", fanout.result.NodesCPUPerDelivery)
		row(fanout.name+": CPU other processes of the machine used per round, median (s)", "%.2f", fanout.result.OthersCPUSeconds)
		row(fanout.name+": Redis PUBLISH/SPUBLISH per round", "%.0f", fanout.result.RedisPublishes)
		row(fanout.name+": Redis commands per round, with the nodes' background (leases, pings)", "%.0f", fanout.result.RedisCommands)
	}
	if s := r.Subscribe; s != nil {
		row("subscribe every connection to one channel (s)", "%.1f", s.Seconds)
		row("Redis commands for those subscribes", "%s", formatCommands(s.RedisCommands))
	}
	if len(r.Disconnects) > 0 {
		row("connections the nodes closed during the run, by reason", "%s", formatCommands(r.Disconnects))
		row("connections the workers saw closed", "%d", r.ClosedAtClients)
	}
	if b := r.Burst; b != nil {
		row(fmt.Sprintf("burst: publications/s to one subscriber on each of %d nodes", b.Subscribers), "%s", thousands(b.PerSecond))
		row("burst: delivered / expected", "%d / %d", b.Delivered, b.Expected)
		row("burst: Redis commands per publication", "%.2f (%s)", b.RedisCommandsPerPublication, formatCommands(b.RedisCommands))
		row("burst: Redis CPU per publication (µs)", "%.1f", b.RedisCPUPerPublicationUs)
		row("burst: Redis CPU used (share of one core)", "%.0f%%", 100*b.RedisCPUShare)
		row("burst: nodes' CPU per publication (µs)", "%.1f", b.NodesCPUPerPublicationUs)
		row("burst: Redis CPU per publication in each burst (µs)", "%s", r.burstCosts())
		row("one Redis core saturates at (publications/s, extrapolated from the burst)", "%s", thousands(b.SaturationPublicationsPerCore))
	}
	if s := r.Saturation; s != nil {
		row(fmt.Sprintf("redis-benchmark %s of %d B to %d subscribers, median (/s)", s.Command, s.PayloadSize, s.Subscribers),
			"%s", thousands(s.PerSecond))
		row("redis-benchmark: Redis CPU share / µs per publication, median", "%.0f%% / %.2f", 100*s.CPUShare, s.CPUUs)
	}
	return text.String()
}

// burstCosts lists the Redis CPU per publication of every burst.
func (r *report) burstCosts() string {
	var values []float64
	for _, burst := range r.Bursts {
		values = append(values, burst.RedisCPUPerPublicationUs)
	}
	var parts []string
	for _, value := range values {
		parts = append(parts, fmt.Sprintf("%.1f", value))
	}
	return strings.Join(parts, ", ")
}

// formatCommands lists commands by name, most frequent first.
func formatCommands(commands map[string]int64) string {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		if commands[a] != commands[b] {
			return int(commands[b] - commands[a])
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s %d", name, commands[name]))
	}
	return strings.Join(parts, ", ")
}

// thousands formats value rounded, with thousands separators.
func thousands(value float64) string {
	digits := fmt.Sprintf("%.0f", value)
	negative := strings.HasPrefix(digits, "-")
	digits = strings.TrimPrefix(digits, "-")
	var out []byte
	for index, digit := range []byte(digits) {
		if index > 0 && (len(digits)-index)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, digit)
	}
	if negative {
		return "-" + string(out)
	}
	return string(out)
}

func joinInts(values []int) string {
	var parts []string
	for _, value := range values {
		parts = append(parts, thousands(float64(value)))
	}
	return strings.Join(parts, ", ")
}

func joinFloats(values []float64) string {
	var parts []string
	for _, value := range values {
		parts = append(parts, thousands(value))
	}
	return strings.Join(parts, ", ")
}
