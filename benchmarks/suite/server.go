package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// serverSpec is a server under test: its name, the package it is built from and
// its flags beyond -addr.
type serverSpec struct {
	name      string
	pkg       string
	arguments func(pingInterval time.Duration) []string
}

// serverSpecs are the three servers every scenario runs against: wsgate as users
// run it (anonymous connections, no per-user limit), the seed's design, and the
// bare nbio floor (which has no heartbeat).
var serverSpecs = []serverSpec{
	{name: "wsgate", pkg: "./cmd/wsgate", arguments: func(pingInterval time.Duration) []string {
		return []string{"-max-conns-per-user", "0", "-ping-interval", pingInterval.String(), "-log-level", "warn"}
	}},
	{name: "baseline", pkg: "./benchmarks/baseline", arguments: func(pingInterval time.Duration) []string {
		return []string{"-ping-interval", pingInterval.String()}
	}},
	{name: "bare", pkg: "./benchmarks/bare", arguments: func(time.Duration) []string { return nil }},
}

// runningServer is a started server process.
type runningServer struct {
	process *exec.Cmd
	log     *os.File
	command []string
}

// startServer starts binary on 127.0.0.1:port, pinned with prefix (taskset), logging
// to a file in directory, and waits until it accepts connections.
func startServer(prefix []string, binary string, arguments []string, port int, directory string) (*runningServer, error) {
	address := fmt.Sprintf("127.0.0.1:%d", port)
	command := append(append(append([]string(nil), prefix...), binary, "-addr", address), arguments...)
	log, err := os.Create(filepath.Join(directory, fmt.Sprintf("%s-%d.log", filepath.Base(binary), port)))
	if err != nil {
		return nil, err
	}
	process := exec.Command(command[0], command[1:]...)
	process.Stdout, process.Stderr = log, log
	if err := process.Start(); err != nil {
		log.Close()
		return nil, err
	}
	server := &runningServer{process: process, log: log, command: command}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if conn, err := net.DialTimeout("tcp", address, time.Second); err == nil {
			conn.Close()
			return server, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	server.stop()
	return nil, errors.New("server did not listen on " + address + " within 10 s")
}

// pid returns the server's process id (taskset executes the server in its place).
func (s *runningServer) pid() int { return s.process.Process.Pid }

// stop sends SIGTERM, waits up to 15 s, then kills.
func (s *runningServer) stop() {
	_ = s.process.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_ = s.process.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = s.process.Process.Kill()
		<-done
	}
	s.log.Close()
}
