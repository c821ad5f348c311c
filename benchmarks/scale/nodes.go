package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// node is one wsgate process of the benchmark.
type node struct {
	name    string
	base    string // http://127.0.0.1:port
	process *exec.Cmd
	// exited is closed when the process has ended.
	exited chan struct{}
}

// startNodes starts count wsgate processes from binary on free loopback ports, each
// joined to redisURL, under taskset -c cpus when cpus is set, and waits until every
// one answers /readyz (which needs Redis). Everything a user would run, except that
// a user may hold any number of connections (-max-conns-per-user 0: the load
// generator's connections are anonymous).
func startNodes(binary string, count int, redisURL string, pingInterval, pingTimeout time.Duration, cpus string) ([]*node, error) {
	var nodes []*node
	stopAll := func() {
		for _, started := range nodes {
			started.stop()
		}
	}
	for index := range count {
		port, err := freePort()
		if err != nil {
			stopAll()
			return nil, err
		}
		name := "scale-" + strconv.Itoa(index)
		arguments := []string{binary, "-addr", "127.0.0.1:" + port, "-redis-url", redisURL, "-node-id", name,
			"-max-conns-per-user", "0", "-ping-interval", pingInterval.String(), "-ping-timeout", pingTimeout.String(), "-log-level", "warn"}
		if cpus != "" {
			arguments = append([]string{"taskset", "-c", cpus}, arguments...)
		}
		process := exec.Command(arguments[0], arguments[1:]...)
		dieWithUs(process)
		process.Stdout, process.Stderr = os.Stderr, os.Stderr
		if err := process.Start(); err != nil {
			stopAll()
			return nil, fmt.Errorf("start %s: %w", binary, err)
		}
		started := &node{name: name, base: "http://127.0.0.1:" + port, process: process, exited: make(chan struct{})}
		go func() {
			_ = process.Wait()
			close(started.exited)
		}()
		nodes = append(nodes, started)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, started := range nodes {
		for !started.ready() {
			select {
			case <-started.exited:
				stopAll()
				return nil, fmt.Errorf("node %s exited at start (%s)", started.name, started.process.ProcessState)
			default:
			}
			if time.Now().After(deadline) {
				stopAll()
				return nil, fmt.Errorf("node %s not ready within 30s (is Redis at %s reachable?)", started.name, redisURL)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nodes, nil
}

// ready reports whether the node answers /readyz with 200.
func (n *node) ready() bool {
	response, err := http.Get(n.base + "/readyz")
	if err != nil {
		return false
	}
	_ = response.Body.Close()
	return response.StatusCode == http.StatusOK
}

// wsURL returns the node's WebSocket endpoint.
func (n *node) wsURL() string {
	return "ws" + strings.TrimPrefix(n.base, "http") + "/api/v1/ws"
}

// stop ends the node with SIGTERM and waits; it kills it after 20 s.
func (n *node) stop() {
	_ = n.process.Process.Signal(os.Interrupt)
	select {
	case <-n.exited:
	case <-time.After(20 * time.Second):
		_ = n.process.Process.Kill()
		<-n.exited
	}
}

// rssBytes returns the node's resident set (VmRSS), or 0 when unreadable.
func (n *node) rssBytes() int64 {
	return procStatusKB(n.process.Process.Pid, "VmRSS") * 1024
}

// cpuSeconds returns the node's processor time (user plus system).
func (n *node) cpuSeconds() float64 {
	return procCPUSeconds(n.process.Process.Pid)
}

// collectGarbage forces a collection through the node's profiler, so that the Go
// heap read next is the live heap.
func (n *node) collectGarbage() {
	response, err := http.Get(n.base + "/debug/pprof/heap?gc=1")
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, response.Body)
	_ = response.Body.Close()
}

// heapBytes returns the node's live Go heap (go_memstats_heap_alloc_bytes of its
// /metrics), or 0 when unreadable.
func (n *node) heapBytes() int64 {
	response, err := http.Get(n.base + "/metrics")
	if err != nil {
		return 0
	}
	defer response.Body.Close()
	data, _ := io.ReadAll(response.Body)
	for line := range strings.Lines(string(data)) {
		if value, found := strings.CutPrefix(line, "go_memstats_heap_alloc_bytes "); found {
			bytes, _ := strconv.ParseFloat(strings.TrimSpace(value), 64)
			return int64(bytes)
		}
	}
	return 0
}

// connections returns the node's own connection count (GET /api/v1/ws/stats).
func (n *node) connections() (int, error) {
	var answer struct {
		TotalConnections int `json:"total_connections"`
	}
	err := getJSON(n.base+"/api/v1/ws/stats?limit=1", &answer)
	return answer.TotalConnections, err
}

// clusterTotals answers GET /api/v1/ws/stats?scope=cluster and how long it took.
func (n *node) clusterTotals() (nodes, connections int, took time.Duration, err error) {
	var answer struct {
		Scope            string `json:"scope"`
		Nodes            int    `json:"nodes"`
		TotalConnections int    `json:"total_connections"`
	}
	started := time.Now()
	err = getJSON(n.base+"/api/v1/ws/stats?scope=cluster", &answer)
	took = time.Since(started)
	if err == nil && answer.Scope != "cluster" {
		err = fmt.Errorf("stats answered scope %q", answer.Scope)
	}
	return answer.Nodes, answer.TotalConnections, took, err
}

// post sends body to the node's path and decodes the JSON answer into answer.
func (n *node) post(client *http.Client, path string, body []byte, answer any) error {
	response, err := client.Post(n.base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer response.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(response.Body, 1<<20))
	if response.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: HTTP %d %s", path, response.StatusCode, bytes.TrimSpace(data))
	}
	if answer == nil {
		return nil
	}
	return json.Unmarshal(data, answer)
}

// getJSON decodes the JSON answer of GET url into answer.
func getJSON(url string, answer any) error {
	response, err := http.Get(url)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(response.Body, 1<<20))
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d %s", url, response.StatusCode, bytes.TrimSpace(data))
	}
	return json.Unmarshal(data, answer)
}
