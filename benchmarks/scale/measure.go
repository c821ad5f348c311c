package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/benchmarks/internal/workerprotocol"
)

// Broadcast phases of the load generator: a worker counts only deliveries of the
// phase it was told to begin.
const (
	phaseBroadcast = 1
	phaseChannel   = 3
	phaseBurst     = 4
	channelName    = "scale-0"
	burstChannel   = "probe-0"
	burstBatch     = 100
	burstPosters   = 4
	// awaitTimeout bounds the wait for one fan-out to reach every connection.
	awaitTimeout = 60 * time.Second
)

// bench is one run: the processes and the report being filled in.
type bench struct {
	options    options
	redis      *redisSet
	nodes      []*node
	fleet      workers
	workerCPUs string
	report     *report
	client     *http.Client
}

// measure runs every phase in order on the same connections.
func (b *bench) measure() error {
	b.client = &http.Client{Timeout: 2 * time.Minute}
	defer b.client.CloseIdleConnections()
	steps := []int{b.options.connections / 3, b.options.connections}
	for _, step := range steps {
		if err := b.grow(step); err != nil {
			return err
		}
		b.readMemory(step)
	}
	b.report.summarizeMemory()
	if err := b.held(); err != nil {
		return err
	}
	if err := b.statsQueries(); err != nil {
		return err
	}
	broadcast, err := b.fanout("broadcast", phaseBroadcast, func(content []byte) error {
		return b.nodes[0].post(b.client, "/api/v1/broadcast", wrapJSON(`{"message":`, content), nil)
	})
	if err != nil {
		return err
	}
	b.report.Broadcast = broadcast
	if err := b.subscribe(); err != nil {
		return err
	}
	channel, err := b.fanout("channel publication", phaseChannel, func(content []byte) error {
		return b.nodes[0].post(b.client, "/api/v1/channels/"+channelName+"/publish", wrapJSON(`{"data":`, content), nil)
	})
	if err != nil {
		return err
	}
	b.report.Channel = channel
	if err := b.readDisconnects(); err != nil {
		return err
	}
	for range b.options.rounds {
		burst, err := b.publicationBurst()
		if err != nil {
			return err
		}
		b.report.Bursts = append(b.report.Bursts, burst)
	}
	b.report.summarizeBursts()
	b.report.Saturation, err = b.saturate(len(b.nodes), 3)
	return err
}

// readDisconnects adds up the nodes' disconnects by reason: connections the nodes
// closed during the run (a heartbeat timeout when a starved client or node answered
// a ping too late).
func (b *bench) readDisconnects() error {
	b.report.Disconnects = map[string]int64{}
	for _, current := range b.nodes {
		var answer struct {
			Disconnects map[string]int64 `json:"disconnects_by_reason"`
		}
		if err := getJSON(current.base+"/api/v1/ws/stats?limit=0", &answer); err != nil {
			return err
		}
		for reason, count := range answer.Disconnects {
			if count > 0 {
				b.report.Disconnects[reason] += count
			}
		}
	}
	answers, err := b.fleet.same(workerprotocol.Command{Operation: "snapshot"})
	if err != nil {
		return err
	}
	for _, answer := range answers {
		b.report.ClosedAtClients += answer.Snapshot.Closed
	}
	progress("connections the nodes closed during the run: %v; closes the workers saw: %d", b.report.Disconnects,
		b.report.ClosedAtClients)
	return nil
}

// share returns node index's part of total connections.
func (b *bench) share(total, index int) int {
	part := total / len(b.nodes)
	if index < total%len(b.nodes) {
		part++
	}
	return part
}

// grow dials until the workers hold total connections, spread evenly over the nodes.
func (b *bench) grow(total int) error {
	progress("growing to %d connections", total)
	answers, err := b.fleet.all(func(index int) workerprotocol.Command {
		return workerprotocol.Command{Operation: "grow", Target: b.share(total, index)}
	})
	if err != nil {
		return err
	}
	connected, failed, seconds, firstError := 0, 0, 0.0, ""
	for _, answer := range answers {
		connected += answer.Grow.Connected
		failed += answer.Grow.Failed
		seconds = max(seconds, answer.Grow.Seconds)
		if firstError == "" {
			firstError = answer.Grow.FirstError
		}
	}
	b.report.Connect = append(b.report.Connect, connectStep{Target: total, Connected: connected, Failed: failed,
		Seconds: seconds, FirstError: firstError})
	progress("connected %d in %.1f s, %d failed %s", connected, seconds, failed, firstError)
	if failed > 0 {
		return fmt.Errorf("%d of %d dials failed, first: %s", failed, connected+failed, firstError)
	}
	return nil
}

// readMemory waits one heartbeat interval (every connection pinged and answered),
// forces a GC on every node and reads RSS and the kernel's memory three times a
// second apart, keeping the last.
func (b *bench) readMemory(connections int) {
	progress("settling %v at %d connections", b.options.pingInterval+2*time.Second, connections)
	time.Sleep(b.options.pingInterval + 2*time.Second)
	step := memoryStep{Connections: connections}
	for range 3 {
		for _, current := range b.nodes {
			current.collectGarbage()
		}
		time.Sleep(time.Second)
		step.RSS, step.Heap = step.RSS[:0], step.Heap[:0]
		for _, current := range b.nodes {
			step.RSS = append(step.RSS, current.rssBytes())
			step.Heap = append(step.Heap, current.heapBytes())
		}
		step.Kernel = readKernelMemory()
	}
	b.report.Memory = append(b.report.Memory, step)
}

// held reads the connections every node holds and the cluster-wide total.
func (b *bench) held() error {
	for _, current := range b.nodes {
		count, err := current.connections()
		if err != nil {
			return err
		}
		b.report.HeldPerNode = append(b.report.HeldPerNode, count)
	}
	nodes, total, _, err := b.nodes[0].clusterTotals()
	if err != nil {
		return err
	}
	b.report.ClusterNodes, b.report.Held = nodes, total
	progress("held: %d on %d nodes %v", total, nodes, b.report.HeldPerNode)
	return nil
}

// statsQueries times GET /api/v1/ws/stats?scope=cluster, one after the other on
// the nodes in turn, and keeps the totals they answered (the other nodes' counts
// come from their leases, up to a third of the lease old, and connections that
// close meanwhile make them differ a little).
func (b *bench) statsQueries() error {
	var took []float64
	for query := range b.options.statsQueries {
		nodes, total, duration, err := b.nodes[query%len(b.nodes)].clusterTotals()
		if err != nil {
			return err
		}
		if nodes != len(b.nodes) {
			return fmt.Errorf("cluster stats counted %d nodes, want %d", nodes, len(b.nodes))
		}
		took = append(took, milliseconds(duration))
		b.report.StatsTotals = append(b.report.StatsTotals, total)
	}
	b.report.StatsQuery = summarize(took)
	return nil
}

// fanout sends -rounds contents with send, one at a time, each awaited on every
// worker, and keeps per round the latency of each node's last delivery, the
// deliveries, the nodes' processor time and what Redis did.
func (b *bench) fanout(name string, phase int, send func(content []byte) error) (*fanoutResult, error) {
	progress("%s: %d rounds", name, b.options.rounds)
	if _, err := b.fleet.same(workerprotocol.Command{Operation: "begin", Phase: phase, Sequences: b.options.rounds, Copies: 1}); err != nil {
		return nil, err
	}
	result := &fanoutResult{}
	for sequence := range b.options.rounds {
		time.Sleep(500 * time.Millisecond)
		redisBefore, err := b.redis.usage()
		if err != nil {
			return nil, err
		}
		cpuBefore, machineBefore, workersBefore := b.nodeCPU(), machineBusySeconds(), b.workerCPU()
		if err := send(content(phase, sequence)); err != nil {
			return nil, fmt.Errorf("%s %d: %w", name, sequence, err)
		}
		if _, err := b.fleet.same(workerprotocol.Command{Operation: "await", Sequence: sequence, Timeout: awaitTimeout}); err != nil {
			return nil, err
		}
		answers, err := b.fleet.same(workerprotocol.Command{Operation: "snapshot"})
		if err != nil {
			return nil, err
		}
		cpuAfter, machineAfter := b.nodeCPU(), machineBusySeconds()
		redisAfter, err := b.redis.usage()
		if err != nil {
			return nil, err
		}
		redisDelta := redisAfter.since(redisBefore, len(b.redis.addresses))
		workers := 0.0
		for _, answer := range answers {
			workers += answer.Snapshot.WorkerCPU
		}
		current := fanoutRound{NodesCPUSeconds: cpuAfter - cpuBefore, RedisCPUSeconds: redisDelta.cpuSeconds,
			RedisCommands: redisDelta.commands, WorkersCPUSeconds: workers - workersBefore, LoadAverage: loadAverage()}
		current.OthersCPUSeconds = max(machineAfter-machineBefore-current.NodesCPUSeconds-current.WorkersCPUSeconds-
			current.RedisCPUSeconds, 0)
		for _, answer := range answers {
			current.Open += answer.Snapshot.Open
			current.Delivered += answer.Snapshot.Received[sequence]
			last := float64(answer.Snapshot.Slowest[sequence]) / 1e6
			current.LastPerNodeMs = append(current.LastPerNodeMs, last)
			current.LastMs = max(current.LastMs, last)
		}
		result.Rounds = append(result.Rounds, current)
		progress("%s %d: %d delivered to %d open connections, last after %.0f ms (per node %v); CPU s: nodes %.2f, workers %.2f, others %.2f; load %.1f",
			name, sequence, current.Delivered, current.Open, current.LastMs, roundedAll(current.LastPerNodeMs),
			current.NodesCPUSeconds, current.WorkersCPUSeconds, current.OthersCPUSeconds, current.LoadAverage)
	}
	result.summarize(len(b.nodes))
	return result, nil
}

// nodeCPU returns the nodes' processor time in all.
func (b *bench) nodeCPU() float64 {
	total := 0.0
	for _, current := range b.nodes {
		total += current.cpuSeconds()
	}
	return total
}

// workerCPU returns the workers' processor time in all.
func (b *bench) workerCPU() float64 {
	answers, err := b.fleet.same(workerprotocol.Command{Operation: "snapshot"})
	if err != nil {
		return 0
	}
	total := 0.0
	for _, answer := range answers {
		total += answer.Snapshot.WorkerCPU
	}
	return total
}

// subscribe subscribes every connection to channelName and records what Redis did.
func (b *bench) subscribe() error {
	progress("subscribing every connection to %s", channelName)
	before, err := b.redis.usage()
	if err != nil {
		return err
	}
	answers, err := b.fleet.same(workerprotocol.Command{Operation: "subscribe", Timeout: 2 * time.Minute,
		Plan: &workerprotocol.Plan{Prefix: "scale-", Channels: 1, PerConnection: 1}})
	if err != nil {
		return err
	}
	time.Sleep(time.Second) // the nodes' Redis SUBSCRIBE follows the first local subscriber
	after, err := b.redis.usage()
	if err != nil {
		return err
	}
	delta := after.since(before, len(b.redis.addresses))
	snapshots, err := b.fleet.same(workerprotocol.Command{Operation: "snapshot"})
	if err != nil {
		return err
	}
	result := &subscribeResult{RedisCommands: delta.commands, RedisCPUSeconds: delta.cpuSeconds}
	for _, snapshot := range snapshots {
		result.Open += snapshot.Snapshot.Open
	}
	for _, answer := range answers {
		result.Confirmed += answer.Subscribe.Confirmed
		result.Refused += answer.Subscribe.Refused
		result.Seconds = max(result.Seconds, answer.Subscribe.Seconds)
	}
	if result.Confirmed > 0 {
		result.RedisCommandsPerSubscribe = float64(delta.total()) / float64(result.Confirmed)
	}
	b.report.Subscribe = result
	progress("subscribed %d of %d open connections (refused %d) in %.1f s; Redis commands %v", result.Confirmed,
		result.Open, result.Refused, result.Seconds, delta.commands)
	if result.Confirmed < result.Open {
		return fmt.Errorf("%d of %d open connections subscribed", result.Confirmed, result.Open)
	}
	return nil
}

// publicationBurst measures Redis's cost per publication without the fan-out to
// 100,000 connections: one more connection on every node subscribes to
// burstChannel, and burstPosters clients post batches of burstBatch publications to
// it on the nodes in turn for -burst. Redis relays each to every node, as for the
// big channel; the rate is bounded by the nodes' HTTP API on this machine's two
// cores, so where Redis saturates is its processor time per publication, not the
// rate reached.
func (b *bench) publicationBurst() (*burstResult, error) {
	progress("publication burst: %v of batches of %d to %s", b.options.burst, burstBatch, burstChannel)
	var probes workers
	defer func() { probes.close() }()
	for _, target := range b.nodes {
		started, err := startWorker(b.options.loadgen, target.wsURL(), 1, 1, b.workerCPUs)
		if err != nil {
			return nil, err
		}
		probes = append(probes, started)
	}
	if _, err := probes.same(workerprotocol.Command{Operation: "grow", Target: 1}); err != nil {
		return nil, err
	}
	answers, err := probes.same(workerprotocol.Command{Operation: "subscribe", Timeout: 30 * time.Second,
		Plan: &workerprotocol.Plan{Prefix: "probe-", Channels: 1, PerConnection: 1}})
	if err != nil {
		return nil, err
	}
	for _, answer := range answers {
		if answer.Subscribe.Confirmed != 1 {
			return nil, fmt.Errorf("a burst subscriber was not confirmed")
		}
	}
	if _, err := probes.same(workerprotocol.Command{Operation: "begin", Phase: phaseBurst, Sequences: 1, Copies: 1}); err != nil {
		return nil, err
	}
	time.Sleep(time.Second)
	body := burstBody()
	redisBefore, err := b.redis.usage()
	if err != nil {
		return nil, err
	}
	cpuBefore := b.nodeCPU()
	var published atomic.Int64
	var failure atomic.Pointer[error]
	started := time.Now()
	deadline := started.Add(b.options.burst)
	var posters sync.WaitGroup
	for poster := range burstPosters {
		posters.Go(func() {
			for turn := poster; time.Now().Before(deadline); turn += burstPosters {
				if err := b.nodes[turn%len(b.nodes)].post(b.client, "/api/v1/publish", body, nil); err != nil {
					failure.CompareAndSwap(nil, &err)
					return
				}
				published.Add(burstBatch)
			}
		})
	}
	posters.Wait()
	elapsed := time.Since(started).Seconds()
	if err := failure.Load(); err != nil {
		return nil, *err
	}
	expected := published.Load() * int64(len(b.nodes))
	delivered := int64(0)
	for wait := time.Now().Add(30 * time.Second); time.Now().Before(wait); time.Sleep(100 * time.Millisecond) {
		snapshots, err := probes.same(workerprotocol.Command{Operation: "snapshot"})
		if err != nil {
			return nil, err
		}
		delivered = 0
		for _, snapshot := range snapshots {
			delivered += snapshot.Snapshot.Received[0]
		}
		if delivered >= expected {
			break
		}
	}
	cpuAfter := b.nodeCPU()
	redisAfter, err := b.redis.usage()
	if err != nil {
		return nil, err
	}
	delta := redisAfter.since(redisBefore, len(b.redis.addresses))
	count := float64(published.Load())
	burst := &burstResult{
		Publications: published.Load(), Seconds: elapsed, PerSecond: count / elapsed,
		Subscribers: len(probes), Delivered: delivered, Expected: expected,
		RedisCPUSeconds: delta.cpuSeconds, RedisCommands: delta.commands,
		RedisCPUPerPublicationUs:      delta.cpuSeconds / count * 1e6,
		RedisCommandsPerPublication:   float64(delta.total()) / count,
		RedisCPUShare:                 delta.cpuSeconds / elapsed,
		NodesCPUPerPublicationUs:      (cpuAfter - cpuBefore) / count * 1e6,
		SaturationPublicationsPerCore: count / delta.cpuSeconds,
	}
	progress("burst: %d publications in %.1f s, Redis %.1f µs CPU and %.2f commands each, %d of %d delivered",
		published.Load(), elapsed, burst.RedisCPUPerPublicationUs, burst.RedisCommandsPerPublication,
		delivered, expected)
	return burst, nil
}

// content returns broadcast number sequence of phase, stamped now, in the load
// generator's format ({"phase":P,"seq":S,"sent":unix ns,"pad":"..."}, about 70
// bytes), which its workers recognise by byte search.
func content(phase, sequence int) []byte {
	text := `{"phase":` + strconv.Itoa(phase) + `,"seq":` + strconv.Itoa(sequence) +
		`,"sent":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `,"pad":"`
	for len(text) < 68 {
		text += "x"
	}
	return []byte(text + `"}`)
}

// wrapJSON returns prefix, value and a closing brace.
func wrapJSON(prefix string, value []byte) []byte {
	return append(append([]byte(prefix), value...), '}')
}

// burstBody returns a POST /api/v1/publish body of burstBatch publications of
// sequence 0 of phaseBurst to burstChannel.
func burstBody() []byte {
	body := []byte(`{"publications":[`)
	for index := range burstBatch {
		if index > 0 {
			body = append(body, ',')
		}
		body = append(body, `{"channel":"`+burstChannel+`","data":`...)
		body = append(append(body, content(phaseBurst, 0)...), '}')
	}
	return append(body, "]}"...)
}

// pin moves a running process onto cpus.
func pin(pid int, cpus string) error {
	return exec.Command("taskset", "-p", "-c", cpus, strconv.Itoa(pid)).Run()
}

// milliseconds returns duration in milliseconds.
func milliseconds(duration time.Duration) float64 {
	return float64(duration.Microseconds()) / 1000
}

// roundedAll returns values rounded to whole numbers, for progress lines.
func roundedAll(values []float64) []int {
	rounded := make([]int, len(values))
	for index, value := range values {
		rounded[index] = int(value + 0.5)
	}
	return rounded
}

// median returns the median of values (0 for none).
func median(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	sorted := slices.Sorted(slices.Values(values))
	middle := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[middle]
	}
	return (sorted[middle-1] + sorted[middle]) / 2
}
