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

	"github.com/wsgate/wsgate/benchmarks/internal/workerprotocol"
)

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
func (w *worker) call(request workerprotocol.Command) (workerprotocol.Answer, error) {
	var reply workerprotocol.Answer
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
	_, _ = w.call(workerprotocol.Command{Operation: "close"})
	_ = w.input.Close()
	_ = w.process.Wait()
}

// workers is one worker per node, index for index.
type workers []*worker

// all sends each worker its command at the same time and returns the answers in
// worker order, or the first error.
func (ws workers) all(request func(index int) workerprotocol.Command) ([]workerprotocol.Answer, error) {
	answers := make([]workerprotocol.Answer, len(ws))
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
func (ws workers) same(request workerprotocol.Command) ([]workerprotocol.Answer, error) {
	return ws.all(func(int) workerprotocol.Command { return request })
}

// close closes every worker.
func (ws workers) close() {
	var group sync.WaitGroup
	for _, w := range ws {
		group.Go(w.close)
	}
	group.Wait()
}
