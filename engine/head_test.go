package engine

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/wsgate/wsgate/session"
)

// TestHeadGetsTheHeadersWithoutTheBody: a keep-alive client sends HEAD, then GET,
// on one connection; the HEAD's answer has GET's status and length and no body, so
// the GET's answer that follows reads whole (nbhttp alone sent the HEAD's body,
// which the client read as the start of the next answer).
func TestHeadGetsTheHeadersWithoutTheBody(t *testing.T) {
	const body = `{"status":"ok"}`
	hub, err := session.NewHub(session.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	handler := http.HandlerFunc(func(writer http.ResponseWriter, request *http.Request) {
		writer.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(writer, body)
	})
	server := startServer(t, hub, Config{Addr: "127.0.0.1:0", Pollers: 1, Handler: handler,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	conn, err := net.Dial("tcp", server.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer func() { _ = conn.Close() }()
	reader := bufio.NewReader(conn)
	for _, method := range []string{http.MethodHead, http.MethodGet, http.MethodHead, http.MethodGet} {
		request, _ := http.NewRequest(method, "http://"+server.Addr().String()+"/healthz", nil)
		if err := request.Write(conn); err != nil {
			t.Fatalf("%s: write: %v", method, err)
		}
		answer, err := http.ReadResponse(reader, request)
		if err != nil {
			t.Fatalf("%s: read the answer: %v", method, err)
		}
		read, err := io.ReadAll(answer.Body)
		if err != nil {
			t.Fatalf("%s: read the body: %v", method, err)
		}
		if answer.StatusCode != http.StatusOK || answer.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d, Content-Type %q; want 200, application/json", method, answer.StatusCode, answer.Header.Get("Content-Type"))
		}
		// nbhttp sends GET's body chunked; the HEAD says the length the body has.
		if method == http.MethodHead && answer.ContentLength != int64(len(body)) {
			t.Fatalf("HEAD: Content-Length %d, want %d", answer.ContentLength, len(body))
		}
		if want := map[string]string{http.MethodHead: "", http.MethodGet: body}[method]; string(read) != want {
			t.Fatalf("%s: body %q, want %q", method, read, want)
		}
	}
	if reader.Buffered() != 0 {
		t.Fatalf("%d bytes left after the answers", reader.Buffered())
	}
}
