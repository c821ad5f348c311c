package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthcheckTimeout bounds -healthcheck's request; Docker's HEALTHCHECK has its own
// timeout (3s in the Dockerfile) above it.
const healthcheckTimeout = 2 * time.Second

// healthcheck is -healthcheck: it asks the server listening on addr (as -addr or
// WSGATE_ADDR give it) for GET /healthz over loopback, for container health checks
// in images without curl or wget. It returns the exit code: 0 when the server
// answered 200 {"status":"ok"}, 1 otherwise, with the reason on output.
func healthcheck(ctx context.Context, addr string, stdout, output io.Writer) int {
	if err := checkHealth(ctx, addr, stdout); err != nil {
		fmt.Fprintf(output, "wsgate: -healthcheck: %v\n", err)
		return 1
	}
	return 0
}

func checkHealth(ctx context.Context, addr string, stdout io.Writer) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if port == "0" {
		return errors.New("-addr has port 0: name the port the server listens on")
	}
	// A server listening on every interface answers on loopback.
	switch ip := net.ParseIP(host); {
	case host == "" || ip != nil && ip.Equal(net.IPv4zero):
		host = "127.0.0.1"
	case ip != nil && ip.Equal(net.IPv6unspecified):
		host = "::1"
	}
	address := "http://" + net.JoinHostPort(host, port) + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, address, nil)
	if err != nil {
		return err
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	body, err := io.ReadAll(io.LimitReader(response.Body, 4096))
	if err != nil {
		return fmt.Errorf("GET %s: %w", address, err)
	}
	var health struct {
		Status  string `json:"status"`
		Version string `json:"version"`
	}
	if response.StatusCode != http.StatusOK || json.Unmarshal(body, &health) != nil || health.Status != "ok" {
		return fmt.Errorf("GET %s: status %d, body %.200q", address, response.StatusCode, body)
	}
	fmt.Fprintf(stdout, "healthy: %s answered ok (version %s)\n", address, health.Version)
	return nil
}
