package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// The load generator's worker protocol (benchmarks/loadgen/worker.go): the parent
// writes one JSON command per line to a `loadgen -worker` process's standard input
// and reads one JSON answer per line. This program drives one worker per node, each
// holding that node's connections, so a node's deliveries are one worker's counts.
// Only the fields used here are declared.
type workerCommand struct {
	Operation string        `json:"op"`
	Target    int           `json:"target,omitempty"`
	Phase     int           `json:"phase,omitempty"`
	Sequences int           `json:"sequences,omitempty"`
	Sequence  int           `json:"sequence,omitempty"`
	Timeout   time.Duration `json:"timeout,omitempty"`
	Copies    int           `json:"copies,omitempty"`
	Plan      *workerPlan   `json:"plan,omitempty"`
}

// workerPlan is loadgen's subscriptionPlan: connection number i subscribes to
// channels (i + k*Channels/PerConnection) mod Channels, named Prefix and the number.
type workerPlan struct {
	Prefix        string `json:"prefix"`
	Channels      int    `json:"channels"`
	PerConnection int    `json:"per_connection"`
	First         int    `json:"first"`
}

type workerAnswer struct {
	Grow struct {
		Connected  int     `json:"connected"`
		Failed     int     `json:"failed"`
		Seconds    float64 `json:"seconds"`
		FirstError string  `json:"first_error"`
	} `json:"grow"`
	Subscribe struct {
		Confirmed int64   `json:"confirmed"`
		Refused   int64   `json:"refused"`
		Seconds   float64 `json:"seconds"`
	} `json:"subscribe"`
	Count    int64 `json:"count"`
	Snapshot struct {
		Open      int64   `json:"open"`
		Closed    int64   `json:"closed"`
		Received  []int64 `json:"received"`
		Slowest   []int64 `json:"slowest_ns"`
		WorkerCPU float64 `json:"worker_cpu_s"`
	} `json:"snapshot"`
}

// worker is one `loadgen -worker` process.
type worker struct {
	process *exec.Cmd
	input   io.WriteCloser
	encoder *json.Encoder
	decoder *json.Decoder
}

// startWorker starts loadgen as a worker dialing url from sources source addresses
// (127.0.0.2, ...), under taskset -c cpus when cpus is set.
func startWorker(loadgen, url string, sources, concurrency int, cpus string) (*worker, error) {
	arguments := []string{loadgen, "-worker", "-url", url, "-sources", strconv.Itoa(sources),
		"-concurrency", strconv.Itoa(concurrency), "-dial-timeout", "30s"}
	if cpus != "" {
		arguments = append([]string{"taskset", "-c", cpus}, arguments...)
	}
	process := exec.Command(arguments[0], arguments[1:]...)
	dieWithUs(process)
	process.Stderr = os.Stderr
	input, err := process.StdinPipe()
	if err != nil {
		return nil, err
	}
	output, err := process.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := process.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", loadgen, err)
	}
	return &worker{process: process, input: input, encoder: json.NewEncoder(input),
		decoder: json.NewDecoder(bufio.NewReader(output))}, nil
}

// call sends a command and waits for its answer.
func (w *worker) call(request workerCommand) (workerAnswer, error) {
	var reply workerAnswer
	if err := w.encoder.Encode(request); err != nil {
		return reply, fmt.Errorf("worker %d: %w", w.process.Process.Pid, err)
	}
	if err := w.decoder.Decode(&reply); err != nil {
		return reply, fmt.Errorf("worker %d: %w", w.process.Process.Pid, err)
	}
	return reply, nil
}

// close asks the worker to close its connections and waits for it to exit.
func (w *worker) close() {
	_, _ = w.call(workerCommand{Operation: "close"})
	_ = w.input.Close()
	_ = w.process.Wait()
}

// workers is one worker per node, index for index.
type workers []*worker

// all sends each worker its command at the same time and returns the answers in
// worker order, or the first error.
func (ws workers) all(request func(index int) workerCommand) ([]workerAnswer, error) {
	answers := make([]workerAnswer, len(ws))
	errs := make([]error, len(ws))
	var group sync.WaitGroup
	for index, w := range ws {
		group.Go(func() { answers[index], errs[index] = w.call(request(index)) })
	}
	group.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return answers, nil
}

// same sends every worker the same command.
func (ws workers) same(request workerCommand) ([]workerAnswer, error) {
	return ws.all(func(int) workerCommand { return request })
}

// close closes every worker.
func (ws workers) close() {
	var group sync.WaitGroup
	for _, w := range ws {
		group.Go(w.close)
	}
	group.Wait()
}
