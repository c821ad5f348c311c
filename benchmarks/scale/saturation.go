package main

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Settings of the Redis saturation phase.
const (
	saturationChannel   = "scale-saturation"
	saturationPayload   = 128 // bytes: about a wsgate envelope with a 100-byte message
	saturationRequests  = 300000
	saturationClients   = 8
	saturationPipeline  = 16
	saturationSubscribe = 10 * time.Second
)

// saturationRun is one redis-benchmark run of publications.
type saturationRun struct {
	PerSecond float64 `json:"publications_per_second"`
	CPUShare  float64 `json:"redis_cpu_share_of_one_core"`
	CPUUs     float64 `json:"redis_cpu_us_per_publication"`
}

// saturationResult is where one Redis server stops keeping up: redis-benchmark
// publishing as fast as it can (pipelined) to a channel with one subscriber per
// node, as the nodes subscribe, on the server that owns the channel.
type saturationResult struct {
	Server      string          `json:"server"`
	Command     string          `json:"command"`
	Subscribers int             `json:"subscribers"`
	PayloadSize int             `json:"payload_bytes"`
	Runs        []saturationRun `json:"runs"`
	PerSecond   float64         `json:"publications_per_second_median"`
	CPUShare    float64         `json:"redis_cpu_share_median"`
	CPUUs       float64         `json:"redis_cpu_us_per_publication_median"`
}

// saturate publishes with redis-benchmark rounds times to saturationChannel while
// subscribers redis-cli clients read it. On a Redis Cluster it uses sharded pub/sub
// (SSUBSCRIBE/SPUBLISH) on the master that owns the channel's slot.
func (b *bench) saturate(subscribers, rounds int) (*saturationResult, error) {
	publish, subscribe, server := "PUBLISH", "SUBSCRIBE", b.redis.addresses[0]
	if b.redis.cluster() {
		publish, subscribe = "SPUBLISH", "SSUBSCRIBE"
		owner, err := b.redis.owner(saturationChannel)
		if err != nil {
			return nil, err
		}
		server = owner
	}
	host, port, _ := strings.Cut(server, ":")
	progress("Redis saturation: redis-benchmark %s to %d subscribers on %s, %d rounds", publish, subscribers, server, rounds)
	var readers []*exec.Cmd
	defer func() {
		for _, reader := range readers {
			_ = reader.Process.Kill()
			_ = reader.Wait()
		}
	}()
	for range subscribers {
		reader := exec.Command("redis-cli", "-h", host, "-p", port, subscribe, saturationChannel)
		dieWithUs(reader)
		if err := reader.Start(); err != nil {
			return nil, err
		}
		readers = append(readers, reader)
	}
	count := "NUMSUB"
	if subscribe == "SSUBSCRIBE" {
		count = "SHARDNUMSUB"
	}
	for deadline := time.Now().Add(saturationSubscribe); ; time.Sleep(50 * time.Millisecond) {
		output, _ := exec.Command("redis-cli", "-h", host, "-p", port, "PUBSUB", count, saturationChannel).Output()
		lines := strings.Fields(string(output))
		if len(lines) == 2 && lines[1] == strconv.Itoa(subscribers) {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d redis-cli subscribers not subscribed within %v: %s", subscribers, saturationSubscribe, output)
		}
	}
	result := &saturationResult{Server: server, Command: publish, Subscribers: subscribers, PayloadSize: saturationPayload}
	single := &redisSet{addresses: []string{server}}
	var perSecond, share, cost []float64
	for range rounds {
		before, err := single.usage()
		if err != nil {
			return nil, err
		}
		started := time.Now()
		benchmark := exec.Command("redis-benchmark", "-h", host, "-p", port, "-c", strconv.Itoa(saturationClients),
			"-P", strconv.Itoa(saturationPipeline), "-n", strconv.Itoa(saturationRequests), "-q",
			publish, saturationChannel, strings.Repeat("x", saturationPayload))
		if output, err := benchmark.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("redis-benchmark: %w: %s", err, output)
		}
		elapsed := time.Since(started).Seconds()
		after, err := single.usage()
		if err != nil {
			return nil, err
		}
		cpu := after.cpuSeconds - before.cpuSeconds
		run := saturationRun{PerSecond: saturationRequests / elapsed, CPUShare: cpu / elapsed, CPUUs: cpu / saturationRequests * 1e6}
		result.Runs = append(result.Runs, run)
		perSecond, share, cost = append(perSecond, run.PerSecond), append(share, run.CPUShare), append(cost, run.CPUUs)
		progress("Redis saturation: %.0f publications/s, Redis %.0f%% of a core, %.2f µs each", run.PerSecond, 100*run.CPUShare, run.CPUUs)
	}
	result.PerSecond, result.CPUShare, result.CPUUs = median(perSecond), median(share), median(cost)
	return result, nil
}
