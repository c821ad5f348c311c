package main

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// kernelMemory is the machine-wide kernel memory that grows with TCP sockets:
// the TCP slab caches (objects times object size, /proc/slabinfo, root only), the
// pages of TCP buffers (/proc/net/sockstat "mem") and the whole slab
// (/proc/meminfo Slab), in bytes. Other processes' sockets count too.
type kernelMemory struct {
	TCPSlab    int64 `json:"tcp_slab_bytes"`
	TCPBuffers int64 `json:"tcp_buffer_bytes"`
	Slab       int64 `json:"slab_bytes"`
	Sockets    int64 `json:"tcp_sockets_allocated"`
	// SocketCaches is the bytes of each slab cache a TCP socket takes objects
	// from (socketCaches), from /proc/slabinfo.
	SocketCaches map[string]int64 `json:"socket_slab_caches_bytes"`
}

// socketCaches are the slab caches an open TCP socket takes objects from: the
// socket itself, its inode, dentry and file, and its epoll registration.
var socketCaches = []string{"TCP", "sock_inode_cache", "dentry", "filp", "eventpoll_epi", "eventpoll_pwq"}

// readKernelMemory reads the kernel's figures; an unreadable one is 0.
func readKernelMemory() kernelMemory {
	memory := kernelMemory{SocketCaches: map[string]int64{}}
	if data, err := os.ReadFile("/proc/slabinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			fields := strings.Fields(line)
			if len(fields) >= 4 && slices.Contains(socketCaches, fields[0]) {
				active, _ := strconv.ParseInt(fields[1], 10, 64)
				size, _ := strconv.ParseInt(fields[3], 10, 64)
				memory.SocketCaches[fields[0]] = active * size
			}
			// TCP, tcp_bind_bucket, request_sock_TCP, ...: every cache named for TCP.
			if len(fields) < 4 || !strings.Contains(strings.ToLower(fields[0]), "tcp") {
				continue
			}
			active, _ := strconv.ParseInt(fields[1], 10, 64)
			size, _ := strconv.ParseInt(fields[3], 10, 64)
			memory.TCPSlab += active * size
		}
	}
	if data, err := os.ReadFile("/proc/net/sockstat"); err == nil {
		for line := range strings.Lines(string(data)) {
			fields := strings.Fields(line)
			if len(fields) == 0 || fields[0] != "TCP:" {
				continue
			}
			for i := 1; i+1 < len(fields); i += 2 {
				value, _ := strconv.ParseInt(fields[i+1], 10, 64)
				switch fields[i] {
				case "mem":
					memory.TCPBuffers = value * int64(os.Getpagesize())
				case "alloc":
					memory.Sockets = value
				}
			}
		}
	}
	memory.Slab = procFileKB("/proc/meminfo", "Slab") * 1024
	return memory
}

// procStatusKB returns a "Field: N kB" line of /proc/PID/status.
func procStatusKB(pid int, field string) int64 {
	return procFileKB("/proc/"+strconv.Itoa(pid)+"/status", field)
}

// procFileKB returns the number of a "Field: N kB" line of path, or 0.
func procFileKB(path, field string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if value, found := strings.CutPrefix(line, field+":"); found {
			number, _ := strconv.ParseInt(strings.Fields(value)[0], 10, 64)
			return number
		}
	}
	return 0
}

// procCPUSeconds returns a process's user plus system time from /proc/PID/stat.
func procCPUSeconds(pid int) float64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields are counted after its closing ")".
	text := string(data)
	fields := strings.Fields(text[strings.LastIndex(text, ")")+1:])
	if len(fields) < 13 {
		return 0
	}
	user, _ := strconv.ParseFloat(fields[11], 64)
	system, _ := strconv.ParseFloat(fields[12], 64)
	return (user + system) / 100 // USER_HZ is 100 on Linux
}

// raiseOpenFiles raises this process's soft open-file limit to its hard limit
// (children inherit it) and returns the limit in force.
func raiseOpenFiles() (uint64, error) {
	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		return 0, err
	}
	limit.Cur = limit.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		return 0, err
	}
	return limit.Cur, nil
}

// portRange returns net.ipv4.ip_local_port_range, the ephemeral ports a source
// address has for each destination.
func portRange() (low, high int) {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 {
		return 0, 0
	}
	low, _ = strconv.Atoi(fields[0])
	high, _ = strconv.Atoi(fields[1])
	return low, high
}

// machineBusySeconds returns the processor time every CPU of the machine spent
// outside idle and iowait since boot (/proc/stat), for the time other processes
// took during a measurement.
func machineBusySeconds() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0
	}
	busy := 0.0
	// user nice system idle iowait irq softirq steal: all but idle and iowait.
	for index, field := range fields[1:9] {
		if index == 3 || index == 4 {
			continue
		}
		ticks, _ := strconv.ParseFloat(field, 64)
		busy += ticks
	}
	return busy / 100 // USER_HZ
}

// loadAverage returns the one-minute load average (/proc/loadavg).
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 0
	}
	value, _ := strconv.ParseFloat(fields[0], 64)
	return value
}

// dieWithUs makes command's process receive SIGKILL when this program ends, so an
// interrupted run leaves no Redis, node or worker behind.
func dieWithUs(command *exec.Cmd) {
	command.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
