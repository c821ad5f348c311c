package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/internal/testsupport"
)

// TestSIGTERMDrainsThenExits runs the binary, holds connections, and sends SIGTERM:
// /readyz turns 503, every connection gets 1001, the last at the end of
// -drain-duration, and the process exits 0 without cutting any socket.
func TestSIGTERMDrainsThenExits(t *testing.T) {
	const clients, drain = 8, time.Second
	command := exec.Command(builtBinary(t), "-addr", "127.0.0.1:0", "-log-format", "json", "-drain-duration", drain.String(),
		"-shutdown-timeout", "5s")
	stderr, err := command.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := command.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	logs := make(chan map[string]any, 64)
	go func() {
		scanner := bufio.NewScanner(stderr)
		for scanner.Scan() {
			var entry map[string]any
			if json.Unmarshal(scanner.Bytes(), &entry) == nil {
				logs <- entry
			}
		}
		close(logs)
		exited <- command.Wait()
	}()
	t.Cleanup(func() {
		_ = command.Process.Kill()
		<-exited
	})
	var address string
	for entry := range logs {
		if entry["msg"] == "wsgate listening" {
			address = entry["addr"].(string)
			break
		}
	}
	if address == "" {
		t.Fatal("wsgate did not log its address")
	}
	closes := make(chan time.Time, clients)
	for range clients {
		conn, response, err := websocket.DefaultDialer.Dial(testsupport.WebSocketURL(address, nil), nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		_ = response.Body.Close()
		t.Cleanup(func() { _ = conn.Close() })
		go func() {
			_ = conn.SetReadDeadline(time.Now().Add(drain + 10*time.Second))
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					if closeError, ok := errors.AsType[*websocket.CloseError](err); ok && closeError.Code == websocket.CloseGoingAway {
						closes <- time.Now()
					} else {
						closes <- time.Time{}
					}
					return
				}
			}
		}()
	}

	signalled := time.Now()
	if err := command.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, drain, "/readyz to answer 503 draining", func() bool {
		response, err := http.Get("http://" + address + "/readyz")
		if err != nil {
			t.Fatalf("/readyz during the drain: %v", err)
		}
		defer response.Body.Close()
		var body map[string]string
		_ = json.NewDecoder(response.Body).Decode(&body)
		return response.StatusCode == http.StatusServiceUnavailable && body["status"] == "draining"
	})
	var last time.Time
	for range clients {
		at := <-closes
		if at.IsZero() {
			t.Fatal("a connection ended without 1001")
		}
		if at.After(last) {
			last = at
		}
	}
	if spread := last.Sub(signalled); spread < drain {
		t.Fatalf("the last connection was closed %v after SIGTERM, before -drain-duration %v", spread, drain)
	}
	var stopped map[string]any
	for entry := range logs {
		if entry["msg"] == "stopped" {
			stopped = entry
		}
	}
	if err := <-exited; err != nil {
		t.Fatalf("wsgate exited with %v after SIGTERM, want 0", err)
	}
	exited <- nil
	if stopped == nil || stopped["connections_cut"] != float64(0) || !strings.HasSuffix(stopped["took"].(string), "s") {
		t.Fatalf("last log %v, want stopped with no connection cut", stopped)
	}
}
