package engine

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgate/wsgate/session"
)

// The crosstalk test's figures: a slow answer long enough to cross nbhttp's 64 KiB
// packet size many times, written in pieces like the pprof handler's, and enough
// keep-alive clients asking at the same time to take any buffer it hands back.
const (
	slowAnswerSize  = 512 << 10
	slowPieceSize   = 1000
	slowAnswers     = 6
	quickClients    = 8
	quickAnswerSize = 300
)

// quickAnswer is the body the quick route gives client: its own, recognisable bytes.
func quickAnswer(client int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("client %d; ", client)), quickAnswerSize/10)
}

// slowAnswer is the slow route's whole body.
func slowAnswer() []byte {
	return bytes.Repeat([]byte("s"), slowAnswerSize)
}

// crosstalkServer starts a Server whose handler answers /slow with slowAnswer in
// pieces, yielding between them (a long handler, as pprof's is), and /quick?client=N
// with quickAnswer(N). Neither sets Content-Length: both answers are chunked.
func crosstalkServer(t *testing.T) *Server {
	t.Helper()
	hub, err := session.NewHub(session.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	slow := slowAnswer()
	handler := http.HandlerFunc(func(writer http.ResponseWriter, request *http.Request) {
		if request.URL.Path == "/slow" {
			for offset := 0; offset < len(slow); offset += slowPieceSize {
				_, _ = writer.Write(slow[offset:min(offset+slowPieceSize, len(slow))])
				runtime.Gosched()
			}
			return
		}
		client, err := strconv.Atoi(request.URL.Query().Get("client"))
		if err != nil {
			http.Error(writer, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = writer.Write(quickAnswer(client))
	})
	return startServer(t, hub, Config{Addr: "127.0.0.1:0", Pollers: 2, Handler: handler,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// keepAliveClient is one client's keep-alive connection.
type keepAliveClient struct {
	conn   net.Conn
	reader *bufio.Reader
}

func dialKeepAlive(address string) (*keepAliveClient, error) {
	conn, err := net.Dial("tcp", address)
	if err != nil {
		return nil, err
	}
	return &keepAliveClient{conn: conn, reader: bufio.NewReader(conn)}, nil
}

// get asks for target on the client's connection and returns the answer's body.
func (c *keepAliveClient) get(target string) ([]byte, error) {
	if _, err := io.WriteString(c.conn, "GET "+target+" HTTP/1.1\r\nHost: wsgate\r\n\r\n"); err != nil {
		return nil, err
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(answerTimeout))
	response, err := http.ReadResponse(c.reader, nil)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	if response.Close {
		return nil, errors.New("the server closed the keep-alive connection")
	}
	return io.ReadAll(response.Body)
}

// describe names an answer that was not the one expected by its first bytes.
func describe(body []byte) string {
	return fmt.Sprintf("%d bytes starting %q", len(body), body[:min(len(body), 40)])
}

// TestEveryClientGetsItsOwnAnswer: while one keep-alive client's answer is long
// (chunked, over 64 KiB, written in pieces), every other keep-alive client still
// gets its own answer, and the long one arrives whole. nbhttp's chunked writer
// hands its buffer back to nbio's process-wide pool each time an answer crosses
// 64 KiB and goes on writing into it; before the engine replaced that pool, the
// quick clients received the slow answer's bytes or each other's, and the slow
// answer others', in most runs (as the pprof handler's answers carried the load
// generator's /metrics and stats answers).
func TestEveryClientGetsItsOwnAnswer(t *testing.T) {
	server := crosstalkServer(t)
	address := server.Addr().String()
	var (
		wrong     atomic.Int64
		firstOnce sync.Once
		first     string
		failures  = make(chan error, quickClients+1)
		done      = make(chan struct{})
		quick     sync.WaitGroup
	)
	report := func(format string, args ...any) {
		wrong.Add(1)
		firstOnce.Do(func() { first = fmt.Sprintf(format, args...) })
	}
	for client := range quickClients {
		quick.Add(1)
		go func() {
			defer quick.Done()
			connection, err := dialKeepAlive(address)
			if err != nil {
				failures <- err
				return
			}
			defer connection.conn.Close()
			want := quickAnswer(client)
			for {
				select {
				case <-done:
					return
				default:
				}
				body, err := connection.get("/quick?client=" + strconv.Itoa(client))
				if err != nil {
					failures <- fmt.Errorf("quick client %d: %w", client, err)
					return
				}
				if !bytes.Equal(body, want) {
					report("quick client %d got %s", client, describe(body))
				}
			}
		}()
	}
	slowClient, err := dialKeepAlive(address)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer slowClient.conn.Close()
	want := slowAnswer()
	for range slowAnswers {
		body, err := slowClient.get("/slow")
		if err != nil {
			failures <- fmt.Errorf("slow client: %w", err)
			break
		}
		if !bytes.Equal(body, want) {
			report("slow client got %s, %d bytes other than its own", describe(body), len(body)-bytes.Count(body, []byte("s")))
		}
	}
	close(done)
	quick.Wait()
	close(failures)
	for err := range failures {
		t.Error(err)
	}
	if count := wrong.Load(); count > 0 {
		t.Fatalf("%d answers were not their client's own; first: %s", count, first)
	}
}
