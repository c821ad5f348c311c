package testsupport

import (
	"syscall"
	"testing"
)

// ProcessCPUTime returns the user and system CPU time of this process so far, in
// nanoseconds, for benchmarks that report CPU time per operation (cpu-ns/op): on a
// machine shared with other work it is steadier than wall time, and it counts
// every goroutine's work (helpers, flush workers, the garbage collector).
func ProcessCPUTime(b *testing.B) int64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		b.Fatal(err)
	}
	return usage.Utime.Nano() + usage.Stime.Nano()
}
