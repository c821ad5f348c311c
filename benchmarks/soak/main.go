// Command soak runs one wsgate node under churn for a long time and fails when its
// memory, goroutines, open files, timers, connections or subscriptions trend up
// after warm-up: the leak test of benchmarks/README.md ("Soak"), run by make soak.
//
// It starts the built binary on a free loopback port (with a configuration file
// that opens the "soak" namespace to client publications) and the load generator's
// churn scenario (benchmarks/loadgen, built by go build, in its own process; with
// taskset the node runs on core 1 and the generator on core 0). Every -interval it
// forces a GC on the node and samples it from /proc, /metrics and /api/v1/ws/stats;
// samples go to samples.csv as they come. After the run it waits for the node to
// drain (every connection, subscription and timer gone once the generator has
// exited), applies the trend test (trend.go) to each series, and writes soak.svg,
// summary.md and the generator's churn.json to -out.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// soakConfig is the command line.
type soakConfig struct {
	binary      string
	duration    time.Duration
	interval    time.Duration
	warmup      time.Duration
	drain       time.Duration
	out         string
	connections int
	churnRate   float64
	pin         bool
}

func main() {
	var config soakConfig
	flag.StringVar(&config.binary, "binary", "bin/wsgate", "the wsgate binary to soak (make soak builds it)")
	flag.DurationVar(&config.duration, "duration", 30*time.Minute, "how long the churn runs")
	flag.DurationVar(&config.interval, "interval", 10*time.Second, "time between samples")
	flag.DurationVar(&config.warmup, "warmup", 0, "samples before this are left out of the trend test (0: a third of -duration)")
	flag.DurationVar(&config.drain, "drain", 90*time.Second, "longest wait after the generator exits for the node to hold no connection, subscription or timer")
	flag.StringVar(&config.out, "out", "benchmarks/results/soak", "directory for samples.csv, soak.svg, summary.md and churn.json")
	flag.IntVar(&config.connections, "n", 1000, "steady connections, open throughout, subscribed to two channels each")
	flag.Float64Var(&config.churnRate, "churn-rate", 200, "short-lived connections opened (and ended) per second")
	flag.BoolVar(&config.pin, "pin", true, "pin the node to core 1 and the generator to core 0 with taskset, when there is one")
	flag.Parse()
	if config.warmup == 0 {
		config.warmup = config.duration / 3
	}
	if err := run(config); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// namespaceConfig opens the churn's channels to client publications.
const namespaceConfig = `namespaces:
  - name: soak
    subscribe: anyone
    publish: subscribers
`

// nodeArguments are wsgate's flags for the soak beyond -addr and -config: user ids
// from ?user_id= (the churn's users), no per-user cap, and a 10 s heartbeat with a
// 20 s timeout, so vanished and stalled clients are found within 30 s (before the
// generator closes them, 40 s after they vanished) while a steady client on a busy
// machine has time to answer.
var nodeArguments = []string{"-insecure-user-id", "-max-conns-per-user", "0", "-ping-interval", "10s", "-ping-timeout", "20s",
	"-log-level", "error"}

// run is the whole soak; an error means it failed or could not run.
func run(config soakConfig) error {
	if err := os.MkdirAll(config.out, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "wsgate-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	generatorBinary := filepath.Join(work, "loadgen")
	if output, err := exec.Command("go", "build", "-o", generatorBinary, "./benchmarks/loadgen").CombinedOutput(); err != nil {
		return fmt.Errorf("building the load generator: %v\n%s", err, output)
	}
	configFile := filepath.Join(work, "soak.yaml")
	if err := os.WriteFile(configFile, []byte(namespaceConfig), 0o644); err != nil {
		return err
	}
	address, err := freeAddress()
	if err != nil {
		return err
	}
	nodePin, generatorPin := pinning(config.pin)
	node, err := start(work, "node", append(nodePin, append([]string{config.binary, "-addr", address, "-config", configFile}, nodeArguments...)...))
	if err != nil {
		return err
	}
	defer node.stop()
	base := "http://" + address
	probe := newSampler(node.command.Process.Pid, base)
	if err := awaitReady(probe); err != nil {
		return err
	}
	generator, err := start(work, "loadgen", append(generatorPin, generatorBinary,
		"-url", "ws://"+address+"/api/v1/ws", "-n", strconv.Itoa(config.connections), "-scenario", "churn",
		"-churn-rate", strconv.FormatFloat(config.churnRate, 'f', -1, 64), "-churn-duration", config.duration.String(),
		"-server-pid", strconv.Itoa(node.command.Process.Pid), "-json", filepath.Join(config.out, "churn.json")))
	if err != nil {
		return err
	}
	defer generator.stop()
	fmt.Printf("soak: node pid %d on %s, generator pid %d; %s of churn at %.0f connects/s over %d steady connections, a sample every %s\n",
		node.command.Process.Pid, address, generator.command.Process.Pid, config.duration, config.churnRate, config.connections, config.interval)
	samples, err := sampleRun(config, probe, node, filepath.Join(config.out, "samples.csv"))
	if err != nil {
		return err
	}
	if err := generator.wait(config.drain + 2*time.Minute); err != nil {
		return fmt.Errorf("load generator: %w (its log: %s)", err, generator.logPath)
	}
	drained, drainErr := awaitDrain(probe, config.drain, samples[len(samples)-1].Seconds)
	verdicts := judgeAll(samples, config.warmup.Seconds())
	report := soakReport{config: config, samples: samples, drained: drained, drainErr: drainErr, verdicts: verdicts}
	report.totals, _ = probe.get("/api/v1/ws/stats?limit=1")
	if err := report.write(config.out); err != nil {
		return err
	}
	fmt.Print(report.summary())
	if failed := report.failures(); len(failed) > 0 {
		return fmt.Errorf("failed: %s", strings.Join(failed, "; "))
	}
	return nil
}

// sampleRun samples the node every interval for the run's duration, appending each
// sample to csvPath as it comes; it stops early when the node exits.
func sampleRun(config soakConfig, probe *sampler, node *process, csvPath string) ([]sample, error) {
	csv, err := os.Create(csvPath)
	if err != nil {
		return nil, err
	}
	defer csv.Close()
	if _, err := csv.WriteString(strings.Join(columns, ",") + "\n"); err != nil {
		return nil, err
	}
	started := time.Now()
	var samples []sample
	for tick := time.Duration(0); tick <= config.duration; tick += config.interval {
		time.Sleep(time.Until(started.Add(tick)))
		if node.exited() {
			return nil, fmt.Errorf("the node exited after %s (its log: %s)", time.Since(started).Round(time.Second), node.logPath)
		}
		read, err := probe.read(time.Since(started).Seconds())
		if err != nil {
			return nil, fmt.Errorf("sample at %s: %w", tick, err)
		}
		samples = append(samples, read)
		if _, err := csv.WriteString(read.csvLine()); err != nil {
			return nil, err
		}
		if len(samples)%30 == 1 {
			fmt.Printf("soak: %5.0f s: RSS %.1f MiB, heap %.1f MiB, %.0f goroutines, %.0f files, %.0f timers, %.0f connections (%.0f accepted), %.0f subscriptions\n",
				read.Seconds, read.RSS/(1<<20), read.Heap/(1<<20), read.Goroutines, read.OpenFiles, read.Timers, read.Connections, read.Accepted, read.Subscriptions)
		}
	}
	return samples, nil
}

// awaitDrain samples the node until it holds no connection, subscription, channel
// or timer, or timeout; it returns the last sample, and an error when the node did
// not drain.
func awaitDrain(probe *sampler, timeout time.Duration, lastSeconds float64) (sample, error) {
	deadline := time.Now().Add(timeout)
	started := time.Now()
	for {
		read, err := probe.read(lastSeconds + time.Since(started).Seconds())
		if err != nil {
			return read, err
		}
		if read.Connections == 0 && read.Subscriptions == 0 && read.Channels == 0 && read.Timers == 0 {
			return read, nil
		}
		if time.Now().After(deadline) {
			return read, fmt.Errorf("%s after the generator exited the node still holds %.0f connections, %.0f subscriptions, %.0f channels, %.0f timers",
				timeout, read.Connections, read.Subscriptions, read.Channels, read.Timers)
		}
		time.Sleep(time.Second)
	}
}

// awaitReady polls the node's stats until it answers, for at most 30 s.
func awaitReady(probe *sampler) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := probe.get("/api/v1/ws/stats")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the node did not answer within 30 s: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// process is a child process with its output in a log file.
type process struct {
	command *exec.Cmd
	logPath string
	done    chan error
}

// start runs arguments with output to work/name.log.
func start(work, name string, arguments []string) (*process, error) {
	logPath := filepath.Join(work, name+".log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	command := exec.Command(arguments[0], arguments[1:]...)
	command.Stdout, command.Stderr = log, log
	if err := command.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	started := &process{command: command, logPath: logPath, done: make(chan error, 1)}
	go func() {
		started.done <- command.Wait()
		log.Close()
	}()
	return started, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return true
	default:
		return false
	}
}

// wait waits up to timeout for the process to exit and returns its error.
func (p *process) wait(timeout time.Duration) error {
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(timeout):
		return errors.New("did not exit in time")
	}
}

// stop sends SIGTERM, then SIGKILL after 15 s, and waits.
func (p *process) stop() {
	if p.exited() {
		return
	}
	_ = p.command.Process.Signal(syscall.SIGTERM)
	if p.wait(15*time.Second) != nil && !p.exited() {
		_ = p.command.Process.Kill()
		<-p.done
	}
}

// freeAddress returns a free loopback address.
func freeAddress() (string, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer listener.Close()
	return listener.Addr().String(), nil
}

// pinning returns the taskset prefixes of the node and the generator: none when
// pinning is off, taskset is missing or there are fewer than two cores.
func pinning(enabled bool) (node, generator []string) {
	taskset, err := exec.LookPath("taskset")
	if !enabled || err != nil || runtime.NumCPU() < 2 {
		return nil, nil
	}
	return []string{taskset, "-c", "1"}, []string{taskset, "-c", "0"}
}
