// Command loopfloor measures what one write(2) of a small batch costs the writing
// thread on a loopback TCP socket while a reader on the other core takes the bytes:
// the floor under wsgate's CPU per delivery, which on loopback includes the kernel's
// receive processing for the client's socket (on a real network that work runs on
// the client's machine).
//
// A writer thread pinned to -writer-cpu writes -size bytes at a time to -conns
// non-blocking sockets in turn, -rate writes per second in rounds of -burst writes
// (a flush worker's round over its dirty sessions); a reader thread pinned to
// -reader-cpu reads every socket through epoll, as nbio's poller does. Each thread's
// own CPU time (getrusage RUSAGE_THREAD) is divided by the writes.
//
// With -rps the rounds alternate between the machine's loopback setting (RPS off:
// the sender's core runs the receiving socket's TCP processing in its own softirq)
// and Receive Packet Steering to the reader's core (/sys/class/net/lo/queues/rx-0/
// rps_cpus set to the reader's CPU mask: the sender only queues the packet and
// signals that core). It needs root, changes a machine-wide setting for the length
// of each steered round (every loopback packet of the machine is then received on
// the reader's core) and always writes the previous value back, also on SIGINT and
// SIGTERM.
//
//	go run ./benchmarks/loopfloor -rounds 3 -rps
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const rpsPath = "/sys/class/net/lo/queues/rx-0/rps_cpus"

type options struct {
	conns     int
	size      int
	rate      float64
	burst     int
	duration  time.Duration
	rounds    int
	writerCPU int
	readerCPU int
	rps       bool
}

func main() {
	var opts options
	flag.IntVar(&opts.conns, "conns", 5000, "loopback TCP connections (two descriptors each, in this process)")
	flag.IntVar(&opts.size, "size", 1200, "bytes per write(2): about eleven 110-byte broadcast frames, as wsgate coalesces them at 300,000 deliveries per second")
	flag.Float64Var(&opts.rate, "rate", 27000, "write calls per second (wsgate: about 0.09 per delivery at 300,000 deliveries per second)")
	flag.IntVar(&opts.burst, "burst", 0, "writes per round, back to back (0: -conns, one round over every connection)")
	flag.DurationVar(&opts.duration, "duration", 5*time.Second, "length of one measured round")
	flag.IntVar(&opts.rounds, "rounds", 3, "rounds (with -rps: pairs of rounds, plain then steered)")
	flag.IntVar(&opts.writerCPU, "writer-cpu", 1, "CPU of the writing thread")
	flag.IntVar(&opts.readerCPU, "reader-cpu", 0, "CPU of the reading thread (and of the steered receive work with -rps)")
	flag.BoolVar(&opts.rps, "rps", false, "alternate rounds with loopback RPS steered to -reader-cpu (root; restored after each round)")
	flag.Parse()
	if opts.burst <= 0 {
		opts.burst = opts.conns
	}
	if err := run(opts); err != nil {
		fmt.Fprintln(os.Stderr, "loopfloor:", err)
		os.Exit(1)
	}
}

// roundResult is one measured round.
type roundResult struct {
	steered        bool
	writes         int64
	again          int64
	writerUser     time.Duration
	writerSystem   time.Duration
	readerCPU      time.Duration
	readBytes      int64
	softirqWriter  float64 // seconds of softirq time on the writer's CPU (machine-wide)
	softirqReader  float64
	loadAtStart    string
	writtenBytes   int64
	elapsedSeconds float64
	// segments is TCP segments sent machine-wide (OutSegs of /proc/net/snmp): on
	// loopback the data segments plus the receivers' ACKs.
	segments int64
}

func run(opts options) error {
	writers, readers, err := connect(opts.conns)
	if err != nil {
		return err
	}
	previous, err := os.ReadFile(rpsPath)
	if err != nil && opts.rps {
		return err
	}
	restore := func() {
		if opts.rps {
			_ = os.WriteFile(rpsPath, previous, 0o644)
		}
	}
	defer restore()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-signals
		restore()
		os.Exit(2)
	}()

	reader := startReader(readers, opts.readerCPU)
	defer reader.stop()
	var results []roundResult
	for round := range opts.rounds {
		for _, steered := range steeringOrder(opts.rps) {
			if steered {
				if err := os.WriteFile(rpsPath, fmt.Appendf(nil, "%x\n", 1<<opts.readerCPU), 0o644); err != nil {
					return err
				}
			}
			result, err := measure(opts, writers, reader)
			restore()
			if err != nil {
				return err
			}
			result.steered = steered
			results = append(results, result)
			fmt.Println(describe(round+1, result))
		}
	}
	summarize(results)
	return nil
}

func steeringOrder(rps bool) []bool {
	if rps {
		return []bool{false, true}
	}
	return []bool{false}
}

// connect opens count loopback connections: the accepted ends (the server's, which
// writes) and the dialed ends (the client's, which reads), all non-blocking.
func connect(count int) (writers, readers []int, err error) {
	listener, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		return nil, nil, err
	}
	defer syscall.Close(listener)
	loopback := &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := syscall.Bind(listener, loopback); err != nil {
		return nil, nil, err
	}
	if err := syscall.Listen(listener, 4096); err != nil {
		return nil, nil, err
	}
	address, err := syscall.Getsockname(listener)
	if err != nil {
		return nil, nil, err
	}
	for range count {
		client, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("socket %d: %w (2 descriptors per connection)", len(readers), err)
		}
		if err := syscall.Connect(client, address); err != nil {
			return nil, nil, err
		}
		server, _, err := syscall.Accept(listener)
		if err != nil {
			return nil, nil, err
		}
		for _, fd := range []int{client, server} {
			if err := syscall.SetNonblock(fd, true); err != nil {
				return nil, nil, err
			}
			if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
				return nil, nil, err
			}
		}
		writers, readers = append(writers, server), append(readers, client)
	}
	return writers, readers, nil
}

// pin locks the calling goroutine to its thread and the thread to cpu.
func pin(cpu int) error {
	runtime.LockOSThread()
	var mask [16]uint64
	mask[cpu/64] = 1 << (cpu % 64)
	if _, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask))); errno != 0 {
		return fmt.Errorf("sched_setaffinity(%d): %w", cpu, errno)
	}
	return nil
}

// threadCPU returns the calling thread's user and system time.
func threadCPU() (user, system time.Duration) {
	var usage syscall.Rusage
	const rusageThread = 1
	_ = syscall.Getrusage(rusageThread, &usage)
	return time.Duration(usage.Utime.Nano()), time.Duration(usage.Stime.Nano())
}

// readerThread reads every connection through epoll on its own pinned thread.
type readerThread struct {
	bytes   atomic.Int64
	cpu     atomic.Int64 // the thread's user+system nanoseconds, published after each wait
	done    atomic.Bool
	stopped chan struct{}
}

func startReader(fds []int, cpu int) *readerThread {
	reader := &readerThread{stopped: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		defer close(reader.stopped)
		if err := pin(cpu); err != nil {
			ready <- err
			return
		}
		poll, err := syscall.EpollCreate1(0)
		if err != nil {
			ready <- err
			return
		}
		defer syscall.Close(poll)
		for _, fd := range fds {
			event := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
			if err := syscall.EpollCtl(poll, syscall.EPOLL_CTL_ADD, fd, &event); err != nil {
				ready <- err
				return
			}
		}
		ready <- nil
		events := make([]syscall.EpollEvent, 256)
		buffer := make([]byte, 64<<10)
		for !reader.done.Load() {
			count, err := syscall.EpollWait(poll, events, 100)
			if err != nil && !errors.Is(err, syscall.EINTR) {
				return
			}
			for _, event := range events[:max(count, 0)] {
				for {
					n, err := syscall.Read(int(event.Fd), buffer)
					if n > 0 {
						reader.bytes.Add(int64(n))
					}
					if err != nil || n < len(buffer) {
						break
					}
				}
			}
			user, system := threadCPU()
			reader.cpu.Store(int64(user + system))
		}
	}()
	if err := <-ready; err != nil {
		panic(err)
	}
	return reader
}

func (r *readerThread) stop() {
	r.done.Store(true)
	<-r.stopped
}

// measure runs one round of paced writes on a pinned thread.
func measure(opts options, fds []int, reader *readerThread) (roundResult, error) {
	type outcome struct {
		result roundResult
		err    error
	}
	finished := make(chan outcome, 1)
	// The goroutine exits with its thread locked, so the pinned thread ends with it.
	go func() {
		if err := pin(opts.writerCPU); err != nil {
			finished <- outcome{err: err}
			return
		}
		payload := make([]byte, opts.size)
		result := roundResult{loadAtStart: loadAverage()}
		softirqBefore, segmentsBefore := softirqSeconds(), tcpOutSegments()
		readerBefore, readBytesBefore := reader.cpu.Load(), reader.bytes.Load()
		userBefore, systemBefore := threadCPU()
		interval := time.Duration(float64(opts.burst) / opts.rate * float64(time.Second))
		start := time.Now()
		next, index := start, 0
		for time.Since(start) < opts.duration {
			for range opts.burst {
				n, err := syscall.Write(fds[index], payload)
				switch {
				case errors.Is(err, syscall.EAGAIN):
					result.again++
				case err != nil:
					finished <- outcome{err: err}
					return
				default:
					result.writes++
					result.writtenBytes += int64(n)
				}
				index = (index + 1) % len(fds)
			}
			next = next.Add(interval)
			time.Sleep(time.Until(next))
		}
		userAfter, systemAfter := threadCPU()
		result.elapsedSeconds = time.Since(start).Seconds()
		// Let the reader drain and publish its CPU time.
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && reader.bytes.Load()-readBytesBefore < result.writtenBytes; {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		softirqAfter := softirqSeconds()
		result.segments = tcpOutSegments() - segmentsBefore
		result.writerUser, result.writerSystem = userAfter-userBefore, systemAfter-systemBefore
		result.readerCPU = time.Duration(reader.cpu.Load() - readerBefore)
		result.readBytes = reader.bytes.Load() - readBytesBefore
		if len(softirqBefore) > max(opts.writerCPU, opts.readerCPU) && len(softirqAfter) == len(softirqBefore) {
			result.softirqWriter = softirqAfter[opts.writerCPU] - softirqBefore[opts.writerCPU]
			result.softirqReader = softirqAfter[opts.readerCPU] - softirqBefore[opts.readerCPU]
		}
		finished <- outcome{result: result}
	}()
	done := <-finished
	return done.result, done.err
}

// softirqSeconds returns each CPU's softirq time from /proc/stat (machine-wide:
// every process's packets count).
func softirqSeconds() []float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil
	}
	var perCPU []float64
	for line := range strings.Lines(string(data)) {
		fields := strings.Fields(line)
		if len(fields) < 8 || !strings.HasPrefix(fields[0], "cpu") || fields[0] == "cpu" {
			continue
		}
		var ticks float64
		_, _ = fmt.Sscan(fields[7], &ticks)
		perCPU = append(perCPU, ticks/100)
	}
	return perCPU
}

// tcpOutSegments returns the machine's TCP segments sent so far (OutSegs).
func tcpOutSegments() int64 {
	data, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var names []string
	for line := range strings.Lines(string(data)) {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "Tcp:" {
			continue
		}
		if names == nil {
			names = fields
			continue
		}
		for index, name := range names {
			if name == "OutSegs" && index < len(fields) {
				var segments int64
				_, _ = fmt.Sscan(fields[index], &segments)
				return segments
			}
		}
	}
	return 0
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}

func (r roundResult) writerPerWrite() float64 {
	return float64(r.writerUser+r.writerSystem) / float64(time.Microsecond) / float64(max(r.writes, 1))
}

func (r roundResult) mode() string {
	if r.steered {
		return "rps"
	}
	return "plain"
}

func describe(round int, r roundResult) string {
	writes := float64(max(r.writes, 1))
	return fmt.Sprintf("round %d %-5s load %s: %d writes (%.0f/s, %d EAGAIN), writer %.2f us/write (user %.2f, sys %.2f), reader thread %.2f us/write, softirq writer-cpu %.2f us/write, reader-cpu %.2f us/write, %.2f TCP segments/write, read %d of %d bytes",
		round, r.mode(), r.loadAtStart, r.writes, writes/r.elapsedSeconds, r.again, r.writerPerWrite(),
		float64(r.writerUser)/1e3/writes, float64(r.writerSystem)/1e3/writes, float64(r.readerCPU)/1e3/writes,
		r.softirqWriter*1e6/writes, r.softirqReader*1e6/writes, float64(r.segments)/writes, r.readBytes, r.writtenBytes)
}

// summarize prints the median writer CPU per write of each mode and their ratio.
func summarize(results []roundResult) {
	medians := map[string]float64{}
	for _, mode := range []string{"plain", "rps"} {
		var values []float64
		for _, r := range results {
			if r.mode() == mode {
				values = append(values, r.writerPerWrite())
			}
		}
		if len(values) == 0 {
			continue
		}
		sort.Float64s(values)
		medians[mode] = values[len(values)/2]
		fmt.Printf("median %-5s writer CPU per write: %.2f us (%d rounds)\n", mode, medians[mode], len(values))
	}
	if plain, steered := medians["plain"], medians["rps"]; plain > 0 && steered > 0 {
		fmt.Printf("rps / plain: %.2fx\n", steered/plain)
	}
}
