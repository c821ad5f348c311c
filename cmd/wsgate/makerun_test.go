package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listeningAddress finds the address in the log line of a started server.
var listeningAddress = regexp.MustCompile(`msg="wsgate listening" addr=(\S+)`)

// TestMakeRunStopsOnOneSignal: make run builds the binary and execs it from the
// recipe's shell, so a SIGTERM to make's PID alone stops the server (go run, in
// between, used to leave its child listening).
func TestMakeRunStopsOnOneSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary through make (-short)")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	binary := filepath.Join(t.TempDir(), "wsgate")
	command := exec.Command("make", "--no-print-directory", "-C", repositoryRoot, "run", "BINARY="+binary,
		"ARGS=-addr 127.0.0.1:0 -ping-interval 0")
	for _, variable := range os.Environ() {
		if !strings.HasPrefix(variable, "WSGATE_") {
			command.Env = append(command.Env, variable)
		}
	}
	// A process group of its own, so that the test can end whatever make left behind;
	// the test itself signals make's PID only.
	command.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := command.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := command.Start(); err != nil {
		t.Fatalf("make run: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-command.Process.Pid, syscall.SIGKILL) })
	listening := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			if match := listeningAddress.FindStringSubmatch(lines.Text()); match != nil {
				select {
				case listening <- match[1]:
				default:
				}
			}
		}
	}()
	var address string
	select {
	case address = <-listening:
	case <-time.After(2 * time.Minute):
		t.Fatal("make run: no server said it listens within 2 minutes")
	}
	exited := make(chan error, 1)
	go func() { exited <- command.Wait() }()
	if err := command.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM to make: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("make did not exit within 30 s of a SIGTERM")
	}
	if conn, err := net.Dial("tcp", address); err == nil {
		_ = conn.Close()
		t.Fatalf("make exited on a SIGTERM, but %s still accepts connections", address)
	}
}
