package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/testsupport/testnode"
)

// BenchmarkAPIPublish measures the publish API through wsgate's own port (nbio:
// the request guard, the whole body buffered on the event loop, the handler on
// the connection's executor) and through the API's own listener (Go's net/http, a
// goroutine per connection, the body streamed), in one run, over keep-alive
// connections from 16 concurrent clients in the same process: requests per
// second, latency percentiles and the process's CPU time per request. "publish" is
// one publication of a few bytes to a channel without subscribers (the transport's
// cost dominates); "batch" is a batch of 1000 publications of 1 KiB each (about
// 1 MiB of body). docs/operations.md has figures.
func BenchmarkAPIPublish(b *testing.B) {
	node := testnode.Start(b, gateway.Config{APIKey: testAPIKey, APIAddr: "127.0.0.1:0"})
	shared := testnode.Start(b, gateway.Config{APIKey: testAPIKey})
	publications := make([]string, 1000)
	for index := range publications {
		publications[index] = fmt.Sprintf(`{"channel":"bench:%d","data":{"text":"%s"}}`, index, strings.Repeat("t", 990))
	}
	requests := []struct{ name, path, body string }{
		{"publish", "/api/v1/channels/news/publish", `{"data":{"n":1}}`},
		{"batch", "/api/v1/publish", `{"publications":[` + strings.Join(publications, ",") + `]}`},
	}
	for _, request := range requests {
		for _, listener := range []struct{ name, address string }{
			{"nbio", shared.Addr().String()},
			{"net-http", node.APIAddr().String()},
		} {
			b.Run(request.name+"/"+listener.name, func(b *testing.B) {
				benchmarkPosts(b, "http://"+listener.address+request.path, request.body)
			})
		}
	}
}

// benchmarkClients is how many clients post at once.
const benchmarkClients = 16

// benchmarkPosts posts body to address b.N times from benchmarkClients goroutines
// and reports requests per second, the 50th and 99th latency percentiles and the
// CPU time per request.
func benchmarkPosts(b *testing.B, address, body string) {
	transport := &http.Transport{MaxIdleConnsPerHost: benchmarkClients}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	var mutex sync.Mutex
	latencies := make([]time.Duration, 0, b.N)
	b.SetBytes(int64(len(body)))
	// RunParallel starts parallelism times GOMAXPROCS goroutines.
	b.SetParallelism(max(benchmarkClients/runtime.GOMAXPROCS(0), 1))
	b.ResetTimer()
	cpuBefore := processCPU(b)
	started := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		own := make([]time.Duration, 0, 1024)
		for pb.Next() {
			sent := time.Now()
			if err := postOnce(client, address, body); err != nil {
				b.Error(err)
				return
			}
			own = append(own, time.Since(sent))
		}
		mutex.Lock()
		latencies = append(latencies, own...)
		mutex.Unlock()
	})
	elapsed := time.Since(started)
	cpu := processCPU(b) - cpuBefore
	b.StopTimer()
	slices.Sort(latencies)
	if len(latencies) == 0 {
		return
	}
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(latencies)), "cpu-µs/req")
}

// processCPU returns the CPU time (user and system) the process has used: server
// and clients together, the clients' share being the same for both listeners. On
// a machine shared with other work it varies far less than the wall-clock figures.
func processCPU(b *testing.B) time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// postOnce posts body with the API key and requires a 200.
func postOnce(client *http.Client, address, body string) error {
	request, err := http.NewRequest("POST", address, strings.NewReader(body))
	if err != nil {
		return err
	}
	request.Header.Set("Authorization", "Bearer "+testAPIKey)
	response, err := client.Do(request)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, response.Body)
	_ = response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", response.StatusCode)
	}
	return nil
}
