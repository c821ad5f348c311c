// Command storm measures a reconnect storm with recovery: N subscribers of one
// history channel on one wsgate node are cut at once while a backend keeps
// publishing through the other node; every subscriber reconnects to the other node
// with package client's backoff and resubscribes with recover. It reports the time
// until every subscriber recovered and caught up, the nodes' CPU time, Redis's
// commands (INFO commandstats) during the storm, and whether any subscriber lost,
// repeated or skipped a publication.
//
// It starts its own redis-server and two nodes (bin/wsgate, pinned with taskset
// to -server-cpu when taskset exists) and runs the clients in this process:
//
//	make build && taskset -c 0 go run ./benchmarks/storm -n 10000
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/rueidis"
)

// settings are the command's flags.
type settings struct {
	subscribers     int
	rate            int
	before, after   time.Duration
	baseDelay       time.Duration
	maxDelay        time.Duration
	binary          string
	serverCPU       string
	dialConcurrency int
	catchUpTimeout  time.Duration
	historySize     int
	channel         string
	firstPort       int
	secondPort      int
	redisPort       int
	directory       string
}

func main() {
	var config settings
	flag.IntVar(&config.subscribers, "n", 10000, "subscribers")
	flag.IntVar(&config.rate, "rate", 5, "publications per second, through the second node's publish API")
	flag.DurationVar(&config.before, "before", 2*time.Second, "publishing before the cut")
	flag.DurationVar(&config.after, "after", 2*time.Second, "publishing after every subscriber recovered")
	flag.DurationVar(&config.baseDelay, "base-delay", 500*time.Millisecond, "the clients' BaseDelay (package client's default)")
	flag.DurationVar(&config.maxDelay, "max-delay", 30*time.Second, "the clients' MaxDelay (package client's default)")
	flag.StringVar(&config.binary, "wsgate", "bin/wsgate", "the wsgate binary (make build)")
	flag.StringVar(&config.serverCPU, "server-cpu", "1", "taskset CPU list of redis-server and the nodes (empty: no pinning)")
	flag.IntVar(&config.dialConcurrency, "dial-concurrency", 200, "subscribers connecting at once before the cut")
	flag.DurationVar(&config.catchUpTimeout, "timeout", 2*time.Minute, "longest wait for the storm to settle")
	flag.IntVar(&config.historySize, "history-size", 10000, "the channel namespace's history_size and recover_max")
	flag.StringVar(&config.channel, "channel", "storm:bench", "the channel (its namespace gets history)")
	flag.IntVar(&config.firstPort, "first-port", 18081, "the first node's port (the subscribers start there)")
	flag.IntVar(&config.secondPort, "second-port", 18082, "the second node's port (they reconnect there)")
	flag.IntVar(&config.redisPort, "redis-port", 16390, "redis-server's port")
	flag.Parse()
	directory, err := os.MkdirTemp("", "wsgate-storm-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(directory)
	config.directory = directory
	if err := run(config); err != nil {
		log.Fatal(err)
	}
}

// process is a started server process.
type process struct {
	name    string
	command *exec.Cmd
}

// start runs arguments pinned to the server CPU, logging to the temporary
// directory, and waits until port accepts connections.
func start(config settings, name string, port int, arguments ...string) (*process, error) {
	if config.serverCPU != "" {
		if _, err := exec.LookPath("taskset"); err == nil {
			arguments = append([]string{"taskset", "-c", config.serverCPU}, arguments...)
		}
	}
	logFile, err := os.Create(filepath.Join(config.directory, name+".log"))
	if err != nil {
		return nil, err
	}
	command := exec.Command(arguments[0], arguments[1:]...)
	command.Stdout, command.Stderr = logFile, logFile
	if err := command.Start(); err != nil {
		return nil, err
	}
	started := &process{name: name, command: command}
	address := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if conn, err := net.DialTimeout("tcp", address, time.Second); err == nil {
			_ = conn.Close()
			return started, nil
		}
	}
	started.stop()
	output, _ := os.ReadFile(logFile.Name())
	return nil, fmt.Errorf("%s did not listen on %s within 10 s:\n%s", name, address, output)
}

// stop ends the process with SIGTERM, then SIGKILL after 15 s.
func (p *process) stop() {
	_ = p.command.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.command.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = p.command.Process.Kill()
		<-done
	}
}

// cpuSeconds returns the process's processor time so far, user plus system.
func (p *process) cpuSeconds() float64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(p.command.Process.Pid) + "/stat")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	user, _ := strconv.ParseFloat(fields[11], 64)
	system, _ := strconv.ParseFloat(fields[12], 64)
	return (user + system) / 100 // USER_HZ
}

// startServers starts redis-server and the two nodes with a history namespace.
func startServers(config settings) ([]*process, error) {
	namespace, _, _ := strings.Cut(config.channel, ":")
	configuration := filepath.Join(config.directory, "storm.yaml")
	yaml := fmt.Sprintf("namespaces:\n  - name: %s\n    subscribe: anyone\n    publish: \"off\"\n    history_size: %d\n    history_ttl: 5m\n    recover_max: %d\n",
		namespace, config.historySize, config.historySize)
	if err := os.WriteFile(configuration, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	redis, err := start(config, "redis", config.redisPort, "redis-server", "--port", strconv.Itoa(config.redisPort),
		"--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err != nil {
		return nil, err
	}
	servers := []*process{redis}
	for index, port := range []int{config.firstPort, config.secondPort} {
		node, err := start(config, "node"+strconv.Itoa(index+1), port, config.binary, "-config", configuration,
			"-addr", "127.0.0.1:"+strconv.Itoa(port), "-redis-url", "redis://127.0.0.1:"+strconv.Itoa(config.redisPort),
			"-max-conns-per-user", "0", "-log-level", "warn")
		if err != nil {
			stopAll(servers)
			return nil, err
		}
		servers = append(servers, node)
	}
	return servers, nil
}

func stopAll(servers []*process) {
	for _, server := range slices.Backward(servers) {
		server.stop()
	}
}

// publisher publishes {"seq":n} to the channel through url at rate, recording the
// highest offset the API answered, until stop is closed.
type publisher struct {
	url       string
	rate      int
	published atomic.Int64
	failures  atomic.Int64
	top       atomic.Uint64
}

func (p *publisher) run(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ticker := time.NewTicker(time.Second / time.Duration(p.rate))
	defer ticker.Stop()
	for sequence := 1; ; sequence++ {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}
		response, err := http.Post(p.url, "application/json", strings.NewReader(fmt.Sprintf(`{"data":{"seq":%d}}`, sequence)))
		if err != nil {
			p.failures.Add(1)
			continue
		}
		body, _ := io.ReadAll(response.Body)
		response.Body.Close()
		offset, found := offsetOf(body)
		if response.StatusCode != http.StatusOK || !found {
			p.failures.Add(1)
			continue
		}
		p.published.Add(1)
		for top := p.top.Load(); offset > top && !p.top.CompareAndSwap(top, offset); top = p.top.Load() {
		}
	}
}

// offsetOf returns the "offset" of a publish answer.
func offsetOf(body []byte) (uint64, bool) {
	at := bytes.Index(body, []byte(`"offset":`))
	if at < 0 {
		return 0, false
	}
	digits := body[at+len(`"offset":`):]
	end := bytes.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(digits)
	}
	offset, err := strconv.ParseUint(string(digits[:end]), 10, 64)
	return offset, err == nil
}

// commandStats reads Redis's INFO commandstats as calls per command.
func commandStats(client rueidis.Client) (map[string]int64, error) {
	text, err := client.Do(context.Background(), client.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		return nil, err
	}
	calls := make(map[string]int64)
	for line := range strings.Lines(text) {
		name, fields, found := strings.Cut(strings.TrimSpace(line), ":")
		if !found || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for field := range strings.SplitSeq(fields, ",") {
			if value, ok := strings.CutPrefix(field, "calls="); ok {
				calls[strings.TrimPrefix(name, "cmdstat_")], _ = strconv.ParseInt(value, 10, 64)
			}
		}
	}
	return calls, nil
}

func run(config settings) error {
	servers, err := startServers(config)
	if err != nil {
		return err
	}
	defer stopAll(servers)
	redis, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:" + strconv.Itoa(config.redisPort)},
		DisableCache: true, ForceSingleClient: true})
	if err != nil {
		return err
	}
	defer redis.Close()
	first := fmt.Sprintf("ws://127.0.0.1:%d/api/v1/ws", config.firstPort)
	second := fmt.Sprintf("ws://127.0.0.1:%d/api/v1/ws", config.secondPort)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cutting atomic.Bool
	var cutAt atomic.Int64
	var running sync.WaitGroup
	failures := make(chan error, config.subscribers)
	follow := func(s *subscriber) {
		running.Add(1)
		go s.run(ctx, second, &cutting, &cutAt, config.baseDelay, config.maxDelay, &running, failures)
	}
	subscribers := make([]*subscriber, config.subscribers)
	connectStarted := time.Now()
	if err := connectAll(config, first, subscribers, follow); err != nil {
		return err
	}
	fmt.Printf("%d subscribers on the first node in %v\n", config.subscribers, time.Since(connectStarted).Round(time.Millisecond))
	publishing := &publisher{url: fmt.Sprintf("http://127.0.0.1:%d/api/v1/channels/%s/publish", config.secondPort, config.channel),
		rate: config.rate}
	stopPublishing, publisherDone := make(chan struct{}), make(chan struct{})
	go publishing.run(stopPublishing, publisherDone)
	time.Sleep(config.before)

	statsBefore, err := commandStats(redis)
	if err != nil {
		return err
	}
	cpuBefore := []float64{servers[1].cpuSeconds(), servers[2].cpuSeconds(), servers[0].cpuSeconds()}
	topAtCut := publishing.top.Load()
	cutting.Store(true)
	cut := time.Now()
	cutAt.Store(cut.UnixNano())
	for _, s := range subscribers {
		s.cutConnection()
	}

	// Every subscriber recovered, then received the publication that was the
	// newest when the last one recovered: it caught up with the live stream.
	deadline := time.Now().Add(config.catchUpTimeout)
	var allRecovered time.Duration
	var topWhenRecovered uint64
	for {
		if allRecovered == 0 && countRecovered(subscribers) == len(subscribers) {
			allRecovered = time.Since(cut)
			topWhenRecovered = publishing.top.Load()
		}
		if allRecovered != 0 && everyCaughtUp(subscribers, topWhenRecovered) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the storm did not settle within %v: %d of %d recovered", config.catchUpTimeout,
				countRecovered(subscribers), len(subscribers))
		}
		select {
		case err := <-failures:
			return err
		case <-time.After(10 * time.Millisecond):
		}
	}
	settled := time.Since(cut)
	statsAfter, err := commandStats(redis)
	if err != nil {
		return err
	}
	cpuAfter := []float64{servers[1].cpuSeconds(), servers[2].cpuSeconds(), servers[0].cpuSeconds()}
	time.Sleep(config.after)
	close(stopPublishing)
	<-publisherDone
	final := publishing.top.Load()
	for !everyCaughtUp(subscribers, final) {
		if time.Now().After(deadline) {
			return errors.New("the subscribers did not receive the last publication in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	running.Wait()
	report(config, subscribers, publishing, topAtCut, final, allRecovered, settled, cpuBefore, cpuAfter, statsBefore, statsAfter)
	return nil
}

// connectAll subscribes every subscriber on url, dialConcurrency at a time, and
// has each follow its publications (answering the server's pings) as soon as it
// is subscribed.
func connectAll(config settings, url string, subscribers []*subscriber, follow func(*subscriber)) error {
	var group sync.WaitGroup
	var failure atomic.Pointer[error]
	slots := make(chan struct{}, config.dialConcurrency)
	for index := range subscribers {
		subscribers[index] = &subscriber{channel: config.channel}
		slots <- struct{}{}
		group.Go(func() {
			defer func() { <-slots }()
			if err := subscribers[index].start(url); err != nil {
				failure.CompareAndSwap(nil, &err)
				return
			}
			follow(subscribers[index])
		})
	}
	group.Wait()
	if err := failure.Load(); err != nil {
		return fmt.Errorf("subscribing: %w", *err)
	}
	return nil
}

// countRecovered counts the subscribers whose resubscribe has been answered.
func countRecovered(subscribers []*subscriber) int {
	count := 0
	for _, s := range subscribers {
		if s.answered.Load() {
			count++
		}
	}
	return count
}

// everyCaughtUp reports whether every subscriber received offset top.
func everyCaughtUp(subscribers []*subscriber, top uint64) bool {
	for _, s := range subscribers {
		if s.caughtUp.Load() < top {
			return false
		}
	}
	return true
}

// report prints the storm's figures as a Markdown table.
func report(config settings, subscribers []*subscriber, publishing *publisher, topAtCut, final uint64,
	allRecovered, settled time.Duration, cpuBefore, cpuAfter []float64, statsBefore, statsAfter map[string]int64) {
	recoveredTrue, recoveredFalse, duplicates, gaps, attempts := 0, 0, 0, 0, 0
	var recoveries, connections []time.Duration
	for _, s := range subscribers {
		connections = append(connections, s.connectedAfter)
		switch s.recovered {
		case 1:
			recoveredTrue++
		case -1:
			recoveredFalse++
		}
		duplicates += s.duplicates
		gaps += s.gaps
		attempts += s.attempts
		recoveries = append(recoveries, s.recoveredAfter)
	}
	slices.Sort(recoveries)
	slices.Sort(connections)
	percentile := func(sorted []time.Duration, fraction float64) time.Duration {
		return sorted[min(len(sorted)-1, int(fraction*float64(len(sorted))))].Round(time.Millisecond)
	}
	// Commands that scripts call count under their own names too (the history
	// scripts' INFO, TIME, HMGET, HSET, XADD or XRANGE, PEXPIRE, PUBLISH); INFO
	// also counts this program's own two readings.
	var commands []string
	for name, calls := range statsAfter {
		if delta := calls - statsBefore[name]; delta > 0 {
			commands = append(commands, fmt.Sprintf("%s %d", name, delta))
		}
	}
	slices.Sort(commands)
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("\nGo %s, GOMAXPROCS %d (generator), %d subscribers, %d publications/s through the second node's API, load average %s\n",
		runtime.Version(), runtime.GOMAXPROCS(0), config.subscribers, config.rate, strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Printf("| figure | value |\n|---|---|\n")
	fmt.Printf("| publications before the cut (top offset) | %d |\n", topAtCut)
	fmt.Printf("| publications in all (final offset) | %d (publish failures: %d) |\n", final, publishing.failures.Load())
	fmt.Printf("| recovered: true / false | %d / %d |\n", recoveredTrue, recoveredFalse)
	fmt.Printf("| reconnect attempts | %d (%.2f per subscriber) |\n", attempts, float64(attempts)/float64(len(subscribers)))
	fmt.Printf("| time from the cut to each reconnect's handshake: p50 / p99 / max | %v / %v / %v |\n",
		percentile(connections, 0.5), percentile(connections, 0.99), percentile(connections, 1))
	fmt.Printf("| time from the cut to each recovery (\"subscribed\"): p50 / p99 / max | %v / %v / %v |\n",
		percentile(recoveries, 0.5), percentile(recoveries, 0.99), percentile(recoveries, 1))
	fmt.Printf("| time until every subscriber recovered | %v |\n", allRecovered.Round(time.Millisecond))
	fmt.Printf("| time until every subscriber received the newest publication at that moment | %v |\n", settled.Round(time.Millisecond))
	fmt.Printf("| CPU during that time: first node / second node / redis-server | %.2f s / %.2f s / %.2f s |\n",
		cpuAfter[0]-cpuBefore[0], cpuAfter[1]-cpuBefore[1], cpuAfter[2]-cpuBefore[2])
	fmt.Printf("| Redis commands during that time (scripts: evalsha) | %s |\n", strings.Join(commands, ", "))
	fmt.Printf("| duplicates dropped by offset / gaps (lost publications) | %d / %d |\n", duplicates, gaps)
}
