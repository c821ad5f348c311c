package engine

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/session"
)

// testBodyLimit is the MaxBodySize of the guard tests: small, so that the tests
// send little.
const testBodyLimit = 4096

// guardedServer starts a Server with MaxBodySize testBodyLimit whose handler answers
// 200 with the size of the body it read, and screen (may be nil); it stops when the
// test ends.
func guardedServer(t *testing.T, screen func(*http.Request) http.Handler) *Server {
	t.Helper()
	hub, err := session.NewHub(session.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	handler := http.HandlerFunc(func(writer http.ResponseWriter, request *http.Request) {
		body, err := io.ReadAll(request.Body)
		if err != nil {
			http.Error(writer, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = fmt.Fprintf(writer, "read %d", len(body))
	})
	return startServer(t, hub, Config{Addr: "127.0.0.1:0", Pollers: 1, MaxBodySize: testBodyLimit, Handler: handler,
		Screen: screen, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// httpClient is a client socket that writes bytes as given and reads HTTP answers.
type httpClient struct {
	t      *testing.T
	conn   net.Conn
	reader *bufio.Reader
}

func dialHTTP(t *testing.T, server *Server) *httpClient {
	t.Helper()
	conn, err := net.Dial("tcp", server.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &httpClient{t: t, conn: conn, reader: bufio.NewReader(conn)}
}

func (c *httpClient) write(text string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, text); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// answer reads the next answer and its body.
func (c *httpClient) answer() (*http.Response, string) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(answerTimeout))
	response, err := http.ReadResponse(c.reader, nil)
	if err != nil {
		c.t.Fatalf("read answer: %v", err)
	}
	body, err := io.ReadAll(response.Body)
	if err != nil {
		c.t.Fatalf("read answer body: %v", err)
	}
	return response, string(body)
}

// expectReleased closes the client's side after a refusal, which ends the
// server's linger: the engine must then let go of every socket.
func (c *httpClient) expectReleased(server *Server) {
	c.t.Helper()
	_ = c.conn.Close()
	expectNoOpenSockets(c.t, server)
}

// expectRefusal fails unless the next answer has status and a JSON error body with
// code, and says "Connection: close".
func (c *httpClient) expectRefusal(status int, code string) {
	c.t.Helper()
	response, body := c.answer()
	var decoded struct{ Error, Message string }
	if err := json.Unmarshal([]byte(body), &decoded); err != nil || response.StatusCode != status ||
		decoded.Error != code || decoded.Message == "" {
		c.t.Fatalf("answer %d %q (%v), want %d with error %q", response.StatusCode, body, err, status, code)
	}
	if response.Header.Get("Content-Type") != "application/json" || !response.Close {
		c.t.Fatalf("answer headers %v: want application/json and Connection: close", response.Header)
	}
}

// post returns a POST request's head with headers, for the test's own body.
func post(headers ...string) string {
	return "POST /publish HTTP/1.1\r\nHost: wsgate\r\n" + strings.Join(headers, "") + "\r\n"
}

func contentLength(size int) string { return "Content-Length: " + strconv.Itoa(size) + "\r\n" }

func chunk(data string) string {
	return strconv.FormatInt(int64(len(data)), 16) + "\r\n" + data + "\r\n"
}

// expectNoOpenSockets waits until the engine holds no socket.
func expectNoOpenSockets(t *testing.T, server *Server) {
	t.Helper()
	testsupport.WaitFor(t, answerTimeout, "the engine to close every socket", func() bool {
		return server.engine.Online() == 0
	})
}

func TestContentLengthOverTheLimitIsAnsweredBeforeTheBody(t *testing.T) {
	server := guardedServer(t, nil)
	conn := dialHTTP(t, server)
	conn.write(post(contentLength(100 << 20)))
	conn.expectRefusal(http.StatusRequestEntityTooLarge, "body_too_large")
	conn.expectReleased(server)
}

func TestBodyAtTheLimitIsServedAndTheConnectionKeptAlive(t *testing.T) {
	server := guardedServer(t, nil)
	conn := dialHTTP(t, server)
	for range 2 {
		conn.write(post(contentLength(testBodyLimit)) + strings.Repeat("x", testBodyLimit))
		if response, body := conn.answer(); response.StatusCode != http.StatusOK || body != "read 4096" || response.Close {
			t.Fatalf("answer %d %q close=%v, want 200 \"read 4096\" kept alive", response.StatusCode, body, response.Close)
		}
	}
	conn.write(post(contentLength(testBodyLimit + 1)))
	conn.expectRefusal(http.StatusRequestEntityTooLarge, "body_too_large")
}

func TestChunkedBodyIsCountedAsItArrives(t *testing.T) {
	server := guardedServer(t, nil)
	conn := dialHTTP(t, server)
	conn.write(post("Transfer-Encoding: chunked\r\n") + chunk(strings.Repeat("x", 3000)) + chunk(strings.Repeat("y", 1096)) + "0\r\n\r\n")
	if response, body := conn.answer(); response.StatusCode != http.StatusOK || body != "read 4096" {
		t.Fatalf("chunked body at the limit: %d %q", response.StatusCode, body)
	}
	// Over the limit in small chunks, then in one chunk larger than the whole read
	// limit: each is answered while the client is still sending, and the
	// connection then discards the rest.
	conn.write(post("Transfer-Encoding: chunked\r\n"))
	for range 5 {
		conn.write(chunk(strings.Repeat("x", 1000)))
	}
	conn.expectRefusal(http.StatusRequestEntityTooLarge, "body_too_large")
	conn.write(chunk(strings.Repeat("x", 1000)) + "0\r\n\r\n")
	conn.expectReleased(server)

	huge := dialHTTP(t, server)
	huge.write(post("Transfer-Encoding: chunked\r\n") + strconv.FormatInt(1<<30, 16) + "\r\n")
	sent := 0
	for sent < 256<<10 {
		if _, err := huge.conn.Write(make([]byte, 16<<10)); err != nil {
			break // the server may close once it answered and lingered
		}
		sent += 16 << 10
	}
	huge.expectRefusal(http.StatusRequestEntityTooLarge, "body_too_large")
	huge.expectReleased(server)
}

func TestHeadersOverTheLimitAreRefused(t *testing.T) {
	server := guardedServer(t, nil)
	conn := dialHTTP(t, server)
	line := "X-Padding: " + strings.Repeat("p", 1000) + "\r\n"
	conn.write("GET / HTTP/1.1\r\nHost: wsgate\r\n")
	for range MaxHeaderSize/len(line) + 1 {
		conn.write(line)
	}
	conn.expectRefusal(http.StatusRequestHeaderFieldsTooLarge, "headers_too_large")
	conn.expectReleased(server)
}

func TestMalformedRequestsGetAJSONAnswer(t *testing.T) {
	server := guardedServer(t, nil)
	for _, request := range []string{
		"NOT A REQUEST\r\n\r\n",
		"GET / FTP/1.0\r\n\r\n",
		post("Content-Length: many\r\n"),
		post("Transfer-Encoding: chunked\r\n") + "zz\r\n",
	} {
		conn := dialHTTP(t, server)
		conn.write(request)
		conn.expectRefusal(http.StatusBadRequest, "bad_request")
		conn.expectReleased(server)
	}
}

func TestScreenAnswersBeforeTheBody(t *testing.T) {
	refused := http.HandlerFunc(func(writer http.ResponseWriter, request *http.Request) {
		writer.Header().Set("Content-Type", "application/json")
		writer.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(writer, `{"error":"unauthorized","message":"`+request.Method+` `+request.URL.Path+`"}`)
	})
	var screened []*http.Request
	server := guardedServer(t, func(request *http.Request) http.Handler {
		screened = append(screened, request)
		if request.Header.Get("Authorization") == "" {
			return refused
		}
		return nil
	})
	conn := dialHTTP(t, server)
	conn.write(post("Authorization: Bearer x\r\n", contentLength(3)) + "abc")
	if response, body := conn.answer(); response.StatusCode != http.StatusOK || body != "read 3" {
		t.Fatalf("admitted request: %d %q", response.StatusCode, body)
	}
	conn.write("GET /publish HTTP/1.1\r\nHost: wsgate\r\n\r\n")
	if response, _ := conn.answer(); response.StatusCode != http.StatusOK {
		t.Fatalf("request without a body: %d", response.StatusCode)
	}
	conn.write(post(contentLength(3)))
	conn.expectRefusal(http.StatusUnauthorized, "unauthorized")
	conn.expectReleased(server)
	if len(screened) != 2 || screened[1].ContentLength != 3 || screened[1].URL.Path != "/publish" ||
		screened[1].RemoteAddr == "" {
		t.Fatalf("screened %d requests (want the 2 with a body), the last %+v", len(screened), screened[len(screened)-1])
	}
}

func TestExpectContinueIsAnswered(t *testing.T) {
	server := guardedServer(t, nil)
	conn := dialHTTP(t, server)
	conn.write(post("Expect: 100-continue\r\n", contentLength(5)))
	if response, _ := conn.answer(); response.StatusCode != http.StatusContinue {
		t.Fatalf("got %d before the body, want 100 Continue", response.StatusCode)
	}
	conn.write("hello")
	if response, body := conn.answer(); response.StatusCode != http.StatusOK || body != "read 5" {
		t.Fatalf("after 100 Continue: %d %q", response.StatusCode, body)
	}
	conn.write(post("Expect: 100-continue\r\n", contentLength(testBodyLimit+1)))
	conn.expectRefusal(http.StatusRequestEntityTooLarge, "body_too_large")
}
