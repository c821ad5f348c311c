package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// sample is one reading of the node, taken after a forced garbage collection.
type sample struct {
	// Seconds since the load generator started.
	Seconds float64
	// RSS is VmRSS from /proc/PID/status, in bytes.
	RSS float64
	// Heap is go_memstats_heap_alloc_bytes from /metrics: after the forced GC, the
	// live heap.
	Heap float64
	// Goroutines is go_goroutines from /metrics.
	Goroutines float64
	// OpenFiles counts /proc/PID/fd.
	OpenFiles float64
	// Timers is wsgate_timers_pending from /metrics: the timer wheel's entries.
	Timers float64
	// Connections and Accepted are total_connections and connections_accepted of
	// /api/v1/ws/stats.
	Connections float64
	Accepted    float64
	// Subscriptions and Channels are wsgate_subscriptions and wsgate_channels.
	Subscriptions float64
	Channels      float64
}

// columns are the CSV header and the order of sample's fields in it.
var columns = []string{"seconds", "rss_bytes", "heap_bytes", "goroutines", "open_files", "timers", "connections",
	"connections_accepted", "subscriptions", "channels"}

// values returns the sample's fields in the order of columns.
func (s sample) values() []float64 {
	return []float64{s.Seconds, s.RSS, s.Heap, s.Goroutines, s.OpenFiles, s.Timers, s.Connections, s.Accepted,
		s.Subscriptions, s.Channels}
}

// csvLine returns the sample as one CSV line.
func (s sample) csvLine() string {
	fields := make([]string, 0, len(columns))
	for _, value := range s.values() {
		fields = append(fields, strconv.FormatFloat(value, 'f', -1, 64))
	}
	return strings.Join(fields, ",") + "\n"
}

// sampler reads one node: its process in /proc, its /metrics, stats and profiler
// over HTTP on base (loopback, where wsgate answers without an API key).
type sampler struct {
	pid    int
	base   string
	client *http.Client
}

// read forces a GC through GET /debug/pprof/heap?gc=1, then reads everything.
func (s *sampler) read(seconds float64) (sample, error) {
	if _, err := s.get("/debug/pprof/heap?gc=1"); err != nil {
		return sample{}, fmt.Errorf("forced GC: %w", err)
	}
	metrics, err := s.get("/metrics")
	if err != nil {
		return sample{}, err
	}
	statsBody, err := s.get("/api/v1/ws/stats?limit=1")
	if err != nil {
		return sample{}, err
	}
	var stats struct {
		TotalConnections    float64 `json:"total_connections"`
		ConnectionsAccepted float64 `json:"connections_accepted"`
	}
	if err := json.Unmarshal(statsBody, &stats); err != nil {
		return sample{}, fmt.Errorf("stats: %w", err)
	}
	values := metricValues(metrics)
	rss, err := residentBytes(s.pid)
	if err != nil {
		return sample{}, err
	}
	files, err := os.ReadDir("/proc/" + strconv.Itoa(s.pid) + "/fd")
	if err != nil {
		return sample{}, err
	}
	read := sample{
		Seconds:       seconds,
		RSS:           rss,
		Heap:          values["go_memstats_heap_alloc_bytes"],
		Goroutines:    values["go_goroutines"],
		OpenFiles:     float64(len(files)),
		Timers:        values["wsgate_timers_pending"],
		Connections:   stats.TotalConnections,
		Accepted:      stats.ConnectionsAccepted,
		Subscriptions: values["wsgate_subscriptions"],
		Channels:      values["wsgate_channels"],
	}
	for _, name := range []string{"go_memstats_heap_alloc_bytes", "go_goroutines", "wsgate_timers_pending", "wsgate_subscriptions", "wsgate_channels"} {
		if _, found := values[name]; !found {
			return read, fmt.Errorf("/metrics has no %s", name)
		}
	}
	return read, nil
}

// get returns the body of a 200 answer to GET path.
func (s *sampler) get(path string) ([]byte, error) {
	response, err := s.client.Get(s.base + path)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	body, err := io.ReadAll(io.LimitReader(response.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if response.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", path, response.StatusCode)
	}
	return body, nil
}

// metricValues returns the unlabelled series of a Prometheus text exposition.
func metricValues(exposition []byte) map[string]float64 {
	values := map[string]float64{}
	scanner := bufio.NewScanner(bytes.NewReader(exposition))
	scanner.Buffer(make([]byte, 64<<10), 1<<20)
	for scanner.Scan() {
		name, value, found := strings.Cut(scanner.Text(), " ")
		if !found || strings.ContainsAny(name, "{#") {
			continue
		}
		if number, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			values[name] = number
		}
	}
	return values
}

// residentBytes returns VmRSS of process pid, in bytes.
func residentBytes(pid int) (float64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if value, found := strings.CutPrefix(line, "VmRSS:"); found {
			kilobytes, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
			return kilobytes * 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
}

// newSampler returns a sampler of process pid serving on base.
func newSampler(pid int, base string) *sampler {
	return &sampler{pid: pid, base: base, client: &http.Client{Timeout: 30 * time.Second}}
}
