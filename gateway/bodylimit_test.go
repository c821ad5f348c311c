package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/api"
	"github.com/wsgate/wsgate/engine"
	"github.com/wsgate/wsgate/gateway"
)

// apiListenerNode starts a node with the API on a listener of its own and an API
// key.
func apiListenerNode(t *testing.T) *node {
	t.Helper()
	return startNode(t, gateway.Config{InsecureUserID: true, APIKey: testAPIKey, APIAddr: "127.0.0.1:0"})
}

// bodyLimitTarget is one address the API answers on, and how to tell that it let go
// of every connection of a test.
type bodyLimitTarget struct {
	name    string
	node    *node
	address string
	// released reports whether the server holds no connection of the test any more.
	released func() bool
}

// bodyLimitTargets returns the two ways to reach the API: the node's own port
// (nbio, without APIAddr) and the API's own listener (net/http). On the own port
// the engine's socket count must drop to zero; on the API listener the
// goroutines, one per connection in net/http, must drop back to what they were
// before the test's requests.
func bodyLimitTargets(t *testing.T) []bodyLimitTarget {
	t.Helper()
	shared := startNode(t, gateway.Config{InsecureUserID: true, APIKey: testAPIKey})
	separate := apiListenerNode(t)
	before := runtime.NumGoroutine()
	return []bodyLimitTarget{
		{"own port", shared, shared.Addr().String(), func() bool { return shared.Server.OpenSockets() == 0 }},
		{"API listener", separate, separate.APIAddr().String(), func() bool { return runtime.NumGoroutine() <= before }},
	}
}

// rawHTTP is a client socket that writes a request as given and reads the answer.
type rawHTTP struct {
	t      *testing.T
	conn   net.Conn
	reader *bufio.Reader
}

func dialHTTP(t *testing.T, address string) *rawHTTP {
	t.Helper()
	conn, err := net.Dial("tcp", address)
	if err != nil {
		t.Fatalf("dial %s: %v", address, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &rawHTTP{t: t, conn: conn, reader: bufio.NewReader(conn)}
}

// head writes a POST request's line and headers with the API key.
func (c *rawHTTP) head(path string, headers ...string) {
	c.t.Helper()
	text := "POST " + path + " HTTP/1.1\r\nHost: wsgate\r\nAuthorization: Bearer " + testAPIKey + "\r\n" +
		"Content-Type: application/json\r\n" + strings.Join(headers, "") + "\r\n"
	if _, err := io.WriteString(c.conn, text); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// answer reads the answer, which must be JSON.
func (c *rawHTTP) answer() (int, map[string]any) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(readTimeout))
	response, err := http.ReadResponse(c.reader, nil)
	if err != nil {
		c.t.Fatalf("read answer: %v", err)
	}
	defer response.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(response.Body).Decode(&body); err != nil {
		c.t.Fatalf("answer %d is not JSON: %v", response.StatusCode, err)
	}
	return response.StatusCode, body
}

// expectTooLarge fails unless status and body are 413 body_too_large.
func expectTooLarge(t *testing.T, what string, status int, body map[string]any) {
	t.Helper()
	if status != http.StatusRequestEntityTooLarge || body["error"] != "body_too_large" || body["message"] == "" {
		t.Fatalf("%s: %d %v, want 413 body_too_large", what, status, body)
	}
}

// post sends body to path on address with the API key through a client of its own,
// whose connections are closed afterwards.
func post(t *testing.T, address, path, body string) (int, map[string]any) {
	t.Helper()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	request, err := http.NewRequest("POST", "http://"+address+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	request.Header.Set("Authorization", "Bearer "+testAPIKey)
	response, err := (&http.Client{Transport: transport}).Do(request)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer response.Body.Close()
	var decoded map[string]any
	if err := json.NewDecoder(response.Body).Decode(&decoded); err != nil {
		t.Fatalf("POST %s: answer %d is not JSON: %v", path, response.StatusCode, err)
	}
	return response.StatusCode, decoded
}

// broadcastOf returns a broadcast body of exactly size bytes.
func broadcastOf(size int) string {
	prefix, suffix := `{"message":{"padding":"`, `"}}`
	return prefix + strings.Repeat("x", size-len(prefix)-len(suffix)) + suffix
}

// TestOversizedContentLengthIsAnsweredWithoutTheBody: a Content-Length over the
// limit is answered 413 with the API's JSON error although the client never sends
// the body, on both addresses; the connection is then let go.
func TestOversizedContentLengthIsAnsweredWithoutTheBody(t *testing.T) {
	for _, target := range bodyLimitTargets(t) {
		conn := dialHTTP(t, target.address)
		conn.head("/api/v1/broadcast", "Content-Length: "+strconv.Itoa(64<<20)+"\r\n")
		status, body := conn.answer()
		expectTooLarge(t, target.name, status, body)
		_ = conn.conn.Close()
		waitFor(t, readTimeout, target.name+" to let go of the connection", target.released)
	}
}

// TestChunkedBodyOverTheLimitIsRefusedAsItArrives: a chunked body is counted as it
// arrives and refused with 413 once over the limit, while the client is still
// sending, on both addresses; afterwards each serves a request at the limit.
func TestChunkedBodyOverTheLimitIsRefusedAsItArrives(t *testing.T) {
	for _, target := range bodyLimitTargets(t) {
		conn := dialHTTP(t, target.address)
		conn.head("/api/v1/broadcast", "Transfer-Encoding: chunked\r\n")
		// The client sends 4 MiB in 64 KiB chunks while it waits for the answer, as
		// HTTP clients do; it stops when the server stops reading.
		sent := make(chan int, 1)
		go func() {
			chunk := fmt.Sprintf("%x\r\n%s\r\n", 64<<10, strings.Repeat("x", 64<<10))
			total := 0
			for total < 4<<20 {
				if _, err := io.WriteString(conn.conn, chunk); err != nil {
					break
				}
				total += 64 << 10
			}
			sent <- total
		}()
		status, body := conn.answer()
		expectTooLarge(t, target.name+", chunked", status, body)
		_ = conn.conn.Close()
		<-sent
		waitFor(t, readTimeout, target.name+" to let go of the connection", target.released)
		status, body = post(t, target.address, "/api/v1/broadcast", broadcastOf(engine.DefaultMaxBodySize))
		if status != http.StatusOK {
			t.Fatalf("%s: body at the limit after the refusal: %d %v", target.name, status, body)
		}
		waitFor(t, readTimeout, target.name+" to let go of the connections", target.released)
	}
}

// TestBodyAtTheLimitIsAcceptedAndOneByteMoreIsNot: exactly MaxBodySize bytes is
// served, one more is 413, on both addresses, with a Content-Length.
func TestBodyAtTheLimitIsAcceptedAndOneByteMoreIsNot(t *testing.T) {
	for _, target := range bodyLimitTargets(t) {
		if status, body := post(t, target.address, "/api/v1/broadcast", broadcastOf(engine.DefaultMaxBodySize)); status != http.StatusOK {
			t.Fatalf("%s: body of exactly %d bytes: %d %v", target.name, engine.DefaultMaxBodySize, status, body)
		}
		status, body := post(t, target.address, "/api/v1/broadcast", broadcastOf(engine.DefaultMaxBodySize+1))
		expectTooLarge(t, target.name+", one byte over", status, body)
		waitFor(t, readTimeout, target.name+" to let go of the connections", target.released)
	}
}

// TestFullBatchFitsTheDefaultLimit: a batch of MaxBatchPublications publications of
// about 1 KiB each fits the default body limit and is delivered, on both
// addresses.
func TestFullBatchFitsTheDefaultLimit(t *testing.T) {
	for _, target := range bodyLimitTargets(t) {
		subscriber := target.node.dial("sam")
		subscribeTo(t, subscriber, "batch:999")
		publications := make([]string, api.MaxBatchPublications)
		for index := range publications {
			publications[index] = fmt.Sprintf(`{"channel":"batch:%d","data":{"n":%d,"text":"%s"}}`,
				index, index, strings.Repeat("t", 960))
		}
		body := `{"publications":[` + strings.Join(publications, ",") + `]}`
		if len(body) > engine.DefaultMaxBodySize {
			t.Fatalf("the batch has %d bytes, more than the default limit", len(body))
		}
		status, answer := post(t, target.address, "/api/v1/publish", body)
		results, _ := answer["results"].([]any)
		if status != http.StatusOK || len(results) != api.MaxBatchPublications {
			t.Fatalf("%s: batch of %d bytes: %d with %d results, want 200 with %d", target.name, len(body), status,
				len(results), api.MaxBatchPublications)
		}
		for index, result := range results {
			want := float64(0)
			if index == 999 {
				want = 1
			}
			if item, _ := result.(map[string]any); item["queued"] != want || item["error"] != nil {
				t.Fatalf("%s: result %d is %v, want queued %v", target.name, index, result, want)
			}
		}
		if got := readMessage(t, subscriber, readTimeout); got["channel"] != "batch:999" {
			t.Fatalf("%s: the subscriber got %v, want the last publication", target.name, got)
		}
	}
}
