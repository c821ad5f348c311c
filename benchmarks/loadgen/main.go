// Command loadgen is wsgate's load generator: it opens many WebSocket connections to
// a server that speaks the seed's protocol (wsgate, benchmarks/baseline or
// benchmarks/bare) and measures memory per idle connection, connect rate, broadcast
// fan-out latency, sustained delivery and echo round trips, and against wsgate its
// channels: fan-out through one channel, publications across many channels at a
// rate, the memory of a subscription, and presence (join storms, memory per present
// user, presence queries: presence.go). `loadgen -h` lists the
// flags; benchmarks/README.md explains the method.
//
// It is built on nbio's client: one nbio engine per process whose pollers run the
// message handlers, so goroutines stay constant and a client connection costs about
// 1 KB. Dials are bounded by -concurrency, spread over local source addresses
// (127.0.0.2, 127.0.0.3, ...) so the ephemeral-port range is never the limit, and
// over worker processes (-procs; the program re-executes itself with -worker and
// drives the workers with JSON lines) when one process's open-file limit is not
// enough. It is a separate program from wsgate: the rule that only wsgate's engine
// package imports nbio is about the server, not about its measuring tools.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lesismal/nbio/logging"
	"github.com/wsgate/wsgate/benchmarks/internal/result"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code.
func run(arguments []string, output, diagnostics io.Writer) int {
	logging.Output = os.Stderr
	logging.SetLevel(logging.LevelError)
	options, err := parseOptions(arguments, diagnostics)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(diagnostics, "loadgen:", err)
		return 2
	}
	if options.worker {
		return serveAsWorker(options, diagnostics)
	}
	b, err := newBench(options, arguments)
	if err != nil {
		fmt.Fprintln(diagnostics, "loadgen:", err)
		return 1
	}
	defer b.close()
	if err := b.runScenarios(); err != nil {
		fmt.Fprintln(diagnostics, "loadgen:", err)
		return 1
	}
	printRun(output, b.run)
	if options.jsonPath != "" {
		if err := writeJSON(options.jsonPath, b.run); err != nil {
			fmt.Fprintln(diagnostics, "loadgen:", err)
			return 1
		}
	}
	return 0
}

// serveAsWorker holds connections for a parent load generator.
func serveAsWorker(options options, diagnostics io.Writer) int {
	fleet, err := newLocalFleet(localConfig{
		target:      options.target,
		sources:     options.sourceAddresses(),
		concurrency: options.concurrency,
		dialTimeout: options.dialTimeout,
		users:       newUserIDs(options.target, options.connsPerUser),
		compression: options.compression,
	})
	if err != nil {
		fmt.Fprintln(diagnostics, "loadgen worker:", err)
		return 1
	}
	if err := serveWorker(fleet, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(diagnostics, "loadgen worker:", err)
		return 1
	}
	return 0
}

// writeJSON writes run, indented, to path.
func writeJSON(path string, run *result.Run) error {
	data, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// bench is one invocation: the fleet, the probe of the server, the trigger and the
// channel publisher (each made when a scenario first needs it) and the result being
// filled in.
type bench struct {
	options   options
	fleet     Fleet
	probe     *probe
	trigger   trigger
	publisher *publisher
	run       *result.Run
}

func newBench(options options, arguments []string) (*bench, error) {
	b := &bench{options: options, probe: newProbe(options.serverPID, options.base, options.debugBase, options.gcPath)}
	if options.processes > 1 {
		fleet, err := startWorkers(options.processes, options.workerCPUs, workerArguments(options))
		if err != nil {
			return nil, err
		}
		b.fleet = fleet
	} else {
		fleet, err := newLocalFleet(localConfig{
			target:      options.target,
			sources:     options.sourceAddresses(),
			concurrency: options.concurrency,
			dialTimeout: options.dialTimeout,
			users:       newUserIDs(options.target, options.connsPerUser),
			compression: options.compression,
		})
		if err != nil {
			return nil, err
		}
		b.fleet = fleet
	}
	gogc, gomemlimit := b.probe.environment()
	b.run = &result.Run{
		Command: append([]string{"loadgen"}, arguments...),
		Date:    time.Now().UTC().Truncate(time.Second),
		Machine: result.ThisMachine(),
		Server: result.Server{
			Name: options.serverName, URL: options.url, PID: options.serverPID,
			GOGC: gogc, GOMEMLIMIT: gomemlimit,
			Metrics: b.probe.metrics, GCEndpoint: b.probe.gcEndpoint,
		},
		Generator: result.Generator{
			Processes: options.processes, WorkerCPUs: options.workerCPUs, Sources: len(options.sourceAddresses()),
			Concurrency: options.concurrency, Trigger: options.trigger,
			GOGC: os.Getenv("GOGC"), GOMEMLIMIT: os.Getenv("GOMEMLIMIT"),
		},
		Connections: options.connections,
	}
	return b, nil
}

// runScenarios runs the scenarios in the order given.
func (b *bench) runScenarios() error {
	for _, name := range b.options.scenarios {
		fmt.Fprintf(os.Stderr, "loadgen: %s: %s\n", b.options.serverName, name)
		var err error
		switch name {
		case "idle":
			b.run.Idle = b.idle()
		case "connect":
			b.run.Connect = b.connect()
		case "fanout":
			b.run.Fanout, err = b.fanout()
		case "rate":
			b.run.Rate, err = b.sustained()
		case "echo":
			b.run.Echo, err = b.echo()
		case "channel-fanout":
			b.run.ChannelFanout, err = b.channelFanout()
		case "channels-rate":
			b.run.ChannelRate, err = b.channelRate()
		case "subscriptions":
			b.run.Subscription, err = b.subscriptionMemory()
		case "churn":
			b.run.Churn, err = b.churn()
		case "storm":
			b.run.Storm, err = b.storm()
		case "presence":
			b.run.Presence, err = b.presenceScenario()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func (b *bench) close() {
	if b.trigger != nil {
		b.trigger.close()
	}
	if b.publisher != nil {
		b.publisher.close()
	}
	b.fleet.Close()
}

// cpuMark is the processor time of the generator (in all, and per worker process)
// and the server at one moment.
type cpuMark struct {
	at        time.Time
	generator float64
	workers   []float64
	server    float64
	serverOK  bool
	writes    int64
	writesOK  bool
}

func (b *bench) mark() cpuMark {
	server, ok := b.probe.cpuSeconds()
	writes, writesOK := b.probe.writeCalls()
	fleet := b.fleet.Snapshot()
	return cpuMark{at: time.Now(), generator: processCPU() + fleet.WorkerCPU, workers: fleet.ProcessCPU,
		server: server, serverOK: ok, writes: writes, writesOK: writesOK}
}

// since returns the processor time spent since start.
func (b *bench) since(start cpuMark) result.CPU {
	return spentBetween(start, b.mark())
}

// spentBetween returns the processor and wall time spent from start to end; a worker
// missing from either mark (it died) counts as none.
func spentBetween(start, end cpuMark) result.CPU {
	spent := result.CPU{Generator: end.generator - start.generator, Wall: end.at.Sub(start.at).Seconds()}
	if len(start.workers) == len(end.workers) {
		for index := range end.workers {
			spent.GeneratorProcesses = append(spent.GeneratorProcesses, end.workers[index]-start.workers[index])
		}
	}
	if start.serverOK && end.serverOK {
		server := end.server - start.server
		spent.Server = &server
	}
	if start.writesOK && end.writesOK {
		writes := end.writes - start.writes
		spent.ServerWrites = &writes
	}
	return spent
}
