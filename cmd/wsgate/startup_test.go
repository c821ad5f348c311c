package main

import (
	"bytes"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// exitDeadline bounds a failed start of the binary. It takes tens of milliseconds;
// the margin is for a loaded machine. A start that hangs (as nbio's stop after a
// listen error did, spinning at 100% CPU) is killed at the deadline.
const exitDeadline = 5 * time.Second

// runBinary runs the built binary with arguments and a clean WSGATE_* environment,
// killing it at exitDeadline. It returns the exit code (-1 when killed), stderr and
// the time it took.
func runBinary(t *testing.T, binary string, arguments ...string) (int, string, time.Duration) {
	t.Helper()
	command := exec.Command(binary, arguments...)
	command.Env = []string{"PATH=/usr/bin:/bin"}
	var stdout, stderr bytes.Buffer
	command.Stdout, command.Stderr = &stdout, &stderr
	started := time.Now()
	if err := command.Start(); err != nil {
		t.Fatalf("start %s: %v", binary, err)
	}
	done := make(chan error, 1)
	go func() { done <- command.Wait() }()
	select {
	case err := <-done:
		took := time.Since(started)
		var exitError *exec.ExitError
		switch {
		case err == nil:
			return 0, stderr.String(), took
		case errors.As(err, &exitError):
			return exitError.ExitCode(), stderr.String(), took
		default:
			t.Fatalf("wait: %v", err)
		}
	case <-time.After(exitDeadline):
		_ = command.Process.Kill()
		<-done
		t.Fatalf("wsgate %s still ran after %v (stderr %q)", strings.Join(arguments, " "), exitDeadline, stderr.String())
	}
	return -1, "", 0
}

// TestEveryFailedStartExitsAtOnce: a start that cannot succeed prints its error and
// exits non-zero at once, every time (the hang after a listen error was
// intermittent, so each case runs ten times).
func TestEveryFailedStartExitsAtOnce(t *testing.T) {
	binary := builtBinary(t)
	occupant, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer occupant.Close()
	tests := map[string]struct {
		arguments []string
		want      string
	}{
		"port in use": {[]string{"-addr", occupant.Addr().String()}, "address already in use"},
		"API port in use": {[]string{"-addr", "127.0.0.1:0", "-api-addr", occupant.Addr().String()},
			"API listener: listen tcp " + occupant.Addr().String() + ": bind: address already in use"},
		"port without colon":  {[]string{"-addr", "8080"}, `-addr "8080"`},
		"unparseable address": {[]string{"-addr", "bogus"}, `-addr "bogus"`},
		"bad configuration":   {[]string{"-addr", "127.0.0.1:0", "-ping-timeout", "-1s"}, "-ping-timeout -1s: must be positive"},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			var slowest time.Duration
			for range 10 {
				code, stderr, took := runBinary(t, binary, test.arguments...)
				if code <= 0 || !strings.Contains(stderr, test.want) {
					t.Fatalf("exit %d, stderr %q; want a non-zero exit with an error mentioning %q", code, stderr, test.want)
				}
				slowest = max(slowest, took)
			}
			t.Logf("slowest of 10 runs: %v", slowest)
		})
	}
}

// TestABadConfigFileExitsAtOnce: the binary started with an invalid -config file
// prints the file, line and key on stderr and exits 2 before it listens, every time.
func TestABadConfigFileExitsAtOnce(t *testing.T) {
	binary := builtBinary(t)
	path := writeConfig(t, "addr: 127.0.0.1:0\nnamespaces:\n  - name: chat\n    subscribe: everyone\n")
	want := "wsgate: " + path + `:4: namespace "chat": subscribe: "everyone" is not one of anyone, authenticated, token` + "\n"
	var slowest time.Duration
	for range 10 {
		code, stderr, took := runBinary(t, binary, "-config", path)
		if code != 2 || stderr != want {
			t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, stderr, want)
		}
		slowest = max(slowest, took)
	}
	t.Logf("slowest of 10 runs: %v", slowest)
}
