package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/wsgate/wsgate/benchmarks/internal/workerprotocol"
)

// The worker protocol's types (benchmarks/internal/workerprotocol) under the names
// this program uses.
type (
	command          = workerprotocol.Command
	answer           = workerprotocol.Answer
	subscriptionPlan = workerprotocol.Plan
	GrowReport       = workerprotocol.GrowReport
	SubscribeReport  = workerprotocol.SubscribeReport
	Snapshot         = workerprotocol.Snapshot
)

// serveWorker runs a localFleet for the parent: it executes commands from input and
// answers on output until "close" or the end of input.
func serveWorker(fleet *localFleet, input io.Reader, output io.Writer) error {
	decoder := json.NewDecoder(input)
	encoder := json.NewEncoder(output)
	defer fleet.Close()
	for {
		var request command
		if err := decoder.Decode(&request); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		var reply answer
		switch request.Operation {
		case "grow":
			reply.Grow = fleet.Grow(request.Target)
		case "begin":
			fleet.Begin(request.Phase, request.Sequences, request.Copies)
		case "await":
			reply.Count = fleet.Await(request.Sequence, request.Timeout)
		case "await-all":
			reply.Count = fleet.AwaitAll(request.Timeout)
		case "subscribe":
			if request.Plan == nil {
				return errors.New("worker: subscribe without a plan")
			}
			reply.Subscribe = fleet.Subscribe(*request.Plan, request.Timeout)
		case "echo":
			fleet.Echo(request.Connections, request.Duration)
		case "snapshot":
			reply.Snapshot = fleet.Snapshot()
			reply.Snapshot.WorkerCPU = processCPU()
			reply.Snapshot.ProcessCPU = []float64{reply.Snapshot.WorkerCPU}
		case "close":
			return encoder.Encode(reply)
		default:
			return fmt.Errorf("worker: unknown operation %q", request.Operation)
		}
		if err := encoder.Encode(reply); err != nil {
			return err
		}
	}
}

// worker is the parent's handle on one worker process.
type worker struct {
	process *exec.Cmd
	input   io.WriteCloser
	encoder *json.Encoder
	decoder *json.Decoder
}

// call sends a command and waits for its answer; a dead worker answers nothing,
// which the scenarios see as zero deliveries.
func (w *worker) call(request command) answer {
	var reply answer
	if err := w.encoder.Encode(request); err != nil {
		return reply
	}
	if err := w.decoder.Decode(&reply); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: worker %d: %v\n", w.process.Process.Pid, err)
	}
	return reply
}

// processFleet is a Fleet spread over worker processes, each a copy of this program
// started with -worker and holding a share of the connections, for counts that one
// process's open-file limit cannot hold. Every call goes to all workers at once.
type processFleet struct {
	workers []*worker
}

// startWorkers re-executes this program count times with arguments (the parent's
// connection settings) plus -worker; with cpus, worker i runs under taskset on
// cpus[i mod len(cpus)], so its Go runtime starts with that one CPU (GOMAXPROCS 1).
func startWorkers(count int, cpus []int, arguments []string) (*processFleet, error) {
	executable, err := os.Executable()
	if err != nil {
		return nil, err
	}
	fleet := &processFleet{}
	for index := range count {
		command := append([]string{executable, "-worker"}, arguments...)
		if len(cpus) > 0 {
			command = append([]string{"taskset", "-c", strconv.Itoa(cpus[index%len(cpus)])}, command...)
		}
		process := exec.Command(command[0], command[1:]...)
		process.Stderr = os.Stderr
		input, err := process.StdinPipe()
		if err != nil {
			fleet.Close()
			return nil, err
		}
		output, err := process.StdoutPipe()
		if err != nil {
			fleet.Close()
			return nil, err
		}
		if err := process.Start(); err != nil {
			fleet.Close()
			return nil, err
		}
		fleet.workers = append(fleet.workers, &worker{
			process: process,
			input:   input,
			encoder: json.NewEncoder(input),
			decoder: json.NewDecoder(bufio.NewReader(output)),
		})
	}
	return fleet, nil
}

// all sends each worker its own command at the same time and returns the answers in
// worker order.
func (p *processFleet) all(request func(index int) command) []answer {
	answers := make([]answer, len(p.workers))
	var group sync.WaitGroup
	for index, w := range p.workers {
		group.Go(func() { answers[index] = w.call(request(index)) })
	}
	group.Wait()
	return answers
}

// share returns worker index's part of total.
func (p *processFleet) share(total, index int) int {
	part := total / len(p.workers)
	if index < total%len(p.workers) {
		part++
	}
	return part
}

// Grow splits target evenly over the workers.
func (p *processFleet) Grow(target int) GrowReport {
	var report GrowReport
	for _, reply := range p.all(func(index int) command {
		return command{Operation: "grow", Target: p.share(target, index)}
	}) {
		report = report.Merge(reply.Grow)
	}
	return report
}

// Begin starts the phase on every worker.
func (p *processFleet) Begin(phaseNumber, sequences, copies int) {
	p.all(func(int) command {
		return command{Operation: "begin", Phase: phaseNumber, Sequences: sequences, Copies: copies}
	})
}

// Subscribe numbers the connections across the workers in worker order, as one
// fleet would, so the channels of a connection do not depend on -procs.
func (p *processFleet) Subscribe(plan subscriptionPlan, timeout time.Duration) SubscribeReport {
	firsts := make([]int, len(p.workers))
	next := plan.First
	for index, reply := range p.all(func(int) command { return command{Operation: "snapshot"} }) {
		firsts[index] = next
		next += int(reply.Snapshot.Open)
	}
	var report SubscribeReport
	for _, reply := range p.all(func(index int) command {
		share := plan
		share.First = firsts[index]
		return command{Operation: "subscribe", Plan: &share, Timeout: timeout}
	}) {
		report = report.Merge(reply.Subscribe)
	}
	return report
}

// Await waits on every worker and adds up the deliveries.
func (p *processFleet) Await(sequence int, timeout time.Duration) int64 {
	return p.sum(p.all(func(int) command { return command{Operation: "await", Sequence: sequence, Timeout: timeout} }))
}

// AwaitAll waits on every worker and adds up the deliveries.
func (p *processFleet) AwaitAll(timeout time.Duration) int64 {
	return p.sum(p.all(func(int) command { return command{Operation: "await-all", Timeout: timeout} }))
}

func (p *processFleet) sum(answers []answer) int64 {
	total := int64(0)
	for _, reply := range answers {
		total += reply.Count
	}
	return total
}

// Echo splits connections evenly over the workers.
func (p *processFleet) Echo(connections int, duration time.Duration) {
	p.all(func(index int) command {
		return command{Operation: "echo", Connections: p.share(connections, index), Duration: duration}
	})
}

// Snapshot merges the workers' snapshots.
func (p *processFleet) Snapshot() Snapshot {
	var merged Snapshot
	for _, reply := range p.all(func(int) command { return command{Operation: "snapshot"} }) {
		merged = merged.Merge(reply.Snapshot)
	}
	return merged
}

// Close asks every worker to close and waits for it to exit.
func (p *processFleet) Close() {
	p.all(func(int) command { return command{Operation: "close"} })
	for _, w := range p.workers {
		_ = w.input.Close()
		_ = w.process.Wait()
	}
}

// workerArguments returns the flags that give a worker the parent's connection
// settings.
func workerArguments(options options) []string {
	return []string{
		"-url", options.url,
		"-sources", strconv.Itoa(options.sources),
		"-concurrency", strconv.Itoa(max(options.concurrency/options.processes, 1)),
		"-dial-timeout", options.dialTimeout.String(),
		"-conns-per-user", strconv.Itoa(options.connsPerUser),
		"-compression=" + strconv.FormatBool(options.compression),
	}
}
