package testsupport

import "runtime"

// LiveHeap returns the bytes of live heap objects after two full collections (the
// second frees what finalizers run by the first released), for tests and
// benchmarks that measure memory as the difference of two readings. Other
// goroutines allocating meanwhile show in the figure. A signed count, so that a
// difference may be negative.
func LiveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var statistics runtime.MemStats
	runtime.ReadMemStats(&statistics)
	return int64(statistics.HeapAlloc)
}
