package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times (100 on
// every Linux architecture Go supports).
const clockTicks = 100

// probe reads the server under test: its memory and processor time from /proc (when
// its pid is known), its Go heap and goroutines from /metrics (when it has one), its
// connection count from /api/v1/ws/stats, and the kernel's TCP memory.
type probe struct {
	pid        int
	base       string
	debugBase  string
	gcPath     string
	client     *http.Client
	metrics    bool
	gcEndpoint bool
}

// newProbe finds out which endpoints the server has. base serves the API;
// debugBase serves /metrics and gcPath (often the same address).
func newProbe(pid int, base, debugBase, gcPath string) *probe {
	p := &probe{pid: pid, base: base, debugBase: debugBase, gcPath: gcPath, client: &http.Client{Timeout: 10 * time.Second}}
	_, p.metrics = p.metricValue("go_goroutines")
	p.gcEndpoint = gcPath != "" && p.get(debugBase+gcPath) != nil
	return p
}

// reading is one look at the server.
type reading struct {
	rss               int64
	threads           int
	heap              *int64
	goroutines        *int
	serverConnections *int
	tcpBuffers        int64
	tcpSlab           *int64
}

// read takes a reading, forcing a collection first when the server allows it.
func (p *probe) read() reading {
	if p.gcEndpoint {
		p.get(p.debugBase + p.gcPath)
	}
	var r reading
	if p.pid > 0 {
		r.rss = procStatusKB(p.pid, "VmRSS") * 1024
		r.threads = int(procStatusKB(p.pid, "Threads"))
	}
	if p.metrics {
		if heap, ok := p.metricValue("go_memstats_heap_alloc_bytes"); ok {
			value := int64(heap)
			r.heap = &value
		}
		if goroutines, ok := p.metricValue("go_goroutines"); ok {
			value := int(goroutines)
			r.goroutines = &value
		}
	}
	if body := p.get(p.base + "/api/v1/ws/stats"); body != nil {
		var document struct {
			TotalConnections *int `json:"total_connections"`
		}
		if json.Unmarshal(body, &document) == nil {
			r.serverConnections = document.TotalConnections
		}
	}
	r.tcpBuffers = kernelTCPBuffers()
	r.tcpSlab = kernelTCPSlab()
	return r
}

// cpuSeconds returns the server's processor time so far, user plus system.
func (p *probe) cpuSeconds() (float64, bool) {
	if p.pid <= 0 {
		return 0, false
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name may hold spaces; fields are counted after its closing ')'.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(fields) < 13 {
		return 0, false
	}
	user, _ := strconv.ParseFloat(fields[11], 64)
	system, _ := strconv.ParseFloat(fields[12], 64)
	return (user + system) / clockTicks, true
}

// writeCalls returns the write system calls the server made so far (syscw in
// /proc/PID/io, readable by the server's user or root).
func (p *probe) writeCalls() (int64, bool) {
	if p.pid <= 0 {
		return 0, false
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/io")
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if value, found := strings.CutPrefix(line, "syscw:"); found {
			count, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
			return count, err == nil
		}
	}
	return 0, false
}

// environment returns the server's GOGC and GOMEMLIMIT ("" when unset or unreadable).
func (p *probe) environment() (gogc, gomemlimit string) {
	if p.pid <= 0 {
		return "", ""
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/environ")
	if err != nil {
		return "", ""
	}
	for _, variable := range bytes.Split(data, []byte{0}) {
		name, value, _ := strings.Cut(string(variable), "=")
		switch name {
		case "GOGC":
			gogc = value
		case "GOMEMLIMIT":
			gomemlimit = value
		}
	}
	return gogc, gomemlimit
}

// get returns the body of a 200 answer to GET address, or nil.
func (p *probe) get(address string) []byte {
	response, err := p.client.Get(address)
	if err != nil {
		return nil
	}
	defer response.Body.Close()
	body, err := io.ReadAll(io.LimitReader(response.Body, 4<<20))
	if err != nil || response.StatusCode != http.StatusOK {
		return nil
	}
	return body
}

// metricValue returns the value of an unlabelled series in /metrics.
func (p *probe) metricValue(name string) (float64, bool) {
	body := p.get(p.debugBase + "/metrics")
	scanner := bufio.NewScanner(bytes.NewReader(body))
	for scanner.Scan() {
		series, value, found := strings.Cut(scanner.Text(), " ")
		if found && series == name {
			number, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			return number, err == nil
		}
	}
	return 0, false
}

// procStatusKB returns a numeric field of /proc/PID/status (VmRSS is in kB).
func procStatusKB(pid int, field string) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		name, value, found := strings.Cut(line, ":")
		if found && name == field {
			number, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
			return number
		}
	}
	return 0
}

// kernelTCPBuffers returns the memory the kernel holds in TCP socket buffers, for
// every socket of the machine (the "mem" pages of the TCP line of /proc/net/sockstat).
func kernelTCPBuffers() int64 {
	data, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if !strings.HasPrefix(line, "TCP:") {
			continue
		}
		fields := strings.Fields(line)
		for i := 1; i+1 < len(fields); i += 2 {
			if fields[i] == "mem" {
				pages, _ := strconv.ParseInt(fields[i+1], 10, 64)
				return pages * int64(syscall.Getpagesize())
			}
		}
	}
	return 0
}

// kernelTCPSlab returns the memory of the kernel's TCP socket objects (the "TCP"
// slab cache: active objects times object size), or nil when /proc/slabinfo is not
// readable (it needs root).
func kernelTCPSlab() *int64 {
	data, err := os.ReadFile("/proc/slabinfo")
	if err != nil {
		return nil
	}
	for line := range strings.Lines(string(data)) {
		fields := strings.Fields(line)
		if len(fields) > 3 && fields[0] == "TCP" {
			objects, _ := strconv.ParseInt(fields[1], 10, 64)
			size, _ := strconv.ParseInt(fields[3], 10, 64)
			bytes := objects * size
			return &bytes
		}
	}
	return nil
}

// processCPU returns this process's processor time so far, user plus system, in
// seconds (getrusage).
func processCPU() float64 {
	var usage syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &usage) != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano()).Seconds()
}
