package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/engine"
	"github.com/wsgate/wsgate/gateway"
)

// startGateway starts a node listening on addr and returns its port; the node is
// shut down when the test ends (or earlier by the test).
func startGateway(t *testing.T, addr string) (*gateway.Gateway, string) {
	t.Helper()
	node, err := gateway.New(gateway.Config{Engine: engine.Config{Addr: addr},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	if err := node.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { node.Shutdown(time.Second) })
	return node, strconv.Itoa(node.Addr().(*net.TCPAddr).Port)
}

// runHealthcheck runs wsgate -healthcheck with arguments and variables and returns
// the exit code, stdout and stderr.
func runHealthcheck(arguments []string, variables map[string]string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"-healthcheck"}, arguments...), environment(variables), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestHealthcheckPassesAgainstARunningServer(t *testing.T) {
	_, port := startGateway(t, "127.0.0.1:0")
	code, stdout, stderr := runHealthcheck([]string{"-addr", "127.0.0.1:" + port}, nil)
	if code != 0 || !strings.Contains(stdout, "healthy: http://127.0.0.1:"+port+"/healthz answered ok (version ") || stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 0 and a healthy line", code, stdout, stderr)
	}
	// The way the Docker image runs it: the address from WSGATE_ADDR, every interface.
	_, anyPort := startGateway(t, ":0")
	code, stdout, stderr = runHealthcheck(nil, map[string]string{"WSGATE_ADDR": ":" + anyPort})
	if code != 0 || !strings.Contains(stdout, "http://127.0.0.1:"+anyPort+"/healthz") {
		t.Fatalf("WSGATE_ADDR=:%s: exit %d, stdout %q, stderr %q; want a check over loopback", anyPort, code, stdout, stderr)
	}
}

func TestHealthcheckFailsWithTheReason(t *testing.T) {
	node, port := startGateway(t, "127.0.0.1:0")
	node.Shutdown(time.Second)
	code, stdout, stderr := runHealthcheck([]string{"-addr", "127.0.0.1:" + port}, nil)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "wsgate: -healthcheck: ") || !strings.Contains(stderr, "refused") {
		t.Fatalf("stopped server: exit %d, stdout %q, stderr %q; want exit 1 naming the refused connection", code, stdout, stderr)
	}
	code, _, stderr = runHealthcheck([]string{"-addr", "127.0.0.1:0"}, nil)
	if code != 1 || !strings.Contains(stderr, "port 0") {
		t.Fatalf("port 0: exit %d, stderr %q; want exit 1 explaining the port", code, stderr)
	}
}

// TestHealthcheckReadsTheAddressFromTheConfigFile: the server's file, named by
// WSGATE_CONFIG as a container would, gives -healthcheck the address too.
func TestHealthcheckReadsTheAddressFromTheConfigFile(t *testing.T) {
	_, port := startGateway(t, "127.0.0.1:0")
	path := writeConfig(t, "addr: 127.0.0.1:"+port+"\n")
	code, stdout, stderr := runHealthcheck(nil, map[string]string{"WSGATE_CONFIG": path})
	if code != 0 || !strings.Contains(stdout, "http://127.0.0.1:"+port+"/healthz") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want a healthy check of the file's address", code, stdout, stderr)
	}
}
