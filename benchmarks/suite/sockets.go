package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// tcpSocketsAllocated returns the TCP sockets the kernel holds for the whole machine
// (the "alloc" count of /proc/net/sockstat), or -1 when it cannot be read.
func tcpSocketsAllocated() int {
	data, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(data)) {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "TCP:" {
			continue
		}
		for i := 1; i+1 < len(fields); i += 2 {
			if fields[i] == "alloc" {
				count, err := strconv.Atoi(fields[i+1])
				if err != nil {
					return -1
				}
				return count
			}
		}
	}
	return -1
}

// awaitSocketsFreed waits, at most timeout, until the kernel holds no more than
// limit TCP sockets: the sockets of the previous run are still being torn down
// after its processes exit, and the kernel memory of the next run's idle readings
// is machine-wide.
func awaitSocketsFreed(limit int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if allocated := tcpSocketsAllocated(); allocated < 0 || allocated <= limit {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
