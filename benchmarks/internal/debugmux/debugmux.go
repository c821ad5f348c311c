// Package debugmux gives the benchmark servers (baseline and bare) the same
// introspection the load generator reads from wsgate: /metrics with the Go heap and
// goroutine count in the Prometheus text format, and net/http/pprof under
// /debug/pprof/ (whose heap?gc=1 forces a collection before a memory reading).
package debugmux

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"runtime"
)

// Register adds /metrics and /debug/pprof/ to mux.
func Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /metrics", serveMetrics)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// serveMetrics writes the two series the load generator reads, named as
// VictoriaMetrics/metrics and the Prometheus client name them.
func serveMetrics(writer http.ResponseWriter, _ *http.Request) {
	var memory runtime.MemStats
	runtime.ReadMemStats(&memory)
	writer.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(writer, "go_memstats_heap_alloc_bytes %d\n", memory.HeapAlloc)
	fmt.Fprintf(writer, "go_memstats_heap_inuse_bytes %d\n", memory.HeapInuse)
	fmt.Fprintf(writer, "go_memstats_sys_bytes %d\n", memory.Sys)
	fmt.Fprintf(writer, "go_goroutines %d\n", runtime.NumGoroutine())
}
