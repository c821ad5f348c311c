package main

import (
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/testsupport/testnode"
	"github.com/wsgate/wsgate/session"
	"go.uber.org/goleak"
)

// workerEnvironment, when set, makes the test binary act as the load generator:
// startWorkers re-executes the running program, which in a test is this binary, and
// the variable is inherited by the workers.
const workerEnvironment = "WSGATE_LOADGEN_TEST_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnvironment) != "" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// TestWorkerProcessesMergeIntoOneReport runs the generator's multi-process mode
// against a real node: two worker processes, each pinned to CPU 0, hold the
// connections, three broadcasts reach every one of them, and the parent's merged
// snapshot counts every delivery once, per broadcast and in the latency
// distribution, with each worker's own CPU time; then the echo's round trips and
// latencies add up too.
func TestWorkerProcessesMergeIntoOneReport(t *testing.T) {
	t.Setenv(workerEnvironment, "1")
	node := testnode.Start(t, gateway.Config{Session: session.Config{MaxConnectionsPerUser: session.Unlimited}})
	address := node.Addr().String()
	options, err := parseOptions([]string{"-url", "ws://" + address + "/api/v1/ws", "-n", "40", "-procs", "2", "-cpus", "0", "-sources", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := startWorkers(options.processes, options.workerCPUs, workerArguments(options))
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Close()
	if grown := fleet.Grow(40); grown.Connected != 40 || grown.Failed != 0 {
		t.Fatalf("grow: %+v, want 40 connected", grown)
	}
	// Each worker has answered, so taskset has pinned itself and executed the
	// worker in its place (same pid).
	for _, w := range fleet.workers {
		if allowed := allowedCPUs(t, w.process.Process.Pid); allowed != "0" {
			t.Fatalf("worker %d may run on CPUs %q, want 0", w.process.Process.Pid, allowed)
		}
	}
	fleet.Begin(phaseRate, 3, 1)
	trigger := newAPITrigger("http://" + address)
	defer trigger.close()
	for sequence := range 3 {
		if err := trigger.send(broadcastContent(phaseRate, sequence, time.Now().UnixNano(), defaultPayloadBytes)); err != nil {
			t.Fatal(err)
		}
	}
	if delivered := fleet.AwaitAll(10 * time.Second); delivered != 120 {
		t.Fatalf("%d deliveries awaited, want 120", delivered)
	}
	snapshot := fleet.Snapshot()
	if snapshot.Open != 40 || snapshot.Delivered() != 120 || !slices.Equal(snapshot.Received, []int64{40, 40, 40}) ||
		snapshot.Latency.Count != 120 || snapshot.Stale != 0 {
		t.Fatalf("merged snapshot: open %d, received %v, %d latencies, stale %d; want 40, 40 per broadcast, 120, 0",
			snapshot.Open, snapshot.Received, snapshot.Latency.Count, snapshot.Stale)
	}
	if len(snapshot.ProcessCPU) != 2 || snapshot.ProcessCPU[0] <= 0 || snapshot.ProcessCPU[1] <= 0 ||
		snapshot.WorkerCPU != snapshot.ProcessCPU[0]+snapshot.ProcessCPU[1] {
		t.Fatalf("worker CPU %v, total %v: want two positive figures and their sum", snapshot.ProcessCPU, snapshot.WorkerCPU)
	}

	fleet.Echo(10, 200*time.Millisecond)
	echoed := fleet.Snapshot()
	if echoed.RoundTrips == 0 || echoed.EchoLatency.Count < echoed.RoundTrips {
		t.Fatalf("echo: %d round trips, %d latencies; want some, and a latency for each", echoed.RoundTrips, echoed.EchoLatency.Count)
	}
}

func TestSpentBetweenMarksGivesEachWorkersShare(t *testing.T) {
	start := cpuMark{at: time.Unix(100, 0), generator: 1, workers: []float64{0.5, 0.25}}
	end := cpuMark{at: time.Unix(110, 0), generator: 10, workers: []float64{5.5, 3.25}}
	spent := spentBetween(start, end)
	if spent.Generator != 9 || spent.Wall != 10 || !slices.Equal(spent.GeneratorProcesses, []float64{5, 3}) ||
		spent.BusiestGenerator() != 0.5 || spent.Server != nil {
		t.Fatalf("spent %+v (busiest %.2f), want 9 s in all, 5 and 3 s per worker over 10 s: busiest 0.5", spent, spent.BusiestGenerator())
	}
	// A worker that died between the marks leaves the per-worker figures out.
	end.workers = end.workers[:1]
	if spent := spentBetween(start, end); spent.GeneratorProcesses != nil || spent.BusiestGenerator() != 0.9 {
		t.Fatalf("spent %+v, want no per-worker figures and the whole generator's share", spent)
	}
}

func TestParseCPUs(t *testing.T) {
	if cpus, err := parseCPUs("0, 1,3"); err != nil || !slices.Equal(cpus, []int{0, 1, 3}) {
		t.Fatalf("parseCPUs: %v, %v", cpus, err)
	}
	for _, bad := range []string{"a", "0,", "-1", "0-1"} {
		if _, err := parseCPUs(bad); err == nil {
			t.Fatalf("parseCPUs(%q) accepted", bad)
		}
	}
}

// allowedCPUs returns the Cpus_allowed_list of process pid.
func allowedCPUs(t *testing.T, pid int) string {
	t.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if value, found := strings.CutPrefix(line, "Cpus_allowed_list:"); found {
			return strings.TrimSpace(value)
		}
	}
	t.Fatal("no Cpus_allowed_list in /proc/PID/status")
	return ""
}
