package engine

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/session"
)

// TestAbruptEndDoesNotBreakTheNextUpgrade ends connections abruptly (a close frame
// and, before the server's echo, a reset) from several dialers at once, so that
// the server closes each socket on its executor while the reset's error event is
// on its way to the poller, and every dial must still get its 101. The kernel hands
// the freed descriptor number to the next accepted socket at once; an error event
// of the old socket that the poller applied to the new one cut the new
// connection before its 101 (reuseFence). Without the fence, about half the runs
// of 4 x 500 dials failed, under -race or not.
func TestAbruptEndDoesNotBreakTheNextUpgrade(t *testing.T) {
	addr := startConformanceServer(t)
	const dialers, rounds = 4, 1000
	failures := make(chan error, dialers)
	var wait sync.WaitGroup
	for range dialers {
		wait.Add(1)
		go func() {
			defer wait.Done()
			for round := range rounds {
				if err := upgradeAndReset(addr); err != nil {
					failures <- fmt.Errorf("round %d: %w", round, err)
					return
				}
			}
		}()
	}
	wait.Wait()
	close(failures)
	for err := range failures {
		t.Error(err)
	}
}

// upgradeAndReset completes an opening handshake, sends a close frame and resets
// the connection at once.
func upgradeAndReset(addr string) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	request := "GET " + DefaultPath + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\n\r\n"
	if _, err := conn.Write([]byte(request)); err != nil {
		return fmt.Errorf("write the upgrade request: %w", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(answerTimeout))
	response, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return fmt.Errorf("read the upgrade answer: %w", err)
	}
	if response.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("upgrade answered %s, want 101", response.Status)
	}
	if _, err := conn.Write(maskedFrame(fin|opClose, closeBody(1000, "bye"))); err != nil {
		return fmt.Errorf("write the close frame: %w", err)
	}
	// Linger 0: close sends a reset instead of a FIN.
	return conn.(*net.TCPConn).SetLinger(0)
}

// TestReuseFenceServesEveryPoller checks that Start places a wake socket on every
// poller, so that every accepted socket is fenced, and that the fence wakes each;
// with an even count too, where descriptor numbers taken two by two (a socket pair)
// would all land on the pollers of one parity.
func TestReuseFenceServesEveryPoller(t *testing.T) {
	for _, pollers := range []int{1, 2, 3, 4} {
		t.Run(fmt.Sprintf("%d pollers", pollers), func(t *testing.T) {
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			hub, err := session.NewHub(session.Config{Logger: logger})
			if err != nil {
				t.Fatalf("NewHub: %v", err)
			}
			server := startServer(t, hub, Config{Addr: "127.0.0.1:0", Pollers: pollers, Logger: logger})
			if server.fence == nil {
				t.Fatal("Start built no reuse fence")
			}
			for index, writer := range server.fence.wakers {
				if writer == nil {
					t.Fatalf("poller %d has no wake socket", index)
				}
				done := make(chan struct{})
				go func() {
					defer close(done)
					// The first wait claims a fresh number; the second is a reuse.
					server.fence.wait(index)
					server.fence.wait(index)
				}()
				select {
				case <-done:
				case <-time.After(answerTimeout):
					t.Fatalf("poller %d did not read its wake byte within %v", index, answerTimeout)
				}
			}
		})
	}
}

// TestReuseFenceWaitsOnlyForReusedNumbers checks that a descriptor number the
// engine has not had before passes without a poller round trip, and that the same
// number again waits for its poller: here a poller that never reads, so the second
// wait ends only when the fence closes.
func TestReuseFenceWaitsOnlyForReusedNumbers(t *testing.T) {
	reader, writer, err := wakePair(0, 1)
	if err != nil {
		t.Fatalf("wakePair: %v", err)
	}
	t.Cleanup(func() { _ = reader.Close() })
	fence := &reuseFence{wakers: []*os.File{writer}, woken: []chan struct{}{make(chan struct{}, 1)}, stopped: make(chan struct{})}
	t.Cleanup(fence.close)
	const number = 130
	fresh := make(chan struct{})
	go func() {
		defer close(fresh)
		fence.wait(number)
	}()
	select {
	case <-fresh:
	case <-time.After(answerTimeout):
		t.Fatalf("a fresh descriptor number waited for a poller round trip")
	}
	reused := make(chan struct{})
	go func() {
		defer close(reused)
		fence.wait(number)
	}()
	select {
	case <-reused:
		t.Fatal("a reused descriptor number passed without its poller's answer")
	case <-time.After(50 * time.Millisecond):
	}
	fence.close()
	select {
	case <-reused:
	case <-time.After(answerTimeout):
		t.Fatal("closing the fence did not release the wait")
	}
}
